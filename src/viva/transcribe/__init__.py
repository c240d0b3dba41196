"""Speech to text: one small interface (``Transcriber.transcribe``), two engines.

``faster-whisper`` (default: CTranslate2 int8 on CPU) and ``openai-whisper`` (the reference implementation,
optional extra ``viva[openai]``). Models are resolved to local files by ``viva.transcribe.models``; nothing
is ever fetched from a hub by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from viva.domain import Transcript
from viva.errors import VivaError

ENGINES = ("faster-whisper", "openai-whisper")
DEFAULT_ENGINE = "faster-whisper"
PRIMING = ("prompt", "hotwords", "both", "none")


@dataclass(frozen=True)
class TranscribeOptions:
    """How to decode one answer (or one piece of it). ``terms`` are the question's concept names and
    aliases, for priming.

    Whisper's prompt is, in order: the glossary (priming "prompt"/"both"), the question (when primed), then
    ``context``. Ending it on the question matters: hotwords alone made tiny.en take the term list for the
    start of the answer and skip the answer's opening words ("The KV cache stores..." heard as "stores...").
    """

    language: str = "en"
    beam_size: int = 5
    terms: tuple[str, ...] = ()
    priming: str = "hotwords"  # hotwords | prompt | both | none (openai-whisper has no hotwords: prompt)
    word_timestamps: bool = True
    question: str = ""  # what was asked: with priming, Whisper hears it as the turn before the answer
    context: str = ""  # the text heard before this audio (streaming pieces): Whisper's prompt, so spelling
    # and sentence flow carry over from one piece to the next


class Transcriber(Protocol):
    engine: str
    model_name: str

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions = TranscribeOptions()) -> Transcript:
        """Transcribe 16 kHz mono float32 samples."""


def build_transcriber(engine: str = DEFAULT_ENGINE, model: str | Path | None = None, *,
                      compute_type: str = "int8", threads: int | None = None) -> Transcriber:
    """The transcriber for ``--engine``/``--model``; loads the model now (call it from a background thread).

    Raises:
        ModelNotFoundError: the model is not installed locally.
        VivaError: unknown engine, or the engine's package is missing.
    """
    from viva.transcribe.models import resolve_model

    if engine not in ENGINES:
        raise VivaError(f"unknown engine '{engine}'; choose from: {', '.join(ENGINES)}")
    location = resolve_model(model, engine, assemble=True)
    if engine == "openai-whisper":
        from viva.transcribe.openai_engine import OpenAIWhisperTranscriber

        return OpenAIWhisperTranscriber(location, threads=threads)
    from viva.transcribe.faster_engine import FasterWhisperTranscriber

    return FasterWhisperTranscriber(location, compute_type=compute_type, threads=threads)


__all__ = ["DEFAULT_ENGINE", "ENGINES", "PRIMING", "TranscribeOptions", "Transcriber", "build_transcriber"]
