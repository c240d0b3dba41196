"""Storage faults through the CLI: a read-only data dir, a full disk, a database from a newer viva, a corrupt
one; backup, restore and the automatic backup before a migration.

Every case: one line on stderr naming the file and what to do, exit code 1, no traceback, and nothing
overwritten (compared byte for byte). The read-only and the full data dir are real: a read-only bind
mount and a 1 MB tmpfs (root is needed to mount; without it these tests skip and say so).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability import Child, attempt_ids, check_history
from typer.testing import CliRunner

from viva.cli import app
from viva.domain import Rating
from viva.schedule import Schedule
from viva.store import AttemptRecord, Store, utcnow
from viva.store.migrations import MIGRATIONS

runner = CliRunner()
ANSWER = "It caches the keys and values of earlier tokens so they are not recomputed; memory grows with length."


@pytest.fixture(autouse=True)
def fast_scorer(monkeypatch):
    """`viva practice` in-process without loading the sentence encoder (scoring is not under test here)."""
    import viva.scoring
    from fast_viva import HashEmbedder
    from viva.scoring.scorer import Scorer

    class FastScorer(Scorer):
        def __init__(self, embedder=None):
            super().__init__(embedder or HashEmbedder())

    monkeypatch.setattr(viva.scoring, "Scorer", FastScorer)


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here ({done.stderr.strip()}); the real read-only/full-disk tests need root")


@contextlib.contextmanager
def read_only(folder: Path):
    """``folder`` becomes a read-only bind mount of itself (EROFS even for root)."""
    _mount("--bind", str(folder), str(folder))
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True, capture_output=True)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True, capture_output=True)


@contextlib.contextmanager
def tiny_disk(folder: Path, size: str = "1m"):
    folder.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True, capture_output=True)


def fill(folder: Path) -> Path:
    """Write a filler file until the disk says ENOSPC; delete it to free the space again."""
    filler = folder / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError:
        pass
    try:
        while True:  # the last few bytes, so not even one page fits
            os.write(fd, b"\0" * 512)
    except OSError:
        pass
    os.close(fd)
    return filler


def an_attempt(store: Store, qid: str = "inf-kv-cache-purpose") -> int:
    card, log = Schedule().review(None, Rating.GOOD, utcnow())
    return store.record_attempt(AttemptRecord(question_id=qid, topic="inference", mode="typed", rating="good",
                                              answer_text="kept"), card, log)


def snapshot(home: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(home.iterdir()) if p.is_file() and p.name != "session.lock"}


def one_line_error(result, *parts: str) -> str:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("viva: "), result.stderr
    for part in parts:
        assert part.lower() in lines[0].lower(), (part, lines[0])
    return lines[0]


PRACTICE = ["practice", "--type", "--topic", "inference", "--new", "100"]
COMMANDS = [PRACTICE, ["history"], ["due"], ["backup"], ["progress"]]


# -- read-only data dir ------------------------------------------------------------------------------------
def test_a_read_only_data_dir_is_one_line_per_command_and_nothing_changes(viva_home):
    with Store() as store:
        an_attempt(store)
    before = snapshot(viva_home)
    with read_only(viva_home):
        for command in COMMANDS:
            r = runner.invoke(app, command, input=ANSWER + "\n\n")
            one_line_error(r, str(viva_home), "read-only")
        assert snapshot(viva_home) == before
    with Store() as store:
        assert len(store.attempts()) == 1 and store.integrity_ok()


def test_a_fresh_data_dir_on_a_read_only_disk_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "ro").mkdir()
    monkeypatch.setenv("VIVA_HOME", str(tmp_path / "ro" / "viva"))
    with read_only(tmp_path / "ro"):
        for command in COMMANDS:
            r = runner.invoke(app, command, input="q\n")
            one_line_error(r, "read-only", "VIVA_HOME")


# -- full data dir -----------------------------------------------------------------------------------------
def test_a_disk_that_fills_during_practice_keeps_every_saved_attempt(tmp_path):
    """A real 1 MB tmpfs that fills between two answers: the save fails in one line, nothing is lost."""
    with tiny_disk(tmp_path / "disk") as disk:
        home = disk / "home"
        with Child(PRACTICE, home, stdin=f"{ANSWER}\n\n\n") as child:
            child.wait_stage("committed")
            child.wait_stdout("Type your answer")  # the second question is waiting for its answer
            filler = fill(disk)
            child.write((ANSWER + " ") * 200 + "\n\n")
            assert child.finish() == 1
        errors = [line for line in child.err_lines if line.startswith("viva: ")]
        assert errors == [f"viva: could not save the attempt to {home / 'viva.db'}: database or disk is full; "
                          "free disk space or check the folder's permissions"], child.stderr
        assert "Traceback" not in child.stderr
        # Still full: reading works, writing commands say so in one line, the database is left alone
        # (SQLite's -wal/-shm side files are its own business; what they hold is checked below).
        before = (home / "viva.db").read_bytes()
        with Child(["history"], home) as reader:
            assert reader.finish() == 0 and "inf-" in reader.stdout, reader.stderr
        for command in (PRACTICE, ["backup"]):
            with Child(command, home, stdin="q\n") as again:
                assert again.finish() == 1
            errors = [line for line in again.err_lines if line.startswith("viva: ")]
            assert len(errors) == 1 and "Traceback" not in again.stderr, again.stderr
            assert str(home / "viva.db") in errors[0] and "full" in errors[0] and "free" in errors[0], errors
        assert (home / "viva.db").read_bytes() == before
        filler.unlink()
        assert check_history(home)["attempts"] == 1 == len(attempt_ids(home))
        with Child(PRACTICE, home, stdin=f"{ANSWER}\n\nq\n") as after:  # space again: practice goes on
            assert after.finish() == 0, after.stderr_tail()
        assert len(attempt_ids(home)) == 2


def test_a_backup_that_does_not_fit_leaves_no_partial_file(viva_home, tmp_path):
    with Store() as store:
        for i in range(40):
            an_attempt(store, f"q{i}")
    with tiny_disk(tmp_path / "small", "64k") as small:
        fill(small)
        target = small / "backup.db"
        r = runner.invoke(app, ["backup", "--out", str(target)])
        one_line_error(r, f"could not write the backup {target}", "free disk space")
        assert not target.exists()


# -- newer and corrupt databases ---------------------------------------------------------------------------
def _newer(home: Path) -> Path:
    with Store() as store:
        an_attempt(store)
    db = home / "viva.db"
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO migrations VALUES ('999_future', '2030-01-01')")
    conn.close()
    return db


def test_a_database_from_a_newer_viva_is_refused_by_every_command(viva_home):
    db = _newer(viva_home)
    before = snapshot(viva_home)
    for command in COMMANDS:
        r = runner.invoke(app, command, input="q\n")
        one_line_error(r, f"{db} was written by a newer viva (schema 999_future); upgrade viva")
    assert snapshot(viva_home) == before


def test_a_corrupt_database_is_refused_and_restore_replaces_it_keeping_it_aside(viva_home, tmp_path):
    with Store() as store:
        an_attempt(store)
        store.backup(tmp_path / "good.db")
    db = viva_home / "viva.db"
    raw = bytearray(db.read_bytes())
    raw[4096:8192] = os.urandom(4096)  # page 2 is garbage now
    db.write_bytes(bytes(raw))
    for command in COMMANDS:
        r = runner.invoke(app, command, input="q\n")
        one_line_error(r, f"{db} is not a readable viva database", "run 'viva restore'")
    assert db.read_bytes() == raw
    # The message says to run 'viva restore': that must work on exactly this database.
    r = runner.invoke(app, ["restore", str(tmp_path / "good.db")])
    assert r.exit_code == 0, r.output
    aside = next(viva_home.glob("viva-*-unreadable.db"))
    assert aside.read_bytes() == raw and f"the previous database was saved to {aside}" in r.stdout
    with Store() as store:
        assert [a.answer_text for a in store.attempts()] == ["kept"]


FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@functools.cache
def good_db() -> bytes:
    """A real database with 30 attempts, cards and review logs (built once, in a temp dir)."""
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "viva.db") as store:
        for i in range(30):
            an_attempt(store, f"q{i}")
        store.close()
        return (Path(folder) / "viva.db").read_bytes()


@FUZZ
@given(data=st.data())
def test_damaged_database_files_open_cleanly_or_are_refused_untouched(tmp_path_factory, data):
    """Truncation, zeroed or random pages: never anything but a StoreError, and a refused file is unchanged."""
    from viva.errors import StoreError

    raw = bytearray(good_db())
    kind = data.draw(st.sampled_from(["truncate", "zero", "random"]))
    if kind == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        start = data.draw(st.integers(0, len(raw) - 1))
        size = data.draw(st.sampled_from([1, 16, 512, 4096]))
        end = min(len(raw), start + size)
        raw[start:end] = bytes(end - start) if kind == "zero" else os.urandom(end - start)
    path = tmp_path_factory.mktemp("damaged") / "viva.db"
    path.write_bytes(bytes(raw))
    try:
        with Store(path) as store:
            store.attempts(None), store.cards(), store.review_logs()
    except StoreError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        assert path.read_bytes() == bytes(raw)


# -- backup, restore, migration backup ---------------------------------------------------------------------
def test_backup_then_restore_in_the_same_second_restores_that_backup(viva_home):
    with Store() as store:
        an_attempt(store, "before-backup")
    r = runner.invoke(app, ["backup"])
    assert r.exit_code == 0, r.output
    backup = Path(r.stdout.strip().removeprefix("backed up to "))
    with Store() as store:
        an_attempt(store, "after-backup")
    r = runner.invoke(app, ["restore", str(backup)])  # its own safety copy must not land on `backup`
    assert r.exit_code == 0, r.output
    with Store() as store:
        assert [a.question_id for a in store.attempts()] == ["before-backup"]
    backups = sorted(p.name for p in (viva_home / "backups").iterdir())
    assert len(backups) == 2 and any("before-restore" in name for name in backups)
    saved = next((viva_home / "backups").glob("*before-restore*"))
    with Store(saved) as previous:
        assert {a.question_id for a in previous.attempts()} == {"before-backup", "after-backup"}


def test_restore_refuses_non_backups_and_newer_backups_in_one_line(viva_home, tmp_path):
    with Store() as store:
        an_attempt(store)
    before = snapshot(viva_home)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"SQLite format 3\0" + b"\xff" * 5000)
    one_line_error(runner.invoke(app, ["restore", str(junk)]), f"{junk} is not a viva database backup")
    one_line_error(runner.invoke(app, ["restore", str(tmp_path / "none.db")]), "no such backup file")
    newer_home = tmp_path / "newer"
    with Store(newer_home / "viva.db"):
        pass
    with sqlite3.connect(newer_home / "viva.db") as conn:
        conn.execute("INSERT INTO migrations VALUES ('999_future', '2030-01-01')")
    conn.close()
    one_line_error(runner.invoke(app, ["restore", str(newer_home / "viva.db")]), "written by a newer viva")
    assert snapshot(viva_home) == before


def test_a_pending_migration_backs_the_database_up_first(viva_home):
    """A database from before 002_plans: the first command that opens it copies it to backups/ first."""
    viva_home.mkdir(parents=True)
    db = viva_home / "viva.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    name, sql = MIGRATIONS[0]
    conn.executescript(sql)
    conn.execute("INSERT INTO migrations VALUES (?, '2026-01-01T00:00:00+00:00')", (name,))
    conn.execute("INSERT INTO attempts (created_at, question_id, topic, track, mode, rating) "
                 "VALUES ('2026-01-01T00:00:00+00:00', 'old', 'inference', 'said', 'typed', 'good')")
    conn.close()
    before = db.read_bytes()
    r = runner.invoke(app, ["history"])
    assert r.exit_code == 0 and "old" in r.stdout, r.output
    backup = next((viva_home / "backups").glob(f"viva-*-before-{MIGRATIONS[1][0]}.db"))
    with sqlite3.connect(backup) as old:
        assert [r[0] for r in old.execute("SELECT name FROM migrations")] == [name]
        assert old.execute("SELECT question_id FROM attempts").fetchall() == [("old",)]
        assert old.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    old.close()
    with sqlite3.connect(db) as now:
        assert {r[0] for r in now.execute("SELECT name FROM migrations")} == {n for n, _ in MIGRATIONS}
    now.close()
    assert before != db.read_bytes()
