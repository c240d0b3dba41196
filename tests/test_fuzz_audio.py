"""Audio files for `viva transcribe` and `viva score --audio`: broken, hostile, odd or huge, never a traceback.

Every bad file gets one line naming it and what to do (exit 1); odd but real audio (stereo, 48 kHz,
truncated) is transcribed. The WAV decoder is also fuzzed with hypothesis, on random bytes and on RIFF
headers with random format, channels, rate, bit depth and (lying) data sizes.
"""

from __future__ import annotations

import math
import struct
import subprocess
import time
import tracemalloc
import wave
from pathlib import Path

import numpy as np
import pytest
import typer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from viva.audio.wav import load_audio
from viva.errors import InputError

runner = CliRunner()
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
QUESTION = "inf-kv-cache-purpose"


def voice_app() -> typer.Typer:
    """The root app if it has the voice commands; else the same commands (viva.cli_voice) on their own app."""
    from viva.cli import app
    from viva import cli_voice

    if any((c.name or c.callback.__name__) == "transcribe" for c in app.registered_commands):
        return app
    own = typer.Typer()
    cli_voice.register(own)
    return own


def riff(tag: int, channels: int, rate: int, bits: int, payload: bytes, declared: int | None = None) -> bytes:
    """A RIFF/WAVE file with exactly these header fields (valid or not) and this payload."""
    align = (channels * bits // 8) & 0xFFFF
    fmt = struct.pack("<HHIIHH", tag, channels, rate, (rate * align) & 0xFFFFFFFF, align, bits)
    size = len(payload) if declared is None else declared
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size) + payload
    return b"RIFF" + struct.pack("<I", len(body) & 0xFFFFFFFF) + body


def pcm16(samples: np.ndarray, rate: int, channels: int = 1) -> bytes:
    data = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    return riff(1, channels, rate, 16, data)


def check_loaded(path: Path) -> None:
    """load_audio's contract: 16 kHz mono float32 within [-1, 1], or one InputError line naming the file."""
    try:
        audio = load_audio(path)
    except InputError as exc:
        assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc), str(exc)
        return
    assert audio.dtype == np.float32 and audio.ndim == 1 and audio.size >= 1_600
    assert np.isfinite(audio).all() and float(np.abs(audio).max()) <= 1.0 + 1e-3


@FUZZ
@given(raw=st.binary(max_size=3000), prefix=st.sampled_from([b"", b"RIFF", b"RIFF\x00\x00\x00\x00WAVE", b"fLaC",
                                                              b"OggS"]))
def test_random_bytes_as_audio(tmp_path_factory, raw, prefix):
    path = tmp_path_factory.mktemp("audio") / "answer.wav"
    path.write_bytes(prefix + raw)
    check_loaded(path)


@FUZZ
@example(tag=7, channels=3, rate=192_000, bits=32, declared=None, payload=b"\0\0\0")  # 1 frame: ValueError
@given(tag=st.sampled_from([1, 3, 0xFFFE, 2, 0, 6, 7, 0x55]), channels=st.integers(0, 9),
       rate=st.sampled_from([0, 1, 8_000, 16_000, 22_050, 44_100, 48_000, 192_000, 2**31 - 1]),
       bits=st.sampled_from([0, 7, 8, 16, 24, 32, 64]), declared=st.sampled_from([None, 0, 0xFFFFFFFF]),
       payload=st.binary(max_size=8000))
def test_wav_headers_with_random_fields(tmp_path_factory, tag, channels, rate, bits, declared, payload):
    path = tmp_path_factory.mktemp("audio") / "answer.wav"
    path.write_bytes(riff(tag, channels, rate, bits, payload, declared))
    check_loaded(path)


@pytest.mark.parametrize("rate,channels", [(8_000, 1), (22_050, 2), (44_100, 2), (48_000, 6), (96_000, 1)])
def test_other_rates_and_channel_counts_become_16k_mono(tmp_path, rate, channels):
    t = np.arange(int(1.5 * rate)) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    path = tmp_path / "odd.wav"
    path.write_bytes(pcm16(np.repeat(tone[:, None], channels, axis=1).reshape(-1), rate, channels))
    audio = load_audio(path)
    assert abs(audio.size - 24_000) <= 1 and abs(float(np.sqrt(np.mean(audio ** 2))) - 0.5 / math.sqrt(2)) < 0.02


def test_a_single_frame_at_48k_is_refused_not_a_crash(tmp_path):
    path = tmp_path / "click.wav"
    path.write_bytes(pcm16(np.array([0.1, 0.1]), 48_000, channels=2))
    check_loaded(path)


