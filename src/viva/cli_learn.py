"""Learning commands: review, progress, report, plan, interview, export/import anki.

``register(app)`` adds them to the root app. Everything heavy (matplotlib, genanki, the scorer, the voice
pipeline) is imported inside the commands, and so are the shared CLI helpers (``viva.cli`` imports this
module while it is still being defined).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

BankOpt = Annotated[Optional[list[Path]], typer.Option(
    "--bank", help="Load this extra bank file or folder too (repeatable).")]
TopicOpt = Annotated[Optional[list[str]], typer.Option(
    "--topic", help="Only questions of this topic id (repeatable), e.g. inference.")]

plan_app = typer.Typer(invoke_without_command=True,
                       help="Show today's focus and progress against the study plan; 'viva plan start' lays one out.")
export_app = typer.Typer(no_args_is_help=True, help="Export the question bank to other tools.")
import_app = typer.Typer(no_args_is_help=True, help="Import questions from other tools into a user bank.")


def register(app: typer.Typer) -> None:
    """Add the learning commands to the root app."""
    app.command()(review)
    app.command()(progress)
    app.command()(report)
    app.command()(interview)
    app.add_typer(plan_app, name="plan")
    app.add_typer(export_app, name="export")
    app.add_typer(import_app, name="import")


def review(
    topic: TopicOpt = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help="Review at most this many questions.")] = None,
    new: Annotated[int, typer.Option(min=0, help="At most this many never-reviewed questions per day.")] = 20,
    speak: Annotated[bool, typer.Option("--speak", help="Also speak each question aloud.")] = False,
    bank: BankOpt = None,
) -> None:
    """Recognition review: see the question, think, press Enter for the reference, then rate whether you
    recognized it (1 again, 2 hard, 3 good, 4 easy, or the words). It schedules the recognized track."""
    from viva.cli import _check_topics, _console, _load, _read_line, handle_errors

    with handle_errors():
        questions = _load(bank)
        topics = _check_topics(questions, topic)
        from viva.lock import session_lock
        from viva.plan import current_phase_order
        from viva.review import ConsoleReviewUI, ReviewSession, build_review_queue
        from viva.store import Store, utcnow

        console = _console()
        with session_lock(), Store() as store:
            now = utcnow()
            queue = build_review_queue(questions.questions, store, now, topics=topics, limit=limit, new_per_day=new,
                                       phase_order=current_phase_order(store, now))
            if not queue:
                console.print("Nothing to review: no recognition card is due and today's new ones are done.")
                return
            say = _speaker(console) if speak else None
            ReviewSession(store, ConsoleReviewUI(console, _read_line), speak=say).run(queue)


def _speaker(console):
    from viva.audio.tts import build_speaker

    return build_speaker("auto", on_problem=lambda m: console.print(f"viva: {m}.")).say


def progress(topic: TopicOpt = None, bank: BankOpt = None) -> None:
    """Show progress per topic and overall. Could say: the latest said attempt (typed, spoken or interview;
    retries and follow-ups excluded) was rated good or easy. Recognized: the latest recognition review was
    rated good or easy. Gap: recognized but not could-say. Overconfident: you predicted "I know it"
    (practice --predict) and the answer was rated again or hard. Also: the concepts missed most often, your
    streak of consecutive days, and the reviews due on each of the next 14 days."""
    from viva.cli import _check_topics, _console, _load, handle_errors

    with handle_errors():
        questions = _load(bank)
        topics = _check_topics(questions, topic)
        from viva.reports import load_progress
        from viva.reports.terminal import render_progress
        from viva.store import Store, utcnow

        now = utcnow()
        with Store() as store:
            figures = load_progress(store, questions.select(topics), now)
        _console().print(render_progress(figures, now))


def report(
    html: Annotated[Path, typer.Option("--html", help="Write the report to this HTML file.")],
    topic: TopicOpt = None,
    bank: BankOpt = None,
) -> None:
    """Write one self-contained HTML page with charts: score history per topic, could say vs recognized per
    topic, reviews due over the next 14 days and the concepts missed most often."""
    from viva.cli import _check_topics, _load, handle_errors

    with handle_errors():
        questions = _load(bank)
        topics = _check_topics(questions, topic)
        from viva.reports import load_progress
        from viva.reports.html import write_html
        from viva.store import Store, utcnow

        now = utcnow()
        with Store() as store:
            figures = load_progress(store, questions.select(topics), now)
        out = write_html(figures, now, html)
        typer.echo(f"Wrote {out} ({out.stat().st_size // 1024} KB); open it in a browser.")


@plan_app.callback()
def plan_show(ctx: typer.Context, bank: BankOpt = None) -> None:
    """Show today's focus and progress against the study plan; 'viva plan start' lays one out."""
    if ctx.invoked_subcommand is not None:
        return
    from viva.cli import _console, _load, handle_errors

    with handle_errors():
        questions = _load(bank)
        from viva.plan import load_plan, pacing, plan_status, remaining_new
        from viva.reports.progress import could_say_ids
        from viva.reports.terminal import render_plan
        from viva.store import Store, utcnow

        now = utcnow()
        today = now.astimezone().date()
        with Store() as store:
            plan = load_plan(store)
            if plan is None:
                _console().print("No plan yet: 'viva plan start' lays out a two-week plan "
                                 "(add --interview-date 2026-12-24 to pace it to your interview).")
                return
            introduced = set(store.cards("said"))
            status = plan_status(plan, questions.questions, introduced, could_say_ids(store.attempts(None)), today)
            pace = pacing(plan, remaining_new(store, questions.questions, now), today)
        _console().print(render_plan(plan, status, pace, today))


