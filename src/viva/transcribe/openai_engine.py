"""openai-whisper engine: the reference implementation, for comparison (optional extra ``viva[openai]``).

Checkpoints are loaded here with ``torch.load(weights_only=True)`` — tensors and plain containers only, no
pickled code — and must carry whisper's ``dims`` and ``model_state_dict``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from viva.domain import Transcript
from viva.errors import ModelNotFoundError, VivaError
from viva.transcribe import TranscribeOptions
from viva.transcribe.models import ModelLocation
from viva.transcribe.prompt import decoder_prompt

INSTALL_HINT = "pip install 'viva[openai]' (or, without triton: pip install --no-deps openai-whisper " \
               "tiktoken more-itertools numba)"
CHECKPOINT_KEYS = ("dims", "model_state_dict")


def load_checkpoint(path: Path) -> dict:
    """Read and validate a whisper checkpoint with weights-only unpickling.

    Raises:
        ModelNotFoundError: the file is not a whisper checkpoint (or carries code).
    """
    import pickle

    import torch

    try:
        checkpoint = torch.load(str(path), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise ModelNotFoundError(f"{path}: not a loadable whisper checkpoint ({first[:160]})") from None
    if not isinstance(checkpoint, dict) or any(k not in checkpoint for k in CHECKPOINT_KEYS):
        raise ModelNotFoundError(f"{path}: not a whisper checkpoint (needs {' and '.join(CHECKPOINT_KEYS)})")
    return checkpoint


def build_model(checkpoint: dict):
    try:
        from whisper.model import ModelDimensions, Whisper
    except ImportError:
        raise VivaError(f"the openai-whisper engine is not installed; run: {INSTALL_HINT}") from None
    dims = ModelDimensions(**checkpoint["dims"])
    model = Whisper(dims)
    model.load_state_dict(checkpoint["model_state_dict"])
    return model.eval()


class OpenAIWhisperTranscriber:
    engine = "openai-whisper"

    def __init__(self, location: ModelLocation, *, threads: int | None = None):
        try:
            import whisper  # noqa: F401 - fail early with the install hint
        except ImportError:
            raise VivaError(f"the openai-whisper engine is not installed; run: {INSTALL_HINT}") from None
        import torch

        if threads:
            torch.set_num_threads(threads)
        start = time.perf_counter()
        self.location = location
        self.model_name = location.name
        self._model = build_model(load_checkpoint(location.path))
        self.load_s = time.perf_counter() - start

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions = TranscribeOptions()) -> Transcript:
        # openai-whisper has no hotwords: the terms become the glossary prompt
        primed = options.priming != "none"
        prompt_options = replace(options, priming="prompt") if primed else options
        english_only = not self._model.is_multilingual
        result = self._model.transcribe(
            np.asarray(audio, dtype=np.float32), language=options.language if not english_only else "en",
            beam_size=options.beam_size, fp16=False, word_timestamps=options.word_timestamps,
            initial_prompt=decoder_prompt(prompt_options, primed),
            verbose=None,
        )
        segs, words = [], []
        for s in result.get("segments", []):
            segs.append({"start": round(float(s["start"]), 2), "end": round(float(s["end"]), 2),
                         "text": str(s["text"]).strip()})
            for w in s.get("words", []) or []:
                words.append((str(w["word"]).strip(), round(float(w["start"]), 2), round(float(w["end"]), 2)))
        duration = round(len(audio) / 16_000, 2)
        return Transcript(text=str(result.get("text", "")).strip(), segments=tuple(segs), duration=duration,
                          model=self.model_name, engine=self.engine, words=tuple(words))
