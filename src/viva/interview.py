"""The mock interview: a timed, mixed sequence of questions with follow-ups and no feedback until the end.

Questions are interleaved across topics (due ones first within each topic, then never-said ones, easier
first), asked until the time budget is used. Each answer is scored, recorded (mode ``interview``) and
scheduled on the said track like any practice answer.

Follow-ups: when an answer misses a *key* concept (one of the question's heaviest-weighted concepts), the
interviewer asks the bank follow-up (``Question.follow_ups``) that mentions the missed concept most, as
an interviewer probes a gap. The follow-up answer is scored against the same reference, but only to see
whether the probed concepts were recovered; it is recorded (with ``follow_up_of``) and moves no schedule,
since the candidate was prompted.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Callable, Protocol

from viva.domain import Question, Score
from viva.schedule import Schedule
from viva.session import Answer, AnswerSource, Quit, Scorer
from viva.store import AttemptRecord, Store, utcnow

log = logging.getLogger("viva")

MODE, TRACK = "interview", "said"
DEFAULT_MINUTES = 20
MIN_TIME_LEFT_S = 30.0  # no new question is opened with less time than this left
WEAKEST_SHOWN = 2
PREPARE_JOIN_S = 30.0  # at most this long to let a background question preparation finish at the end
RECOVERED = frozenset({"hit", "misheard", "partial"})
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class FollowUp:
    text: str
    probed: tuple[str, ...]  # the key concepts the first answer missed
    recovered: tuple[str, ...]  # ...and those the follow-up answer covered
    answer: Answer
    score: Score
    attempt_id: int


@dataclass(frozen=True)
class InterviewItem:
    question: Question
    answer: Answer
    score: Score
    attempt_id: int
    follow_up: FollowUp | None = None

    @property
    def seconds(self) -> float:
        return self.answer.duration_s + (self.follow_up.answer.duration_s if self.follow_up else 0.0)

    @property
    def words_per_minute(self) -> float | None:
        return self.answer.delivery.words_per_minute if self.answer.delivery else None

    @property
    def fillers(self) -> int | None:
        return self.answer.delivery.filler_count if self.answer.delivery else None

    def weakest(self, n: int = WEAKEST_SHOWN) -> tuple[str, ...]:
        """The least-covered concepts that were not fully said, weakest first."""
        weak = sorted((h for h in self.score.hits if h.covered < 1.0), key=lambda h: (h.covered, h.similarity))
        return tuple(h.concept.name for h in weak[:n])


@dataclass
class InterviewResult:
    budget_s: float
    items: list[InterviewItem] = field(default_factory=list)
    elapsed_s: float = 0.0
    stopped: str = "questions"  # "time" | "quit" | "questions" (the pool ran out)

    @property
    def mean_score(self) -> float:
        return sum(i.score.overall for i in self.items) / len(self.items) if self.items else 0.0


class InterviewUI(Protocol):
    def announce(self, header: str) -> None:
        """A line before each question ("Question 3 · 12:40 left") or follow-up; never feedback."""
    def report_card(self, result: InterviewResult) -> None: ...


def interview_queue(questions, cards: dict, now: datetime, *, topics: tuple[str, ...] = (),
                    rng: random.Random | None = None) -> list[Question]:
    """Topics interleaved in a shuffled order; within a topic due first, then never said, easier first."""
    rng = rng or random.Random()
    pool = [q for q in questions if not topics or q.topic in topics]
    by_topic: dict[str, list[Question]] = {}
    for q in pool:
        by_topic.setdefault(q.topic, []).append(q)

    def rank(q: Question) -> tuple:
        card = cards.get(q.id)
        status = 0 if card is not None and card.due <= now else 1 if card is None else 2
        return status, q.difficulty, rng.random()

    lanes = [sorted(qs, key=rank) for qs in by_topic.values()]
    rng.shuffle(lanes)
    queue: list[Question] = []
    for i in range(max((len(lane) for lane in lanes), default=0)):
        queue.extend(lane[i] for lane in lanes if i < len(lane))
    return queue


def key_missed(question: Question, score: Score) -> tuple[str, ...]:
    """Missed concepts that carry the question's highest weight."""
    if score.dont_know or not question.concepts:
        return ()
    top = max(c.weight for c in question.concepts)
    return tuple(h.concept.name for h in score.hits if h.status == "missed" and h.concept.weight >= top)


def pick_follow_up(question: Question, missed: tuple[str, ...]) -> str | None:
    """The bank follow-up sharing the most words with the missed concepts (and their aliases)."""
    if not missed or not question.follow_ups:
        return None
    wanted = set()
    for c in question.concepts:
        if c.name in missed:
            for phrase in c.phrases:
                wanted.update(w for w in _WORD.findall(phrase.lower()) if len(w) > 2)
    overlap = [len(wanted & set(_WORD.findall(f.lower()))) for f in question.follow_ups]
    return question.follow_ups[overlap.index(max(overlap))]


