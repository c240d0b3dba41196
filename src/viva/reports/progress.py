"""Progress numbers, pure: from the bank's questions and the stored attempts to per-topic figures.

Definitions (also in ``viva progress --help`` and the README):

* **could say**: the question's latest *said*-track attempt (typed, spoken or interview; immediate retries
  and interview follow-ups excluded, since they come right after a prompt) was rated good or easy.
* **recognized**: the question's latest *recognized*-track rating (``viva review``) was good or easy.
* **gap**: recognized but not could-say: the latest said attempt was again/hard, or it was never said.
* **overconfident** (calibration): a ``--predict`` "yes, I know this one" followed by an again/hard answer;
  **underconfident**: "no" followed by good/easy.
* **streak**: consecutive local days with at least one attempt, ending today (or yesterday, when nothing
  has been done yet today: the streak is still alive until midnight).

Percentages of recognized and could-say are of the topic's questions in the bank; the gap is a share of
what is recognized; calibration a share of the predictions made.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Iterable, Sequence

from viva.domain import TOPICS, Question
from viva.store import AttemptRow

WELL = frozenset({"good", "easy"})  # ratings that count as "knew it"
FORECAST_DAYS = 14
TOP_CONCEPTS = 10


def is_scheduled_said(row: AttemptRow) -> bool:
    """A said-track attempt that moved the schedule: not an immediate retry, not an interview follow-up."""
    return row.track == "said" and not row.details.get("retry_of") and not row.details.get("follow_up_of")


def _pct(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


@dataclass(frozen=True)
class TopicProgress:
    """The figures of one topic (or of everything, with topic ``"overall"``)."""

    topic: str
    questions: int
    said_tried: int = 0
    could_say: int = 0
    recognized_tried: int = 0
    recognized: int = 0
    gap: int = 0
    predicted_yes: int = 0
    overconfident: int = 0
    predicted_no: int = 0
    underconfident: int = 0
    mean_score: float | None = None  # mean of the latest said score per tried question

    @property
    def could_say_pct(self) -> float | None:
        return _pct(self.could_say, self.questions)

    @property
    def recognized_pct(self) -> float | None:
        return _pct(self.recognized, self.questions)

    @property
    def gap_pct(self) -> float | None:
        return _pct(self.gap, self.recognized)

    @property
    def overconfident_pct(self) -> float | None:
        return _pct(self.overconfident, self.predicted_yes)


@dataclass(frozen=True)
class ConceptMiss:
    """A key concept of one question and how often it was missed when that question was answered."""

    concept: str
    question_id: str
    topic: str
    missed: int
    tested: int

    @property
    def rate(self) -> float:
        return self.missed / self.tested if self.tested else 0.0


@dataclass(frozen=True)
class ScorePoint:
    """One scheduled said attempt's score, for the score-history chart."""

    when: datetime
    topic: str
    question_id: str
    score: float


@dataclass(frozen=True)
class Progress:
    topics: tuple[TopicProgress, ...]
    overall: TopicProgress
    missed_concepts: tuple[ConceptMiss, ...]
    streak_days: int
    longest_streak: int
    active_today: bool
    due_said: tuple[int, ...]
    due_recognized: tuple[int, ...]
    history: tuple[ScorePoint, ...]
    attempts: int


def compute_progress(
    questions: Iterable[Question],
    attempts: Iterable[AttemptRow],
    *,
    now: datetime,
    due_said: Sequence[int] = (),
    due_recognized: Sequence[int] = (),
    top_concepts: int = TOP_CONCEPTS,
    tz: tzinfo | None = None,
) -> Progress:
    """Every progress figure from the bank and the attempts (any order); ``tz`` is the user's zone."""
    qs = list(questions)
    by_id = {q.id: q for q in qs}
    rows = sorted((a for a in attempts if a.question_id in by_id), key=lambda a: (a.created_at, a.id))
    said = [a for a in rows if is_scheduled_said(a)]
    latest_said = {a.question_id: a for a in said}  # sorted oldest first, so the last one wins
    latest_recog = {a.question_id: a for a in rows if a.track == "recognized"}
    topic_order = [t for t in TOPICS if any(q.topic == t for q in qs)]
    topic_order += sorted({q.topic for q in qs} - set(topic_order))
    topics = tuple(_topic(t, [q for q in qs if q.topic == t], latest_said, latest_recog, said) for t in topic_order)
    overall = _topic("overall", qs, latest_said, latest_recog, said)
    days = {a.created_at.astimezone(tz).date() for a in rows}
    today = now.astimezone(tz).date()
    return Progress(
        topics=topics, overall=overall, missed_concepts=_missed(said, by_id)[:top_concepts],
        streak_days=current_streak(days, today), longest_streak=longest_streak(days),
        active_today=today in days, due_said=tuple(due_said), due_recognized=tuple(due_recognized),
        history=tuple(ScorePoint(a.created_at, a.topic, a.question_id, a.score) for a in said if a.score is not None),
        attempts=len(rows),
    )


