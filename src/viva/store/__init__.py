"""The practice database: SQLite in WAL mode, one transaction per finished attempt.

An attempt, its review-log entry and the card it reschedules are written in one transaction, so a crash
or Ctrl-C leaves either all of them or none, and the schedule can always be re-derived from the log.
A corrupt database, or one written by a newer viva, is reported and never written to.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from viva import paths
from viva.domain import Delivery, Score
from viva.errors import StoreError
from viva.store.migrations import MIGRATIONS


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        raise ValueError("naive datetime: viva stores timezone-aware UTC times")
    return dt.astimezone(timezone.utc).isoformat()


@dataclass(frozen=True)
class CardRow:
    question_id: str
    track: str
    card: object  # fsrs.Card
    due: datetime
    state: int
    reps: int
    first_seen: datetime


@dataclass(frozen=True)
class AttemptRecord:
    """A finished attempt as it is written to the store."""

    question_id: str
    topic: str
    mode: str  # typed | spoken | review | interview
    rating: str
    track: str = "said"
    answer_text: str = ""
    transcript: str | None = None
    audio_path: str | None = None
    score: Score | None = None
    duration_s: float | None = None
    prediction: str | None = None
    delivery: Delivery | None = None
    extra: dict = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class AttemptRow:
    id: int
    created_at: datetime
    question_id: str
    topic: str
    track: str
    mode: str
    answer_text: str
    transcript: str | None
    audio_path: str | None
    score: float | None
    coverage: float | None
    precision: float | None
    length: float | None
    rating: str
    duration_s: float | None
    prediction: str | None
    details: dict


def _score_details(score: Score | None, delivery: Delivery | None, extra: dict) -> dict:
    details: dict = dict(extra)
    if score is not None:
        details.update(
            hits=[{"concept": h.concept.name, "status": h.status, "similarity": round(h.similarity, 4),
                   "evidence": h.evidence} for h in score.hits],
            flags=list(score.flags), notes=list(score.notes), fixes=list(score.fixes),
            length_verdict=score.length_verdict, dont_know=score.dont_know,
            contradictions=list(score.contradictions), similarity=round(score.similarity, 4),
        )
    if delivery is not None:
        details["delivery"] = {"speaking_s": delivery.speaking_s, "words": delivery.words,
                               "words_per_minute": delivery.words_per_minute,
                               "fillers": list(delivery.fillers), "long_pauses": delivery.long_pauses}
    return details


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
        try:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            if existed:
                check = conn.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    raise sqlite3.DatabaseError(check)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{self.path} is not a readable viva database ({exc}); it was left untouched. "
                f"Move it aside (or run 'viva restore') and start again"
            ) from None
        self._migrate(conn, existed)
        return conn

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
                conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nINSERT INTO migrations VALUES ('{name}', '{_iso(utcnow())}');\nCOMMIT;")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise StoreError(f"{self.path}: migration {name} failed ({exc}); nothing was changed") from None

    def _backup(self, conn: sqlite3.Connection, label: str) -> Path:
        target_dir = paths.backups_dir() if self.path == paths.db_path() else self.path.parent / "backups"
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / f"viva-{utcnow():%Y%m%dT%H%M%S}-{label}.db"
        dest = sqlite3.connect(target)
        with dest:
            conn.backup(dest)
        dest.close()
        return target

    def backup(self, target: Path | None = None) -> Path:
        """Copy the whole database (consistent snapshot) to ``target`` or the backups folder."""
        if target is None:
            return self._backup(self._conn, "manual")
        dest = sqlite3.connect(target)
        with dest:
            self._conn.backup(dest)
        dest.close()
        return Path(target)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- sessions ------------------------------------------------------------------------------
    def start_session(self, mode: str) -> int:
        cur = self._conn.execute("INSERT INTO sessions (started_at, mode, pid) VALUES (?, ?, ?)",
                                 (_iso(utcnow()), mode, os.getpid()))
        return int(cur.lastrowid)

    def end_session(self, session_id: int) -> None:
        self._conn.execute("UPDATE sessions SET ended_at = ? WHERE id = ?", (_iso(utcnow()), session_id))

    # -- cards -------------------------------------------------------------------------------
    def cards(self, track: str = "said") -> dict[str, CardRow]:
        from fsrs import Card

        rows = self._conn.execute(
            "SELECT question_id, track, card_json, due, state, reps, first_seen FROM cards WHERE track = ?", (track,))
        return {
            r[0]: CardRow(r[0], r[1], Card.from_dict(json.loads(r[2])), datetime.fromisoformat(r[3]), r[4], r[5],
                          datetime.fromisoformat(r[6]))
            for r in rows
        }

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
                                  (track, _iso(since))).fetchone()[0]

    # -- attempts ----------------------------------------------------------------------------
    def record_attempt(self, attempt: AttemptRecord, card=None, log=None, session_id: int | None = None) -> int:
        """Write the attempt, its review log and the rescheduled card in one transaction; return its id.

        ``card``/``log`` are the fsrs results; ``None`` records an attempt that schedules nothing.
        """
        s = attempt.score
        details = json.dumps(_score_details(s, attempt.delivery, attempt.extra), ensure_ascii=False)
        created = _iso(attempt.created_at)
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
                    (attempt.question_id, attempt.track, json.dumps(card_dict), _iso(card.due), int(card.state),
                     created, created))
                conn.execute(
                    "INSERT INTO review_log (attempt_id, question_id, track, rating, reviewed_at, log_json) "
                    "VALUES (?,?,?,?,?,?)",
                    (attempt_id, attempt.question_id, attempt.track, int(log.rating), _iso(log.review_datetime),
                     json.dumps(log.to_dict())))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"could not save the attempt to {self.path}: {exc}; free disk space or "
                             "check the folder's permissions") from None
        return attempt_id

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


def restore_backup(backup: Path, target: Path | None = None) -> Path | None:
    """Check that ``backup`` is a viva database this version can read, then put it in place.

    The current database, if any, is backed up first; returns where it went.
    """
    backup, target = Path(backup), Path(target) if target else paths.db_path()
    if not backup.is_file():
        raise StoreError(f"{backup}: no such backup file")
    try:
        conn = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        ok = conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        names = {r[0] for r in conn.execute("SELECT name FROM migrations")}
        conn.close()
    except sqlite3.Error:
        ok, names = False, set()
    if not ok or not names:
        raise StoreError(f"{backup} is not a viva database backup; nothing was changed")
    unknown = names - {n for n, _ in MIGRATIONS}
    if unknown:
        raise StoreError(f"{backup} was written by a newer viva (schema {sorted(unknown)[-1]}); nothing was changed")
    saved = None
    if target.exists():
        with Store(target) as current:
            saved = current.backup(None) if target == paths.db_path() else current.backup(
                target.with_suffix(".before-restore.db"))
    tmp = target.with_suffix(".restoring")
    src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    dest = sqlite3.connect(tmp)
    with dest:
        src.backup(dest)
    src.close()
    dest.close()
    for suffix in ("-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    os.replace(tmp, target)
    return saved


__all__ = ["AttemptRecord", "AttemptRow", "CardRow", "Store", "restore_backup", "utcnow"]