def test_float_wavs_with_nan_inf_or_huge_values_are_clean_or_refused(tmp_path):
    for name, value in (("nan", np.nan), ("inf", np.inf), ("huge", 1e30)):
        samples = np.full(16_000, 0.1, dtype="<f4")
        samples[::100] = value
        path = tmp_path / f"{name}.wav"
        path.write_bytes(riff(3, 1, 16_000, 32, samples.tobytes()))
        check_loaded(path)


# -- through the CLI ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """name -> (file, what the one line must say)."""
    d = tmp_path_factory.mktemp("bad")
    (d / "empty.wav").write_bytes(b"")
    (d / "notes.wav").write_text("these are my notes, not a recording\n" * 20)
    (d / "image.wav").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(2000))
    (d / "header-only.wav").write_bytes(riff(1, 1, 16_000, 16, b""))
    (d / "click.wav").write_bytes(pcm16(np.zeros(400), 16_000))
    (d / "silence.wav").write_bytes(pcm16(np.zeros(3 * 8_000), 8_000))
    (d / "folder.wav").mkdir()
    return {
        "missing": (d / "missing.wav", "no such audio file"),
        "empty": (d / "empty.wav", "the file is empty; record the answer again"),
        "text": (d / "notes.wav", "not a readable audio file"),
        "image": (d / "image.wav", "not a readable audio file"),
        "header only": (d / "header-only.wav", "nothing to transcribe"),
        "a click": (d / "click.wav", "only 0.03 s of audio; nothing to transcribe"),
        "silence": (d / "silence.wav", "no speech heard (0.0 s of speech in 3.0 s)"),
        "a folder": (d / "folder.wav", "no such audio file"),
    }


def one_line(result, path: Path, says: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert lines == [lines[0]] and lines[0].startswith(f"viva: {path}: ") and says in lines[0], result.stderr


@pytest.mark.parametrize("case", ["missing", "empty", "text", "image", "header only", "a click", "silence",
                                  "a folder"])
def test_transcribe_and_score_refuse_bad_audio_in_one_line(bad_files, case):
    path, says = bad_files[case]
    app = voice_app()
    one_line(runner.invoke(app, ["transcribe", str(path)]), path, says)
    one_line(runner.invoke(app, ["score", QUESTION, "--audio", str(path)]), path, says)


def test_a_two_hour_recording_is_refused_quickly_in_bounded_memory(tmp_path):
    """sox writes 2 h of 8 kHz 8-bit silence (58 MB) in a second; viva must not read it to refuse it."""
    path = tmp_path / "two-hours.wav"
    subprocess.run(["sox", "-n", "-r", "8000", "-b", "8", "-c", "1", str(path), "trim", "0", "2:00:00"], check=True)
    tracemalloc.start()
    start = time.monotonic()
    try:
        result = runner.invoke(voice_app(), ["transcribe", str(path)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    one_line(result, path, "120 minutes of audio; an answer is at most 30 minutes")
    assert time.monotonic() - start < 10 and peak < 50_000_000, (time.monotonic() - start, peak)


def test_a_long_but_allowed_recording_loads_in_bounded_memory(tmp_path):
    """Five minutes of 48 kHz stereo (58 MB of PCM) must not take gigabytes to become 19 MB of 16 kHz mono."""
    path = tmp_path / "five-minutes.wav"
    subprocess.run(["sox", "-n", "-r", "48000", "-b", "16", "-c", "2", str(path), "synth", "300", "sine", "300",
                    "vol", "0.01"], check=True)
    tracemalloc.start()
    try:
        audio = load_audio(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert abs(audio.size - 300 * 16_000) <= 1
    assert peak < 250_000_000, f"peak {peak / 1e6:.0f} MB to load {path.stat().st_size / 1e6:.0f} MB"


@pytest.mark.slow
def test_truncated_stereo_48k_speech_is_still_transcribed(tmp_path):
    raw, wav = tmp_path / "raw.wav", tmp_path / "stereo.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(raw),
                    "The key value cache stores keys and values of previous tokens."], check=True)
    subprocess.run(["sox", str(raw), "-r", "48000", "-c", "2", str(wav)], check=True)
    with wave.open(str(wav)) as w:
        assert (w.getframerate(), w.getnchannels()) == (48_000, 2)
    data = wav.read_bytes()
    wav.write_bytes(data[: int(len(data) * 0.8)])  # the recorder died: the header promises more than is there
    result = runner.invoke(voice_app(), ["transcribe", str(wav), "--model", "tiny.en"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "key" in result.stdout.lower()