def _topic(name: str, qs: list[Question], latest_said: dict, latest_recog: dict, said: list) -> TopicProgress:
    ids = {q.id for q in qs}
    can_say = {i for i in ids if i in latest_said and latest_said[i].rating in WELL}
    knows = {i for i in ids if i in latest_recog and latest_recog[i].rating in WELL}
    scores = [latest_said[i].score for i in ids if i in latest_said and latest_said[i].score is not None]
    predicted = [a for a in said if a.question_id in ids and a.prediction in ("yes", "no")]
    yes = [a for a in predicted if a.prediction == "yes"]
    no = [a for a in predicted if a.prediction == "no"]
    return TopicProgress(
        topic=name, questions=len(ids),
        said_tried=len(ids & latest_said.keys()), could_say=len(can_say),
        recognized_tried=len(ids & latest_recog.keys()), recognized=len(knows), gap=len(knows - can_say),
        predicted_yes=len(yes), overconfident=sum(a.rating not in WELL for a in yes),
        predicted_no=len(no), underconfident=sum(a.rating in WELL for a in no),
        mean_score=sum(scores) / len(scores) if scores else None,
    )


def _missed(said: list[AttemptRow], by_id: dict[str, Question]) -> tuple[ConceptMiss, ...]:
    """Concepts missed most often, per question (two questions may share a concept name)."""
    tested: Counter = Counter()
    missed: Counter = Counter()
    for a in said:
        for hit in a.details.get("hits", []):
            key = (a.question_id, hit.get("concept", ""))
            tested[key] += 1
            missed[key] += hit.get("status") == "missed"
    found = [ConceptMiss(concept, qid, by_id[qid].topic, missed[(qid, concept)], n)
             for (qid, concept), n in tested.items() if missed[(qid, concept)]]
    found.sort(key=lambda m: (-m.missed, -m.rate, m.question_id, m.concept))
    return tuple(found)


def current_streak(days: set[date], today: date) -> int:
    """Consecutive days with attempts ending today, or yesterday when today has none yet."""
    day = today if today in days else today - timedelta(days=1)
    streak = 0
    while day in days:
        streak += 1
        day -= timedelta(days=1)
    return streak


def longest_streak(days: set[date]) -> int:
    best = run = 0
    previous: date | None = None
    for day in sorted(days):
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        best, previous = max(best, run), day
    return best


def daily_topic_scores(history: Iterable[ScorePoint], tz: tzinfo | None = None) -> dict[str, list[tuple[date, float]]]:
    """Mean score per topic per local day, oldest first: the score-history chart's lines."""
    buckets: dict[tuple[str, date], list[float]] = defaultdict(list)
    for p in history:
        buckets[(p.topic, p.when.astimezone(tz).date())].append(p.score)
    lines: dict[str, list[tuple[date, float]]] = defaultdict(list)
    for (topic, day), scores in sorted(buckets.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        lines[topic].append((day, sum(scores) / len(scores)))
    return dict(lines)


def could_say_ids(attempts: Iterable[AttemptRow]) -> set[str]:
    """Question ids whose latest scheduled said attempt was rated good or easy."""
    latest: dict[str, AttemptRow] = {}
    for a in sorted((a for a in attempts if is_scheduled_said(a)), key=lambda a: (a.created_at, a.id)):
        latest[a.question_id] = a
    return {qid for qid, a in latest.items() if a.rating in WELL}
