"""`viva grade` with the real model: order and fields kept, errors by line, complete above vague."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from viva.cli import app

runner = CliRunner()
Q = "What does the KV cache store and why does it speed up decoding?"
REF = ("The KV cache stores the key and value vectors of every previous token, so each decoding step computes "
       "attention for the new token only instead of recomputing the whole prefix.")
COMPLETE = ("It keeps the keys and values of all earlier tokens, so at each step we only compute the new "
            "token's attention and never recompute the prefix.")
VAGUE = "It stores stuff so things get faster, kind of like a cache for the model."


def lines(*records):
    return "\n".join(json.dumps(r) for r in records) + "\n"


def test_grade_keeps_order_and_fields_and_ranks_answers(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(lines({"id": "a", "question": Q, "reference": REF, "answer": COMPLETE},
                         {"id": "b", "question": Q, "reference": REF, "answer": VAGUE,
                          "concepts": ["keys and values", "previous tokens", "recomputing the prefix"]}),
                   encoding="utf-8")
    r = runner.invoke(app, ["grade", str(src)])
    assert r.exit_code == 0, r.output
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a", "b"]
    for o in out:
        assert set(o) >= {"question", "reference", "answer", "score", "coverage", "precision", "length",
                          "rating", "missed", "flags"}
        assert 0 <= o["score"] <= 100 and o["rating"] in {"again", "hard", "good", "easy"}
    assert out[0]["score"] > out[1]["score"] + 15
    assert out[1]["missed"]


def test_grade_reports_bad_lines_and_grades_the_rest(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"question": "Q", "reference": "R R R.", "answer": "A"}\nnot json\n{"question": "Q"}\n',
                   encoding="utf-8")
    out = tmp_path / "out.jsonl"
    r = runner.invoke(app, ["grade", str(src), "--out", str(out)])
    assert r.exit_code == 1
    assert f"viva: {src}:2: not valid JSON" in r.stderr
    assert f"viva: {src}:3: missing or non-text field(s): reference, answer" in r.stderr
    assert len(out.read_text().splitlines()) == 1


def test_grade_from_stdin():
    r = runner.invoke(app, ["grade", "-"], input=lines({"question": Q, "reference": REF, "answer": COMPLETE}))
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rating"] in {"good", "easy", "hard"}


def test_grade_survives_empty_huge_and_non_english_answers(tmp_path):
    huge = " ".join(["attention"] * 10_000)
    src = tmp_path / "odd.jsonl"
    src.write_text(lines({"question": Q, "reference": REF, "answer": ""},
                         {"question": Q, "reference": REF, "answer": huge},
                         {"question": Q, "reference": REF, "answer": "缓存存储先前令牌的键和值。"},
                         {"question": Q, "reference": REF, "answer": "Der KV-Cache speichert Schlüssel und Werte."}),
                   encoding="utf-8")
    r = runner.invoke(app, ["grade", str(src)])
    assert r.exit_code == 0, r.output
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(out) == 4
    assert out[0]["rating"] == "again" and out[1]["rating"] in ("again", "hard")


def test_grade_accepts_other_reference_answers_and_rejects_a_bad_list(tmp_path):
    alt = ("The cache keeps earlier tokens' keys and values in memory, so each decoding step reuses them "
           "rather than recomputing them.")
    answer = "It reuses the earlier tokens' keys and values kept in memory instead of recomputing them each step."
    src = tmp_path / "in.jsonl"
    src.write_text(lines({"question": Q, "reference": REF, "answer": answer},
                         {"question": Q, "reference": REF, "answer": answer, "also_accept": [alt]},
                         {"question": Q, "reference": REF, "answer": answer, "also_accept": "not a list"}),
                   encoding="utf-8")
    r = runner.invoke(app, ["grade", str(src)])
    assert r.exit_code == 1
    assert f"viva: {src}:3: 'also_accept' must be a list of non-empty strings" in r.stderr
    plain, multi = (json.loads(x) for x in r.stdout.splitlines())
    assert multi["score"] >= plain["score"]
    assert multi.get("matched_reference", "") in ("", alt)
