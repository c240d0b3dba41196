"""More bad input, fuzzed (extends tests/test_fuzz_inputs.py, which covers random structures, random bytes,
huge and deeply nested banks, and random `viva grade` lines at the parser).

Here: a real bank file with random edits (YAML syntax errors must name the right line), duplicate ids
across files, invalid UTF-8 at a random line, and `viva bank check`, `viva practice` and `viva grade`
driven through the CLI on all of it: one line per problem naming the input, never a traceback.
"""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from viva.bank import check_files
from viva.cli import app

runner = CliRunner()
FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

VALID = """\
topics: [fuzz]
questions:
  - id: fuzz-temperature
    topic: fuzz
    question: What does the sampling temperature do?
    answer: >-
      Temperature divides the logits before the softmax; higher flattens the distribution,
      lower sharpens it toward the most likely token.
    concepts:
      - name: divides the logits
        aliases: [scales the logits]
      - higher temperature flattens the distribution
      - lower temperature sharpens it
    difficulty: 2
  - id: fuzz-residual
    topic: fuzz
    question: Why do transformers use residual connections?
    answer: Residual connections add each sublayer's input to its output so gradients flow through depth.
    concepts: [adds input to output, gradients flow directly, deep stacks trainable]
"""


@pytest.fixture(autouse=True)
def fast_scorer(monkeypatch):
    """`viva grade` in-process without the sentence encoder (what is under test is input handling)."""
    import viva.scoring
    from fast_viva import HashEmbedder
    from viva.scoring.scorer import Scorer

    class FastScorer(Scorer):
        def __init__(self, embedder=None):
            super().__init__(embedder or HashEmbedder())

    monkeypatch.setattr(viva.scoring, "Scorer", FastScorer)


