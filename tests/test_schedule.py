"""Scheduling: fsrs behind a thin layer, the session queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from viva.domain import Question, Rating
from viva.schedule import Schedule, plan_queue

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)


@dataclass
class Row:
    due: datetime


def q(qid, topic="inference", difficulty=2, phase="fundamentals"):
    return Question(id=qid, topic=topic, question="?", answer="a.", difficulty=difficulty, phase=phase)


def test_review_is_pure_and_orders_ratings():
    sched = Schedule(fuzz=False)
    dues = {r: sched.review(None, r, NOW)[0].due for r in Rating}
    assert dues[Rating.AGAIN] < dues[Rating.HARD] <= dues[Rating.GOOD] < dues[Rating.EASY]
    card, log = sched.review(None, Rating.GOOD, NOW)
    later, _ = sched.review(card, Rating.GOOD, card.due)
    assert later.due - card.due > timedelta(days=1)
    assert card.due > NOW  # the input card was not mutated into the later one
    with pytest.raises(ValueError):
        sched.review(None, Rating.GOOD, datetime(2026, 1, 1))


def test_queue_takes_due_first_then_new_within_the_daily_limit():
    qs = [q("new-hard", difficulty=3), q("due-late"), q("not-due"), q("new-easy", difficulty=1), q("due-early")]
    cards = {"due-late": Row(NOW - timedelta(hours=1)), "due-early": Row(NOW - timedelta(days=2)),
             "not-due": Row(NOW + timedelta(days=1))}
    queue = plan_queue(qs, cards, NOW, new_today=0, new_per_day=10)
    assert [x.id for x in queue] == ["due-early", "due-late", "new-easy", "new-hard"]
    assert [x.id for x in plan_queue(qs, cards, NOW, new_today=9, new_per_day=10)] == [
        "due-early", "due-late", "new-easy"]
    assert len(plan_queue(qs, cards, NOW, limit=1)) == 1


def test_new_cards_interleave_topics_and_follow_the_plan_phase():
    qs = [q("a1", "x"), q("a2", "x"), q("b1", "y"), q("c1", "z", phase="training-rag")]
    ids = [x.id for x in plan_queue(qs, {}, NOW, phase_order=("training-rag", "fundamentals"))]
    assert ids == ["c1", "a1", "b1", "a2"]
