"""Recognition review through stdin on the real store, and the --predict wrapper."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from viva.cli import app
from viva.domain import Question, Rating
from viva.review import PredictedAnswer, PredictingAnswers, ReviewSession, parse_rating
from viva.session import Answer, Quit
from viva.store import Store

runner = CliRunner()


def test_review_loop_through_stdin_schedules_the_recognized_track_only():
    # Enter reveals; then "3" (good) for the first, "again" for the second (after one bad key); q quits.
    r = runner.invoke(app, ["review", "--topic", "inference", "--limit", "3"], input="\n3\n\nmaybe\nagain\nq\n")
    assert r.exit_code == 0, r.output
    assert "Think of the answer, then press Enter" in r.stdout
    assert "Key concepts: " in r.stdout
    assert "Type 1, 2, 3 or 4 (or again, hard, good, easy); q quits." in r.stdout
    assert "Review over: 2 question(s) (again 1, good 1)." in r.stdout
    with Store() as store:
        rows = store.attempts(None)
        assert [(a.track, a.mode, a.rating) for a in reversed(rows)] == [
            ("recognized", "review", "good"), ("recognized", "review", "again")]
        assert all(a.topic == "inference" and a.score is None for a in rows)
        assert set(store.cards("recognized")) == {a.question_id for a in rows}
        assert store.cards("said") == {}
        assert [log[1] for log in store.review_logs("recognized")] == [3, 1]


def test_review_with_nothing_left_says_so():
    r = runner.invoke(app, ["review", "--topic", "inference", "--new", "0"], input="")
    assert r.exit_code == 0, r.output
    assert "Nothing to review" in r.stdout


@pytest.mark.parametrize("text,rating", [("1", Rating.AGAIN), ("2", Rating.HARD), (" 3 ", Rating.GOOD),
                                         ("4", Rating.EASY), ("Easy", Rating.EASY), ("h", Rating.HARD),
                                         ("again", Rating.AGAIN), ("5", None), ("", None), ("good!", None)])
def test_parse_rating(text, rating):
    assert parse_rating(text) is rating


class FakeReviewUI:
    def __init__(self, ratings):
        self.ratings, self.shown, self.revealed = list(ratings), [], []

    def show_question(self, question, number, total):
        self.shown.append(question.id)

    def wait_reveal(self):
        return bool(self.ratings)

    def show_reference(self, question):
        self.revealed.append(question.id)

    def ask_rating(self):
        return self.ratings.pop(0)

    def summary(self, result):
        self.result = result


def q(qid: str) -> Question:
    return Question(id=qid, topic="inference", question=f"Explain {qid}.", answer="Because.")


def test_review_session_speaks_each_question_and_stops_on_quit():
    spoken = []
    ui = FakeReviewUI([Rating.EASY, None])
    with Store() as store:
        result = ReviewSession(store, ui, speak=spoken.append).run([q("a"), q("b"), q("c")])
        assert len(store.attempts(None)) == 1
    assert spoken == ["Explain a.", "Explain b."] and ui.revealed == ["a", "b"]
    assert result.reviewed == 1 and result.counts()["easy"] == 1


@dataclass
class FakeAnswers:
    calls: int = 0

    def answer(self, question, number, total):
        self.calls += 1
        return Answer(text=f"answer {self.calls}", mode="spoken", duration_s=3.0)


def test_predicting_answers_asks_before_first_attempts_only():
    prompts, replies = [], iter(["maybe", "Y", "n"])

    def read_line(prompt):
        prompts.append(prompt)
        return next(replies)

    inner = FakeAnswers()
    source = PredictingAnswers(inner, read_line)
    first = source.answer(q("a"), 1, 2)
    retry = source.answer(q("a"), 1, 2)  # an immediate retry: not asked again
    second = source.answer(q("b"), 2, 2)
    assert isinstance(first, PredictedAnswer) and isinstance(first, Answer)
    assert (first.prediction, retry.prediction, second.prediction) == ("yes", None, "no")
    assert (first.text, first.mode, first.duration_s) == ("answer 1", "spoken", 3.0)
    assert prompts[0] == "1/2 · Explain a.\nDo you know this one? [y/n] "
    assert prompts[1] == "Please answer y or n (q quits): "
    assert len(prompts) == 3 and inner.calls == 3


@pytest.mark.parametrize("reply", ["q", EOFError])
def test_predicting_answers_can_quit(reply):
    def read_line(prompt):
        if reply is EOFError:
            raise EOFError
        return reply

    inner = FakeAnswers()
    with pytest.raises(Quit):
        PredictingAnswers(inner, read_line).answer(q("a"), 1, 1)
    assert inner.calls == 0
