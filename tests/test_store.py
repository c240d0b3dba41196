"""Store: migrations, round trips, one transaction per attempt, refusing corrupt or newer databases."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from viva.domain import Concept, ConceptHit, Rating, Score
from viva.errors import StoreError
from viva.schedule import Schedule
from viva.store import AttemptRecord, Store, utcnow
from viva.store.migrations import MIGRATIONS


def a_score(overall=72.0, rating=Rating.GOOD):
    c = Concept("keys and values")
    return Score(overall=overall, coverage=0.8, precision=0.9, length=1.0, rating=rating,
                 hits=(ConceptHit(c, "hit", 0.91, "keys and values"), ConceptHit(Concept("prefix"), "missed", 0.2)),
                 flags=("vague",), notes=('"it gets big"',))


def test_fresh_db_is_migrated_in_wal_mode(viva_home):
    with Store() as store:
        assert store.path == viva_home / "viva.db"
        names = [r[0] for r in store._conn.execute("SELECT name FROM migrations ORDER BY name")]
        assert names == [n for n, _ in MIGRATIONS]
        assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_attempt_card_and_log_round_trip(viva_home):
    now = utcnow()
    sched = Schedule(fuzz=False)
    with Store() as store:
        card, log = sched.review(None, Rating.GOOD, now)
        record = AttemptRecord(question_id="kv-cache", topic="inference", mode="typed", rating="good",
                               answer_text="keys and values", score=a_score(), duration_s=12.5, created_at=now)
        attempt_id = store.record_attempt(record, card, log)
        row = store.attempts()[0]
        assert row.id == attempt_id and row.question_id == "kv-cache" and row.mode == "typed"
        assert (row.score, row.coverage, row.precision, row.length, row.rating) == (72.0, 0.8, 0.9, 1.0, "good")
        assert row.details["hits"][1] == {"concept": "prefix", "status": "missed", "similarity": 0.2, "evidence": ""}
        assert row.details["notes"] == ['"it gets big"']
        stored = store.card("kv-cache")
        assert stored.reps == 1 and stored.due == card.due
        assert store.review_logs() == [("kv-cache", 3, now)]
    # Reopening keeps everything and applies no migration twice.
    with Store() as store:
        assert len(store.attempts()) == 1
        assert store.new_cards_since(now - timedelta(hours=1)) == 1


def test_failed_write_rolls_back_the_whole_attempt(viva_home):
    with Store() as store:
        store._conn.execute("DROP TABLE review_log")
        card, log = Schedule().review(None, Rating.AGAIN, utcnow())
        record = AttemptRecord(question_id="q", topic="inference", mode="typed", rating="again")
        with pytest.raises(StoreError, match="could not save the attempt"):
            store.record_attempt(record, card, log)
        assert store.attempts() == [] and store.card("q") is None


def test_newer_schema_is_refused_and_left_untouched(viva_home):
    Store().close()
    db = viva_home / "viva.db"
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO migrations VALUES ('999_future', '2030-01-01')")
    before = db.read_bytes()
    with pytest.raises(StoreError) as info:
        Store()
    assert str(info.value) == (f"{db} was written by a newer viva (schema 999_future); upgrade viva to use it. "
                               "The file was left untouched")
    assert db.read_bytes() == before


def test_corrupt_db_is_refused_and_left_untouched(viva_home):
    viva_home.mkdir(parents=True)
    db = viva_home / "viva.db"
    db.write_bytes(b"this is not sqlite at all" * 100)
    before = db.read_bytes()
    with pytest.raises(StoreError, match="is not a readable viva database"):
        Store()
    assert db.read_bytes() == before


def test_due_counts_buckets_by_day(viva_home):
    now = utcnow()
    sched = Schedule(fuzz=False)
    with Store() as store:
        for qid, rating in (("a", Rating.AGAIN), ("b", Rating.EASY)):
            card, log = sched.review(None, rating, now)
            store.record_attempt(AttemptRecord(question_id=qid, topic="t", mode="typed", rating=rating.value,
                                               created_at=now), card, log)
        counts = store.due_counts(now + timedelta(hours=1), 14)
        assert counts[0] == 1  # the failed card is due again today
        assert sum(counts) == 2


def test_backup_and_restore_round_trip(viva_home, tmp_path):
    from viva.store import restore_backup

    now = utcnow()
    with Store() as store:
        card, log = Schedule().review(None, Rating.GOOD, now)
        store.record_attempt(AttemptRecord(question_id="kept", topic="t", mode="typed", rating="good"), card, log)
        snapshot = store.backup(tmp_path / "snap.db")
        store.record_attempt(AttemptRecord(question_id="later", topic="t", mode="typed", rating="good"))
    saved = restore_backup(snapshot)
    with Store() as store:
        assert [a.question_id for a in store.attempts()] == ["kept"]
    with Store(saved) as previous:
        assert {a.question_id for a in previous.attempts()} == {"kept", "later"}


def test_restore_refuses_a_file_that_is_not_a_backup(viva_home, tmp_path):
    from viva.store import restore_backup

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"x" * 4096)
    with pytest.raises(StoreError, match="is not a viva database backup; nothing was changed"):
        restore_backup(junk)


def test_second_session_is_told_one_is_running(viva_home):
    import subprocess
    import sys

    from viva.errors import SessionBusyError
    from viva.lock import session_lock

    with session_lock():
        with pytest.raises(SessionBusyError, match=r"another viva session is running \(pid \d+"):
            with session_lock():
                pass
        code = "from viva.lock import session_lock\nwith session_lock(): pass"
        other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert "SessionBusyError: another viva session is running" in other.stderr
    with session_lock():  # released
        pass
