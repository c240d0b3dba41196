"""The whole spoken loop on real devices: PulseAudio's virtual speaker and microphone, real tiny.en, real
rubric, real Store. The question is spoken to the virtual speaker, an espeak-ng answer is played into the
virtual microphone, viva records until silence, transcribes, scores and commits the attempt."""

from __future__ import annotations

import subprocess
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from pulse import pulse_audio  # noqa: F401  (session fixture)

from viva.audio.recorder import RecordOptions
from viva.domain import Concept, Question
from viva.session import PracticeSession, Quit
from viva.store import Store
from viva.voice import NO_SPEECH, Background, SpokenAnswers, VoiceOptions

pytestmark = pytest.mark.slow

KV = Question(
    id="inf-kv-cache-test", topic="inference", question="What is the KV cache?",
    answer=("During decoding the KV cache stores the keys and values of previous tokens, so attention for a new "
            "token does not recompute them; its memory grows with sequence length."),
    concepts=(Concept("stores keys and values", ("KV cache",), 2.0), Concept("avoids recomputing the prefix"),
              Concept("memory grows with sequence length")),
)
GOOD = ("The KV cache stores the keys and values of all previous tokens during decoding, so we do not "
        "recompute them for every new token. The cost is memory, which grows with the sequence length.")
WRONG = "I think it is a kind of database for storing web pages so that the browser loads them faster."
LEAD_IN_S = 0.8  # s of silence before the answer: the recorder opens its stream after the cue


def espeak_wav(text: str, out: Path, voice: str = "en-us", wpm: int = 150) -> Path:
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), str(out), "pad", str(LEAD_IN_S), "0"], check=True)
    return out


class Candidate:
    """The meter hook doubles as the candidate: once the microphone delivers audio, it starts speaking."""

    def __init__(self, pulse, wavs: list[Path | None]):
        self.pulse, self.wavs, self.players, self.waiting = pulse, list(wavs), [], False

    def start(self) -> None:
        self.waiting = True

    def update(self, progress) -> None:
        if self.waiting:
            self.waiting = False
            wav = self.wavs.pop(0)
            if wav is not None:
                self.players.append(self.pulse.play_into_mic(wav))

    def stop(self) -> None:
        for p in self.players:
            p.wait(timeout=30)


class RecordingUI:
    def __init__(self):
        self.feedbacks, self.notices = [], []

    def feedback(self, question, score, answer, previous):
        self.feedbacks.append((question, score, answer))

    def next_action(self):
        return "next"

    def summary(self, result):
        self.result = result

    def notice(self, message):
        self.notices.append(message)


@pytest.fixture(scope="module")
def tiny_en():
    from viva.transcribe import build_transcriber

    return Background(lambda: build_transcriber("faster-whisper", "tiny.en"))


def _spoken(pulse, wavs, transcriber, notices, lines=(), options=None):
    from viva.audio.recorder import Recorder
    from viva.audio.tts import EspeakSpeaker

    lines = list(lines)
    return SpokenAnswers(speaker=EspeakSpeaker(rate_wpm=220), recorder=Recorder(), transcriber=transcriber,
                         show_question=lambda *a: None, notice=notices.append,
                         read_line=lambda prompt: lines.pop(0) if lines else "q",
                         options=options or VoiceOptions(record=RecordOptions(trailing_silence_s=1.2, max_s=40)),
                         meter=Candidate(pulse, wavs))


def _rms(path: Path) -> float:
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768
    return float(np.sqrt(np.mean(data ** 2))) if data.size else 0.0


def test_spoken_session_scores_good_above_wrong_and_saves_attempts(pulse_audio, tiny_en, real_scorer, tmp_path,
                                                                   viva_home):
    good, wrong = espeak_wav(GOOD, tmp_path / "good.wav"), espeak_wav(WRONG, tmp_path / "wrong.wav")
    other = Question(**{**KV.__dict__, "id": "inf-kv-cache-test-2"})
    notices: list[str] = []
    answers = _spoken(pulse_audio, [good, wrong], tiny_en, notices)
    speaker_capture = pulse_audio.record_speaker(0, tmp_path / "speaker.wav")
    try:
        with Store() as store:
            result = PracticeSession(store, real_scorer, answers, RecordingUI()).run([KV, other], mode="spoken")
            rows = store.attempts(10)
    finally:
        time.sleep(0.3)
        speaker_capture.terminate()
        speaker_capture.wait(timeout=10)
    assert notices == []
    assert [r.mode for r in rows] == ["spoken", "spoken"]
    good_row, wrong_row = rows[1], rows[0]
    # The opening words count: "The KV cache" was once dropped (hotwords read as the start of the answer).
    assert "kv cache" in good_row.transcript.lower() and "memory" in good_row.transcript.lower()
    assert good_row.score >= wrong_row.score + 30, (good_row.transcript, good_row.score, wrong_row.score)
    for row in rows:
        assert Path(row.audio_path).is_file() and Path(row.audio_path).parent == viva_home / "recordings"
        delivery = row.details["delivery"]
        assert delivery["words"] >= 10 and 80 <= delivery["words_per_minute"] <= 260
    assert result.answered == 2
    stats = answers.stream_stats  # transcribed while the answer was recorded (the default)
    assert stats is not None and stats.pieces and stats.left_at_finish_s <= stats.pieces[-1].seconds + 1e-6
    assert _rms(tmp_path / "speaker.wav") > 0.01  # the questions (and cues) reached the virtual speaker


def test_silence_is_not_scored_and_a_retry_is_offered(pulse_audio, tiny_en, tmp_path):
    noise = tmp_path / "noise.wav"
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", str(noise), "synth", "3", "whitenoise", "vol", "0.1"],
                   check=True)
    notices: list[str] = []
    opts = VoiceOptions(speak=False, record=RecordOptions(trailing_silence_s=1.0, no_speech_timeout_s=2.5, max_s=10))
    answers = _spoken(pulse_audio, [None, noise], tiny_en, notices, lines=["", "q"], options=opts)
    with pytest.raises(Quit):
        answers.answer(KV, 1, 1)
    assert notices == [NO_SPEECH, NO_SPEECH]  # silence, then a retry with noise only
    assert not (tmp_path / "viva-home" / "recordings").exists()


def test_replay_plays_the_attempts_recording_to_the_speaker(pulse_audio, tmp_path, viva_home):
    from typer.testing import CliRunner

    from test_voice import _app
    from viva.audio.wav import save_wav
    from viva.domain import Rating, Score
    from viva.store import AttemptRecord

    wav = save_wav(viva_home / "recordings" / "a.wav", (0.3 * np.sin(np.arange(16_000) / 3)).astype(np.float32))
    with Store() as store:
        attempt = store.record_attempt(AttemptRecord("q", "inference", "spoken", "good", audio_path=str(wav),
                                                     transcript="hello", score=Score(70, 1, 1, 1, Rating.GOOD)))
    capture = pulse_audio.record_speaker(0, tmp_path / "out.wav")
    try:
        time.sleep(0.3)
        r = CliRunner().invoke(_app(), ["replay", str(attempt)])
        time.sleep(0.3)
    finally:
        capture.terminate()
        capture.wait(timeout=10)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"playing attempt {attempt} (q, 1.0 s): hello")
    assert _rms(tmp_path / "out.wav") > 0.05
