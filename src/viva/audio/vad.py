"""Voice activity: is someone talking? Silero (bundled with faster-whisper) per 32 ms window, streaming.

webrtcvad fires on broadband noise (a fan, white noise: ~100% of frames "speech" in our check) while Silero
stays at 0%, so Silero drives both the end-of-answer detection and the "no speech heard" gate; webrtcvad is
kept as a lighter fallback for machines without onnxruntime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from viva.audio.wav import SAMPLE_RATE

WINDOW = 512  # samples: Silero's window at 16 kHz = 32 ms
WINDOW_S = WINDOW / SAMPLE_RATE  # 0.032 s
CONTEXT = 64  # samples of look-back Silero v6 takes with each window
SPEECH_THRESHOLD = 0.5  # Silero probability above which a window counts as speech
MIN_SPEECH_S = 0.4  # s: less voiced audio than this is a cough or a click, not an answer
DEFAULT_TRAILING_SILENCE_S = 2.0  # s of silence after speech that ends an answer
DEFAULT_NO_SPEECH_TIMEOUT_S = 12.0  # s without any speech before giving up on this attempt
MAX_BATCH_WINDOWS = 256  # windows per classifier call (8 s): whole files are classified in bounded batches
WEBRTC_FRAME = 480  # samples: 30 ms, a frame size webrtcvad accepts at 16 kHz
WEBRTC_MIN_DBFS = -45.0  # webrtcvad frames quieter than this are never speech


class WindowClassifier(Protocol):
    def __call__(self, windows: np.ndarray, context: np.ndarray) -> np.ndarray:
        """Speech probability (0-1) for each row of ``windows`` (n × WINDOW float32)."""


class SileroClassifier:
    """Silero VAD v6 from faster-whisper's assets; each window is scored with its 64-sample look-back."""

    def __init__(self) -> None:
        from faster_whisper.vad import get_vad_model

        self._model = get_vad_model()

    def __call__(self, windows: np.ndarray, context: np.ndarray) -> np.ndarray:
        if len(windows) == 0:
            return np.zeros(0, dtype=np.float32)
        flat = windows.reshape(-1)
        # The model derives each window's context from the previous one; give the first its real past.
        padded = np.concatenate([context[-WINDOW:] if context.size >= WINDOW else
                                 np.pad(context, (WINDOW - context.size, 0)), flat]).astype(np.float32)
        probs = np.asarray(self._model(padded)).reshape(-1)
        return probs[1:]


class WebRtcClassifier:
    """webrtcvad with an energy floor; 0/1 per Silero-sized window (majority of its 30 ms frames)."""

    def __init__(self, aggressiveness: int = 3) -> None:
        import webrtcvad

        self._vad = webrtcvad.Vad(aggressiveness)

    def __call__(self, windows: np.ndarray, context: np.ndarray) -> np.ndarray:
        out = np.zeros(len(windows), dtype=np.float32)
        for i, window in enumerate(windows):
            frame = window[:WEBRTC_FRAME]
            level = 20 * np.log10(max(float(np.sqrt(np.mean(frame.astype(np.float64) ** 2))), 1e-9))
            pcm = (np.clip(frame, -1, 1) * 32767).astype(np.int16).tobytes()
            out[i] = float(level > WEBRTC_MIN_DBFS and self._vad.is_speech(pcm, SAMPLE_RATE))
        return out


def default_classifier() -> WindowClassifier:
    try:
        return SileroClassifier()
    except Exception:  # noqa: BLE001 - onnxruntime missing or broken: fall back, the endpointing still works
        return WebRtcClassifier()


def speech_seconds(samples: np.ndarray, classifier: WindowClassifier | None = None) -> float:
    """How many seconds of ``samples`` (16 kHz mono) are speech."""
    tracker = SpeechTracker(classifier or default_classifier())
    tracker.feed(samples)
    return tracker.speech_s


def speech_span(samples: np.ndarray, classifier: WindowClassifier | None = None) -> tuple[float, float]:
    """Seconds from the first to the last speech window, as (start, end); (0, 0) if there is no speech."""
    tracker = SpeechTracker(classifier or default_classifier())
    tracker.feed(samples)
    if tracker.first_speech_start_s is None:
        return 0.0, 0.0
    return tracker.first_speech_start_s, tracker.last_speech_end_s


@dataclass(frozen=True)
class EndpointOptions:
    trailing_silence_s: float = DEFAULT_TRAILING_SILENCE_S
    no_speech_timeout_s: float = DEFAULT_NO_SPEECH_TIMEOUT_S
    min_speech_s: float = MIN_SPEECH_S
    threshold: float = SPEECH_THRESHOLD


class SpeechTracker:
    """Feed audio blocks as they arrive; knows how much speech it heard and when it last heard it."""

    def __init__(self, classifier: WindowClassifier | Callable, options: EndpointOptions | None = None):
        self.classifier = classifier
        self.options = options or EndpointOptions()
        self._pending = np.zeros(0, dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self.windows = 0
        self.speech_windows = 0
        self.last_speech_end_s = 0.0  # s from the start of the stream to the end of the last speech window
        self.first_speech_start_s: float | None = None

    @property
    def elapsed_s(self) -> float:
        return self.windows * WINDOW_S

    @property
    def speech_s(self) -> float:
        return self.speech_windows * WINDOW_S

    @property
    def heard_speech(self) -> bool:
        return self.speech_s >= self.options.min_speech_s

    def feed(self, block: np.ndarray) -> None:
        data = np.concatenate([self._pending, np.asarray(block, dtype=np.float32).reshape(-1)])
        n = data.size // WINDOW
        if n:
            windows = data[: n * WINDOW].reshape(n, WINDOW)
            probs = np.concatenate([  # bounded batches: one ONNX call over 3 min of audio took 115 MB
                np.asarray(self.classifier(windows[i: i + MAX_BATCH_WINDOWS],
                                           self._context if i == 0 else windows[i - 1]), dtype=np.float32)
                for i in range(0, n, MAX_BATCH_WINDOWS)])
            voiced = np.flatnonzero(np.asarray(probs) >= self.options.threshold)
            if voiced.size:
                if self.first_speech_start_s is None:
                    self.first_speech_start_s = (self.windows + int(voiced[0])) * WINDOW_S
                self.last_speech_end_s = (self.windows + int(voiced[-1]) + 1) * WINDOW_S
            self.speech_windows += int(voiced.size)
            self.windows += n
            self._context = data[n * WINDOW - WINDOW: n * WINDOW]
        self._pending = data[n * WINDOW:]

    def silence_s(self) -> float:
        """Seconds since the last speech window (the whole stream if none)."""
        return self.elapsed_s - self.last_speech_end_s

    def done(self) -> str | None:
        """"silence" once speech was heard and then stopped, "no-speech" after the timeout, else None."""
        if self.heard_speech and self.silence_s() >= self.options.trailing_silence_s:
            return "silence"
        if not self.heard_speech and self.elapsed_s >= self.options.no_speech_timeout_s:
            return "no-speech"
        return None
