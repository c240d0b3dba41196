"""Shared by the reliability tests: a viva child process to watch and kill, and the history invariants.

``Child`` runs ``tests/fast_viva.py`` (the real CLI, fast encoder) with ``VIVA_LOG=debug``, reads its stdout
and stderr on threads, and lets a test wait for a line (e.g. ``stage: scoring``) and then SIGKILL it.
``check_history`` asserts what must hold after any crash: integrity, all-or-nothing attempts, a schedule
that replaying the review log through fsrs reproduces, and recordings that exist.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

FAST_VIVA = Path(__file__).resolve().parent / "fast_viva.py"
STAGE = re.compile(r"^viva DEBUG stage: (\S+)")


class Child:
    """One ``viva`` process with piped stdio; stderr is kept line by line, stdout as text."""

    def __init__(self, args: list[str], home: Path, *, env: dict | None = None, stdin: str | None = None,
                 real: bool = False):
        """``real``: run plain ``python -m viva`` (the real encoder too) instead of ``tests/fast_viva.py``."""
        full_env = {**os.environ, **(env or {}), "VIVA_HOME": str(home), "VIVA_LOG": "debug",
                    "PYTHONUNBUFFERED": "1", "COLUMNS": "100"}
        self.started = time.monotonic()
        program = ["-m", "viva"] if real else [str(FAST_VIVA)]
        self.proc = subprocess.Popen([sys.executable, *program, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env)
        self.err_lines: list[str] = []
        self._out = bytearray()
        self._changed = threading.Condition()
        self._threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, False), daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, True), daemon=True)]
        for t in self._threads:
            t.start()
        if stdin:
            self.write(stdin)

    def _pump(self, stream, is_err: bool) -> None:
        pending = b""
        while True:
            chunk = os.read(stream.fileno(), 65536)
            with self._changed:
                if is_err:
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    if not chunk and pending:
                        lines, pending = [*lines, pending], b""
                    self.err_lines.extend(x.decode("utf-8", "replace") for x in lines)
                else:
                    self._out.extend(chunk)
                self._changed.notify_all()
            if not chunk:
                return

    @property
    def stdout(self) -> str:
        with self._changed:
            return self._out.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        with self._changed:
            return "\n".join(self.err_lines)

    def stages(self) -> list[str]:
        with self._changed:
            return [m.group(1) for m in map(STAGE.match, self.err_lines) if m]

    def write(self, text: str) -> None:
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def wait_for(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._alive_pumps()):
                    raise AssertionError(f"timed out waiting for {what}; stderr:\n{self.stderr_tail()}\n"
                                         f"stdout tail:\n{self._out.decode('utf-8', 'replace')[-1500:]}")
                self._changed.wait(min(left, 0.05))

    def _alive_pumps(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def stderr_tail(self) -> str:
        return "\n".join(self.err_lines[-30:])

    def wait_stage(self, name: str, count: int = 1, timeout: float = 60) -> None:
        """Wait until the ``count``-th ``stage: <name>`` line has been written."""
        self.wait_for(lambda: sum(1 for m in map(STAGE.match, self.err_lines) if m and m.group(1) == name)
                      >= count, timeout, f"'stage: {name}' #{count}")

    def wait_stdout(self, text: str, timeout: float = 60) -> None:
        self.wait_for(lambda: text in self._out.decode("utf-8", "replace"), timeout, repr(text))

    def kill(self) -> int:
        self.proc.send_signal(signal.SIGKILL)
        return self.finish(30)

    def finish(self, timeout: float = 90) -> int:
        """Close stdin and wait; returns the exit code (negative: killed by that signal)."""
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"viva did not exit within {timeout} s; stderr:\n{self.stderr_tail()}")
        for t in self._threads:
            t.join(10)
        return rc

    def __enter__(self) -> "Child":
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@contextmanager
def db(home: Path):
    conn = sqlite3.connect(home / "viva.db")
    try:
        yield conn
    finally:
        conn.close()


def _replayed(logs: list[tuple[int, str]], fuzz_point: float | None):
    """The card fsrs gives for these (rating, log_json) reviews; ``fuzz_point`` pins fsrs's random fuzz."""
    import fsrs
    import fsrs.scheduler

    from viva.schedule import DESIRED_RETENTION, LEARNING_STEPS, RELEARNING_STEPS

    scheduler = fsrs.Scheduler(desired_retention=DESIRED_RETENTION, learning_steps=LEARNING_STEPS,
                               relearning_steps=RELEARNING_STEPS, enable_fuzzing=fuzz_point is not None)
    real_random = fsrs.scheduler.random
    fsrs.scheduler.random = lambda: fuzz_point
    try:
        card = None
        for rating, raw in logs:
            entry = json.loads(raw)
            when = datetime.fromisoformat(entry["review_datetime"])
            if card is None:
                card = fsrs.Card(card_id=entry["card_id"], due=when)
            card, _ = scheduler.review_card(card, fsrs.Rating(rating), when, entry["review_duration"])
        return card
    finally:
        fsrs.scheduler.random = real_random


