"""Progress numbers on a seeded real store: could say, recognized, gap, calibration, concepts, streak, due."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone

from rich.console import Console
from typer.testing import CliRunner

from viva.cli import app
from viva.domain import Concept, ConceptHit, Question, Rating, Score
from viva.reports import load_progress
from viva.reports.progress import could_say_ids, current_streak, longest_streak
from viva.reports.terminal import render_progress
from viva.schedule import Schedule
from viva.store import AttemptRecord, Store, utcnow

SCORES = {Rating.AGAIN: 20.0, Rating.HARD: 50.0, Rating.GOOD: 70.0, Rating.EASY: 90.0}


def question(qid: str, topic: str = "inference") -> Question:
    concepts = tuple(Concept(n, weight=2.0 if i == 0 else 1.0) for i, n in enumerate(("alpha", "beta", "gamma")))
    return Question(id=qid, topic=topic, question=f"What is {qid}?", answer=f"{qid} is alpha, beta and gamma.",
                    concepts=concepts, follow_ups=("And what about alpha?",))


def a_score(q: Question, rating: Rating, missed: tuple[str, ...] = ()) -> Score:
    hits = tuple(ConceptHit(c, "missed" if c.name in missed else "hit", 0.2 if c.name in missed else 0.9)
                 for c in q.concepts)
    return Score(overall=SCORES[rating], coverage=0.5, precision=0.8, length=0.9, rating=rating, hits=hits)


def record(store: Store, q: Question, rating: Rating, when: datetime, *, track: str = "said",
           missed: tuple[str, ...] = (), prediction: str | None = None, extra: dict | None = None,
           schedule: bool = True) -> int:
    row = store.card(q.id, track)
    card, log = Schedule(fuzz=False).review(row.card if row else None, rating, when) if schedule else (None, None)
    attempt = AttemptRecord(question_id=q.id, topic=q.topic, track=track, rating=rating.value,
                            mode="typed" if track == "said" else "review", created_at=when,
                            score=a_score(q, rating, missed) if track == "said" else None,
                            prediction=prediction, extra=extra or {})
    return store.record_attempt(attempt, card, log)


def seed_store(store: Store, now: datetime) -> list[Question]:
    """Five questions over two topics and four days; see the asserts for what each one shows."""
    kv, batch, spec = question("kv"), question("batching"), question("spec-decode")
    rag, chunk = question("rag", "retrieval-agents"), question("chunking", "retrieval-agents")
    d = lambda days: now - timedelta(days=days)  # noqa: E731
    record(store, kv, Rating.AGAIN, d(3), missed=("alpha", "beta"), prediction="yes")
    record(store, kv, Rating.GOOD, d(2), missed=("beta",))
    record(store, kv, Rating.EASY, d(2) + timedelta(minutes=1), track="recognized")
    record(store, batch, Rating.HARD, d(1), missed=("beta",), prediction="yes")
    record(store, batch, Rating.GOOD, d(1) + timedelta(minutes=1), track="recognized")
    # An immediate retry rated Good must not turn "batching" into could-say.
    record(store, batch, Rating.GOOD, d(1) + timedelta(minutes=2), extra={"retry_of": 4}, schedule=False)
    record(store, rag, Rating.GOOD, d(0), track="recognized")
    record(store, chunk, Rating.EASY, d(0), prediction="no")
    return [kv, batch, spec, rag, chunk]


def test_progress_numbers_on_a_seeded_store():
    now = utcnow()
    with Store() as store:
        qs = seed_store(store, now)
        p = load_progress(store, qs, now)
        attempts = store.attempts(None)
    ret, inf = p.topics  # in domain.TOPICS order
    assert (inf.topic, inf.questions, ret.topic, ret.questions) == ("inference", 3, "retrieval-agents", 2)
    # could say: kv (latest Good); batching's latest scheduled attempt is Hard (the Good was a retry).
    assert (inf.could_say, inf.said_tried, inf.recognized, inf.gap) == (1, 2, 2, 1)
    assert round(inf.could_say_pct) == 33 and inf.gap_pct == 50.0
    # rag is recognized but was never said: that is the gap too.
    assert (ret.could_say, ret.recognized, ret.gap) == (1, 1, 1)
    o = p.overall
    assert (o.questions, o.could_say, o.recognized, o.gap) == (5, 2, 3, 2)
    # Calibration: two "yes" predictions, both answered again/hard; one "no" then Easy.
    assert (o.predicted_yes, o.overconfident, o.predicted_no, o.underconfident) == (2, 2, 1, 1)
    assert o.mean_score == (70 + 50 + 90) / 3
    top = p.missed_concepts[0]
    assert (top.concept, top.question_id, top.missed, top.tested) == ("beta", "kv", 2, 2)
    assert {(m.question_id, m.concept) for m in p.missed_concepts} == {("kv", "beta"), ("kv", "alpha"),
                                                                      ("batching", "beta")}
    assert p.streak_days == 4 and p.longest_streak == 4 and p.active_today
    assert len(p.due_said) == 14 and sum(p.due_said) == 3 and sum(p.due_recognized) == 3
    assert len(p.history) == 4  # scheduled said attempts only
    assert could_say_ids(attempts) == {"kv", "chunking"}


def test_streak_rules():
    today = date(2026, 12, 3)
    days = {today - timedelta(days=i) for i in (1, 2, 3, 7, 8)}
    assert current_streak(days, today) == 3  # nothing yet today: yesterday's run is still alive
    assert current_streak(days | {today}, today) == 4
    assert current_streak({today - timedelta(days=2)}, today) == 0
    assert longest_streak(days) == 3 and longest_streak(set()) == 0


def test_progress_table_renders_the_numbers():
    now = utcnow()
    with Store() as store:
        qs = seed_store(store, now)
        p = load_progress(store, qs, now)
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(render_progress(p, now))
    out = console.file.getvalue()
    assert "inference" in out and "retrieval-agents" in out
    overall = next(line for line in out.splitlines() if line.startswith("overall"))
    assert overall.split() == ["overall", "5", "60%", "40%", "2/3", "2/2", "70"]
    assert "Streak: 4 days in a row; longest 4." in out
    assert "concepts missed most often" in out and "2 of 2" in out


def test_progress_command_on_an_empty_home_and_with_attempts(viva_home):
    runner = CliRunner()
    r = runner.invoke(app, ["progress"])
    assert r.exit_code == 0, r.output
    assert "No attempts yet" in r.stdout
    with Store() as store:
        q = question("inf-kv-cache-purpose")
        record(store, q, Rating.GOOD, utcnow())
    r = runner.invoke(app, ["progress", "--topic", "inference"])
    assert r.exit_code == 0, r.output
    assert "inference" in r.stdout and "Streak: 1 day in a row" in r.stdout
    r = runner.invoke(app, ["progress", "--topic", "cooking"])
    assert r.exit_code == 1 and r.stderr.startswith("viva: unknown topic 'cooking'")


def test_progress_ignores_attempts_of_questions_no_longer_in_the_bank():
    now = datetime(2026, 12, 3, 12, tzinfo=timezone.utc)
    with Store() as store:
        record(store, question("gone"), Rating.GOOD, now)
        p = load_progress(store, [question("kept")], now)
    assert p.attempts == 0 and p.overall.said_tried == 0
