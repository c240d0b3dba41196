"""Transcribing while the candidate speaks: where pieces are cut, what is dropped, and, with the real tiny.en
on an espeak-ng answer fed frame by frame, that the result matches one-shot decoding and only the tail is
left when the answer ends."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from viva.domain import Transcript
from viva.errors import ModelNotFoundError
from viva.transcribe import TranscribeOptions
from viva.transcribe.streaming import (WINDOW_S, Piece, PieceCutter, StreamingTranscriber, StreamOptions, merge,
                                       trim_tail)

SR = 16_000
WIN = 512  # samples per VAD window


def probs(*runs: tuple[float, float]) -> np.ndarray:
    """(seconds, probability) runs → one probability per 32 ms window."""
    return np.concatenate([np.full(int(round(s / WINDOW_S)), p, np.float32) for s, p in runs])


def test_a_piece_is_cut_in_the_first_pause_after_min_piece_seconds_without_the_silence():
    cutter = PieceCutter(StreamOptions(min_piece_s=5, max_piece_s=20, cut_pause_s=0.25))
    pieces = cutter.push(probs((1.0, 0.0), (3.0, 0.9), (0.3, 0.0), (3.0, 0.9), (2.0, 0.0), (2.0, 0.9), (1.0, 0.0)))
    assert len(pieces) == 1  # the 0.3 s pause at 4 s came before 5 s of speech: no cut there
    (p,) = pieces
    assert p.start / SR == pytest.approx(0.8, abs=0.04)  # 0.2 s before the first speech window
    assert p.voiced_end / SR == pytest.approx(7.3, abs=0.04)
    assert p.end / SR == pytest.approx(7.55, abs=0.04)  # 0.25 s of trailing pad, not the 2 s of silence
    last = cutter.flush()
    assert last.start / SR == pytest.approx(9.1, abs=0.04) and last.voiced_end / SR == pytest.approx(11.3, abs=0.04)
    assert cutter.flush() is None


def test_without_a_pause_a_piece_is_cut_by_force_at_its_quietest_window():
    cutter = PieceCutter(StreamOptions(min_piece_s=5, max_piece_s=12))
    speech = probs((10.0, 0.9), (0.064, 0.55), (8.0, 0.9))  # a dip that is still speech: never a pause
    (p,) = cutter.push(speech)
    assert p.seconds <= 12.0 + WINDOW_S and p.end / SR == pytest.approx(10.0, abs=0.04)
    nxt = cutter.flush()
    assert nxt.start == p.end  # nothing lost, nothing twice


def test_the_open_piece_is_offered_for_speculative_decoding_only_after_a_real_pause():
    cutter = PieceCutter(StreamOptions(min_piece_s=10, speculate_after_s=0.5))
    cutter.push(probs((3.0, 0.9), (0.3, 0.0)))
    assert cutter.pending() is None
    cutter.push(probs((0.3, 0.0)))
    spec = cutter.pending()
    assert spec is not None and spec == cutter.flush()


def test_words_invented_after_the_speech_are_dropped():
    t = Transcript("input tokens. Output tokens are generated one per . .",
                   words=(("input", 15.4, 15.84), ("tokens.", 15.84, 16.58), ("Output", 16.58, 16.94),
                          ("tokens", 16.94, 16.94), ("are", 16.94, 16.94), ("generated", 16.94, 16.94),
                          ("one", 16.94, 16.94), ("per", 16.94, 16.94), (".", 16.94, 16.96), (".", 16.96, 17.0)))
    out = trim_tail(t, voiced_end_s=16.66)
    assert out.text == "input tokens." and [w[0] for w in out.words] == ["input", "tokens."]
    real = Transcript("so each token is cheap.", words=(("so", 8.56, 8.78), ("cheap.", 9.68, 10.02)))
    assert trim_tail(real, voiced_end_s=10.07) == real


def test_merge_shifts_times_to_the_recording():
    class D:
        def __init__(self, start, text):
            self.piece = Piece(start * SR, (start + 2) * SR, (start + 2) * SR)
            self.transcript = Transcript(text, segments=({"start": 0.0, "end": 1.0, "text": text},),
                                         words=((text, 0.5, 1.0),), model="m", engine="e")

    out = merge([D(1, "one"), D(5, "two")], duration_s=9.0)
    assert out.text == "one two" and out.words == (("one", 1.5, 2.0), ("two", 5.5, 6.0))
    assert [s["start"] for s in out.segments] == [1.0, 5.0] and out.model == "m" and out.duration == 9.0


class FakeTranscriber:
    engine, model_name = "fake", "fake"

    def __init__(self):
        self.calls = []

    def transcribe(self, audio, options=TranscribeOptions()):
        self.calls.append((round(audio.size / SR, 1), getattr(options, "context", "")))
        n = len(self.calls)
        return Transcript(f"piece{n}.", words=((f"piece{n}.", 0.2, 0.6),), duration=audio.size / SR)


def tone(seconds: float) -> np.ndarray:
    return (0.3 * np.sin(np.arange(int(seconds * SR)) / 3)).astype(np.float32)


def energy_classifier(windows, context):
    return (np.sqrt(np.mean(windows ** 2, axis=1)) > 0.05).astype(np.float32)


def feed(stream, audio: np.ndarray, block_s: float = 0.1) -> None:
    n = int(block_s * SR)
    for i in range(0, audio.size, n):
        stream.feed(audio[i:i + n])


def test_pieces_are_decoded_in_order_each_with_the_text_before_it():
    fake = FakeTranscriber()
    stream = StreamingTranscriber(fake, stream=StreamOptions(min_piece_s=2, max_piece_s=10),
                                  classifier=energy_classifier)
    feed(stream, np.concatenate([tone(3), np.zeros(SR, np.float32), tone(3), np.zeros(SR // 2, np.float32)]))
    out = stream.finish()
    assert out.text == "piece1. piece2." and out.model == "fake"
    assert [c for _, c in fake.calls][:1] == [""]
    assert len(stream.stats.pieces) == 2 and stream.stats.pieces[1].start >= 3.5 * SR


def test_an_answer_without_speech_needs_no_model_and_a_load_error_reaches_finish():
    def missing():
        raise ModelNotFoundError("no Whisper model installed")

    quiet = StreamingTranscriber(missing, classifier=energy_classifier)
    feed(quiet, np.zeros(2 * SR, np.float32))
    assert quiet.finish().text == ""
    spoken = StreamingTranscriber(missing, classifier=energy_classifier)
    feed(spoken, tone(2))
    with pytest.raises(ModelNotFoundError):
        spoken.finish()


# --- the real model -------------------------------------------------------------------------------
ANSWER = ("During decoding the KV cache stores the keys and values of every previous token. "
          "A new token then attends to them without recomputing the whole prefix, which saves most of the work. "
          "The price is memory: the cache grows linearly with the sequence length and the batch size. "
          "Grouped query attention shrinks it by sharing keys and values across heads.")
TRAILING_SILENCE_S = 2.0  # s: what the recorder waits after the last word before it ends the answer
WER_MARGIN = 0.05  # streaming may be this much worse than one-shot on the same audio


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " "))).strip()


@pytest.fixture(scope="module")
def answer_audio(tmp_path_factory) -> np.ndarray:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (sudo apt-get install -y espeak-ng)")
    from viva.audio.wav import load_audio

    wav = Path(tmp_path_factory.mktemp("stream")) / "answer.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(wav), ANSWER], check=True)
    lead = np.zeros(int(0.5 * SR), np.float32)
    return np.concatenate([lead, load_audio(wav), np.zeros(int(TRAILING_SILENCE_S * SR), np.float32)])


@pytest.mark.slow
def test_streaming_tiny_en_matches_one_shot_and_leaves_only_the_tail(answer_audio):
    import jiwer

    from viva.transcribe import build_transcriber

    tiny = build_transcriber("faster-whisper", "tiny.en")
    options = TranscribeOptions(terms=("KV cache", "keys and values", "grouped query attention"))
    one_shot = tiny.transcribe(answer_audio, options)
    stream = StreamingTranscriber(tiny, options)
    block = int(0.1 * SR)
    start = time.perf_counter()
    for i in range(0, answer_audio.size, block):  # at real-time pace, as the recorder delivers it
        time.sleep(max(0.0, start + i / SR - time.perf_counter()))
        stream.feed(answer_audio[i:i + block])
    out = stream.finish()
    wer_stream, wer_once = jiwer.wer(_norm(ANSWER), _norm(out.text)), jiwer.wer(_norm(ANSWER), _norm(one_shot.text))
    assert wer_stream <= wer_once + WER_MARGIN, (out.text, one_shot.text)
    stats = stream.stats
    assert len(stats.pieces) >= 2, stats  # it did decode while the answer was still being spoken
    assert stats.left_at_finish_s <= stats.pieces[-1].seconds + 1e-6, stats  # at most the last piece was left
    assert out.words and out.words[-1][2] <= answer_audio.size / SR - TRAILING_SILENCE_S + 0.5
