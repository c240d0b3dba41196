"""Bad input, fuzzed: bank files and `viva grade` lines never raise, every problem is one line naming the input."""

from __future__ import annotations

import json

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from viva.bank import check_files
from viva.cli import app
from viva.grade import GradeError, parse_lines

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10, 10), st.floats(allow_nan=True),
                    st.text(max_size=30))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=12), inner, max_size=5)),
                      max_leaves=20)
keys = st.sampled_from(["id", "topic", "question", "answer", "concepts", "kind", "difficulty", "phase",
                        "follow_ups", "misconceptions", "also_accept", "name", "aliases", "weight", "extra"])
question_like = st.dictionaries(keys, values, max_size=10)
documents = st.one_of(values, st.fixed_dictionaries({"questions": st.lists(question_like, max_size=4)}))


def assert_one_line_problems(problems, path):
    for p in problems:
        assert "\n" not in p and p.startswith(str(path)), p


@FUZZ
@given(doc=documents)
def test_random_bank_structures_give_line_problems(tmp_path_factory, doc):
    path = tmp_path_factory.mktemp("bank") / "fuzz.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    questions, problems = check_files([path])
    assert_one_line_problems(problems, path)
    assert questions or problems or doc == {"questions": []}


@FUZZ
@given(raw=st.binary(max_size=400))
def test_random_bytes_as_a_bank(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("bank") / "bytes.yaml"
    path.write_bytes(raw)
    _, problems = check_files([path])
    assert_one_line_problems(problems, path)


def test_huge_and_deep_banks_are_refused_in_one_line(tmp_path):
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"questions: []\n" + b"#" * 6_000_000)
    deep = tmp_path / "deep.yaml"
    deep.write_text("questions: " + "[" * 5000 + "]" * 5000, encoding="utf-8")
    _, problems = check_files([huge, deep])
    assert problems[0] == f"{huge}: file is 6,000,014 bytes, over the 5,000,000-byte limit for a bank; split it"
    assert len(problems) == 2 and problems[1].startswith(str(deep))


@FUZZ
@given(lines=st.lists(st.one_of(st.text(max_size=60), values.map(json.dumps)), max_size=6))
def test_random_grade_lines_never_raise(lines):
    for number, question, record in parse_lines(lines, "in.jsonl"):
        if question is None:
            assert isinstance(record, GradeError)
            assert record.message.startswith(f"in.jsonl:{number}: ") and "\n" not in record.message


grade_records = st.fixed_dictionaries(
    {"question": st.text(max_size=40), "reference": st.text(max_size=40), "answer": st.text(max_size=40)},
    optional={"also_accept": values, "concepts": values, "id": values},
)


@FUZZ
@given(records=st.lists(grade_records, max_size=4))
def test_grade_records_with_random_optional_fields_never_raise(records):
    lines = [json.dumps(r) for r in records]
    for number, question, record in parse_lines(lines, "in.jsonl"):
        if question is None:
            assert record.message.startswith(f"in.jsonl:{number}: ") and "\n" not in record.message
        else:
            assert all(isinstance(a, str) and a.strip() for a in question.also_accept)


def test_grade_cli_on_garbage_has_no_traceback(tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_bytes(b"\xff\xfe garbage\n")
    r = CliRunner().invoke(app, ["grade", str(src)])
    assert r.exit_code == 1 and r.stderr == f"viva: {src}: not UTF-8 text; save it as UTF-8 JSON lines\n"
    r = CliRunner().invoke(app, ["grade", str(tmp_path / "missing.jsonl")])
    assert r.exit_code == 1 and r.stderr == f"viva: {tmp_path / 'missing.jsonl'}: no such file\n"