def no_traceback(result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def test_the_valid_bank_is_valid(tmp_path):
    path = tmp_path / "fuzz.yaml"
    path.write_text(VALID, encoding="utf-8")
    assert [q.id for q in check_files([path])[0]] == ["fuzz-temperature", "fuzz-residual"]


edits = st.lists(st.tuples(st.sampled_from(["delete", "insert", "replace"]), st.integers(0, len(VALID) - 1),
                           st.sampled_from(list(":-[]{}&*!|>'\"#% \t\n@`,?") + ["  ", "\n  - ", ": ", "x"])),
                 min_size=1, max_size=4)


@FUZZ
@given(edits=edits)
def test_random_edits_of_a_real_bank_give_line_problems(tmp_path_factory, edits):
    text = VALID
    for op, at, piece in edits:
        at = min(at, len(text))
        text = (text[:at] + text[at + 1:] if op == "delete" else
                text[:at] + piece + text[at:] if op == "insert" else text[:at] + piece + text[at + 1:])
    path = tmp_path_factory.mktemp("bank") / "edited.yaml"
    path.write_text(text, encoding="utf-8")
    questions, problems = check_files([path])
    for p in problems:
        assert "\n" not in p and p.startswith(f"{path}"), p
        if ": YAML syntax error: " in p:  # the line it names exists (or is the end of the file)
            line = int(p[len(str(path)) + 1:].split(":", 1)[0])
            assert 1 <= line <= text.count("\n") + 2, (p, text)
    r = runner.invoke(app, ["bank", "check", str(path)])
    no_traceback(r)
    assert r.exit_code == (1 if problems else 0)
    assert r.stderr.splitlines()[:-1] == problems if problems else r.stdout.startswith("ok: ")


ids = st.lists(st.sampled_from(["fuzz-a", "fuzz-b", "fuzz-c", "fuzz-d"]), min_size=1, max_size=4)


def bank_text(qids: list[str]) -> str:
    questions = [{"id": q, "topic": "fuzz", "question": f"What is {q}?", "answer": f"{q} is a thing.",
                  "concepts": ["one idea", "two ideas", "three ideas"]} for q in qids]
    return yaml.safe_dump({"topics": ["fuzz"], "questions": questions}, sort_keys=False)


@FUZZ
@given(first=ids, second=ids)
def test_duplicate_ids_within_and_across_files_are_each_named_once(tmp_path_factory, first, second):
    folder = tmp_path_factory.mktemp("dups")
    a, b = folder / "a.yaml", folder / "b.yaml"
    a.write_text(bank_text(first), encoding="utf-8")
    b.write_text(bank_text(second), encoding="utf-8")
    questions, problems = check_files([a, b])
    everything = first + second
    assert sorted(q.id for q in questions) == sorted(set(everything))
    dups = [p for p in problems if "duplicate id" in p]
    assert len(dups) == len(everything) - len(set(everything)) == len(problems)
    for p in dups:  # where the copy is, and where the first one was
        assert p.startswith((f"{a}:", f"{b}:")) and ", already defined at " in p and p.count(".yaml:") == 2, p


@FUZZ
@given(line=st.integers(1, VALID.count("\n")), junk=st.sampled_from([b"\xff", b"\xc3\x28", b"\xe2\x82", b"\x80"]))
def test_invalid_utf8_is_reported_at_its_line(tmp_path_factory, line, junk):
    lines = VALID.encode().split(b"\n")
    lines[line - 1] = lines[line - 1][:4] + junk + lines[line - 1][4:]
    path = tmp_path_factory.mktemp("bank") / "latin.yaml"
    path.write_bytes(b"\n".join(lines))
    _, problems = check_files([path])
    assert len(problems) == 1 and problems[0].startswith(f"{path}:{line}: not UTF-8 text (byte "), problems


def test_utf16_and_bom_banks(tmp_path):
    utf16, bom = tmp_path / "utf16.yaml", tmp_path / "bom.yaml"
    utf16.write_text(VALID, encoding="utf-16")
    bom.write_text(VALID, encoding="utf-8-sig")
    _, problems = check_files([utf16])
    assert problems == [f"{utf16}:1: not UTF-8 text (byte 0); save the file as UTF-8"]
    assert len(check_files([bom])[0]) == 2  # a BOM is harmless UTF-8


@pytest.mark.parametrize("content", [b"questions: [", b"\xff\xfe\x00", b"questions:\n  - 42\n",
                                     b"!!python/object/apply:os.getcwd []\n", b"questions: " + b"[" * 3000])
def test_practice_with_a_bad_extra_bank_is_one_line(tmp_path, content):
    path = tmp_path / "extra.yaml"
    path.write_bytes(content)
    r = runner.invoke(app, ["practice", "--type", "--bank", str(path)], input="q\n")
    no_traceback(r)
    assert r.exit_code == 1 and r.stderr.startswith(f"viva: {path}") and len(r.stderr.splitlines()) == 1, r.stderr


# -- viva grade through the CLI ----------------------------------------------------------------------------
GOOD_LINE = {"question": "What is the KV cache?", "reference": "It stores keys and values of earlier tokens.",
             "answer": "It keeps keys and values around."}
lines = st.one_of(
    st.just(json.dumps(GOOD_LINE)),
    st.builds(lambda k: json.dumps({x: v for x, v in GOOD_LINE.items() if x != k}), st.sampled_from(list(GOOD_LINE))),
    st.builds(lambda k, v: json.dumps({**GOOD_LINE, k: v}), st.sampled_from([*GOOD_LINE, "concepts", "id"]),
              st.one_of(st.none(), st.integers(), st.lists(st.integers(), max_size=2), st.text(max_size=20))),
    st.text(max_size=40).filter(lambda s: "\n" not in s and "\r" not in s),
    st.builds(lambda n: "[" * n + "]" * n, st.integers(1, 5_000)),
    st.builds(lambda w: json.dumps({**GOOD_LINE, "answer": w}), st.sampled_from(
        ["", " ".join(["attention"] * 10_000), "缓存存储先前令牌的键和值。", "Der KV-Cache speichert Schlüssel.",
         "🙂" * 50, "\u202eRTL override\u0000nul"])),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(lines, min_size=1, max_size=6))
def test_grade_cli_on_mixed_lines(tmp_path_factory, batch):
    from viva.grade import parse_lines

    src = tmp_path_factory.mktemp("grade") / "in.jsonl"
    src.write_text("\n".join(batch) + "\n", encoding="utf-8")
    parsed = list(parse_lines(batch, str(src)))
    good = [p for p in parsed if p[1] is not None]
    r = runner.invoke(app, ["grade", str(src)])
    no_traceback(r)
    assert r.exit_code == (0 if len(good) == len(parsed) else 1)
    assert len(r.stdout.splitlines()) == len(good)
    for line in r.stderr.splitlines():
        assert line.startswith(f"viva: {src}:") or line.endswith("lines could not be graded"), line


def test_grade_out_to_a_folder_is_one_line(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(GOOD_LINE) + "\n", encoding="utf-8")
    r = runner.invoke(app, ["grade", str(src), "--out", str(tmp_path)])
    no_traceback(r)
    assert r.exit_code == 1
    assert r.stderr == (f"viva: {tmp_path}: cannot write the graded lines (Is a directory); choose another --out "
                        "file\n")
