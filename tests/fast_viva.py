"""Test helper: run the real viva CLI in a child process, with the sentence encoder swapped for a fast one.

The crash, two-session and storage-fault tests drive whole ``viva practice`` processes and kill them; they
check storage, locking and the loop, not scoring, so the one expensive edge (loading all-MiniLM-L6-v2,
about 25 s on a busy 2-core machine) is replaced by a deterministic hashed bag of words. Everything else is
the production code path. Test-only knobs, read from the environment:

  VIVA_TEST_EMBED_DELAY  seconds every encoder call sleeps (keeps the "scoring" stage open for a kill)
  VIVA_TEST_KILL_AT_SQL  SIGKILL this process as SQLite starts a statement beginning with this text ...
  VIVA_TEST_KILL_ARM     ... but only once a statement beginning with this text has started (for the
  VIVA_TEST_KILL_ARM_N   n-th time, default 1): a kill at an exact point inside an attempt's transaction,
                         with no hook in production code

Usage: ``python tests/fast_viva.py practice --type ...`` (same arguments as ``viva``).
"""

from __future__ import annotations

import os
import signal
import sys
import time
import zlib

import numpy as np

DIM = 128  # dimensions of the hashed bag-of-words vectors


class HashEmbedder:
    """Deterministic across processes (crc32, not the salted ``hash``); L2-normalised rows."""

    def __init__(self, delay_s: float = 0.0):
        self.delay_s = delay_s

    def embed(self, texts: list[str]) -> np.ndarray:
        if self.delay_s:
            time.sleep(self.delay_s)
        out = np.zeros((len(texts), DIM), np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, zlib.crc32(word.strip(".,;:!?").encode()) % DIM] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def _install_fast_scorer() -> None:
    import viva.scoring
    from viva.scoring.scorer import Scorer

    delay = float(os.environ.get("VIVA_TEST_EMBED_DELAY", "0") or 0)

    class FastScorer(Scorer):
        def __init__(self, embedder=None):
            super().__init__(embedder or HashEmbedder(delay))

    viva.scoring.Scorer = FastScorer


def _install_sql_kill() -> None:
    kill_at = os.environ.get("VIVA_TEST_KILL_AT_SQL")
    if not kill_at:
        return
    arm = os.environ.get("VIVA_TEST_KILL_ARM")
    arm_n = int(os.environ.get("VIVA_TEST_KILL_ARM_N", "1"))
    import viva.store

    state = {"seen": 0}
    real_open = viva.store.Store._open

    def trace(sql: str) -> None:
        text = sql.lstrip()
        armed = not arm or state["seen"] >= arm_n
        if arm and text.startswith(arm):
            state["seen"] += 1
        if armed and text.startswith(kill_at):
            sys.stderr.write(f"fast_viva: SIGKILL at SQL: {text[:40]}\n")
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)

    def traced_open(self):
        conn = real_open(self)
        conn.set_trace_callback(trace)
        return conn

    viva.store.Store._open = traced_open


if __name__ == "__main__":
    _install_fast_scorer()
    _install_sql_kill()
    from viva.cli import main

    sys.argv[0] = "viva"
    main()
