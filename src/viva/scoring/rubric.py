"""The rubric: combine coverage, precision, length and contradictions into one ``Score``. Pure.

How ``overall`` (0-100) is made::

    component   weight  what it measures
    coverage     0.55   weighted share of key concepts said (hit/misheard 1, partial 0.5, missed 0)
    semantic     0.15   raw answer-reference cosine, mapped 0-1 between SEMANTIC_FLOOR and SEMANTIC_CEIL
    precision    0.15   precise terms used, minus vague stand-ins, hedges and fillers
    length       0.15   complete without padding; pace and fillers when spoken
    ----------
    overall = 100 * weighted sum, then capped:
      contradiction (a claim reversed, roles swapped, a known misconception)  -> at most CONTRADICTION_CAP
      "I don't know"                                                          -> 0, every sub-score 0

``rating_from_score`` turns ``overall`` into the FSRS rating; Good means "an interviewer would accept it".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from viva.domain import ConceptHit, Delivery, Rating, Score
from viva.scoring import text as tx
from viva.scoring.concepts import match_concepts
from viva.scoring.contradiction import find_contradictions
from viva.scoring.feedback import build_fixes
from viva.scoring.length import assess_length
from viva.scoring.plan import QuestionPlan
from viva.scoring.precision import assess_wording

WEIGHTS = {"coverage": 0.55, "semantic": 0.15, "precision": 0.15, "length": 0.15}
SEMANTIC_FLOOR = 0.25  # cosine of an unrelated answer on the same topic area
SEMANTIC_CEIL = 0.80  # cosine of a close paraphrase
CONTRADICTION_CAP = 45.0  # a reversed claim can at best be Hard
# Rating cut-offs on overall (0-100): Again < AGAIN_BELOW <= Hard < GOOD_FROM <= Good < EASY_FROM <= Easy.
AGAIN_BELOW = 40.0
GOOD_FROM = 60.0
EASY_FROM = 85.0
# A sentence is off the question when it is this far from the question, the reference and every concept.
OFF_TOPIC_SIM = 0.35
MIN_SENTENCE_WORDS = 4
ON_TOPIC_SIM = 0.30  # answer-reference cosine above which heard-alike words are trusted as mis-hearings  # "Right." or "So yes." is never padding


@dataclass(frozen=True, eq=False)
class AnswerVectors:
    """The encoder's view of one answer: its vector plus pooled window and sentence vectors."""

    full: np.ndarray
    window_spans: tuple[tuple[int, int], ...]
    window_vecs: np.ndarray
    sentence_spans: tuple[tuple[int, int], ...]
    sentence_vecs: np.ndarray


def rating_from_score(overall: float) -> Rating:
    """The FSRS rating for an overall score (0-100).

    Again < 40 <= Hard < 60 <= Good < 85 <= Easy. Good is the bar "an interviewer would accept this":
    the central concepts are there, nothing is wrong, the wording is precise enough.
    """
    if overall < AGAIN_BELOW:
        return Rating.AGAIN
    if overall < GOOD_FROM:
        return Rating.HARD
    if overall < EASY_FROM:
        return Rating.GOOD
    return Rating.EASY


def dont_know_score(plan: QuestionPlan) -> Score:
    """The score of a non-answer: everything 0, rating Again, every concept missed, one fix."""
    hits = tuple(ConceptHit(c.concept, "missed", 0.0) for c in plan.concepts)
    first = plan.ref_sentences[0] if plan.ref_sentences else plan.question.answer
    return Score(
        overall=0.0, coverage=0.0, precision=0.0, length=0.0, rating=Rating.AGAIN, hits=hits,
        flags=("dont-know",), length_verdict="no answer", dont_know=True,
        fixes=(f'Learn the core of it: "{first}"',),
    )


def grade(plan: QuestionPlan, answer: str, vecs: AnswerVectors, delivery: Delivery | None = None) -> Score:
    """Grade one answer (not a non-answer) against a prepared question."""
    ws = tx.words(answer)
    similarity = float(vecs.full @ plan.reference_vec)
    window_sims = plan.phrase_vecs @ vecs.window_vecs.T if len(vecs.window_spans) else np.zeros((0, 0))
    on_topic = similarity >= ON_TOPIC_SIM
    hits = match_concepts(plan.concepts, answer, ws, vecs.window_spans, window_sims, on_topic)
    coverage = _coverage(hits)
    wording = assess_wording(answer, plan.terms)
    off_topic = _off_topic_sentences(plan, answer, vecs, hits)
    length = assess_length(len(ws), plan.target, off_topic, coverage, delivery)
    contradictions = find_contradictions(plan, answer, vecs)
    semantic = float(np.clip((similarity - SEMANTIC_FLOOR) / (SEMANTIC_CEIL - SEMANTIC_FLOOR), 0.0, 1.0))
    parts = {"coverage": coverage, "semantic": semantic, "precision": wording.score, "length": length.score}
    overall = 100.0 * sum(WEIGHTS[k] * v for k, v in parts.items())
    flags = []
    if contradictions:
        overall = min(overall, CONTRADICTION_CAP)
        flags.append("contradiction")
    if any(h.heard_as for h in hits):
        flags.append("misheard")
    if wording.vague:
        flags.append("vague")
    if wording.hedges:
        flags.append("hedging")
    if off_topic:
        flags.append("rambling")
    if length.verdict == "too short":
        flags.append("too-short")
    heard = dict.fromkeys((h.heard_as, h.sounds_like) for h in hits if h.heard_as)
    notes = [f'possibly misheard: "{said}" (for "{meant}")' for said, meant in heard]
    notes += [f"contradiction: {c}" for c in contradictions]
    notes += list(wording.notes) + list(length.notes)
    overall = round(float(np.clip(overall, 0.0, 100.0)), 1)
    return Score(
        overall=overall,
        coverage=round(coverage, 3),
        precision=round(wording.score, 3),
        length=round(length.score, 3),
        rating=rating_from_score(overall),
        hits=hits,
        flags=tuple(flags),
        notes=tuple(notes),
        length_verdict=length.verdict,
        fixes=build_fixes(plan, hits, contradictions, wording, length, off_topic),
        contradictions=contradictions,
        similarity=round(similarity, 4),
    )


def _coverage(hits: tuple[ConceptHit, ...]) -> float:
    total = sum(h.concept.weight for h in hits)
    return sum(h.concept.weight * h.covered for h in hits) / total if total else 0.0


def _off_topic_sentences(
    plan: QuestionPlan, answer: str, vecs: AnswerVectors, hits: tuple[ConceptHit, ...]
) -> tuple[str, ...]:
    """Sentences of the answer that relate neither to the question, the reference nor any concept."""
    if len(vecs.sentence_spans) < 2:
        return ()
    anchors = np.vstack([plan.question_vec, plan.reference_vec, plan.ref_sentence_vecs, plan.phrase_vecs])
    sims = vecs.sentence_vecs @ anchors.T
    evidence = [h.evidence for h in hits if h.status != "missed" and h.evidence]
    out = []
    for (a, b), row in zip(vecs.sentence_spans, sims):
        sentence = answer[a:b]
        if len(tx.words(sentence)) < MIN_SENTENCE_WORDS or any(e in sentence for e in evidence):
            continue
        if float(row.max()) < OFF_TOPIC_SIM:
            out.append(sentence)
    return tuple(out)
