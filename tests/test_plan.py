"""The study plan: phase layout, phase order for new cards, interview-date pacing, and the commands."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from typer.testing import CliRunner

from viva.cli import app
from viva.domain import PHASES, Question, Rating
from viva.errors import InputError
from viva.plan import (MAX_NEW_PER_DAY, Plan, current_phase_order, layout_phases, make_plan, pacing, phase_order,
                       practice_settings, remaining_new, retention_for)
from viva.schedule import DESIRED_RETENTION, Schedule
from viva.store import AttemptRecord, Store, utcnow

TODAY = date(2026, 12, 3)
BANK_COUNTS = {"fundamentals": 104, "training-rag": 94, "inference-efficiency": 82, "judgment-review": 36}
runner = CliRunner()


def questions(counts=BANK_COUNTS) -> list[Question]:
    return [Question(id=f"{phase}-{i}", topic="inference", question="?", answer="a.", phase=phase)
            for phase, n in counts.items() for i in range(n)]


def test_days_are_split_in_proportion_to_questions_contiguously():
    spans = layout_phases(BANK_COUNTS, 14)
    assert [s.phase for s in spans] == list(PHASES)
    lengths = [s.last_day - s.first_day + 1 for s in spans]
    assert lengths == [4, 4, 4, 2] and sum(lengths) == 14
    assert spans[0].first_day == 0 and spans[-1].last_day == 13
    assert all(b.first_day == a.last_day + 1 for a, b in zip(spans, spans[1:]))


def test_short_plans_share_days_and_empty_phases_are_left_out():
    spans = layout_phases(BANK_COUNTS, 2)
    assert [(s.phase, s.first_day) for s in spans] == [("fundamentals", 0), ("training-rag", 0),
                                                       ("inference-efficiency", 1), ("judgment-review", 1)]
    assert [s.phase for s in layout_phases({"judgment-review": 5}, 3)] == ["judgment-review"]


def test_phase_order_puts_today_first_then_catch_up_then_later():
    plan = make_plan(questions(), TODAY, 14)
    assert phase_order(plan, TODAY) == PHASES
    assert phase_order(plan, TODAY + timedelta(days=5)) == ("training-rag", "fundamentals",
                                                            "inference-efficiency", "judgment-review")
    assert phase_order(plan, TODAY + timedelta(days=13))[0] == "judgment-review"
    assert phase_order(plan, TODAY + timedelta(days=14)) == ()  # the plan is over


def test_interview_date_sets_the_length_and_bad_dates_are_one_line():
    plan = make_plan(questions(), TODAY, interview=TODAY + timedelta(days=10))
    assert plan.days == 10 and plan.end == TODAY + timedelta(days=9)
    assert make_plan(questions(), TODAY).days == 14
    with pytest.raises(InputError, match=r"^the interview date 2026-12-03 is not after today \(2026-12-03\)"):
        make_plan(questions(), TODAY, interview=TODAY)
    with pytest.raises(InputError, match=r"^--days 20 runs past the interview on 2026-12-13 \(10 days away\)"):
        make_plan(questions(), TODAY, 20, TODAY + timedelta(days=10))
    assert Plan.from_row(plan.to_row()) == plan


def test_pacing_spreads_new_cards_and_keeps_review_only_days():
    plan = make_plan(questions(), TODAY, interview=TODAY + timedelta(days=10))
    pace = pacing(plan, 100, TODAY)
    # 10 days before the interview, the last 2 review-only: ceil(100 / 8) = 13 a day.
    assert (pace.new_per_day, pace.new_days, pace.days_left, pace.shortfall) == (13, 8, 10, 0)
    assert pacing(plan, 400, TODAY).new_per_day == MAX_NEW_PER_DAY
    assert pacing(plan, 400, TODAY).shortfall == 400 - 8 * MAX_NEW_PER_DAY
    assert pacing(plan, 30, TODAY + timedelta(days=8)).new_per_day == 0  # two days out: review only
    assert pacing(plan, 0, TODAY).new_per_day == 0
    # Without an interview: pace to the plan's last day, default retention.
    free = make_plan(questions(), TODAY, 14)
    assert pacing(free, 140, TODAY).new_per_day == 10
    assert pacing(free, 140, TODAY).desired_retention == DESIRED_RETENTION


def test_retention_rises_as_the_interview_nears():
    assert retention_for(30) == retention_for(21) == 0.90
    assert retention_for(3) == retention_for(1) == 0.95
    assert 0.90 < retention_for(12) < 0.95
    assert retention_for(12) == pytest.approx(0.925)


def test_practice_settings_and_phase_order_from_the_store():
    now = utcnow()
    qs = questions({"fundamentals": 3, "training-rag": 3})
    with Store() as store:
        assert current_phase_order(store, now) == ()
        assert practice_settings(store, qs, now, 10).new_per_day == 10
        plan = make_plan(qs, now.astimezone().date(), interview=now.astimezone().date() + timedelta(days=5))
        store.save_plan(**plan.to_row())
        assert current_phase_order(store, now) == ("fundamentals", "training-rag")
        card, log = Schedule().review(None, Rating.GOOD, now)
        store.record_attempt(AttemptRecord(question_id=qs[0].id, topic="inference", mode="typed", rating="good",
                                           created_at=now), card, log)
        # A card introduced today still counts as remaining today, so the limit holds all day.
        assert remaining_new(store, qs, now) == 6
        assert remaining_new(store, qs, now + timedelta(days=1)) == 5
        settings = practice_settings(store, qs, now, 10)
    assert settings.phase_order == ("fundamentals", "training-rag")
    assert settings.new_per_day == 2  # ceil(6 / (5 - 2))
    assert settings.desired_retention == retention_for(5) == pytest.approx(0.944, abs=1e-3)


def test_plan_commands(viva_home):
    r = runner.invoke(app, ["plan"])
    assert r.exit_code == 0 and "No plan yet" in r.stdout
    interview = (datetime.now().date() + timedelta(days=12)).isoformat()
    r = runner.invoke(app, ["plan", "start", "--interview-date", interview])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("Plan of 12 day(s) from today until ")
    assert "day 1-" in r.stdout and "judgment-review" in r.stdout
    r = runner.invoke(app, ["plan"])
    assert r.exit_code == 0, r.output
    assert "Day 1 of 12: today's focus is fundamentals." in r.stdout
    assert "Interview on " in r.stdout and "in 12 day(s)" in r.stdout
    r = runner.invoke(app, ["plan", "start", "--interview-date", "next friday"])
    assert r.exit_code == 1
    assert r.stderr == "viva: --interview-date 'next friday' is not a date like 2026-12-24 (year-month-day)\n"
