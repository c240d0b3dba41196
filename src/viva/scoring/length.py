"""Length and delivery: is the answer long enough to be complete, and does it pad?

The target is the reference's length (judgment answers may run longer). Being short only costs what it
leaves out; being long costs nothing while every sentence is on the question, and each sentence off the
question counts against. With a Delivery (spoken answers) the pace and filler rate are folded in.
"""

from __future__ import annotations

from dataclasses import dataclass

from viva.domain import Delivery

TARGET_MIN_WORDS = 12  # no reference is so short that a 5-word answer is "about right"
KIND_FACTOR = {"concept": 1.0, "judgment": 1.4}  # judgment answers may be longer
SHORT_RATIO = 0.45  # below this share of the target an answer is "too short"
SHORT_FORGIVEN_BY_COVERAGE = 0.8  # a short answer that covers everything loses at most 20% of the penalty
COMPLETE_COVERAGE = 0.9  # a short answer covering this much is "short but complete", not "too short"
LONG_RATIO = 3.0  # beyond 3x the target even on-topic detail starts to cost
LONG_PENALTY_PER_TARGET = 0.15  # per extra target-length beyond LONG_RATIO
OFF_TOPIC_PENALTY = 0.25  # per sentence off the question
PACE_BAND_WPM = (110.0, 170.0)  # comfortable interview pace
PACE_FALLOFF_WPM = 60.0  # this far outside the band the pace score reaches 0
FILLER_RATE_PENALTY = 2.0  # 10% of words being fillers costs 0.2
DELIVERY_SHARE = 0.3  # share of the length score that is delivery, when there is one


@dataclass(frozen=True)
class LengthCheck:
    """Length sub-score 0-1 with a short verdict and notes for the user."""

    score: float
    verdict: str
    target_words: int
    notes: tuple[str, ...] = ()


def target_words(reference_words: int, kind: str) -> int:
    """The answer length an interviewer expects, in words."""
    return max(TARGET_MIN_WORDS, round(reference_words * KIND_FACTOR.get(kind, 1.0)))


def assess_length(
    n_words: int,
    target: int,
    off_topic: tuple[str, ...],
    coverage: float,
    delivery: Delivery | None = None,
) -> LengthCheck:
    """Score the answer's length against ``target`` words.

    Args:
        n_words: words in the answer.
        target: ``target_words(...)`` for the question.
        off_topic: the answer's sentences that are off the question (padding).
        coverage: concept coverage 0-1 (a short but complete answer is forgiven).
        delivery: speaking measurements, for spoken answers.
    """
    ratio = n_words / max(target, 1)
    score, verdict, notes = 1.0, "about right", []
    if ratio < SHORT_RATIO:
        shortfall = 1.0 - ratio / SHORT_RATIO
        score -= shortfall * (1.0 - SHORT_FORGIVEN_BY_COVERAGE * coverage)
        if coverage >= COMPLETE_COVERAGE:
            verdict = "short but complete"
        else:
            verdict = "too short"
            notes.append(f"short: {n_words} words; a complete answer runs about {target}")
    if off_topic:
        score -= OFF_TOPIC_PENALTY * len(off_topic)
        plural = "s" if len(off_topic) > 1 else ""
        verdict = f"rambling: {len(off_topic)} sentence{plural} off the question"
        notes += [f'off the question: "{_clip(s)}"' for s in off_topic]
    elif ratio > LONG_RATIO:
        score -= LONG_PENALTY_PER_TARGET * (ratio - LONG_RATIO)
        verdict = "long: could be tighter"
    elif ratio > 1.8 and verdict == "about right":
        verdict = "long but on topic"
    score = max(0.0, score)
    if delivery is not None:
        pace, pace_note = _pace(delivery.words_per_minute)
        fillers = delivery.filler_count / max(delivery.words, 1)
        spoken = max(0.0, pace - FILLER_RATE_PENALTY * fillers)
        score = (1 - DELIVERY_SHARE) * score + DELIVERY_SHARE * spoken
        if pace_note:
            notes.append(pace_note)
            verdict += f"; {pace_note.split(':')[0]}"
        if delivery.filler_count:
            notes.append(f"spoken fillers: {delivery.filler_count} in {delivery.words} words")
    return LengthCheck(round(min(1.0, score), 3), verdict, target, tuple(notes))


def _pace(wpm: float) -> tuple[float, str]:
    low, high = PACE_BAND_WPM
    if wpm <= 0:
        return 1.0, ""
    if wpm < low:
        return max(0.0, 1 - (low - wpm) / PACE_FALLOFF_WPM), f"slow: {wpm:.0f} wpm (aim for {low:.0f}-{high:.0f})"
    if wpm > high:
        return max(0.0, 1 - (wpm - high) / PACE_FALLOFF_WPM), f"fast: {wpm:.0f} wpm (aim for {low:.0f}-{high:.0f})"
    return 1.0, ""


def _clip(sentence: str, limit: int = 60) -> str:
    return sentence if len(sentence) <= limit else sentence[: limit - 3].rstrip() + "..."
