# viva: `make practice` sets everything up and starts practising; `make test` sets up and runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_VERSION := 2.13.0
# System packages for practice: espeak-ng (speech), libportaudio2 (sounddevice), libsndfile1 (WAV files).
APT_PACKAGES := espeak-ng libespeak-ng1 libportaudio2 libsndfile1
# ... and for the tests: PulseAudio + ALSA plugin (virtual microphone and speaker for the real-device
# tests), sox (audio checks), chromium (renders the HTML report headless).
APT_TEST_PACKAGES := pulseaudio pulseaudio-utils libasound2-plugins alsa-utils sox chromium
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: practice test setup system-deps venv bench clean

practice: setup
	$(VENV)/bin/viva practice $(ARGS)

test: setup $(TEST_STAMP)
	@$(MAKE) --no-print-directory system-deps APT_PACKAGES="$(APT_TEST_PACKAGES)"
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The tests exercise the openai-whisper engine too. Its wheel pulls triton (~1 GB, useless on CPU), so it is
# installed without dependencies, plus the few it really needs.
$(TEST_STAMP): $(STAMP)
	$(PIP) install -q --no-deps "openai-whisper>=20240930"
	$(PIP) install -q tiktoken more-itertools numba
	@touch $(TEST_STAMP)

setup: system-deps $(STAMP)

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "viva: installing system packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
		|| { echo "viva: apt-get failed; run: sudo apt-get install -y$$missing"; exit 1; }; \
	elif command -v apt-get >/dev/null; then \
		echo "viva: missing system packages; run: sudo apt-get install -y$$missing"; \
		echo "viva: continuing; speech or audio may be unavailable until then."; \
	else \
		echo "viva: not a Debian system; install the equivalents of:$$missing"; \
	fi

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# torch is installed first and pinned: a plain `torch` requirement would pull a CUDA build of several GB.
$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "torch==$(TORCH_VERSION)"
	$(PIP) install -q -e ".[dev]"
	@touch $(STAMP)

bench: setup
	$(PY) benchmarks/agreement.py --quick

clean:
	rm -rf $(VENV) .pytest_cache