def check_history(home: Path) -> dict:
    """Assert the invariants that must survive any crash; return counts for the caller's own checks.

    * ``PRAGMA integrity_check`` is ok;
    * all-or-nothing: every review-log entry belongs to an attempt of the same question, and every card's
      ``reps`` equals the number of its review-log entries;
    * the schedule is re-derivable: replaying each card's review log through fsrs gives the stored card
      (state, step, stability, difficulty, last review exactly; due within fsrs's fuzz range);
    * every attempt's ``audio_path`` exists.
    """
    with db(home) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        attempts = {r[0]: r for r in conn.execute("SELECT id, question_id, track, audio_path, details_json "
                                                    "FROM attempts")}
        logs = conn.execute("SELECT attempt_id, question_id, track, rating, log_json FROM review_log "
                            "ORDER BY id").fetchall()
        cards = {(r[0], r[1]): r for r in conn.execute("SELECT question_id, track, card_json, due, state, reps "
                                                        "FROM cards")}
    by_card: dict[tuple[str, str], list] = {}
    for attempt_id, qid, track, rating, raw in logs:
        assert attempt_id in attempts, f"review log for missing attempt {attempt_id}"
        assert attempts[attempt_id][1:3] == (qid, track)
        by_card.setdefault((qid, track), []).append((rating, raw))
    assert len({a for a, *_ in logs}) == len(logs), "an attempt has two review-log entries"
    for attempt_id, (_, qid, track, audio, details) in attempts.items():
        scheduled = any(a == attempt_id for a, *_ in logs)
        retry = "retry_of" in json.loads(details or "{}")
        assert scheduled != retry, f"attempt {attempt_id}: scheduled={scheduled}, retry={retry}"
        if audio:
            assert Path(audio).is_file(), f"attempt {attempt_id} links a missing recording {audio}"
    assert set(by_card) == set(cards), "cards and review log disagree on which questions were reviewed"
    from fsrs import Card

    for key, (_, _, card_json, due, state, reps) in cards.items():
        stored = Card.from_dict(json.loads(card_json))
        assert reps == len(by_card[key]), key
        assert (stored.due.isoformat(), int(stored.state)) == (datetime.fromisoformat(due).isoformat(), state)
        low, high = _replayed(by_card[key], 0.0), _replayed(by_card[key], 0.999999)
        for field in ("card_id", "state", "step", "last_review"):
            assert getattr(stored, field) == getattr(low, field), (key, field)
        for field in ("stability", "difficulty"):
            assert abs(getattr(stored, field) - getattr(low, field)) < 1e-9, (key, field)
        assert low.due <= stored.due <= high.due, (key, stored.due, low.due, high.due)
    return {"attempts": len(attempts), "reviews": len(logs), "cards": len(cards)}


def attempt_ids(home: Path) -> list[int]:
    with db(home) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM attempts ORDER BY id")]
