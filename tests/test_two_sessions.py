"""Two terminals at once: real `viva practice --type` processes on one data dir.

The second session is told, in one line, that a session is running; read-only commands and backups keep
working beside it; a restore waits for it; no attempt is lost or written twice. The refused and the
side-by-side commands are plain `python -m viva`; the sessions that answer are `tests/fast_viva.py` (the same
CLI with a fast sentence encoder, so each answer does not wait ~25 s for the real model to load).
"""

from __future__ import annotations

import re

from reliability import Child, attempt_ids, check_history, db

PRACTICE = ["practice", "--type", "--topic", "inference", "--new", "100"]
ANSWER = "It caches the keys and values of earlier tokens so they are not recomputed; memory grows with length.\n\n"
BUSY = re.compile(r"^viva: another viva session is running \(pid (\d+), started \d\d:\d\d\); finish it first, "
                  r"or use a different VIVA_HOME$")


def _busy_line(child: Child) -> str:
    lines = [line for line in child.err_lines if line.startswith("viva: ")]
    assert len(lines) == 1 and "Traceback" not in child.stderr, child.stderr
    return lines[0]


def test_a_second_session_is_refused_while_the_first_keeps_working(tmp_path):
    home = tmp_path / "home"
    with Child(PRACTICE, home) as first:
        first.wait_stdout("> ")  # the first question is shown: the session holds the lock
        for command in (PRACTICE, ["review"], ["interview", "--type"]):
            with Child(command, home, stdin=ANSWER + "q\n", real=True) as second:
                assert second.finish() == 1
                match = BUSY.match(_busy_line(second))
                assert match and int(match.group(1)) == first.proc.pid, (command, second.stderr)
        # Beside a session: history reads, a backup is a consistent snapshot, a restore is refused.
        with Child(["history"], home, real=True) as reader:
            assert reader.finish() == 0 and "No attempts yet" in reader.stdout
        snapshot = tmp_path / "snapshot.db"
        with Child(["backup", "--out", str(snapshot)], home, real=True) as backup:
            assert backup.finish() == 0, backup.stderr
        with Child(["restore", str(snapshot)], home, real=True) as restore:
            assert restore.finish() == 1 and BUSY.match(_busy_line(restore)), restore.stderr
        first.write(ANSWER + "\n" + ANSWER + "q\n")  # two answers, then quit at the next-action prompt
        assert first.finish() == 0, first.stderr_tail()
    assert "Session over: 2 answers" in first.stdout
    assert len(attempt_ids(home)) == 2
    with db(home) as conn:  # the refused commands left no trace: one session, two attempts
        assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 1
    # Once the first session is over, the next one runs (the lock is free) and adds exactly its attempt.
    with Child(PRACTICE, home, stdin=ANSWER + "q\n") as later:
        assert later.finish() == 0, later.stderr_tail()
    check_history(home)
    assert len(attempt_ids(home)) == 3


def test_two_sessions_started_at_the_same_moment_both_work_or_one_is_told(tmp_path):
    """Which one wins depends on timing: each either runs (and saves its answer once) or gets the line."""
    home = tmp_path / "home"
    # Two that answer one question, and a plain `python -m viva` that quits at once.
    children = [Child(PRACTICE, home, stdin=ANSWER + "q\n") for _ in range(2)]
    children.append(Child(PRACTICE, home, stdin="q\n", real=True))
    try:
        codes = [c.finish() for c in children]
    finally:
        for c in children:
            c.__exit__()
    assert 0 in codes and set(codes) <= {0, 1}, [c.stderr_tail() for c in children]
    for child, code in zip(children, codes):
        if code == 1:
            assert BUSY.match(_busy_line(child))
        else:
            assert "Traceback" not in child.stderr and ("Session over: 1 answer" in child.stdout or
                                                         "No answers this session" in child.stdout)
    check_history(home)
    with db(home) as conn:
        sessions = [r[0] for r in conn.execute("SELECT session_id FROM attempts")]
    answered = codes[:2].count(0)
    assert len(sessions) == answered == len(set(sessions))  # one attempt per answering session that ran
