"""Immediate retry end to end: `viva practice --type` through stdin with the real scorer; and --predict."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import viva.scoring
from viva.bank import load_bank
from viva.cli import app
from viva.review import PredictingAnswers
from viva.session import PracticeOptions, PracticeSession, build_queue
from viva.store import Store, utcnow

runner = CliRunner()


@pytest.fixture
def scorer(real_scorer, monkeypatch):
    monkeypatch.setattr(viva.scoring, "Scorer", lambda *a, **k: real_scorer)
    return real_scorer


def first_question():
    with Store() as store:
        return build_queue(load_bank().questions, store, PracticeOptions(topics=("inference",), limit=1),
                           utcnow())[0]


def test_retry_rescores_and_shows_concepts_gained(scorer):
    q = first_question()
    stdin = "I think it is something about memory.\n\nr\n" + q.answer + "\n\nq\n"
    r = runner.invoke(app, ["practice", "--type", "--topic", "inference", "--limit", "1"], input=stdin)
    assert r.exit_code == 0, r.output
    assert "Against your last try: " in r.stdout and "gained: " in r.stdout
    gained = r.stdout.split("gained: ", 1)[1].split(";", 1)[0]
    assert gained != "none"
    assert "Session over: 2 answers" in r.stdout
    with Store() as store:
        second, first = store.attempts(None)
        assert first.question_id == second.question_id == q.id
        assert second.details["retry_of"] == first.id and "retry_of" not in first.details
        assert second.score > first.score
        assert store.card(q.id).reps == 1  # the retry did not move the schedule
        assert len(store.review_logs()) == 1


class Quiet:
    def feedback(self, *a): ...
    def next_action(self): return "next"
    def summary(self, result): ...
    def notice(self, message): ...


def test_practice_keeps_the_prediction_beside_the_outcome(scorer):
    q = first_question()
    lines = iter(["y", q.answer, ""])

    def read_line(prompt):
        return next(lines)

    from viva.session import TypedAnswers

    answers = PredictingAnswers(TypedAnswers(read_line, lambda *a: None), read_line)
    with Store() as store:
        PracticeSession(store, scorer, answers, Quiet()).run([q])
        (row,) = store.attempts(None)
    assert row.prediction == "yes"
