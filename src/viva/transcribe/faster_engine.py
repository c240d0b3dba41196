"""faster-whisper (CTranslate2) engine: int8 on CPU, word timestamps, primed with the question's terms."""

from __future__ import annotations

import logging
import os
import time

import numpy as np

from viva.domain import Transcript
from viva.transcribe import TranscribeOptions
from viva.transcribe.models import ModelLocation
from viva.transcribe.prompt import hotwords, initial_prompt

log = logging.getLogger("viva")


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
        use_prompt = options.priming in ("prompt", "both")
        use_hot = options.priming in ("hotwords", "both")
        segments, info = self._model.transcribe(
            np.asarray(audio, dtype=np.float32),
            language=options.language,
            beam_size=options.beam_size,
            word_timestamps=options.word_timestamps,
            initial_prompt=initial_prompt(options.terms) if use_prompt else None,
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
