"""Recognition review and prediction.

``ReviewSession`` is the recognition loop: the question is shown (and spoken, when a speaker is given),
the candidate thinks, reveals the reference, and self-rates whether they recognized it; the rating
schedules the question's ``recognized`` track. Nothing is scored: recognition is what the candidate
says it was, which is exactly why ``viva progress`` sets it beside what they could say.

``PredictingAnswers`` wraps any ``AnswerSource`` for ``viva practice --predict``: before each first
attempt it asks "do you know this one?" and hands the answer on as ``PredictedAnswer.prediction``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Callable, Protocol

from viva.domain import Question, Rating
from viva.schedule import Schedule, plan_queue, start_of_day
from viva.session import Answer, AnswerSource, Quit
from viva.store import AttemptRecord, Store, utcnow

TRACK, MODE = "recognized", "review"
NEW_PER_DAY = 20  # recognition is quick: more new cards a day than the said track's 10
RATING_KEYS = {"1": Rating.AGAIN, "2": Rating.HARD, "3": Rating.GOOD, "4": Rating.EASY,
               "a": Rating.AGAIN, "h": Rating.HARD, "g": Rating.GOOD, "e": Rating.EASY,
               **{r.value: r for r in Rating}}
QUIT_WORDS = {"q", "quit", ":q"}
YES, NO = "yes", "no"
PREDICTION_KEYS = {"y": YES, "yes": YES, "n": NO, "no": NO}


def parse_rating(text: str) -> Rating | None:
    """``1``-``4``, ``again``/``hard``/``good``/``easy`` or their first letter; None otherwise."""
    return RATING_KEYS.get(text.strip().lower())


class ReviewUI(Protocol):
    def show_question(self, question: Question, number: int, total: int) -> None: ...
    def wait_reveal(self) -> bool:
        """Block until the candidate asks for the reference; False to quit."""
    def show_reference(self, question: Question) -> None: ...
    def ask_rating(self) -> Rating | None:
        """The self-rating; None to quit."""
    def summary(self, result: "ReviewResult") -> None: ...


@dataclass
class ReviewResult:
    ratings: list[tuple[Question, Rating, int]] = field(default_factory=list)
    queued: int = 0

    @property
    def reviewed(self) -> int:
        return len(self.ratings)

    def counts(self) -> dict[str, int]:
        out = {r.value: 0 for r in Rating}
        for _, rating, _ in self.ratings:
            out[rating.value] += 1
        return out


def build_review_queue(questions, store: Store, now: datetime, *, topics: tuple[str, ...] = (),
                       limit: int | None = None, new_per_day: int = NEW_PER_DAY,
                       phase_order: tuple[str, ...] = ()) -> list[Question]:
    """Due recognition cards first, then questions never reviewed, within the daily new limit."""
    pool = [q for q in questions if not topics or q.topic in topics]
    return plan_queue(pool, store.cards(TRACK), now, new_today=store.new_cards_since(start_of_day(now), TRACK),
                      new_per_day=new_per_day, limit=limit, phase_order=phase_order)


class ReviewSession:
    """Runs recognition reviews over a queue; each rating is committed before the next question."""

    def __init__(self, store: Store, ui: ReviewUI, *, schedule: Schedule | None = None,
                 speak: Callable[[str], None] | None = None, clock: Callable[[], datetime] = utcnow,
                 timer: Callable[[], float] = time.monotonic):
        self.store, self.ui, self.speak = store, ui, speak
        self.schedule = schedule or Schedule()
        self.clock, self.timer = clock, timer

    def run(self, queue: list[Question]) -> ReviewResult:
        result = ReviewResult(queued=len(queue))
        session_id = self.store.start_session(MODE)
        try:
            for number, question in enumerate(queue, start=1):
                if not self._review(question, number, len(queue), session_id, result):
                    break
        finally:
            self.store.end_session(session_id)
            self.ui.summary(result)
        return result

    def _review(self, question: Question, number: int, total: int, session_id: int, result: ReviewResult) -> bool:
        self.ui.show_question(question, number, total)
        if self.speak is not None:
            self.speak(question.question)
        start = self.timer()
        if not self.ui.wait_reveal():
            return False
        thought_s = self.timer() - start
        self.ui.show_reference(question)
        rating = self.ui.ask_rating()
        if rating is None:
            return False
        now = self.clock()
        row = self.store.card(question.id, TRACK)
        card, log = self.schedule.review(row.card if row else None, rating, now, int(thought_s * 1000) or None)
        record = AttemptRecord(question_id=question.id, topic=question.topic, mode=MODE, rating=rating.value,
                               track=TRACK, duration_s=round(thought_s, 2), created_at=now)
        result.ratings.append((question, rating, self.store.record_attempt(record, card, log, session_id=session_id)))
        return True


class ConsoleReviewUI:
    """The review loop's terminal face: Enter reveals, 1-4 (or the words) rate, q quits."""

    def __init__(self, console, read_line: Callable[[str], str]):
        self.console, self.read_line = console, read_line

    def _read(self, prompt: str) -> str | None:
        try:
            text = self.read_line(prompt)
        except (EOFError, KeyboardInterrupt):
            return None
        return None if text.strip().lower() in QUIT_WORDS else text

    def show_question(self, question: Question, number: int, total: int) -> None:
        from rich.panel import Panel
        from rich.text import Text

        meta = f"{number}/{total} · {question.topic} · recognition review"
        self.console.print(Panel(Text(question.question, style="bold"), title=meta, border_style="blue"))

    def wait_reveal(self) -> bool:
        return self._read("Think of the answer, then press Enter to see the reference (q quits) ") is not None

    def show_reference(self, question: Question) -> None:
        from rich.panel import Panel
        from rich.text import Text

        concepts = ", ".join(c.name for c in question.concepts)
        body = Text.assemble(question.answer, "\n\n", ("Key concepts: ", "bold"), concepts)
        self.console.print(Panel(body, title="reference", border_style="green"))

    def ask_rating(self) -> Rating | None:
        while True:
            text = self._read("Did you recognize it? 1 again · 2 hard · 3 good · 4 easy > ")
            if text is None:
                return None
            rating = parse_rating(text)
            if rating is not None:
                return rating
            self.console.print("Type 1, 2, 3 or 4 (or again, hard, good, easy); q quits.")

    def summary(self, result: ReviewResult) -> None:
        if not result.reviewed:
            self.console.print("No reviews this session; nothing was scheduled.")
            return
        counts = ", ".join(f"{k} {v}" for k, v in result.counts().items() if v)
        self.console.print(f"Review over: {result.reviewed} question(s) ({counts}). 'viva progress' sets "
                           "what you recognize beside what you could say.")


