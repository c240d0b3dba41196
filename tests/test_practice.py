"""End to end: `viva practice --type` driven through stdin over a temp home, checked in the DB."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap

import pytest

BANK = """\
topics: [e2e-sampling, e2e-architecture]
questions:
  - id: e2e-temperature
    topic: e2e-sampling
    question: What does the sampling temperature do?
    answer: >-
      Temperature divides the logits before the softmax. A higher temperature flattens the distribution
      and makes sampling more diverse, while a lower temperature sharpens it toward the most likely token.
    concepts:
      - name: divides the logits
        aliases: [scales the logits, logits divided by temperature]
      - name: higher temperature flattens the distribution
        aliases: [more random, more diverse]
      - name: lower temperature sharpens it
        aliases: [more deterministic, closer to greedy]
  - id: e2e-residual
    topic: e2e-architecture
    question: Why do transformers use residual connections?
    answer: >-
      Residual connections add each sublayer's input to its output, so gradients flow directly through the
      identity path. This keeps very deep stacks trainable and lets each layer learn a small update.
    concepts:
      - name: adds input to output
        aliases: [skip connection, identity shortcut]
      - name: gradients flow directly
        aliases: [gradient flow, avoids vanishing gradients]
      - name: deep stacks trainable
        aliases: [train deep networks, depth]
"""

GOOD = ("Temperature divides the logits before the softmax. A higher temperature flattens the distribution so "
        "sampling is more diverse, and a lower temperature sharpens it toward the most likely token.")


@pytest.fixture()
def bank_file(tmp_path):
    p = tmp_path / "e2e.yaml"
    p.write_text(textwrap.dedent(BANK), encoding="utf-8")
    return p


def run_practice(bank_file, stdin: str, *extra: str) -> subprocess.CompletedProcess:
    import os

    cmd = [sys.executable, "-m", "viva", "practice", "--type", "--bank", str(bank_file), *extra]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=300, env=os.environ.copy())


def test_typed_practice_records_scores_and_schedules(bank_file, viva_home):
    # answer 1 (good), Enter for next; answer 2 ("I don't know"), then q at the prompt.
    stdin = f"{GOOD}\n\n\nI don't know\n\nq\n"
    out = run_practice(bank_file, stdin, "--topic", "e2e-sampling", "--topic", "e2e-architecture")
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert "Session over: 2 answers" in out.stdout
    conn = sqlite3.connect(viva_home / "viva.db")
    rows = conn.execute("SELECT question_id, mode, track, answer_text, score, coverage, precision, length, rating, "
                        "details_json FROM attempts ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["e2e-temperature", "e2e-residual"]  # bank order within equal rank
    good, dunno = rows
    assert good[4] > 60 and good[8] in ("good", "easy")
    assert good[1:3] == ("typed", "said") and dunno[8] == "again"
    assert json.loads(dunno[9])["dont_know"] is True
    cards = conn.execute("SELECT question_id, track, reps FROM cards ORDER BY question_id").fetchall()
    assert cards == [("e2e-residual", "said", 1), ("e2e-temperature", "said", 1)]
    assert conn.execute("SELECT COUNT(*) FROM review_log").fetchone()[0] == 2
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_quit_keeps_finished_attempts_and_retry_does_not_reschedule(bank_file, viva_home):
    stdin = f"{GOOD}\n\nr\n{GOOD}\n\nq\n"
    out = run_practice(bank_file, stdin, "--topic", "e2e-sampling")
    assert out.returncode == 0, out.stderr
    assert "Against your last try" in out.stdout
    conn = sqlite3.connect(viva_home / "viva.db")
    assert conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 2
    assert conn.execute("SELECT COUNT(*) FROM review_log").fetchone()[0] == 1
    assert conn.execute("SELECT reps FROM cards").fetchone()[0] == 1


def test_end_of_input_quits_cleanly(bank_file, viva_home):
    out = run_practice(bank_file, "", "--topic", "e2e-sampling")
    assert out.returncode == 0, out.stderr
    assert "No answers this session" in out.stdout