class InterviewSession:
    """Runs one timed mock interview; ``timer`` is a monotonic clock in seconds (a fake in tests)."""

    def __init__(self, store: Store, scorer: Scorer, answers: AnswerSource, ui: InterviewUI, *,
                 schedule: Schedule | None = None, clock: Callable[[], datetime] = utcnow,
                 timer: Callable[[], float] = time.monotonic, follow_ups: bool = True):
        self.store, self.scorer, self.answers, self.ui = store, scorer, answers, ui
        self.schedule = schedule or Schedule()
        self.clock, self.timer, self.follow_ups = clock, timer, follow_ups

    def run(self, queue: list[Question], minutes: float = DEFAULT_MINUTES) -> InterviewResult:
        result = InterviewResult(budget_s=minutes * 60)
        self._quit, self._preparing = False, None
        session_id = self.store.start_session(MODE)
        start = self.timer()
        try:
            for number, question in enumerate(queue, start=1):
                left = result.budget_s - (self.timer() - start)
                if left < MIN_TIME_LEFT_S:
                    result.stopped = "time"
                    break
                self._prepare(question)
                self.ui.announce(f"Question {number} · {_clock(left)} left")
                try:
                    result.items.append(self._ask(question, number, len(queue), session_id))
                except Quit:
                    self._quit = True
                if self._quit:
                    result.stopped = "quit"
                    break
            else:
                result.stopped = "questions"
        finally:
            result.elapsed_s = self.timer() - start
            if self._preparing is not None:
                # An encoder call still running when the process exits aborts it ("terminate called").
                self._preparing.join(PREPARE_JOIN_S)
            self.store.end_session(session_id)
            self.ui.report_card(result)
        return result

    def _prepare(self, question: Question) -> None:
        """Let the scorer prepare the question while it is being answered (the encoder takes seconds)."""
        plan = getattr(self.scorer, "plan", None)
        if callable(plan):
            self._preparing = threading.Thread(target=_quietly, args=(plan, question), daemon=True)
            self._preparing.start()

    def _ask(self, question: Question, number: int, total: int, session_id: int) -> InterviewItem:
        answer = self.answers.answer(question, number, total)
        score = self.scorer.score(question, answer.text, delivery=answer.delivery)
        now = self.clock()
        row = self.store.card(question.id, TRACK)
        card, log = self.schedule.review(row.card if row else None, score.rating, now,
                                         int(answer.duration_s * 1000) or None)
        attempt_id = self._record(question, answer, score, now, card, log, session_id, {})
        item = InterviewItem(question, answer, score, attempt_id)
        missed = key_missed(question, score)
        text = pick_follow_up(question, missed) if self.follow_ups else None
        if text is None:
            return item
        self.ui.announce("Follow-up")
        try:
            reply = self.answers.answer(replace(question, question=text), number, total)
        except Quit:
            self._quit = True  # the main answer stands; the interview ends after it
            return item
        follow = self.scorer.score(question, reply.text, delivery=reply.delivery)
        recovered = tuple(h.concept.name for h in follow.hits if h.concept.name in missed and h.status in RECOVERED)
        extra = {"follow_up_of": attempt_id, "follow_up": text, "probed": list(missed), "recovered": list(recovered)}
        follow_id = self._record(question, reply, follow, self.clock(), None, None, session_id, extra)
        return replace(item, follow_up=FollowUp(text, missed, recovered, reply, follow, follow_id))

    def _record(self, question: Question, answer: Answer, score: Score, now: datetime, card, log,
                session_id: int, extra: dict) -> int:
        record = AttemptRecord(
            question_id=question.id, topic=question.topic, mode=MODE, rating=score.rating.value, track=TRACK,
            answer_text=answer.text, transcript=answer.transcript, audio_path=answer.audio_path, score=score,
            duration_s=round(answer.duration_s, 2), delivery=answer.delivery, created_at=now,
            extra={"input": answer.mode, **extra})
        return self.store.record_attempt(record, card, log, session_id=session_id)


def _quietly(fn, *args) -> None:
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 - the same error resurfaces, with its message, when the answer is scored
        log.debug("preparing a question failed", exc_info=True)


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class ConsoleInterviewUI:
    """The interview's terminal face: a header per question, the questions themselves, the report card."""

    def __init__(self, console):
        self.console = console

    def announce(self, header: str) -> None:
        self.console.print(f"[bold blue]{header}[/bold blue]")

    def show_question(self, question: Question, number: int, total: int) -> None:
        """For a typed ``AnswerSource``: the question text only (no topic, no reference, no score)."""
        self.console.print(f"[bold]{question.question}[/bold]")
        self.console.print("[dim]Type your answer; an empty line ends it, q ends the interview.[/dim]")

    def report_card(self, result: InterviewResult) -> None:
        from viva.reports.terminal import render_report_card

        self.console.print(render_report_card(result))
