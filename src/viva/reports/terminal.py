"""Progress as rich tables for the terminal."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from viva.reports.progress import Progress, TopicProgress

if TYPE_CHECKING:
    from viva.interview import InterviewResult
    from viva.plan import Pacing, PhaseStatus, Plan


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _calibration(t: TopicProgress) -> str:
    return f"{t.overconfident}/{t.predicted_yes}" if t.predicted_yes else "-"


def topic_table(progress: Progress) -> Table:
    table = Table(title="by topic", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("topic", no_wrap=True)
    for col in ("qs", "recognized", "could say", "gap", "overconf.", "mean"):
        table.add_column(col, justify="right", no_wrap=True)

    def row(t: TopicProgress, **style) -> None:
        table.add_row(t.topic, str(t.questions), pct(t.recognized_pct), pct(t.could_say_pct),
                      f"{t.gap}/{t.recognized}" if t.recognized else "-", _calibration(t),
                      "-" if t.mean_score is None else f"{t.mean_score:.0f}", **style)

    for t in progress.topics:
        row(t)
    table.add_section()
    row(progress.overall, style="bold")
    return table


def concepts_table(progress: Progress) -> Table:
    table = Table(title="concepts missed most often", title_justify="left")
    table.add_column("concept")
    table.add_column("question")
    table.add_column("missed", justify="right")
    for m in progress.missed_concepts:
        table.add_row(m.concept, m.question_id, f"{m.missed} of {m.tested}")
    return table


def forecast_table(progress: Progress, now: datetime) -> Table:
    days = len(progress.due_said)
    table = Table(title=f"reviews due over the next {days} days", title_justify="left")
    table.add_column("day")
    table.add_column("say aloud", justify="right")
    table.add_column("recognize", justify="right")
    for i in range(days):
        label = "today" if i == 0 else (now + timedelta(days=i)).astimezone().strftime("%a %d %b")
        recog = progress.due_recognized[i] if i < len(progress.due_recognized) else 0
        table.add_row(label, str(progress.due_said[i]), str(recog))
    return table


def streak_line(progress: Progress) -> Text:
    days = progress.streak_days
    if not days:
        return Text("Streak: none yet; any attempt today starts one.")
    tail = "" if progress.active_today else " (nothing yet today: practise to keep it)"
    return Text(f"Streak: {days} day{'s' if days != 1 else ''} in a row{tail}; longest {progress.longest_streak}.")


def render_progress(progress: Progress, now: datetime) -> RenderableType:
    """Every progress table, ready for ``console.print``."""
    if not progress.attempts:
        return Text("No attempts yet: run 'viva practice' to answer aloud or 'viva review' to review.")
    parts: list[RenderableType] = [topic_table(progress), streak_line(progress)]
    if progress.missed_concepts:
        parts.append(concepts_table(progress))
    if progress.due_said:
        parts.append(forecast_table(progress, now))
    parts.append(Text("recognized / could say: share of the topic's questions whose latest review / latest said "
                      "attempt was good or easy · gap: recognized but not could-say, of those recognized · "
                      "overconf.: predicted 'I know it', then again or hard · mean: latest said scores.",
                      style="dim"))
    return Group(*parts)


def render_report_card(result: "InterviewResult") -> RenderableType:
    """The interview's report card: per question score, time, pace, fillers and weakest concepts."""
    if not result.items:
        return Text("No questions answered; nothing was recorded.")
    table = Table(title="interview report card", title_justify="left")
    for col, justify in (("#", "right"), ("question", "left"), ("score", "right"), ("rating", "left"),
                         ("time", "right"), ("words/min", "right"), ("fillers", "right"),
                         ("weakest concepts", "left"), ("follow-up", "left")):
        table.add_column(col, justify=justify)
    for n, item in enumerate(result.items, start=1):
        wpm, fillers = item.words_per_minute, item.fillers
        follow = "-"
        if item.follow_up is not None:
            f = item.follow_up
            follow = f"recovered {len(f.recovered)}/{len(f.probed)}: {', '.join(f.recovered) or 'none'}"
        table.add_row(str(n), item.question.id, f"{item.score.overall:.0f}", item.score.rating.value,
                      f"{item.seconds:.0f} s", "-" if wpm is None else f"{wpm:.0f}",
                      "-" if fillers is None else str(fillers), ", ".join(item.weakest()) or "-", follow)
    why = {"time": "time is up", "quit": "you stopped", "questions": "no questions left"}[result.stopped]
    minutes, seconds = divmod(int(result.elapsed_s), 60)
    total = Text(f"{len(result.items)} question(s) in {minutes}:{seconds:02d} ({why}); mean score "
                 f"{result.mean_score:.0f}/100. Every answer is saved and scheduled; 'viva history' shows them "
                 "and 'viva progress' how they moved your numbers.")
    missed = [Text.assemble((f"{item.question.id}: ", "bold"), item.question.answer)
              for item in result.items if item.score.rating.value in ("again", "hard")]
    parts: list[RenderableType] = [table, total]
    if missed:
        parts.append(Text("References for the answers rated again or hard:", style="bold"))
        parts.extend(missed)
    return Group(*parts)


def _span(first, last) -> str:
    if first == last:
        return f"{first:%d %b}"
    return f"{first:%d}-{last:%d %b}" if first.month == last.month else f"{first:%d %b}-{last:%d %b}"


def render_plan(plan: "Plan", status: "tuple[PhaseStatus, ...]", pace: "Pacing", today) -> RenderableType:
    """Today's focus and each phase's progress against the plan."""
    n = plan.day_number(today)
    focus = ", ".join(plan.phases_on(today))
    if n >= plan.days:
        head = f"The plan ended on {plan.end:%a %d %b}; 'viva plan start' lays out a new one."
    else:
        head = f"Day {n + 1} of {plan.days}: today's focus is {focus}."
    lines = [Text(head, style="bold")]
    if plan.interview:
        lines.append(Text(f"Interview on {plan.interview:%a %d %b %Y}, in {pace.days_left} day(s)."))
    if pace.days_left:
        lines.append(Text(f"New questions today: up to {pace.new_per_day} ({pace.remaining_new} not yet introduced, "
                          f"{pace.new_days} day(s) left to introduce them); desired retention "
                          f"{pace.desired_retention:.2f}."))
    if pace.shortfall:
        lines.append(Text(f"At the capped pace {pace.shortfall} question(s) will still be new on the day: "
                          "narrow the plan with --topic in practice, or accept them as unseen.", style="yellow"))
    table = Table(title="phases (planned: introduced by the end of today if the plan is kept)",
                  title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for col, justify in (("phase", "left"), ("days", "left"), ("qs", "right"), ("introduced", "right"),
                         ("planned", "right"), ("could say", "right")):
        table.add_column(col, justify=justify, no_wrap=True)
    for s in status:
        style = "bold" if s.phase in plan.phases_on(today) else ""
        ahead = s.introduced - s.expected
        mark = "" if not s.expected and not s.introduced else " (on track)" if ahead == 0 else \
            f" ({ahead} ahead)" if ahead > 0 else f" ({-ahead} behind)"
        table.add_row(s.phase, _span(s.first, s.last), str(s.questions), f"{s.introduced}{mark}",
                      str(s.expected), str(s.could_say), style=style)
    return Group(*lines, table)
