"""Everything the rubric needs from a question, computed once per question and reused for every answer:
concepts (given or derived), their phrase vectors, the reference's sentences and vectors, the technical
terms and the length target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from viva.domain import Question
from viva.scoring import text as tx
from viva.scoring.concepts import (
    ConceptPlan,
    derive_concepts,
    phrase_texts,
    plan_concepts,
)
from viva.scoring.length import target_words
from viva.scoring.precision import technical_terms

EmbedFn = Callable[[list[str]], np.ndarray]
SpansFn = Callable[[list[str], list[list[tuple[int, int]]]], tuple[np.ndarray, list[np.ndarray]]]


@dataclass(frozen=True, eq=False)
class QuestionPlan:
    """A question prepared for grading (vectors are L2-normalised rows)."""

    question: Question
    concepts: tuple[ConceptPlan, ...]
    derived: bool  # concepts came from derive_concepts, not from the bank
    phrase_vecs: np.ndarray  # one row per phrase, in concepts.phrase_texts order
    reference_vec: np.ndarray
    question_vec: np.ndarray
    ref_sentences: tuple[str, ...]
    ref_sentence_vecs: np.ndarray
    misconception_vecs: np.ndarray
    ref_word_vecs: np.ndarray  # the reference's content words that the question doesn't already say
    terms: frozenset[str]
    target: int


def plan_texts(question: Question) -> tuple[list[str], tuple[ConceptPlan, ...], bool, tuple[str, ...]]:
    """The texts to embed for ``question`` and its prepared concepts."""
    concepts, derived = question.concepts, False
    if not concepts:
        concepts, derived = derive_concepts(question.answer), True
    plans = plan_concepts(concepts, question.answer)
    sentences = tuple(question.answer[a:b] for a, b in tx.sentence_spans(question.answer)) or (question.answer,)
    texts = [question.answer, question.question, *sentences, *question.misconceptions, *phrase_texts(plans)]
    return texts, plans, derived, sentences


def reference_word_spans(question: Question) -> tuple[tuple[int, int], ...]:
    """Spans of the reference's content words, minus words the question itself uses ("question
    demoting": repeating the question earns nothing)."""
    ws = tx.words(question.answer)
    demoted = tx.content_word_spans(ws, frozenset(tx.stems(question.question)))
    return demoted or tx.content_word_spans(ws) or ((0, len(question.answer)),)


def build_plans(questions: list[Question], embed: EmbedFn, embed_spans: SpansFn) -> list[QuestionPlan]:
    """Prepare questions with one batched ``embed`` call and one ``embed_spans`` call for all of them."""
    staged, texts = [], []
    for q in questions:
        q_texts, plans, derived, sentences = plan_texts(q)
        staged.append((q, plans, derived, sentences, len(texts), len(q_texts)))
        texts.extend(q_texts)
    vecs = embed(texts) if texts else np.zeros((0, 384), np.float32)
    _, word_vecs = embed_spans([q.answer for q in questions], [list(reference_word_spans(q)) for q in questions])
    out = []
    for (q, plans, derived, sentences, start, count), words in zip(staged, word_vecs):
        v = vecs[start : start + count]
        n_s, n_m = len(sentences), len(q.misconceptions)
        phrases = phrase_texts(plans)
        out.append(
            QuestionPlan(
                question=q,
                concepts=plans,
                derived=derived,
                phrase_vecs=v[2 + n_s + n_m :],
                reference_vec=v[0],
                question_vec=v[1],
                ref_sentences=sentences,
                ref_sentence_vecs=v[2 : 2 + n_s],
                misconception_vecs=v[2 + n_s : 2 + n_s + n_m],
                ref_word_vecs=np.asarray(words, np.float32).reshape(-1, v.shape[1]),
                terms=technical_terms(q.answer, phrases),
                target=target_words(len(tx.words(q.answer)), q.kind),
            )
        )
    return out
