"""``Scorer``: the one object the session talks to. It owns the encoder and the per-question cache and
feeds the pure rubric; ``score_many`` batches every encoder call for throughput."""

from __future__ import annotations

import logging

import numpy as np

from viva.domain import Delivery, Question, Score
from viva.scoring import text as tx
from viva.scoring.embedder import Embedder, SupportsEmbed, embed_spans_fallback
from viva.scoring.plan import QuestionPlan, build_plans
from viva.scoring.precision import is_dont_know
from viva.scoring.rubric import AnswerVectors, dont_know_score, grade

log = logging.getLogger("viva")

PLAN_CACHE_SIZE = 10_000  # prepared questions kept (a bank has hundreds)


class Scorer:
    """Grades answers against bank questions.

    Args:
        embedder: any object with ``embed(texts) -> np.ndarray`` of L2-normalised rows (a fake in tests);
            default: the all-MiniLM-L6-v2 ``Embedder``, loaded on first use.
    """

    def __init__(self, embedder: SupportsEmbed | None = None):
        self._embedder: SupportsEmbed = embedder if embedder is not None else Embedder()
        self._plans: dict[Question, QuestionPlan] = {}

    @property
    def embedder(self) -> SupportsEmbed:
        return self._embedder

    def warm(self) -> None:
        """Load the encoder now (the CLI calls this in a background thread). Raises ModelNotFoundError."""
        load = getattr(self._embedder, "load", None)
        if callable(load):
            load()
        else:
            self._embedder.embed(["warm up"])

    def score(self, question: Question, answer_text: str, *, delivery: Delivery | None = None) -> Score:
        """Grade one answer; ``delivery`` (spoken answers) folds pace and fillers into the length score."""
        return self._score([(question, answer_text)], [delivery])[0]

    def score_many(self, items: list[tuple[Question, str]]) -> list[Score]:
        """Grade many answers with batched encoder calls; same results as calling ``score`` on each."""
        return self._score(list(items), [None] * len(items))

    def plan(self, question: Question) -> QuestionPlan:
        """The prepared (cached) form of a question."""
        return self._plans_for([question])[question]

    def _plans_for(self, questions: list[Question]) -> dict[Question, QuestionPlan]:
        new = [q for q in dict.fromkeys(questions) if q not in self._plans]
        if new:
            if len(self._plans) + len(new) > PLAN_CACHE_SIZE:
                self._plans.clear()
            for q, p in zip(new, build_plans(new, self._embedder.embed)):
                self._plans[q] = p
        return {q: self._plans[q] for q in questions}

    def _score(self, items: list[tuple[Question, str]], deliveries: list[Delivery | None]) -> list[Score]:
        plans = self._plans_for([q for q, _ in items])
        results: list[Score | None] = [None] * len(items)
        todo = []
        for i, (q, answer) in enumerate(items):
            if is_dont_know(answer):
                results[i] = dont_know_score(plans[q])
            else:
                todo.append(i)
        texts = [items[i][1] for i in todo]
        vectors = self._answer_vectors(texts)
        for i, vecs in zip(todo, vectors):
            q, answer = items[i]
            results[i] = grade(plans[q], answer, vecs, deliveries[i])
        return results  # type: ignore[return-value]

    def _answer_vectors(self, texts: list[str]) -> list[AnswerVectors]:
        """Encode answers: each sentence once on its own (its vector, and word windows pooled from it, so
        a window carries its sentence's context but not the rest of the answer), plus the whole answer
        for the raw cosine when it has more than one sentence."""
        if not texts:
            return []
        layouts, pieces, piece_spans = [], [], []
        for text in texts:
            sentences = tx.sentence_spans(text) or ((0, len(text)),)
            first = len(pieces)
            for a, b in sentences:
                piece = text[a:b]
                pieces.append(piece)
                piece_spans.append(tx.window_spans(tx.words(piece)))
            layouts.append((sentences, first))
        embed_spans = getattr(self._embedder, "embed_spans", None)
        if callable(embed_spans):
            piece_vecs, piece_windows = embed_spans(pieces, piece_spans)
        else:
            piece_vecs, piece_windows = embed_spans_fallback(self._embedder, pieces, piece_spans)
        whole = [t for t, (sentences, _) in zip(texts, layouts) if len(sentences) > 1]
        whole_vecs = dict(zip(whole, self._embedder.embed(whole))) if whole else {}
        out = []
        for text, (sentences, first) in zip(texts, layouts):
            idx = range(first, first + len(sentences))
            spans = [(a + x, a + y) for i, (a, _) in zip(idx, sentences) for x, y in piece_spans[i]]
            windows = [np.asarray(piece_windows[i], np.float32).reshape(-1, piece_vecs.shape[1]) for i in idx]
            full = whole_vecs[text] if len(sentences) > 1 else piece_vecs[first]
            out.append(
                AnswerVectors(
                    full=full,
                    window_spans=tuple(spans),
                    window_vecs=np.vstack(windows),
                    sentence_spans=sentences,
                    sentence_vecs=piece_vecs[first : first + len(sentences)],
                )
            )
        return out