@plan_app.command("start")
def plan_start(
    interview_date: Annotated[Optional[str], typer.Option(
        "--interview-date", help="The interview day, as YEAR-MONTH-DAY; the plan then ends the day before.")] = None,
    days: Annotated[Optional[int], typer.Option(
        min=1, help="How many days the plan runs (default: until the interview, else 14).")] = None,
    bank: BankOpt = None,
) -> None:
    """Lay out a study plan from today: fundamentals, then training and RAG, inference efficiency, and judgment
    with review, each phase given days in proportion to its questions. Practice and review then introduce
    new questions from the current phase first. With an interview date, new questions per day = the questions
    not yet introduced / the days left before the interview less two review-only days (at most 25 a day),
    and the desired retention rises from 0.90 three weeks out to 0.95 in the last three days, so FSRS brings
    cards back before the interview rather than after it."""
    from viva.cli import _console, _load, handle_errors

    with handle_errors():
        questions = _load(bank)
        from viva.plan import make_plan, pacing, parse_date, remaining_new
        from viva.store import Store, utcnow

        now = utcnow()
        today = now.astimezone().date()
        interview = parse_date(interview_date) if interview_date else None
        plan = make_plan(questions.questions, today, days, interview)
        with Store() as store:
            store.save_plan(**plan.to_row())
            pace = pacing(plan, remaining_new(store, questions.questions, now), today)
        console = _console()
        end = f"until {plan.end:%a %d %b}" + (f", interview on {interview:%a %d %b}" if interview else "")
        console.print(f"Plan of {plan.days} day(s) from today {end}:")
        for span in plan.phases:
            first, last = span.first_day + 1, span.last_day + 1
            console.print(f"  day {first}{f'-{last}' if last != first else ''}: {span.phase}")
        console.print(f"Up to {pace.new_per_day} new question(s) a day; 'viva plan' shows progress against it.")


