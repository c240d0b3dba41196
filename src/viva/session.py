"""The practice loop: the only orchestrator. It asks, takes an answer, scores, commits, reschedules.

Concrete parts (how answers are taken, how things are shown, the scorer) are passed in by the CLI, so the
typed and the spoken sessions run this same loop.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Protocol

from viva.domain import Delivery, Question, Rating, Score
from viva.schedule import NEW_PER_DAY, Schedule, plan_queue, start_of_day
from viva.store import AttemptRecord, Store, utcnow

# Stage boundaries go to the "viva" logger at debug level (VIVA_LOG=debug shows them on stderr); the crash
# tests watch for them to kill the process at a known stage.
logger = logging.getLogger("viva")


@dataclass(frozen=True)
class Answer:
    """One answer as given: typed text, or a spoken answer with its transcript and recording."""

    text: str
    mode: str = "typed"  # typed | spoken
    transcript: str | None = None
    audio_path: str | None = None
    delivery: Delivery | None = None
    duration_s: float = 0.0


class Quit(Exception):
    """The user asked to stop (``q``, end of input, or Ctrl-C at a prompt)."""


class AnswerSource(Protocol):
    def answer(self, question: Question, number: int, total: int) -> Answer:
        """Present the question and return the answer; raise ``Quit`` to stop."""


class PracticeUI(Protocol):
    def feedback(self, question: Question, score: Score, answer: Answer, previous: Score | None) -> None: ...
    def next_action(self) -> str:
        """Return "next", "retry" or "quit"."""
    def summary(self, result: "SessionResult") -> None: ...
    def notice(self, message: str) -> None: ...


class Scorer(Protocol):
    def score(self, question: Question, answer_text: str, *, delivery: Delivery | None = None) -> Score: ...


@dataclass(frozen=True)
class PracticeOptions:
    topics: tuple[str, ...] = ()
    limit: int | None = None
    new_per_day: int = NEW_PER_DAY
    phase_order: tuple[str, ...] = ()


@dataclass
class SessionResult:
    attempts: list[tuple[Question, Score, int]] = field(default_factory=list)
    queued: int = 0

    @property
    def answered(self) -> int:
        return len(self.attempts)

    @property
    def mean_score(self) -> float:
        return sum(s.overall for _, s, _ in self.attempts) / len(self.attempts) if self.attempts else 0.0

    def ratings(self) -> dict[str, int]:
        counts = {r.value: 0 for r in Rating}
        for _, s, _ in self.attempts:
            counts[s.rating.value] += 1
        return counts


def build_queue(questions, store: Store, options: PracticeOptions, now: datetime) -> list[Question]:
    """The session's questions: due cards first, then new ones within the daily limit."""
    pool = [q for q in questions if not options.topics or q.topic in options.topics]
    cards = store.cards("said")
    new_today = store.new_cards_since(start_of_day(now), "said")
    return plan_queue(pool, cards, now, new_today=new_today, new_per_day=options.new_per_day,
                      limit=options.limit, phase_order=options.phase_order)


class PracticeSession:
    """Runs one practice session over a queue of questions."""

    def __init__(self, store: Store, scorer: Scorer, answers: AnswerSource, ui: PracticeUI, *,
                 schedule: Schedule | None = None, clock: Callable[[], datetime] = utcnow):
        self.store, self.scorer, self.answers, self.ui = store, scorer, answers, ui
        self.schedule = schedule or Schedule()
        self.clock = clock

    def run(self, queue: list[Question], mode: str = "typed") -> SessionResult:
        result = SessionResult(queued=len(queue))
        session_id = self.store.start_session(mode)
        try:
            for number, question in enumerate(queue, start=1):
                if not self._ask(question, number, len(queue), session_id, result):
                    break
        finally:
            self.store.end_session(session_id)
            self.ui.summary(result)
        return result

    def _ask(self, question: Question, number: int, total: int, session_id: int, result: SessionResult) -> bool:
        """One question, with immediate retries; False when the user quits."""
        previous: Score | None = None
        previous_id: int | None = None
        while True:
            logger.debug("stage: asking %s", question.id)
            try:
                answer = self.answers.answer(question, number, total)
            except Quit:
                return False
            logger.debug("stage: scoring %s", question.id)
            score = self.scorer.score(question, answer.text, delivery=answer.delivery)
            # A retry right after seeing the reference is practice, not recall: it is recorded but does
            # not move the schedule.
            logger.debug("stage: committing %s", question.id)
            attempt_id = self._commit(question, answer, score, session_id, retry_of=previous_id)
            logger.debug("stage: committed attempt %s", attempt_id)
            result.attempts.append((question, score, attempt_id))
            self.ui.feedback(question, score, answer, previous)
            action = self.ui.next_action()
            if action == "quit":
                return False
            if action != "retry":
                return True
            previous, previous_id = score, attempt_id

    def _commit(self, question: Question, answer: Answer, score: Score, session_id: int,
                retry_of: int | None) -> int:
        now = self.clock()
        card = log = None
        if retry_of is None:
            row = self.store.card(question.id, "said")
            card, log = self.schedule.review(row.card if row else None, score.rating, now,
                                             int(answer.duration_s * 1000) or None)
        record = AttemptRecord(
            question_id=question.id, topic=question.topic, mode=answer.mode, rating=score.rating.value,
            answer_text=answer.text, transcript=answer.transcript, audio_path=answer.audio_path, score=score,
            duration_s=round(answer.duration_s, 2), delivery=answer.delivery, created_at=now,
            prediction=getattr(answer, "prediction", None),
            extra={"retry_of": retry_of} if retry_of else {},
        )
        return self.store.record_attempt(record, card, log, session_id=session_id)


class TypedAnswers:
    """Reads a multi-line typed answer; an empty line ends it, ``q`` alone quits."""

    def __init__(self, read_line: Callable[[str], str], show_question: Callable[[Question, int, int], None]):
        self.read_line, self.show_question = read_line, show_question

    def answer(self, question: Question, number: int, total: int) -> Answer:
        self.show_question(question, number, total)
        start = time.monotonic()
        lines: list[str] = []
        while True:
            try:
                line = self.read_line("> " if not lines else "  ")
            except (EOFError, KeyboardInterrupt):
                raise Quit from None
            if not lines and line.strip().lower() in {"q", "quit", ":q"}:
                raise Quit
            if not line.strip():
                if lines:
                    break
                continue
            lines.append(line.rstrip())
        return Answer(text="\n".join(lines), mode="typed", duration_s=time.monotonic() - start)


__all__ = ["Answer", "AnswerSource", "PracticeOptions", "PracticeSession", "PracticeUI", "Quit",
           "SessionResult", "TypedAnswers", "build_queue"]