@dataclass(frozen=True)
class PredictedAnswer(Answer):
    """An answer with the candidate's prediction made before it: "yes", "no" or None (not asked)."""

    prediction: str | None = None


class PredictingAnswers:
    """Wraps an ``AnswerSource``: asks "do you know this one?" (y/n) before each first attempt.

    Retries of the same question are not asked again: the reference has just been shown.
    """

    def __init__(self, inner: AnswerSource, read_line: Callable[[str], str]):
        self.inner, self.read_line = inner, read_line
        self._last: tuple[str, int] | None = None

    def answer(self, question: Question, number: int, total: int) -> PredictedAnswer:
        prediction = None
        if self._last != (question.id, number):
            prediction = self._ask(question, number, total)
        self._last = (question.id, number)
        answer = self.inner.answer(question, number, total)
        values = {f.name: getattr(answer, f.name) for f in fields(Answer)}
        return PredictedAnswer(**values, prediction=prediction)

    def _ask(self, question: Question, number: int, total: int) -> str:
        prompt = f"{number}/{total} · {question.question}\nDo you know this one? [y/n] "
        while True:
            try:
                text = self.read_line(prompt).strip().lower()
            except (EOFError, KeyboardInterrupt):
                raise Quit from None
            if text in QUIT_WORDS:
                raise Quit
            if text in PREDICTION_KEYS:
                return PREDICTION_KEYS[text]
            prompt = "Please answer y or n (q quits): "
