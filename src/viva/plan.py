"""The study plan: the phases laid over days, the phase order for new cards, and interview-date pacing.

The plan's days are split between the phases of ``domain.PHASES`` in study order, in proportion to how
many questions each phase has (at least one day each; with fewer days than phases, phases share days).

Pacing towards an interview date:

* new cards per day = ceil(cards not yet introduced / days left for new cards), at most MAX_NEW_PER_DAY.
  The last REVIEW_ONLY_DAYS days before the interview introduce nothing new, so every card gets at least
  one more review before the day.
* desired retention rises from 0.90 (interview FAR_DAYS or more away) to 0.95 (NEAR_DAYS or fewer) on a
  straight line: higher retention makes FSRS choose shorter intervals, so cards come back before the
  interview instead of after it, and are fresh on the day.

Without an interview date, new cards are paced to finish by the plan's last day, at the default retention.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterable

from viva.domain import PHASES, Question
from viva.errors import InputError
from viva.schedule import DESIRED_RETENTION, start_of_day
from viva.store import Store

DEFAULT_DAYS = 14
MAX_DAYS = 365
MAX_NEW_PER_DAY = 25  # beyond this the daily reviews snowball past an hour
REVIEW_ONLY_DAYS = 2
RETENTION_FAR, RETENTION_NEAR = DESIRED_RETENTION, 0.95
FAR_DAYS, NEAR_DAYS = 21, 3


@dataclass(frozen=True)
class PhaseSpan:
    """A phase and its days, as 0-based day numbers from the plan's start (both ends included)."""

    phase: str
    first_day: int
    last_day: int


@dataclass(frozen=True)
class Plan:
    start: date
    days: int
    phases: tuple[PhaseSpan, ...]
    interview: date | None = None

    @property
    def end(self) -> date:
        """The plan's last day."""
        return self.start + timedelta(days=self.days - 1)

    def day_number(self, today: date) -> int:
        """0-based day of the plan (negative before it starts, >= days after it ends)."""
        return (today - self.start).days

    def running(self, today: date) -> bool:
        """True from the first day until the interview (or the plan's end, without an interview date)."""
        horizon = (self.interview - self.start).days if self.interview else self.days
        return 0 <= self.day_number(today) < max(horizon, self.days)

    def phases_on(self, today: date) -> tuple[str, ...]:
        n = self.day_number(today)
        return tuple(s.phase for s in self.phases if s.first_day <= n <= s.last_day)

    def to_row(self) -> dict:
        return {"start_date": self.start.isoformat(), "days": self.days,
                "interview_date": self.interview.isoformat() if self.interview else None,
                "phases": [{"phase": s.phase, "first_day": s.first_day, "last_day": s.last_day} for s in self.phases]}

    @classmethod
    def from_row(cls, row: dict) -> "Plan":
        return cls(start=date.fromisoformat(row["start_date"]), days=int(row["days"]),
                   phases=tuple(PhaseSpan(p["phase"], p["first_day"], p["last_day"]) for p in row["phases"]),
                   interview=date.fromisoformat(row["interview_date"]) if row.get("interview_date") else None)


