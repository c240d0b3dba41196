"""The command line: the only place that imports typer, builds concrete backends and sets exit codes."""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Iterator, Optional

import os

import typer

from viva import __version__, cli_learn, cli_voice
from viva.errors import VivaError

# Models load from local files only, and quietly: no hub calls, no progress bars over the prompt.
for _key, _value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                     ("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("TRANSFORMERS_VERBOSITY", "error"),
                     ("TOKENIZERS_PARALLELISM", "false")):
    os.environ.setdefault(_key, _value)

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
                  context_settings={"max_content_width": 120},
                  help="viva: an offline mock-interview voice coach. Hear a question, answer out loud, "
                       "get graded against a reference answer, and review on a spaced-repetition schedule.")
bank_app = typer.Typer(no_args_is_help=True, help="Check and count the question banks.")
app.add_typer(bank_app, name="bank")

BankOpt = Annotated[Optional[list[Path]], typer.Option(
    "--bank", help="Load this extra bank file or folder too (repeatable).")]
TopicOpt = Annotated[Optional[list[str]], typer.Option(
    "--topic", help="Only questions of this topic id (repeatable), e.g. inference.")]


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


@contextlib.contextmanager
def handle_errors() -> Iterator[None]:
    """Turn a VivaError into one readable line on stderr and exit code 1; Ctrl-C into exit 130."""
    try:
        yield
    except VivaError as exc:
        for line in str(exc).splitlines() or [exc.__class__.__name__]:
            typer.echo(f"viva: {line}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("\nviva: interrupted; every finished attempt is saved.", err=True)
        raise typer.Exit(130) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"viva {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """viva: an offline mock-interview voice coach for ML/LLM engineering interviews."""


def _load(extra: list[Path] | None):
    from viva.bank import load_bank

    return load_bank(extra or [])


def _check_topics(bank, topics: list[str] | None) -> tuple[str, ...]:
    if not topics:
        return ()
    known = sorted({q.topic for q in bank.questions})
    unknown = [t for t in topics if t not in known]
    if unknown:
        raise VivaError(f"unknown topic '{unknown[0]}'; choose from: {', '.join(known)}")
    return tuple(topics)


@app.command()
def practice(
    typed: Annotated[bool, typer.Option("--type", help="Type answers instead of speaking them.")] = False,
    topic: TopicOpt = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help="Ask at most this many questions.")] = None,
    new: Annotated[Optional[int], typer.Option(
        min=0, help="At most this many new questions today (default 10, or the pace of a running 'viva plan').")] = None,
    bank: BankOpt = None,
    predict: Annotated[bool, typer.Option(
        "--predict", help="Before each question, say whether you know it; 'viva progress' compares that with "
                          "how the answer went.")] = False,
    tts: Annotated[str, typer.Option("--tts", help="Speech engine for the questions: auto (Piper if installed), "
                                                  "piper, espeak or none.")] = "auto",
    voice: Annotated[Optional[str], typer.Option("--voice", help="espeak-ng voice, e.g. en-us or en-gb "
                                                                 "(implies --tts espeak unless --tts is given).")] = None,
    rate: Annotated[int, typer.Option("--rate", min=80, max=400, help="Speaking rate in words per minute.")] = 175,
    no_speak: Annotated[bool, typer.Option("--no-speak", help="Show the questions without speaking them.")] = False,
    speak_feedback: Annotated[bool, typer.Option("--speak-feedback",
                                                 help="Also speak the verdict: score and the concept to fix first.")] = False,
    engine: Annotated[str, typer.Option("--engine", help="Transcription engine: faster-whisper or "
                                                         "openai-whisper.")] = "faster-whisper",
    model: Annotated[Optional[str], typer.Option("--model", help="Whisper model name or folder, e.g. tiny.en or "
                                                                 "base; default: the best one installed.")] = None,
    silence: Annotated[float, typer.Option("--silence", min=0.5, max=10.0,
                                           help="Seconds of silence that end a spoken answer.")] = 2.0,
    max_seconds: Annotated[float, typer.Option("--max-seconds", min=5, max=900,
                                               help="Longest spoken answer, in seconds.")] = 180.0,
    stream: Annotated[bool, typer.Option("--stream/--no-stream",
                                         help="Transcribe while you speak, so feedback follows the end of the "
                                              "answer at once; --no-stream transcribes it in one pass "
                                              "afterwards.")] = True,
) -> None:
    """Practise: due questions first, then new ones; each answer is scored, saved and rescheduled."""
    with handle_errors(), answering_session(bank, topic) as (questions, topics, console, scorer, store):
        from viva.plan import practice_settings
        from viva.schedule import NEW_PER_DAY, Schedule
        from viva.session import PracticeOptions, PracticeSession, TypedAnswers, build_queue
        from viva.store import utcnow
        from viva.ui import ConsoleUI

        plan = practice_settings(store, questions.questions, utcnow(), NEW_PER_DAY if new is None else new)
        options = PracticeOptions(topics=topics, limit=limit, phase_order=plan.phase_order,
                                  new_per_day=plan.new_per_day if new is None else new)
        queue = build_queue(questions.questions, store, options, utcnow())
        if not queue:
            console.print("Nothing is due and today's new questions are done. 'viva due' shows what comes next.")
            return
        ui = ConsoleUI(console, _read_line)
        answers = TypedAnswers(_read_line, ui.show_question)
        mode = "typed"
        # --- voice begin (owned by the voice pipeline) ---
        if not typed:
            from viva.audio.recorder import RecordOptions
            from viva.voice import SpeakingUI, VoiceOptions, build_spoken_answers

            vopts = VoiceOptions(tts="espeak" if voice and tts == "auto" else tts, voice=voice, rate_wpm=rate,
                                 speak=not no_speak, speak_feedback=speak_feedback, engine=engine, model=model,
                                 record=RecordOptions(trailing_silence_s=silence, max_s=max_seconds),
                                 streaming=stream)
            spoken = build_spoken_answers(console, _read_line, vopts, prepare=scorer.plan)
            if spoken is not None:
                answers, mode = spoken, "spoken"
                if speak_feedback:
                    ui = SpeakingUI(ui, spoken.speaker)
        # --- voice end ---
        if predict:
            from viva.review import PredictingAnswers

            answers = PredictingAnswers(answers, _read_line)
        schedule = Schedule(plan.desired_retention)
        PracticeSession(store, scorer, answers, ui, schedule=schedule).run(queue, mode=mode)


@contextlib.contextmanager
def answering_session(bank: list[Path] | None, topic: list[str] | None):
    """What practice and interview share: the banks and checked topics, the console, a scorer whose encoder
    loads in the background, the session lock, and the store with interrupted recordings swept aside.
    Yields ``(questions, topics, console, scorer, store)``."""
    questions = _load(bank)
    topics = _check_topics(questions, topic)
    from viva.lock import session_lock
    from viva.scoring import Scorer
    from viva.store import Store

    console = _console()
    scorer = Scorer()
    with warming(scorer), session_lock(), Store() as store:
        sweep_recordings(store, console)
        yield questions, topics, console, scorer, store


def sweep_recordings(store, console) -> None:
    """At session start (under the lock): recordings of answers a crash interrupted move aside, with a note."""
    from viva.recordings import sweep_unlinked

    moved = sweep_unlinked(store.audio_names())
    if moved:
        what = "1 recording of an interrupted answer" if len(moved) == 1 else \
            f"{len(moved)} recordings of interrupted answers"
        console.print(f"viva: moved {what} (never saved as an attempt) to {moved[0].parent}", soft_wrap=True,
                      highlight=False)


def _read_line(prompt: str) -> str:
    sys.stdout.write(prompt)
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\n")


@contextlib.contextmanager
def warming(scorer) -> Iterator[None]:
    """Load the encoder in the background while the user reads or hears the first question.

    The thread is joined on the way out: a process that exits while torch is still loading aborts.
    """
    import threading

    thread = threading.Thread(target=_quiet_warm, args=(scorer,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


def _quiet_warm(scorer) -> None:
    with contextlib.suppress(Exception):  # a failure here resurfaces, with its message, on first use
        scorer.warm()


@app.command()
def grade(
    file: Annotated[str, typer.Argument(help="A JSON-lines file of {question, reference, answer[, concepts, also_accept, id]}, "
                                            "or - for standard input.")],
    out: Annotated[Optional[Path], typer.Option("--out", help="Write the graded lines to this file.")] = None,
) -> None:
    """Grade answers in batch: one JSON line out per line in, with score, sub-scores, rating and missed concepts."""
    with handle_errors():
        from viva.grade import GradeError, parse_lines, result_record
        from viva.scoring import Scorer

        if file == "-":
            lines, source = sys.stdin.read().splitlines(), "-"
        else:
            path = Path(file)
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                raise VivaError(f"{path}: no such file") from None
            except UnicodeDecodeError:
                raise VivaError(f"{path}: not UTF-8 text; save it as UTF-8 JSON lines") from None
            except OSError as exc:
                raise VivaError(f"{path}: cannot read ({exc.strerror})") from None
            source = str(path)
        parsed = list(parse_lines(lines, source))
        good = [(q, rec) for _, q, rec in parsed if q is not None]
        failures = [rec for _, q, rec in parsed if isinstance(rec, GradeError)]
        scores = iter(Scorer().score_many([(q, rec["answer"]) for q, rec in good]) if good else [])
        try:
            sink = out.open("w", encoding="utf-8") if out else sys.stdout
        except OSError as exc:
            raise VivaError(f"{out}: cannot write the graded lines ({exc.strerror}); choose another --out file") \
                from None
        try:
            for _, q, rec in parsed:
                if isinstance(rec, GradeError):
                    typer.echo(f"viva: {rec.message}", err=True)
                else:
                    sink.write(json.dumps(result_record(rec, next(scores)), ensure_ascii=False) + "\n")
        finally:
            if out:
                sink.close()
        if failures:
            typer.echo(f"viva: {len(failures)} of {len(parsed)} lines could not be graded", err=True)
            raise typer.Exit(1)


@bank_app.command("check")
def bank_check(
    paths_: Annotated[Optional[list[Path]], typer.Argument(
        metavar="[PATH]...", help="Bank files or folders to check; default: the built-in and user banks.")] = None,
) -> None:
    """Validate question banks and report every problem as FILE:LINE: question 'ID': what is wrong."""
    with handle_errors():
        from viva.bank import bank_files, check_files

        files = bank_files(paths_ or [], builtin=not paths_, user=not paths_)
        questions, problems = check_files(files)
        for p in problems:
            typer.echo(p, err=True)
        if problems:
            typer.echo(f"{len(problems)} problem(s) in {len(files)} file(s)", err=True)
            raise typer.Exit(1)
        typer.echo(f"ok: {len(questions)} questions in {len(files)} file(s)")


@bank_app.command("stats")
def bank_stats(
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as one JSON object.")] = False,
    bank: BankOpt = None,
) -> None:
    """Count the questions per topic, kind, difficulty and phase."""
    with handle_errors():
        from viva.bank import stats

        counts = stats(_load(bank).questions)
        if as_json:
            typer.echo(json.dumps(counts))
            return
        from rich.table import Table

        console = _console()
        console.print(f"{counts['total']} questions")
        for key, title in (("by_topic", "topic"), ("by_kind", "kind"), ("by_difficulty", "difficulty"),
                           ("by_phase", "phase")):
            table = Table(title=f"by {title}", title_justify="left")
            table.add_column(title)
            table.add_column("questions", justify="right")
            for name, n in counts[key].items():
                table.add_row(name, str(n))
            console.print(table)


@app.command()
def due(days: Annotated[int, typer.Option(min=1, max=365, help="How many days ahead to count.")] = 14) -> None:
    """Show how many reviews are due today and on each of the next days."""
    with handle_errors():
        from viva.store import Store, utcnow

        now = utcnow()
        with Store() as store:
            counts = store.due_counts(now, days, "said")
            recog = store.due_counts(now, days, "recognized")
        console = _console()
        console.print(f"Due now: {counts[0]} to say aloud, {recog[0]} to recognize.")
        from rich.table import Table

        table = Table(title=f"reviews over the next {days} days", title_justify="left")
        table.add_column("day")
        table.add_column("say aloud", justify="right")
        table.add_column("recognize", justify="right")
        for i in range(days):
            day = (now + timedelta(days=i)).astimezone().strftime("%a %d %b")
            table.add_row("today" if i == 0 else day, str(counts[i]), str(recog[i]))
        console.print(table)


@app.command()
def history(
    limit: Annotated[int, typer.Option(min=1, help="How many recent attempts to show.")] = 20,
    question: Annotated[Optional[str], typer.Option(help="Only attempts at this question id.")] = None,
) -> None:
    """List recent attempts with their scores and ratings."""
    with handle_errors():
        from rich.table import Table

        from viva.store import Store

        with Store() as store:
            rows = store.attempts(limit, question_id=question)
        console = _console()
        if not rows:
            console.print("No attempts yet: run 'viva practice' to start.")
            return
        table = Table(title="recent attempts", title_justify="left")
        for col in ("id", "when", "question", "mode", "score", "rating", "missed"):
            table.add_column(col)
        for a in rows:
            missed = [h["concept"] for h in a.details.get("hits", []) if h["status"] == "missed"]
            table.add_row(str(a.id), a.created_at.astimezone().strftime("%Y-%m-%d %H:%M"), a.question_id, a.mode,
                          "-" if a.score is None else f"{a.score:.0f}", a.rating, ", ".join(missed))
        console.print(table)


@app.command()
def backup(
    out: Annotated[Optional[Path], typer.Option("--out", help="Write the backup to this file instead of the "
                                                "backups folder.")] = None,
) -> None:
    """Copy the practice database (a consistent snapshot, safe while practising) to a backup file."""
    with handle_errors():
        from viva.store import Store

        with Store() as store:
            target = store.backup(out)
        typer.echo(f"backed up to {target}")


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="A backup made by 'viva backup' (or found in the backups folder).")],
) -> None:
    """Replace the practice database with a backup; the current one is backed up first."""
    with handle_errors():
        from viva.lock import session_lock
        from viva.store import restore_backup

        with session_lock():  # replacing the database under a running session would lose its attempts
            saved = restore_backup(file)
        typer.echo(f"restored {file}" + (f"; the previous database was saved to {saved}" if saved else ""))


@app.command()
def doctor() -> None:
    """Check what is installed and working (bank, database, models, speech, audio), each with a fix hint."""
    with handle_errors():
        from viva.doctor import run_checks

        console = _console()
        failed = 0
        for check in run_checks():
            mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
            console.print(f"{mark} {check.name}: {check.detail}")
            if not check.ok:
                failed += 1
                console.print(f"       fix: {check.fix}")
        if failed:
            raise typer.Exit(1)


LOG_ENV = "VIVA_LOG"  # e.g. VIVA_LOG=debug: diagnostics (and the practice loop's stage lines) on stderr


def _configure_logging() -> None:
    level = os.environ.get(LOG_ENV, "").strip().upper()
    if not level:
        return
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("viva %(levelname)s %(message)s"))
    logger = logging.getLogger("viva")
    logger.addHandler(handler)
    logger.propagate = False  # a library may have configured the root logger: one line per record
    logger.setLevel(level if isinstance(logging.getLevelName(level), int) else logging.DEBUG)


# Commands of the other stages, after the core ones so that `viva --help` lists practice first.
cli_voice.register(app)
cli_learn.register(app)


def main() -> None:
    """Console-script entry point."""
    _configure_logging()
    app(prog_name="viva")
