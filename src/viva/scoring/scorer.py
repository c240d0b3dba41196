"""``Scorer``: the one object the session talks to. It owns the encoder and the per-question cache and
feeds the pure rubric; ``score_many`` batches every encoder call for throughput."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace

import numpy as np

from viva.domain import Delivery, Question, Score
from viva.scoring import text as tx
from viva.scoring.embedder import Embedder, SupportsEmbed, embed_spans_fallback
from viva.scoring.plan import QuestionPlan, build_plans
from viva.scoring.precision import is_dont_know
from viva.scoring.rubric import AnswerVectors, dont_know_score, grade, refine_candidates

log = logging.getLogger("viva")

PLAN_CACHE_SIZE = 10_000  # prepared questions kept (a bank has hundreds)
_BLAS: list = []  # the threadpoolctl controller, made once


def _single_threaded_blas():
    """The rubric's matrices are tiny (phrases x windows); a multi-threaded BLAS beside torch's own
    threads turned a 20x384 @ 384x120 product into 10 ms (measured), one thread makes it 0.03 ms."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # optional: without it the scorer is only slower
        return contextlib.nullcontext()
    if not _BLAS:
        _BLAS.append(ThreadpoolController())
    return _BLAS[0].limit(limits=1, user_api="blas")


def accepted_variants(question: Question) -> tuple[Question, ...]:
    """The question itself, then one question per ``also_accept`` answer. An accepted answer has its
    own key concepts, derived from its text: the bank's concepts describe the main reference."""
    alternatives = [a for a in dict.fromkeys(question.also_accept) if a.strip() and a != question.answer]
    return (question, *(replace(question, answer=a, concepts=(), also_accept=()) for a in alternatives))


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
        """The prepared (cached) form of a question (its ``also_accept`` answers are prepared too)."""
        return self._plans_for(list(accepted_variants(question)))[question]

    def _plans_for(self, questions: list[Question]) -> dict[Question, QuestionPlan]:
        new = [q for q in dict.fromkeys(questions) if q not in self._plans]
        if new:
            if len(self._plans) + len(new) > PLAN_CACHE_SIZE:
                self._plans.clear()
            for q, p in zip(new, build_plans(new, self._embedder.embed, self._embed_spans)):
                self._plans[q] = p
        return {q: self._plans[q] for q in questions}

    def _score(self, items: list[tuple[Question, str]], deliveries: list[Delivery | None]) -> list[Score]:
        with _single_threaded_blas():
            return self._score_batch(items, deliveries)

    def _score_batch(self, items: list[tuple[Question, str]], deliveries: list[Delivery | None]) -> list[Score]:
        variants = {q: accepted_variants(q) for q in dict.fromkeys(q for q, _ in items)}
        plans = self._plans_for([v for vs in variants.values() for v in vs])
        results: list[Score | None] = [None] * len(items)
        todo, dont_know = [], []
        for i, (q, answer) in enumerate(items):
            (dont_know if is_dont_know(answer) else todo).append(i)
        if dont_know:
            # Still measure the raw cosine, so Score.similarity stays a pure baseline.
            vecs = self._embedder.embed([items[i][1] for i in dont_know])
            for i, vec in zip(dont_know, vecs):
                plan = plans[items[i][0]]
                results[i] = dont_know_score(plan, float(vec @ plan.reference_vec))
        # Each answer is encoded once and graded against every accepted answer of its question; the
        # best grade stands (ties: the question's own reference), unless the answer contradicts the
        # question's own reference: an alternative does not excuse that. (Letting a contradiction of any
        # accepted answer stand instead wrongly flagged 5.9% of SemEval's correct answers; this way 1.5%.)
        vectors = self._answer_vectors([items[i][1] for i in todo])
        work, owner = [], []
        for i, vecs in zip(todo, vectors):
            q, answer = items[i]
            for k, variant in enumerate(variants[q]):
                work.append((plans[variant], answer, vecs))
                owner.append((i, k))
        graded: dict[int, list[Score]] = {}
        for (i, k), (plan, answer, _), vecs in zip(owner, work, self._refine_sentences(work)):
            score = grade(plan, answer, vecs, deliveries[i])
            graded.setdefault(i, []).append(replace(score, matched_reference=plan.question.answer) if k else score)
        for i, (own, *others) in graded.items():
            results[i] = own if own.contradictions else max((own, *others), key=lambda s: s.overall)
        return results  # type: ignore[return-value]

    def _embed_spans(self, texts: list[str], spans: list[list[tuple[int, int]]]):
        embed_spans = getattr(self._embedder, "embed_spans", None)
        if callable(embed_spans):
            return embed_spans(texts, spans)
        return embed_spans_fallback(self._embedder, texts, spans)

    def _answer_vectors(self, texts: list[str]) -> list[AnswerVectors]:
        """Encode each answer once: its raw vector, plus word windows (within each sentence), content
        words and sentences mean-pooled from the same pass (they carry the answer's context)."""
        if not texts:
            return []
        layouts, spans = [], []
        for text in texts:
            sentences = tx.sentence_spans(text) or ((0, len(text)),)
            windows: list[tuple[int, int]] = []
            for a, b in sentences:
                windows += [(a + x, a + y) for x, y in tx.window_spans(tx.words(text[a:b]))]
            words = list(tx.content_word_spans(tx.words(text)))
            layouts.append((tuple(windows), len(words), sentences))
            spans.append(windows + words + list(sentences))
        full, pooled = self._embed_spans(texts, spans)
        out = []
        for vec, span_vecs, (windows, n_words, sentences) in zip(full, pooled, layouts):
            span_vecs = np.asarray(span_vecs, np.float32).reshape(-1, full.shape[1])
            n_win = len(windows)
            out.append(
                AnswerVectors(
                    full=vec,
                    window_spans=windows,
                    window_vecs=span_vecs[:n_win],
                    word_vecs=span_vecs[n_win : n_win + n_words],
                    sentence_spans=sentences,
                    sentence_vecs=span_vecs[n_win + n_words :],
                )
            )
        return out

    def _refine_sentences(self, work: list[tuple[QuestionPlan, str, AnswerVectors]]) -> list[AnswerVectors]:
        """Re-encode, on their own, the sentences whose pooled vectors are too close to call (possibly off
        the question, possibly a misconception): pooled vectors lean toward the rest of the answer."""
        wanted = [(plan, text, vecs, refine_candidates(plan, text, vecs)) for plan, text, vecs in work]
        pieces = list(dict.fromkeys(text[a:b] for _, text, vecs, idx in wanted for a, b in
                                    (vecs.sentence_spans[i] for i in idx)))
        if not pieces:
            return [vecs for _, _, vecs in work]
        lookup = dict(zip(pieces, self._embedder.embed(pieces)))
        out = []
        for _, text, vecs, idx in wanted:
            if idx:
                sentence_vecs = vecs.sentence_vecs.copy()
                for i in idx:
                    a, b = vecs.sentence_spans[i]
                    sentence_vecs[i] = lookup[text[a:b]]
                vecs = replace(vecs, sentence_vecs=sentence_vecs)
            out.append(vecs)
        return out
