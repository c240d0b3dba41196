"""Transcribing while the candidate speaks: the answer is cut into pieces at its pauses and each piece is
decoded on a worker thread as soon as it is cut, so when the answer ends only its last piece is left.

Whisper pads every window to 30 s, so a piece costs one encoder pass however short it is: pieces are cut
at a pause once they hold ``min_piece_s`` of audio (or by force at ``max_piece_s``), and each is decoded
with the text before it as its prompt, which keeps spelling and sentence flow as in one-shot decoding.
Long silences are never handed to Whisper: a piece runs from just before its first speech window to just
after its last one (a silent tail makes Whisper repeat itself and retry at higher temperatures, measured
at 10-30 s extra on a 15-s answer). When the candidate has been quiet for ``speculate_after_s``, the
unfinished last piece is decoded ahead; if they go on speaking, that result is dropped.

    stream = StreamingTranscriber(background.get, TranscribeOptions(terms=terms))
    recorder.record(..., on_audio=stream.feed)   # recorder thread: cheap appends
    transcript = stream.finish()                 # only the tail is decoded now
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Union

import numpy as np

from viva.audio.vad import CONTEXT as VAD_CONTEXT
from viva.audio.vad import SPEECH_THRESHOLD, WINDOW, WindowClassifier
from viva.audio.wav import SAMPLE_RATE
from viva.domain import Transcript
from viva.transcribe import TranscribeOptions, Transcriber

log = logging.getLogger("viva")

CUT_PAUSE_S = 0.25  # s of non-speech that may end a piece (espeak-ng: ~0.4 s between sentences, ~0.2 at commas)
# Piece lengths, measured on 9 espeak-ng answers of 10-95 s (base, int8): WER 0.118 with 10-20 s pieces
# against 0.119-0.129 one-shot; 6-15 s pieces gave 0.175, 12-25 s 0.134. Longer pieces cost little more to
# decode (the encoder pass dominates: base takes ~1.3 s for 3 s of audio, ~1.7 s for 20 s).
MIN_PIECE_S = 10.0  # s: shorter pieces give Whisper too little context and cost a whole encoder pass each
MAX_PIECE_S = 20.0  # s without a usable pause before a piece is cut by force at its quietest window
FORCE_SEARCH_S = 3.0  # s at the end of an over-long piece searched for the quietest window to cut at
LEAD_PAD_S = 0.2  # s of audio kept before a piece's first speech window (Silero fires a little late)
TRAIL_PAD_S = 0.25  # s kept after its last speech window (soft word endings); never more than CUT_PAUSE_S
SPECULATE_AFTER_S = 0.5  # s of silence after which the unfinished last piece is decoded ahead
CONTEXT_CHARS = 200  # characters of the text so far given as the next piece's prompt (~45 tokens)
WINDOW_S = WINDOW / SAMPLE_RATE  # 0.032 s per VAD window
# Past the end of a piece's speech Whisper may go on: it repeats the piece's first words, adds "End." or
# "As you can see," or a run of ". . .", aligned into the last fraction of a second. Such trailing words
# are dropped (measured on base and tiny.en, espeak-ng answers).
MIN_WORD_S = 0.08  # s: a trailing word aligned shorter than this is not a word that was said
VOICED_EDGE_S = 0.15  # s: a trailing word that starts this close to the end of speech, or later, was not said
_WORDISH = re.compile(r"[A-Za-z0-9]")
_LOOSE_PUNCT = re.compile(r"\s+[^\w\s]+$")  # " ." at the end: punctuation Whisper set apart as a word
# Silero restarts its recurrent state at every call, so its output depends on how windows are batched:
# a fixed batch makes the cuts reproducible. 8 windows = 0.256 s, the delay before a pause is noticed.
VAD_BATCH = 8


@dataclass(frozen=True)
class StreamOptions:
    """Where pieces are cut; every value in seconds."""

    cut_pause_s: float = CUT_PAUSE_S
    min_piece_s: float = MIN_PIECE_S
    max_piece_s: float = MAX_PIECE_S
    speculate_after_s: float = SPECULATE_AFTER_S
    threshold: float = SPEECH_THRESHOLD


@dataclass(frozen=True)
class Piece:
    """A stretch of the answer, in samples from the start of the recording: [start, end); its speech ends
    at ``voiced_end`` (the rest is the trailing pad)."""

    start: int
    end: int
    voiced_end: int

    @property
    def seconds(self) -> float:
        return (self.end - self.start) / SAMPLE_RATE


@dataclass(frozen=True)
class StreamStats:
    """What the stream did, for the latency benchmark and the tests.

    ``left_at_finish_s`` is the audio (in pieces) whose decoding had not finished when ``finish()`` was
    called: the work the candidate waits for. ``finish_s`` is how long ``finish()`` took.
    """

    pieces: tuple[Piece, ...] = ()
    left_at_finish_s: float = 0.0
    finish_s: float = 0.0
    decode_s: float = 0.0
    speculative: int = 0  # speculative decodes run
    speculative_used: bool = False  # the last one became the final piece


class PieceCutter:
    """Turns per-window speech probabilities into pieces. Pure and deterministic; feed windows in order."""

    def __init__(self, options: StreamOptions = StreamOptions()):
        self.options = options
        self.windows = 0  # windows seen
        self._probs: list[float] = []
        self._start: int | None = None  # window where the open piece starts (None: no speech since last cut)
        self._floor = 0  # first window the next piece may start at
        self._last_speech = -1  # index of the latest speech window
        self._quiet = 0  # consecutive non-speech windows

    def push(self, probs: np.ndarray) -> list[Piece]:
        """Add the next windows' speech probabilities; return the pieces they complete."""
        out: list[Piece] = []
        opts = self.options
        for p in np.asarray(probs, dtype=np.float32).reshape(-1):
            i = self.windows
            self.windows += 1
            self._probs.append(float(p))
            if p >= opts.threshold:
                if self._start is None:
                    self._start = max(self._floor, i - _windows(LEAD_PAD_S))
                self._last_speech, self._quiet = i, 0
            else:
                self._quiet += 1
                if self._start is not None and self._quiet >= _windows(opts.cut_pause_s) and \
                        self._last_speech + 1 - self._start >= _windows(opts.min_piece_s):
                    out.append(self._close())
            if self._start is not None and self.windows - self._start >= _windows(opts.max_piece_s):
                out.append(self._force_cut())
        return out

    def _close(self) -> Piece:
        piece = self._open_piece()
        self._start, self._floor = None, piece.end // WINDOW
        return piece

    def _open_piece(self) -> Piece:
        voiced = max(self._last_speech + 1, self._start + 1)
        return _piece(self._start, min(voiced + _windows(TRAIL_PAD_S), self.windows), voiced)

    def _force_cut(self) -> Piece:
        """No pause came: cut at the quietest window of the last FORCE_SEARCH_S, the next piece starts there."""
        lo = max(self._start + 1, self.windows - _windows(FORCE_SEARCH_S))
        cut = lo + int(np.argmin(self._probs[lo:self.windows])) if lo < self.windows else self.windows
        piece = _piece(self._start, cut, cut)
        self._start = cut if self._last_speech >= cut else None  # None: the rest so far is silence
        self._floor = cut
        return piece

    def pending(self) -> Piece | None:
        """The open piece as it would be closed now, once the speaker has been quiet ``speculate_after_s``."""
        if self._start is None or self._quiet < _windows(self.options.speculate_after_s):
            return None
        return self._open_piece()

    def flush(self) -> Piece | None:
        """The end of the answer: close the open piece, if any speech is in it."""
        return None if self._start is None else self._close()


