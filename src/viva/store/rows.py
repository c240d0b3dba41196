"""What the store reads and writes: card and attempt rows, and the JSON details of a scored attempt."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from viva.domain import Delivery, Score


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        raise ValueError("naive datetime: viva stores timezone-aware UTC times")
    return dt.astimezone(timezone.utc).isoformat()


@dataclass(frozen=True)
class CardRow:
    question_id: str
    track: str
    card: object  # fsrs.Card
    due: datetime
    state: int
    reps: int
    first_seen: datetime


@dataclass(frozen=True)
class AttemptRecord:
    """A finished attempt as it is written to the store."""

    question_id: str
    topic: str
    mode: str  # typed | spoken | review | interview
    rating: str
    track: str = "said"
    answer_text: str = ""
    transcript: str | None = None
    audio_path: str | None = None
    score: Score | None = None
    duration_s: float | None = None
    prediction: str | None = None
    delivery: Delivery | None = None
    extra: dict = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class AttemptRow:
    id: int
    created_at: datetime
    question_id: str
    topic: str
    track: str
    mode: str
    answer_text: str
    transcript: str | None
    audio_path: str | None
    score: float | None
    coverage: float | None
    precision: float | None
    length: float | None
    rating: str
    duration_s: float | None
    prediction: str | None
    details: dict


def score_details(score: Score | None, delivery: Delivery | None, extra: dict) -> dict:
    details: dict = dict(extra)
    if score is not None:
        details.update(
            hits=[{"concept": h.concept.name, "status": h.status, "similarity": round(h.similarity, 4),
                   "evidence": h.evidence} for h in score.hits],
            flags=list(score.flags), notes=list(score.notes), fixes=list(score.fixes),
            length_verdict=score.length_verdict, dont_know=score.dont_know,
            contradictions=list(score.contradictions), similarity=round(score.similarity, 4),
        )
        if score.matched_reference:
            details["matched_reference"] = score.matched_reference
    if delivery is not None:
        details["delivery"] = {"speaking_s": delivery.speaking_s, "words": delivery.words,
                               "words_per_minute": delivery.words_per_minute,
                               "fillers": list(delivery.fillers), "long_pauses": delivery.long_pauses}
    return details
