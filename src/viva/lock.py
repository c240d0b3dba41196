"""One practice session at a time per data dir: a second one is told clearly that one is running."""

from __future__ import annotations

import contextlib
import fcntl
import os
from datetime import datetime
from typing import Iterator

from viva import paths
from viva.errors import SessionBusyError, StoreError


@contextlib.contextmanager
def session_lock() -> Iterator[None]:
    """Hold an exclusive advisory lock on ``<home>/session.lock`` for the session's lifetime.

    The kernel drops the lock when the process dies, even on SIGKILL, so a stale lock never blocks.
    """
    home = paths.home()
    path = home / "session.lock"
    try:
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(f"cannot create the session lock {path} ({exc.strerror}); make {home} writable, "
                         "or set VIVA_HOME to a writable folder") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
            raise SessionBusyError(f"another viva session is running ({holder}); finish it first, "
                                   "or use a different VIVA_HOME") from None
        with contextlib.suppress(OSError):  # who holds it is a courtesy for the message; a full disk may refuse it
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}, started {datetime.now():%H:%M}".encode(), 0)
        yield
    finally:
        os.close(fd)