def _windows(seconds: float) -> int:
    return max(1, int(round(seconds / WINDOW_S)))


def _piece(start_window: int, end_window: int, voiced_end_window: int) -> Piece:
    return Piece(start_window * WINDOW, end_window * WINDOW, min(voiced_end_window, end_window) * WINDOW)


class _Audio:
    """A growing float32 buffer (doubling), so slicing a piece never re-concatenates the whole answer."""

    def __init__(self) -> None:
        self._data = np.zeros(SAMPLE_RATE * 8, dtype=np.float32)
        self.size = 0

    def append(self, block: np.ndarray) -> None:
        need = self.size + block.size
        if need > self._data.size:
            grown = np.zeros(max(need, 2 * self._data.size), dtype=np.float32)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size: need] = block
        self.size = need

    def view(self, start: int = 0, end: int | None = None) -> np.ndarray:
        return self._data[start: self.size if end is None else min(end, self.size)]


TranscriberSource = Union[Transcriber, Callable[[], Transcriber]]


@dataclass
class _Decoded:
    piece: Piece
    transcript: Transcript
    context: str = ""
    done_at: float = field(default_factory=time.perf_counter)


class StreamingTranscriber:
    """Decodes an answer piece by piece while it is being recorded.

    Args:
        transcriber: a Transcriber, or a callable returning one (e.g. ``Background.get``: the model may still
            be loading when the answer starts; the worker waits for it, the recorder never does).
        options: decoding options for every piece (the question's priming terms).
        stream: where pieces are cut.
        classifier: the VAD (default: Silero, loaded on the worker thread).
    """

    def __init__(self, transcriber: TranscriberSource, options: TranscribeOptions = TranscribeOptions(), *,
                 stream: StreamOptions = StreamOptions(), classifier: WindowClassifier | None = None):
        self._source = transcriber
        self.options = options
        self._cutter = PieceCutter(stream)
        self._classifier = classifier
        self._audio = _Audio()
        self._inbox: list[np.ndarray] = []
        self.fed_samples = 0  # samples given to feed(): 0 means the recorder never streamed (a fake one)
        self._cond = threading.Condition()
        self._finishing = self._cancelled = False
        self._queue: list[Piece] = []
        self._done: list[_Decoded] = []
        self._spec: _Decoded | None = None
        self._error: BaseException | None = None
        self._result: Transcript | None = None
        self._decode_s = 0.0
        self._spec_runs = 0
        self._spec_used = False
        self.stats = StreamStats()
        self._thread = threading.Thread(target=self._run, name="viva-stream", daemon=True)
        self._thread.start()

    def feed(self, block: np.ndarray) -> None:
        """Add the next block of 16 kHz mono float32 audio (called from the recording loop; never blocks)."""
        block = np.asarray(block, dtype=np.float32).reshape(-1).copy()
        with self._cond:
            self._inbox.append(block)
            self.fed_samples += block.size
            self._cond.notify()

    def finish(self) -> Transcript:
        """The answer has ended: decode what is left and return the whole transcript.

        Raises:
            VivaError: the transcriber could not be loaded (e.g. ModelNotFoundError), as one-shot would.
        """
        start = time.perf_counter()
        with self._cond:
            self._finishing = True
            self._cond.notify()
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        left = sum(d.piece.seconds for d in self._done if d.done_at > start)
        self.stats = StreamStats(pieces=tuple(d.piece for d in self._done), left_at_finish_s=round(left, 2),
                                 finish_s=round(time.perf_counter() - start, 3), decode_s=round(self._decode_s, 3),
                                 speculative=self._spec_runs, speculative_used=self._spec_used)
        return self._result

    def cancel(self) -> None:
        """Drop the answer (no speech was heard, or the session quits); the worker stops after its decode."""
        with self._cond:
            self._cancelled = True
            self._cond.notify()

    # --- the worker -------------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._work()
        except BaseException as exc:  # noqa: BLE001 - handed to finish()
            self._error = exc

    def _work(self) -> None:
        if self._classifier is None:
            from viva.audio.vad import default_classifier

            self._classifier = default_classifier()
        transcriber: Transcriber | None = None
        analysed = 0  # samples that went through the VAD
        context = np.zeros(VAD_CONTEXT, dtype=np.float32)
        while True:
            with self._cond:
                while not (self._inbox or self._finishing or self._cancelled or self._queue or self._spec_due()):
                    self._cond.wait()
                if self._cancelled:
                    return
                blocks, self._inbox = self._inbox, []
                finishing = self._finishing
            for b in blocks:
                self._audio.append(b)
            n = (self._audio.size - analysed) // WINDOW
            n = n if finishing else n - n % VAD_BATCH
            if n:
                windows = self._audio.view(analysed, analysed + n * WINDOW).reshape(n, WINDOW)
                pieces = []
                for b in range(0, n, VAD_BATCH):
                    batch = windows[b: b + VAD_BATCH]
                    pieces += self._cutter.push(self._classifier(batch, context))
                    context = batch[-1].copy()
                analysed += n * WINDOW
                with self._cond:
                    self._queue.extend(pieces)
            if self._queue:
                transcriber = transcriber or self._resolve()
                with self._cond:
                    piece = self._queue.pop(0)
                self._done.append(self._decode(transcriber, piece))
                continue
            if finishing:
                with self._cond:
                    if self._inbox:  # the last blocks arrived with the finish call
                        continue
                self._finish_with(transcriber)
                return
            spec = self._cutter.pending()
            if spec is not None and (self._spec is None or self._spec.piece != spec):
                transcriber = transcriber or self._resolve()
                self._spec = self._decode(transcriber, spec)
                self._spec_runs += 1

    def _spec_due(self) -> bool:
        spec = self._cutter.pending()
        return spec is not None and (self._spec is None or self._spec.piece != spec)

    def _resolve(self) -> Transcriber:
        source = self._source
        return source if hasattr(source, "transcribe") else source()  # type: ignore[operator, return-value]

    def _finish_with(self, transcriber: Transcriber | None) -> None:
        last = self._cutter.flush()
        if last is not None:
            if self._spec is not None and self._spec.piece == last and self._spec.context == self._context():
                self._done.append(self._spec)
                self._spec_used = True
            else:
                transcriber = transcriber or self._resolve()
                self._done.append(self._decode(transcriber, last))
        self._result = merge(self._done, self._audio.size / SAMPLE_RATE,
                             getattr(transcriber, "model_name", ""), getattr(transcriber, "engine", ""))

    def _context(self) -> str:
        return " ".join(d.transcript.text for d in self._done if d.transcript.text)[-CONTEXT_CHARS:]

    def _decode(self, transcriber: Transcriber, piece: Piece) -> _Decoded:
        context = self._context()
        start = time.perf_counter()
        transcript = transcriber.transcribe(self._audio.view(piece.start, piece.end),
                                            with_context(self.options, context))
        transcript = trim_tail(transcript, (piece.voiced_end - piece.start) / SAMPLE_RATE)
        self._decode_s += time.perf_counter() - start
        log.debug("stream: piece %.1f-%.1f s decoded in %.2f s", piece.start / SAMPLE_RATE, piece.end / SAMPLE_RATE,
                  time.perf_counter() - start)
        return _Decoded(piece, transcript, context)


