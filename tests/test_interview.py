"""The mock interview: time budget, follow-ups on a missed key concept, recording, the report card."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
from rich.console import Console
from typer.testing import CliRunner

import viva.scoring
from viva.bank import load_bank
from viva.cli import app
from viva.domain import Concept, ConceptHit, Delivery, Question, Rating, Score
from viva.interview import InterviewSession, interview_queue, key_missed, pick_follow_up
from viva.reports.terminal import render_report_card
from viva.session import Answer, Quit
from viva.store import Store

NOW = datetime(2026, 12, 3, 12, tzinfo=timezone.utc)


def question(qid: str, topic: str = "inference", difficulty: int = 2, follow_ups=()) -> Question:
    concepts = (Concept("paged memory", ("pages",), weight=2.0), Concept("batching"), Concept("latency"))
    return Question(id=qid, topic=topic, question=f"Tell me about {qid}.", answer="Paged memory, batching, latency.",
                    concepts=concepts, difficulty=difficulty, follow_ups=tuple(follow_ups))


class WordScorer:
    """Deterministic stand-in for the rubric: a concept is hit when its name is in the answer."""

    def score(self, q, text, *, delivery=None):
        hits = tuple(ConceptHit(c, "hit" if c.name in text else "missed", 0.9 if c.name in text else 0.1)
                     for c in q.concepts)
        overall = 100.0 * sum(h.covered for h in hits) / len(hits)
        rating = Rating.EASY if overall > 85 else Rating.GOOD if overall >= 60 else Rating.AGAIN
        return Score(overall=overall, coverage=overall / 100, precision=1.0, length=1.0, rating=rating, hits=hits)


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class ScriptedAnswers:
    """Answers from a script; each takes ``seconds`` on the fake clock. "QUIT" raises Quit."""

    clock: Clock
    script: list[str]
    seconds: float = 100.0
    asked: list[str] = field(default_factory=list)

    def answer(self, q, number, total):
        self.asked.append(q.question)
        text = self.script.pop(0) if self.script else "batching"
        if text == "QUIT":
            raise Quit
        self.clock.now += self.seconds
        delivery = Delivery(speaking_s=self.seconds, words=len(text.split()), words_per_minute=150.0,
                            fillers=("um",))
        return Answer(text=text, mode="spoken", delivery=delivery, duration_s=self.seconds)


class Silent:
    def __init__(self):
        self.headers, self.card = [], None

    def announce(self, header):
        self.headers.append(header)

    def report_card(self, result):
        self.card = result


def run(script, queue, minutes=5.0, seconds=100.0, follow_ups=True):
    clock = Clock()
    answers, ui = ScriptedAnswers(clock, list(script), seconds), Silent()
    with Store() as store:
        result = InterviewSession(store, WordScorer(), answers, ui, timer=clock, clock=lambda: NOW,
                                  follow_ups=follow_ups).run(queue, minutes)
        rows = list(reversed(store.attempts(None)))
        cards = store.cards("said")
    return result, rows, cards, answers, ui


def test_stops_when_the_time_budget_is_used():
    queue = [question(f"q{i}") for i in range(10)]
    result, rows, cards, _, ui = run(["paged memory batching latency"] * 10, queue, minutes=5, seconds=100)
    # 0, 100, 200 s: asked; at 300 s no time is left (budget 300 s) so the fourth is never opened.
    assert len(result.items) == 3 and result.stopped == "time" and result.elapsed_s == 300
    assert ui.headers[0] == "Question 1 · 5:00 left" and ui.headers[2] == "Question 3 · 1:40 left"
    assert [r.mode for r in rows] == ["interview"] * 3 and set(cards) == {"q0", "q1", "q2"}
    assert all(r.details["input"] == "spoken" for r in rows)


def test_a_missed_key_concept_brings_the_matching_follow_up_scored_but_unscheduled():
    q = question("paging", follow_ups=("How does batching interact with it?", "What are memory pages for?"))
    result, rows, cards, answers, ui = run(["batching and latency", "pages of paged memory"], [q])
    item = result.items[0]
    assert answers.asked == ["Tell me about paging.", "What are memory pages for?"]
    assert ui.headers == ["Question 1 · 5:00 left", "Follow-up"]
    assert item.follow_up.probed == ("paged memory",) and item.follow_up.recovered == ("paged memory",)
    main, follow = rows
    assert follow.details["follow_up_of"] == main.id and follow.details["recovered"] == ["paged memory"]
    assert cards["paging"].reps == 1  # only the main answer moved the schedule
    assert result.stopped == "questions" and item.seconds == 200


def test_no_follow_up_when_only_a_light_concept_is_missed_or_none_exist():
    q = question("paging", follow_ups=("What about pages?",))
    score = WordScorer().score(q, "paged memory and batching")
    assert key_missed(q, score) == () and pick_follow_up(q, ()) is None
    result, rows, *_ = run(["latency only"], [question("bare")])
    assert result.items[0].follow_up is None and len(rows) == 1


def test_quit_ends_the_interview_and_keeps_what_was_said():
    result, rows, *_ = run(["paged memory batching latency", "QUIT"], [question("a"), question("b")])
    assert result.stopped == "quit" and len(result.items) == 1 and len(rows) == 1


def test_queue_interleaves_topics_due_first_then_new_easier_first():
    @dataclass
    class Row:
        due: datetime

    qs = [question("i-hard", difficulty=3), question("i-easy", difficulty=1), question("i-due"),
          question("r-1", "retrieval-agents"), question("r-2", "retrieval-agents", difficulty=1)]
    cards = {"i-due": Row(NOW - timedelta(hours=1))}
    queue = [q.id for q in interview_queue(qs, cards, NOW, rng=random.Random(0))]
    inference = [i for i in queue if i.startswith("i-")]
    assert inference == ["i-due", "i-easy", "i-hard"]
    assert {queue[0][0], queue[1][0]} == {"i", "r"}  # topics alternate
    assert [q.id for q in interview_queue(qs, cards, NOW, topics=("retrieval-agents",))] == ["r-2", "r-1"]


def test_report_card_shows_score_time_pace_fillers_and_weakest_concepts():
    q = question("paging", follow_ups=("What are memory pages for?",))
    result, *_ = run(["batching", "nothing"], [q])
    console = Console(file=io.StringIO(), width=160, color_system=None)
    console.print(render_report_card(result))
    out = console.file.getvalue()
    row = next(line for line in out.splitlines() if "paging" in line and "│" in line)
    cells = [c.strip() for c in row.split("│")[1:-1]]
    assert cells == ["1", "paging", "33", "again", "200 s", "150", "1", "paged memory, latency",
                     "recovered 0/1: none"]
    assert "1 question(s) in 3:20 (no questions left); mean score 33/100." in out
    assert "References for the answers rated again or hard:" in out


def test_interview_with_the_real_scorer_and_bank(real_scorer):
    q = load_bank().get("inf-kv-cache-purpose")
    weak = "It makes generation faster because it keeps some things around."
    clock = Clock()
    scripted = ScriptedAnswers(clock, [weak, "It stores the key and value vectors of previous tokens."], 60)
    with Store() as store:
        result = InterviewSession(store, real_scorer, scripted, Silent(), timer=clock, clock=lambda: NOW).run([q], 3)
        main, follow = reversed(store.attempts(None))
    item = result.items[0]
    assert item.score.rating in (Rating.AGAIN, Rating.HARD)
    assert item.follow_up is not None and item.follow_up.text in q.follow_ups
    assert "stores key and value vectors" in item.follow_up.recovered
    assert follow.details["follow_up_of"] == main.id and main.score == item.score.overall


def test_interview_command_typed_through_stdin(real_scorer, monkeypatch):
    monkeypatch.setattr(viva.scoring, "Scorer", lambda *a, **k: real_scorer)
    r = CliRunner().invoke(app, ["interview", "--type", "--minutes", "2", "--topic", "inference",
                                 "--no-follow-ups"], input="The KV cache stores keys and values.\n\nq\n")
    assert r.exit_code == 0, r.output
    assert "Mock interview: 2 minutes." in r.stdout and "Question 1 · 2:00 left" in r.stdout
    assert "interview report card" in r.stdout and "(you stopped)" in r.stdout
    with Store() as store:
        (row,) = store.attempts(None)
    assert row.mode == "interview" and row.details["input"] == "typed"


@pytest.mark.parametrize("args,message", [(["--minutes", "0"], "Invalid value for '--minutes'"),
                                          (["--topic", "cooking"], "viva: unknown topic 'cooking'")])
def test_interview_bad_input_is_one_line(args, message):
    r = CliRunner().invoke(app, ["interview", "--type", *args], input="")
    assert r.exit_code != 0 and message in r.output and "Traceback" not in r.output
