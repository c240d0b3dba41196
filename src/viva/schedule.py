"""A thin layer over the ``fsrs`` library: two memory tracks per question and the session queue.

Tracks: ``said`` (production: spoken or typed answers, rated from the rubric score) and ``recognized``
(self-rated recognition review). Each question has at most one fsrs card per track.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping

from viva.domain import Question, Rating

DESIRED_RETENTION = 0.9
# One short learning step: a missed card comes back later in the same session, not a minute later.
LEARNING_STEPS = (timedelta(minutes=10),)
RELEARNING_STEPS = (timedelta(minutes=10),)
NEW_PER_DAY = 10  # default daily limit of new cards on the said track


def _fsrs_rating(rating: Rating):
    import fsrs

    return {Rating.AGAIN: fsrs.Rating.Again, Rating.HARD: fsrs.Rating.Hard,
            Rating.GOOD: fsrs.Rating.Good, Rating.EASY: fsrs.Rating.Easy}[rating]


class Schedule:
    """Reviews cards with an ``fsrs.Scheduler``; pure: returns new values, stores nothing."""

    def __init__(self, desired_retention: float = DESIRED_RETENTION, *, fuzz: bool = True):
        import fsrs

        self.scheduler = fsrs.Scheduler(desired_retention=desired_retention, learning_steps=LEARNING_STEPS,
                                        relearning_steps=RELEARNING_STEPS, enable_fuzzing=fuzz)

    def review(self, card, rating: Rating, now: datetime, duration_ms: int | None = None):
        """Return ``(new_card, review_log)`` for ``card`` (an ``fsrs.Card`` or ``None`` for a new one)."""
        import fsrs

        if now.tzinfo is None:
            raise ValueError("schedule times must be timezone-aware UTC")
        if card is None:
            card = fsrs.Card(due=now)
        return self.scheduler.review_card(card, _fsrs_rating(rating), now, duration_ms)

    def retrievability(self, card, now: datetime) -> float:
        return float(self.scheduler.get_card_retrievability(card, now))


def start_of_day(now: datetime) -> datetime:
    """Local midnight, as UTC: the daily new-card limit resets at the user's midnight."""
    local = now.astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)


def plan_queue(
    questions: Iterable[Question],
    cards: Mapping[str, object],
    now: datetime,
    *,
    new_today: int = 0,
    new_per_day: int = NEW_PER_DAY,
    limit: int | None = None,
    phase_order: tuple[str, ...] = (),
) -> list[Question]:
    """Due cards first (most overdue first), then new questions up to the daily new-card limit.

    ``cards`` maps question id to a stored card row with ``due``; ``phase_order`` puts new questions of
    the current plan phase first.
    """
    qs = list(questions)
    due = sorted((q for q in qs if q.id in cards and cards[q.id].due <= now), key=lambda q: cards[q.id].due)
    fresh = [q for q in qs if q.id not in cards]
    rank = {p: i for i, p in enumerate(phase_order)}
    # Within a phase: easier first, and topics interleaved rather than one file after another.
    seen_in_topic: dict[str, int] = {}
    order = {}
    for q in fresh:
        order[q.id] = seen_in_topic.get(q.topic, 0)
        seen_in_topic[q.topic] = order[q.id] + 1
    fresh.sort(key=lambda q: (rank.get(q.phase, len(rank)), q.difficulty, order[q.id]))
    queue = due + fresh[: max(0, new_per_day - new_today)]
    return queue[:limit] if limit else queue
