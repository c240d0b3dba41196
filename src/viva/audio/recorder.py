"""Recording an answer: 16 kHz mono from the default input until silence, Enter or the time limit."""

from __future__ import annotations

import logging
import queue
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from viva.audio.vad import (DEFAULT_NO_SPEECH_TIMEOUT_S, DEFAULT_TRAILING_SILENCE_S, EndpointOptions,
                            SpeechTracker, WindowClassifier, default_classifier)
from viva.audio.wav import SAMPLE_RATE, rms_dbfs, resample
from viva.errors import AudioDeviceError

log = logging.getLogger("viva")

BLOCK_S = 0.1  # s per block from the input stream: the meter updates at 10 Hz
DEFAULT_MAX_S = 180.0  # s: an interview answer longer than 3 minutes has lost the interviewer
FIRST_BLOCK_TIMEOUT_S = 10.0  # s: PulseAudio through ALSA can take ~1.5 s to deliver the first block
QUEUE_TIMEOUT_S = 5.0  # s without a block after that means the device stalled


@dataclass(frozen=True)
class RecordOptions:
    trailing_silence_s: float = DEFAULT_TRAILING_SILENCE_S
    max_s: float = DEFAULT_MAX_S
    no_speech_timeout_s: float = DEFAULT_NO_SPEECH_TIMEOUT_S
    device: int | str | None = None


@dataclass(frozen=True)
class Progress:
    elapsed_s: float
    level_dbfs: float
    speaking: bool
    heard_speech: bool


@dataclass(frozen=True)
class Recording:
    """What was recorded; ``stopped_by`` is "silence", "enter", "max" or "no-speech"."""

    samples: np.ndarray = field(repr=False, compare=False)
    duration_s: float
    speech_s: float
    stopped_by: str
    heard_speech: bool


class Recorder:
    """Records from a sounddevice input stream, ending the answer with Silero VAD."""

    def __init__(self, classifier: WindowClassifier | None = None):
        import sounddevice as sd

        self._sd = sd
        self._classifier = classifier

    def record(self, options: RecordOptions = RecordOptions(),
               should_stop: Callable[[], bool] | None = None,
               on_progress: Callable[[Progress], None] | None = None,
               on_audio: Callable[[np.ndarray], None] | None = None) -> Recording:
        """Record one answer.

        Args:
            options: silence, time limit and device.
            should_stop: polled every block; True stops (the CLI checks for Enter).
            on_progress: called every block with level and elapsed time, for the live meter.
            on_audio: called every block with its 16 kHz mono samples (the streaming transcriber's feed).

        Raises:
            AudioDeviceError: no input device, or it fails while recording.
        """
        if self._classifier is None:
            self._classifier = default_classifier()
        tracker = SpeechTracker(self._classifier, EndpointOptions(
            trailing_silence_s=options.trailing_silence_s, no_speech_timeout_s=options.no_speech_timeout_s))
        blocks: queue.Queue[np.ndarray] = queue.Queue()
        stream, rate = self._open(options.device, blocks)
        chunks: list[np.ndarray] = []
        stopped_by = "max"
        start = time.monotonic()
        with stream:
            while True:
                try:
                    block = blocks.get(timeout=QUEUE_TIMEOUT_S if chunks else FIRST_BLOCK_TIMEOUT_S)
                except queue.Empty:
                    raise AudioDeviceError("the microphone stopped sending audio; check the input device") from None
                mono = resample(block.reshape(-1), rate) if rate != SAMPLE_RATE else block.reshape(-1)
                chunks.append(mono)
                if on_audio:
                    on_audio(mono)
                tracker.feed(mono)
                if on_progress:
                    on_progress(Progress(time.monotonic() - start, rms_dbfs(mono),
                                         tracker.silence_s() < BLOCK_S * 3, tracker.heard_speech))
                reason = tracker.done()
                if reason:
                    stopped_by = reason
                    break
                if should_stop and should_stop():
                    stopped_by = "enter"
                    break
                if tracker.elapsed_s >= options.max_s:
                    break
        samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
        return Recording(samples, samples.size / SAMPLE_RATE, tracker.speech_s, stopped_by, tracker.heard_speech)

    def _open(self, device, blocks: queue.Queue):
        sd = self._sd

        def callback(indata, frames, time_info, status):  # runs on PortAudio's thread
            if status:
                log.info("input status: %s", status)
            blocks.put(indata[:, 0].copy())

        last_error: Exception | None = None
        for rate in (SAMPLE_RATE, None):  # 16 kHz, else the device's own rate, resampled here
            try:
                if rate is None:
                    rate = int(sd.query_devices(device, kind="input")["default_samplerate"])
                stream = sd.InputStream(samplerate=rate, channels=1, dtype="float32", device=device,
                                        blocksize=int(rate * BLOCK_S), latency="low", callback=callback)
                return stream, rate
            except (sd.PortAudioError, ValueError) as exc:
                last_error = exc
        raise AudioDeviceError(f"cannot open the microphone ({last_error}); check 'pactl list short sources' "
                               "or answer with --type")
