"""The practice database: SQLite in WAL mode, one transaction per finished attempt.

An attempt, its review-log entry and the card it reschedules are written in one transaction, so a crash
or Ctrl-C leaves either all of them or none, and the schedule can always be re-derived from the log.
A corrupt database, or one written by a newer viva, is reported and never written to.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from viva import paths
from viva.errors import StoreError
from viva.store.migrations import MIGRATIONS
from viva.store.restore import restore_backup
from viva.store.rows import (
    AttemptRecord,
    AttemptRow,
    CardRow,
    iso,
    score_details,
    utcnow,
)

log = logging.getLogger("viva")

MIN_FREE_BYTES = 1 << 20  # below 1 MB free, SQLite cannot even create its WAL index: call the disk full


def _free_bytes(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return MIN_FREE_BYTES


def _reads(what: str):
    """Decorate a reading method: a row that cannot be decoded means a damaged database, reported in one line.

    ``quick_check`` on open checks the file's structure, not what the rows say; a flipped byte in a card's
    JSON passes it and would otherwise surface as a traceback in the middle of a session.
    """
    def wrap(method):
        @functools.wraps(method)
        def reading(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except (sqlite3.DatabaseError, ValueError, KeyError, TypeError) as exc:
                detail = " ".join(str(exc).split())[:120] or exc.__class__.__name__
                raise StoreError(f"{self.path}: the stored {what} cannot be read ({detail}); the database is "
                                 "damaged: restore a backup with 'viva restore FILE'") from None
        return reading
    return wrap


class Store:
    """Facade over the SQLite file. Use as a context manager or call ``close()``."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else paths.db_path()
        self._conn = self._open()

    # -- opening -----------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the data folder {folder}: {exc.strerror}; "
                             "set VIVA_HOME to a writable folder") from None
        existed = self.path.exists() and self.path.stat().st_size > 0
        if not existed and not os.access(folder, os.W_OK):
            raise StoreError(f"the data folder {folder} is read-only; set VIVA_HOME to a writable folder")
        conn = None
        try:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            if existed:
                check = conn.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":  # its report can run to many lines: keep the first problem, on one line
                    problems = [line for line in check.splitlines() if line.strip() and not line.startswith("***")]
                    raise sqlite3.DatabaseError(" ".join((problems or [check])[0].split())[:160])
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, UnicodeDecodeError):  # a damaged page can make the check's own report garbage
                exc = sqlite3.DatabaseError("its integrity check failed")
            raise self._open_error(exc) from None
        try:
            self._migrate(conn, existed)
        except BaseException:
            conn.close()
            raise
        return conn

    def _open_error(self, exc: sqlite3.DatabaseError) -> StoreError:
        """A full disk or a read-only folder is not a corrupt database: say which one it is."""
        code = getattr(exc, "sqlite_errorname", None) or ""
        if code and not code.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
            folder = self.path.parent
            if code.startswith("SQLITE_FULL") or _free_bytes(folder) < MIN_FREE_BYTES:
                why = f"the disk holding {folder} is full"
                fix = "free some disk space and start again"
            elif not os.access(folder, os.W_OK) or not os.access(self.path, os.W_OK):
                why = f"{folder} is read-only"
                fix = "make it writable, or set VIVA_HOME to a writable folder"
            else:
                why = "the disk or the folder's permissions refused it"
                fix = "check the disk and the folder's permissions"
            return StoreError(f"cannot open {self.path}: {why} ({exc}); {fix}. The file was left untouched")
        return StoreError(f"{self.path} is not a readable viva database ({exc}); it was left untouched. "
                          f"Move it aside (or run 'viva restore') and start again")

    def _migrate(self, conn: sqlite3.Connection, existed: bool) -> None:
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
            applied = {row[0] for row in conn.execute("SELECT name FROM migrations")}
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot read its schema ({exc}); it was left untouched") from None
        known = [name for name, _ in MIGRATIONS]
        unknown = sorted(applied - set(known))
        if unknown:
            raise StoreError(
                f"{self.path} was written by a newer viva (schema {unknown[-1]}); upgrade viva to use it. "
                "The file was left untouched"
            )
        pending = [(n, sql) for n, sql in MIGRATIONS if n not in applied]
        if pending and existed and applied:
            self._backup(conn, f"before-{pending[0][0]}")
        for name, sql in pending:
            try:
                conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nINSERT INTO migrations VALUES ('{name}', '{iso(utcnow())}');\nCOMMIT;")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise StoreError(f"{self.path}: migration {name} failed ({exc}); nothing was changed") from None

    def _backup(self, conn: sqlite3.Connection, label: str) -> Path:
        target_dir = paths.backups_dir() if self.path == paths.db_path() else self.path.parent / "backups"
        stem = f"viva-{utcnow():%Y%m%dT%H%M%S}-{label}"
        target = target_dir / f"{stem}.db"
        n = 2
        while target.exists():  # two backups in one second must not overwrite each other
            target, n = target_dir / f"{stem}-{n}.db", n + 1
        return self._copy_to(conn, target)

    def _copy_to(self, conn: sqlite3.Connection, target: Path) -> Path:
        target = Path(target)
        existed = target.exists()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            dest = sqlite3.connect(target)
            try:
                with dest:
                    conn.backup(dest)
                dest.execute("PRAGMA journal_mode=DELETE")  # a backup is one self-contained file, no -wal
            finally:
                dest.close()
        except (OSError, sqlite3.Error) as exc:
            if not existed:  # no half-written backup left behind to be mistaken for a good one
                target.unlink(missing_ok=True)
            reason = exc.strerror if isinstance(exc, OSError) else exc
            raise StoreError(f"could not write the backup {target} ({reason}); free disk space or choose "
                             f"another folder. {self.path} was left untouched") from None
        return target

    def backup(self, target: Path | None = None) -> Path:
        """Copy the whole database (consistent snapshot) to ``target`` or the backups folder."""
        if target is None:
            return self._backup(self._conn, "manual")
        return self._copy_to(self._conn, Path(target))

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- sessions ------------------------------------------------------------------------------
    def start_session(self, mode: str) -> int:
        try:
            cur = self._conn.execute("INSERT INTO sessions (started_at, mode, pid) VALUES (?, ?, ?)",
                                     (iso(utcnow()), mode, os.getpid()))
        except sqlite3.Error as exc:
            raise StoreError(f"could not start a session in {self.path}: {exc}; free disk space or check "
                             "the folder's permissions") from None
        return int(cur.lastrowid)

    def end_session(self, session_id: int) -> None:
        """Best effort: a session without an end time loses nothing, and this runs in ``finally`` blocks."""
        try:
            self._conn.execute("UPDATE sessions SET ended_at = ? WHERE id = ?", (iso(utcnow()), session_id))
        except sqlite3.Error as exc:
            log.warning("could not mark session %s as ended: %s", session_id, exc)

    # -- cards -------------------------------------------------------------------------------
    @_reads("cards")
    def cards(self, track: str = "said") -> dict[str, CardRow]:
        from fsrs import Card

        rows = self._conn.execute(
            "SELECT question_id, track, card_json, due, state, reps, first_seen FROM cards WHERE track = ?", (track,))
        return {
            r[0]: CardRow(r[0], r[1], Card.from_dict(json.loads(r[2])), datetime.fromisoformat(r[3]), r[4], r[5],
                          datetime.fromisoformat(r[6]))
            for r in rows
        }

    @_reads("card")
    def card(self, question_id: str, track: str = "said") -> CardRow | None:
        from fsrs import Card

        r = self._conn.execute(
            "SELECT question_id, track, card_json, due, state, reps, first_seen FROM cards "
            "WHERE question_id = ? AND track = ?", (question_id, track)).fetchone()
        if r is None:
            return None
        return CardRow(r[0], r[1], Card.from_dict(json.loads(r[2])), datetime.fromisoformat(r[3]), r[4], r[5],
                       datetime.fromisoformat(r[6]))

    def new_cards_since(self, since: datetime, track: str = "said") -> int:
        return self._conn.execute("SELECT COUNT(*) FROM cards WHERE track = ? AND first_seen >= ?",
                                  (track, iso(since))).fetchone()[0]

    # -- attempts ----------------------------------------------------------------------------
    def record_attempt(self, attempt: AttemptRecord, card=None, log=None, session_id: int | None = None) -> int:
        """Write the attempt, its review log and the rescheduled card in one transaction; return its id.

        ``card``/``log`` are the fsrs results; ``None`` records an attempt that schedules nothing.
        """
        s = attempt.score
        details = json.dumps(score_details(s, attempt.delivery, attempt.extra), ensure_ascii=False)
        created = iso(attempt.created_at)
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            cur = conn.execute(
                "INSERT INTO attempts (created_at, session_id, question_id, topic, track, mode, answer_text, "
                "transcript, audio_path, score, coverage, precision, length, rating, duration_s, prediction, "
                "details_json) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (created, session_id, attempt.question_id, attempt.topic, attempt.track, attempt.mode,
                 attempt.answer_text, attempt.transcript, attempt.audio_path,
                 s.overall if s else None, s.coverage if s else None, s.precision if s else None,
                 s.length if s else None, attempt.rating, attempt.duration_s, attempt.prediction, details))
            attempt_id = int(cur.lastrowid)
            if card is not None and log is not None:
                card_dict = card.to_dict()
                conn.execute(
                    "INSERT INTO cards (question_id, track, card_json, due, state, reps, first_seen, updated_at) "
                    "VALUES (?,?,?,?,?,1,?,?) ON CONFLICT (question_id, track) DO UPDATE SET "
                    "card_json = excluded.card_json, due = excluded.due, state = excluded.state, "
                    "reps = cards.reps + 1, updated_at = excluded.updated_at",
                    (attempt.question_id, attempt.track, json.dumps(card_dict), iso(card.due), int(card.state),
                     created, created))
                conn.execute(
                    "INSERT INTO review_log (attempt_id, question_id, track, rating, reviewed_at, log_json) "
                    "VALUES (?,?,?,?,?,?)",
                    (attempt_id, attempt.question_id, attempt.track, int(log.rating), iso(log.review_datetime),
                     json.dumps(log.to_dict())))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"could not save the attempt to {self.path}: {exc}; free disk space or "
                             "check the folder's permissions") from None
        return attempt_id

    @_reads("attempts")
    def attempts(self, limit: int | None = 20, *, question_id: str | None = None,
                 track: str | None = None, attempt_id: int | None = None) -> list[AttemptRow]:
        """Attempts, newest first."""
        where, args = [], []
        if attempt_id is not None:
            where.append("id = ?")
            args.append(attempt_id)
        if question_id:
            where.append("question_id = ?")
            args.append(question_id)
        if track:
            where.append("track = ?")
            args.append(track)
        sql = ("SELECT id, created_at, question_id, topic, track, mode, answer_text, transcript, audio_path, score, "
               "coverage, precision, length, rating, duration_s, prediction, details_json FROM attempts")
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [AttemptRow(r[0], datetime.fromisoformat(r[1]), *r[2:16], json.loads(r[16] or "{}"))
                for r in self._conn.execute(sql, args)]

    def attempt(self, attempt_id: int) -> AttemptRow | None:
        rows = self.attempts(1, attempt_id=attempt_id)
        return rows[0] if rows else None

    def audio_names(self) -> set[str]:
        """File names of every recording an attempt links to."""
        return {Path(r[0]).name for r in self._conn.execute(
            "SELECT audio_path FROM attempts WHERE audio_path IS NOT NULL AND audio_path != ''")}

    @_reads("review log")
    def review_logs(self, track: str = "said") -> list[tuple[str, int, datetime]]:
        return [(r[0], r[1], datetime.fromisoformat(r[2])) for r in self._conn.execute(
            "SELECT question_id, rating, reviewed_at FROM review_log WHERE track = ? ORDER BY id", (track,))]

    def integrity_ok(self) -> bool:
        return self._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def due_counts(self, now: datetime, days: int, track: str = "said") -> list[int]:
        """Cards due today (including overdue) and on each of the following ``days - 1`` days."""
        counts = [0] * days
        start = now.astimezone(timezone.utc)
        for row in self.cards(track).values():
            delta = (row.due - start).total_seconds() / 86_400
            idx = 0 if delta <= 0 else int(delta // 1) if delta < days else None
            if idx is not None and idx < days:
                counts[idx] += 1
        return counts

    # -- plans (two-week study plan) -------------------------------------------------------------
    def save_plan(self, start_date: str, days: int, interview_date: str | None, phases: list[dict]) -> int:
        """Store a new study plan (dates as local ISO dates); the newest plan is the current one."""
        try:
            cur = self._conn.execute(
                "INSERT INTO plans (created_at, start_date, days, interview_date, phases_json) VALUES (?,?,?,?,?)",
                (iso(utcnow()), start_date, days, interview_date, json.dumps(phases)))
        except sqlite3.Error as exc:
            raise StoreError(f"could not save the plan to {self.path}: {exc}") from None
        return int(cur.lastrowid)

    @_reads("plan")
    def latest_plan(self) -> dict | None:
        """The current plan as a dict (start_date, days, interview_date, phases), or None."""
        r = self._conn.execute("SELECT id, created_at, start_date, days, interview_date, phases_json FROM plans "
                               "ORDER BY id DESC LIMIT 1").fetchone()
        if r is None:
            return None
        return {"id": r[0], "created_at": datetime.fromisoformat(r[1]), "start_date": r[2], "days": r[3],
                "interview_date": r[4], "phases": json.loads(r[5])}


__all__ = ["AttemptRecord", "AttemptRow", "CardRow", "Store", "restore_backup", "utcnow"]