def layout_phases(counts: dict[str, int], days: int) -> tuple[PhaseSpan, ...]:
    """Split ``days`` between the phases that have questions, in proportion to their question counts."""
    phases = [p for p in PHASES if counts.get(p, 0) > 0] or list(PHASES)
    n = len(phases)
    if days < n:  # several phases a day, still in order
        return tuple(PhaseSpan(p, i * days // n, i * days // n) for i, p in enumerate(phases))
    total = sum(counts.get(p, 1) for p in phases)
    spare = days - n  # every phase gets one day, the rest by share (largest remainder)
    shares = [spare * counts.get(p, 1) / total for p in phases]
    extra = [math.floor(s) for s in shares]
    for i in sorted(range(n), key=lambda i: shares[i] - extra[i], reverse=True)[: spare - sum(extra)]:
        extra[i] += 1
    spans, first = [], 0
    for p, e in zip(phases, extra):
        spans.append(PhaseSpan(p, first, first + e))
        first += e + 1
    return tuple(spans)


def make_plan(questions: Iterable[Question], today: date, days: int | None = None,
              interview: date | None = None) -> Plan:
    """A plan starting ``today``: ``days`` long (default: until the interview, else 14 days)."""
    counts: dict[str, int] = {}
    for q in questions:
        counts[q.phase] = counts.get(q.phase, 0) + 1
    if interview is not None:
        until = (interview - today).days
        if until < 1:
            raise InputError(f"the interview date {interview.isoformat()} is not after today "
                             f"({today.isoformat()}); give a future date like "
                             f"{(today + timedelta(days=14)).isoformat()}")
        if until > MAX_DAYS:
            raise InputError(f"the interview on {interview.isoformat()} is {until} days away; a plan covers at "
                             f"most {MAX_DAYS} days: start one nearer the time")
        if days is not None and days > until:
            raise InputError(f"--days {days} runs past the interview on {interview.isoformat()} "
                             f"({until} days away); use --days {until} or fewer")
        days = days or until
    days = DEFAULT_DAYS if days is None else days
    if not 1 <= days <= MAX_DAYS:
        raise InputError(f"--days {days} must be between 1 and {MAX_DAYS}")
    return Plan(start=today, days=days, phases=layout_phases(counts, days), interview=interview)


def parse_date(text: str, option: str = "--interview-date") -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{option} {text!r} is not a date like 2026-12-24 (year-month-day)") from None


def phase_order(plan: Plan, today: date) -> tuple[str, ...]:
    """Today's phases first, then earlier ones (catch-up), then later ones; () outside the plan."""
    n = plan.day_number(today)
    if not 0 <= n < plan.days:
        return ()
    now = plan.phases_on(today)
    earlier = tuple(s.phase for s in plan.phases if s.last_day < n and s.phase not in now)
    later = tuple(s.phase for s in plan.phases if s.first_day > n and s.phase not in now)
    return now + earlier + later


def load_plan(store: Store) -> Plan | None:
    row = store.latest_plan()
    return Plan.from_row(row) if row else None


def current_phase_order(store: Store, now: datetime) -> tuple[str, ...]:
    """The phase order for new cards in ``viva practice`` today; () when no plan is running."""
    plan = load_plan(store)
    return phase_order(plan, now.astimezone().date()) if plan else ()


def retention_for(days_to_interview: int) -> float:
    """Desired retention for a card reviewed ``days_to_interview`` days before the interview."""
    if days_to_interview >= FAR_DAYS:
        return RETENTION_FAR
    if days_to_interview <= NEAR_DAYS:
        return RETENTION_NEAR
    share = (FAR_DAYS - days_to_interview) / (FAR_DAYS - NEAR_DAYS)
    return round(RETENTION_FAR + share * (RETENTION_NEAR - RETENTION_FAR), 3)


@dataclass(frozen=True)
class Pacing:
    """Today's new-card limit and desired retention under a plan."""

    new_per_day: int
    desired_retention: float
    days_left: int  # days before the target (the interview, or the day after the plan), today included
    new_days: int  # of which days that still introduce new cards
    remaining_new: int  # cards not introduced before today
    shortfall: int  # cards that would still be new on the target day at the capped pace


def pacing(plan: Plan, remaining_new: int, today: date, cap: int = MAX_NEW_PER_DAY) -> Pacing:
    """The pacing rule of the module docstring, for ``today``."""
    target = plan.interview or plan.end + timedelta(days=1)
    days_left = max(0, (target - today).days)
    buffer = REVIEW_ONLY_DAYS if plan.interview else 0
    new_days = max(1, days_left - buffer) if days_left else 0
    if days_left > buffer:
        new_per_day = min(cap, math.ceil(remaining_new / new_days)) if remaining_new else 0
    else:
        new_per_day = 0  # the last days before the interview are for review only
    retention = retention_for(days_left) if plan.interview else DESIRED_RETENTION
    shortfall = max(0, remaining_new - new_per_day * (new_days if days_left > buffer else 0))
    return Pacing(new_per_day, retention, days_left, new_days if days_left > buffer else 0, remaining_new,
                  shortfall)


@dataclass(frozen=True)
class PracticeSettings:
    """What ``viva practice`` takes from the plan: the phase order, the new-card limit and the retention."""

    phase_order: tuple[str, ...]
    new_per_day: int
    desired_retention: float
    pacing: Pacing | None = None


def remaining_new(store: Store, questions: Iterable[Question], now: datetime) -> int:
    """Questions without a said card, plus those first seen today (so the limit is stable all day)."""
    cards = store.cards("said")
    midnight = start_of_day(now)
    return sum(1 for q in questions if q.id not in cards or cards[q.id].first_seen >= midnight)


def practice_settings(store: Store, questions: Iterable[Question], now: datetime,
                      default_new: int) -> PracticeSettings:
    """Settings for today's practice; without a running plan, ``default_new`` at the default retention."""
    plan = load_plan(store)
    today = now.astimezone().date()
    if plan is None or not plan.running(today):
        return PracticeSettings((), default_new, DESIRED_RETENTION)
    pace = pacing(plan, remaining_new(store, questions, now), today)
    return PracticeSettings(phase_order(plan, today), pace.new_per_day, pace.desired_retention, pace)


@dataclass(frozen=True)
class PhaseStatus:
    """One phase's progress against the plan, at the end of ``today``."""

    phase: str
    first: date
    last: date
    questions: int
    introduced: int  # questions with a said card
    expected: int  # introduced by the end of today if the plan is kept
    could_say: int


def plan_status(plan: Plan, questions: Iterable[Question], introduced: set[str], could_say: set[str],
                today: date) -> tuple[PhaseStatus, ...]:
    """Each phase's introduced and could-say counts beside what the plan expects by the end of today."""
    qs = list(questions)
    n = plan.day_number(today)
    rows = []
    for span in plan.phases:
        ids = {q.id for q in qs if q.phase == span.phase}
        length = span.last_day - span.first_day + 1
        done = min(length, max(0, n - span.first_day + 1))
        rows.append(PhaseStatus(
            phase=span.phase, first=plan.start + timedelta(days=span.first_day),
            last=plan.start + timedelta(days=span.last_day), questions=len(ids),
            introduced=len(ids & introduced), expected=math.ceil(len(ids) * done / length),
            could_say=len(ids & could_say)))
    return tuple(rows)
