"""faster-whisper (CTranslate2) engine: int8 on CPU, word timestamps, primed with the question's terms."""

from __future__ import annotations

import logging
import os
import time

import numpy as np

from viva.domain import Transcript
from viva.transcribe import TranscribeOptions
from viva.transcribe.models import ModelLocation
from viva.transcribe.prompt import decoder_prompt, hotwords

log = logging.getLogger("viva")

# Priming can make Whisper skip whole sentences: with a prompt, base once transcribed only the last sentence of
# a 22 s answer (benchmarks/asr.py). A primed transcript whose words cover less than this share of the
# detected speech is decoded again without priming, and the longer transcript wins.
# Hotwords can also swallow words: tiny.en heard "key not product." for a 5 s sentence primed with
# "softmax, query, key". Fewer words per second of speech than MIN_WORDS_PER_S triggers the same re-decode.
MIN_COVERAGE = 0.6
MIN_WORDS_PER_S = 1.2  # words per second of speech: 72 wpm, well below a slow speaker's ~100
MIN_GUARDED_SPEECH_S = 1.5  # s: shorter answers are too short to judge
WORD_GAP_MERGE_S = 1.5  # s: words closer than this count as continuous speech


def default_threads() -> int:
    return max(1, os.cpu_count() or 1)


class FasterWhisperTranscriber:
    engine = "faster-whisper"

    def __init__(self, location: ModelLocation, *, compute_type: str = "int8", threads: int | None = None):
        from faster_whisper import WhisperModel

        start = time.perf_counter()
        self.location = location
        self.model_name = location.name
        self.compute_type = compute_type
        # ctranslate2 wants a str path; a Path raises a TypeError deep inside its constructor.
        self._model = WhisperModel(str(location.path), device="cpu", compute_type=compute_type,
                                   cpu_threads=threads or default_threads(), local_files_only=True)
        self.load_s = time.perf_counter() - start

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions = TranscribeOptions()) -> Transcript:
        audio = np.asarray(audio, dtype=np.float32)
        primed = bool(options.terms or options.question) and options.priming != "none"
        out = self._decode(audio, options, primed)
        if primed and options.word_timestamps:
            from viva.audio.vad import speech_span

            start, end = speech_span(audio)
            span = end - start
            if span >= MIN_GUARDED_SPEECH_S and (word_coverage(out.words) < MIN_COVERAGE * span
                                                 or len(out.words) < MIN_WORDS_PER_S * span):
                log.info("primed transcript: %d words over %.1f of %.1f s of speech; decoding unprimed",
                         len(out.words), word_coverage(out.words), span)
                plain = self._decode(audio, options, False)
                if len(plain.words) > len(out.words):
                    out = plain
        return out

    def _decode(self, audio: np.ndarray, options: TranscribeOptions, primed: bool) -> Transcript:
        use_hot = primed and options.priming in ("hotwords", "both")
        segments, info = self._model.transcribe(
            audio,
            language=options.language,
            beam_size=options.beam_size,
            word_timestamps=options.word_timestamps,
            initial_prompt=decoder_prompt(options, primed),
            hotwords=hotwords(options.terms) if use_hot else None,
            vad_filter=False,  # the recorder already gated on speech; the filter would clip soft endings
            condition_on_previous_text=True,
        )
        segs, words = [], []
        for s in segments:
            segs.append({"start": round(float(s.start), 2), "end": round(float(s.end), 2), "text": s.text.strip()})
            for w in s.words or ():
                words.append((w.word.strip(), round(float(w.start), 2), round(float(w.end), 2)))
        text = " ".join(s["text"] for s in segs if s["text"]).strip()
        return Transcript(text=text, segments=tuple(segs), duration=round(float(info.duration), 2),
                          model=self.model_name, engine=self.engine, words=tuple(words))


def word_coverage(words) -> float:
    """Seconds of speech the words span, merging gaps shorter than WORD_GAP_MERGE_S."""
    total, run_start, run_end = 0.0, None, None
    for _, start, end in words:
        if run_end is not None and start - run_end <= WORD_GAP_MERGE_S:
            run_end = max(run_end, end)
            continue
        if run_end is not None:
            total += run_end - run_start
        run_start, run_end = start, end
    if run_end is not None:
        total += run_end - run_start
    return total
