"""``viva restore``: check a backup is a viva database this version can read, then put it in place."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from viva import paths
from viva.errors import StoreError
from viva.store.migrations import MIGRATIONS
from viva.store.rows import utcnow


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
    # Copy first: if the disk is full this fails while the current database is still in place.
    tmp = target.with_suffix(".restoring")
    try:
        src, dest = sqlite3.connect(f"file:{backup}?mode=ro", uri=True), sqlite3.connect(tmp)
        try:
            with dest:
                src.backup(dest)
        finally:
            src.close()
            dest.close()
    except (OSError, sqlite3.Error) as exc:
        tmp.unlink(missing_ok=True)
        raise StoreError(f"could not copy {backup} into place ({exc}); free disk space. Nothing was changed") \
            from None
    try:
        saved = _save_current(target) if target.exists() else None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    for suffix in ("-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    os.replace(tmp, target)
    return saved


def _save_current(target: Path) -> Path:
    """Back up the database a restore replaces; one viva cannot open (corrupt, newer) is moved aside as is."""
    from viva.store import Store  # the package imports this module

    try:
        current = Store(target)
    except StoreError:
        aside = target.with_name(f"{target.stem}-{utcnow():%Y%m%dT%H%M%S}-unreadable{target.suffix}")
        for suffix in ("", "-wal", "-shm"):
            if Path(str(target) + suffix).exists():
                os.replace(str(target) + suffix, str(aside) + suffix)
        return aside
    with current:
        if target == paths.db_path():
            return current._backup(current._conn, "before-restore")
        return current.backup(target.with_suffix(".before-restore.db"))