def interview(
    minutes: Annotated[float, typer.Option(min=1, max=180, help="The time budget, in minutes.")] = 20,
    topic: TopicOpt = None,
    typed: Annotated[bool, typer.Option("--type", help="Type answers instead of speaking them.")] = False,
    follow_ups: Annotated[bool, typer.Option(help="Ask a bank follow-up when an answer misses a key concept.")] = True,
    bank: BankOpt = None,
) -> None:
    """A timed mock interview: mixed questions in sequence, a follow-up when an answer misses a key concept,
    no feedback until the end, then a report card (score, time, words per minute, fillers and weakest
    concepts per question). Answers are saved and scheduled like practice; follow-ups are saved only."""
    from viva.cli import _read_line, answering_session, handle_errors

    with handle_errors(), answering_session(bank, topic) as (questions, topics, console, scorer, store):
        from viva.interview import ConsoleInterviewUI, InterviewSession, interview_queue
        from viva.session import TypedAnswers
        from viva.store import utcnow

        queue = interview_queue(questions.questions, store.cards("said"), utcnow(), topics=topics)
        ui = ConsoleInterviewUI(console)
        answers = None if typed else _spoken(console, ui, scorer)
        answers = answers or TypedAnswers(_read_line, ui.show_question)
        console.print(f"Mock interview: {minutes:g} minutes. No feedback until the end; q ends it early.")
        InterviewSession(store, scorer, answers, ui, follow_ups=follow_ups).run(queue, minutes)


def _spoken(console, ui, scorer):
    """The voice pipeline's AnswerSource, or None (typed) when it cannot be imported or there is no microphone."""
    from viva.cli import _read_line

    try:
        from viva.voice import VoiceOptions, build_spoken_answers
    except ImportError as exc:
        console.print(f"[dim]Spoken answers are unavailable ({exc}); typing instead.[/dim]")
        return None
    spoken = build_spoken_answers(console, _read_line, VoiceOptions(), prepare=scorer.plan)
    if spoken is not None:
        spoken.show_question = ui.show_question  # no topic or numbering: an interviewer does not announce them
    return spoken


@export_app.command("anki")
def export_anki(
    out: Annotated[Path, typer.Argument(metavar="OUT.apkg", help="The Anki package file to write.")],
    topic: TopicOpt = None,
    with_audio: Annotated[bool, typer.Option("--with-audio", help="Put each question's speech (espeak-ng) on "
                                                                  "the front.")] = False,
    bank: BankOpt = None,
) -> None:
    """Export questions as an Anki deck: the question on the front, the reference and key concepts on the back,
    one sub-deck per topic, tagged by topic and phase. Re-exporting updates the same notes in Anki."""
    from viva.cli import _check_topics, _load, handle_errors

    with handle_errors():
        questions = _load(bank)
        topics = _check_topics(questions, topic)
        from viva.anki import export_deck

        result = export_deck(questions.select(topics), out, with_audio=with_audio)
        audio = f", {result.audio} audio file(s)" if with_audio else ""
        typer.echo(f"Wrote {result.path}: {result.notes} notes in {result.decks} deck(s){audio}.")


@import_app.command("anki")
def import_anki(
    deck: Annotated[Path, typer.Argument(metavar="DECK.apkg|DECK.txt",
                                         help="An Anki package, or Anki's 'Notes in Plain Text' export.")],
    bank: Annotated[str, typer.Option("--bank", help="Name of the user bank (and topic) to create, e.g. my-deck.")],
) -> None:
    """Turn an Anki deck of Basic front/back notes into a user bank: the front becomes the question, the back
    the reference answer, and key concepts are derived from the back. Notes that cannot be used are skipped
    and counted with the reason."""
    from viva.cli import handle_errors

    with handle_errors():
        from viva.anki import import_deck

        result = import_deck(deck, bank)
        verb = "Replaced" if result.replaced else "Wrote"
        typer.echo(f"{verb} {result.path}: {result.imported} question(s) in topic '{bank}'.")
        for reason, count in result.reasons().items():
            typer.echo(f"Skipped {count}: {reason}.")
        typer.echo(f"Practise them with: viva practice --topic {bank}")