def trim_tail(transcript: Transcript, voiced_end_s: float) -> Transcript:
    """Drop the words Whisper invented after a piece's speech ended (see MIN_WORD_S, VOICED_EDGE_S)."""
    words = list(transcript.words)
    keep = len(words)
    while keep:
        w, start, end = words[keep - 1]
        if _WORDISH.search(w) and end - start >= MIN_WORD_S and start < voiced_end_s - VOICED_EDGE_S:
            break
        keep -= 1
    if keep == len(words) or not words:
        return transcript
    text = transcript.text.rstrip()
    for w, _, _ in reversed(words[keep:]):
        text = _LOOSE_PUNCT.sub("", text) if not _WORDISH.search(w) else _drop_last(text, w)
    text = text.strip()
    kept = tuple(words[:keep])
    segments = ({"start": kept[0][1], "end": kept[-1][2], "text": text},) if kept and text else ()
    return replace(transcript, text=text, words=kept, segments=segments)


def _drop_last(text: str, word: str) -> str:
    at = text.rfind(word.rstrip(".,;:!?…"))
    return text[:at].rstrip() if at >= 0 else text


def with_context(options: TranscribeOptions, context: str) -> TranscribeOptions:
    """``options`` with the text decoded so far as Whisper's prompt."""
    return replace(options, context=context) if context else options


def merge(decoded: list[_Decoded], duration_s: float, model: str = "", engine: str = "") -> Transcript:
    """One Transcript from the pieces' transcripts, times shifted to the start of the recording."""
    texts, segments, words = [], [], []
    for d in decoded:
        offset = d.piece.start / SAMPLE_RATE
        if d.transcript.text.strip():
            texts.append(d.transcript.text.strip())
        for s in d.transcript.segments:
            segments.append({**s, "start": round(s["start"] + offset, 2), "end": round(s["end"] + offset, 2)})
        words.extend((w, round(a + offset, 2), round(b + offset, 2)) for w, a, b in d.transcript.words)
        model, engine = model or d.transcript.model, engine or d.transcript.engine
    return Transcript(text=" ".join(texts), segments=tuple(segments), duration=round(duration_s, 2), model=model,
                      engine=engine, words=tuple(words))


__all__ = ["Piece", "PieceCutter", "StreamOptions", "StreamStats", "StreamingTranscriber", "merge",
           "with_context"]
