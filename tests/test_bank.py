"""Bank loading: strict schema, every problem reported with file and line, exact sentences."""

from __future__ import annotations

import textwrap

import pytest

from viva.bank import check_files, load_bank, stats
from viva.errors import BankError

GOOD = """\
questions:
  - id: kv-cache
    topic: inference
    question: What is the KV cache?
    answer: >-
      It stores the keys and values of previous tokens. Decoding then reuses them instead of
      recomputing the prefix.
    concepts:
      - name: keys and values
        aliases: [KV cache, KV cash]
        weight: 2
      - reuses previous tokens
      - avoids recomputing the prefix
"""


def write(tmp_path, text, name="bank.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def test_good_file_loads_into_typed_questions(tmp_path):
    p = write(tmp_path, GOOD)
    questions, problems = check_files([p])
    assert problems == []
    (q,) = questions
    assert q.id == "kv-cache" and q.topic == "inference" and q.kind == "concept" and q.difficulty == 2
    assert q.phase == "inference-efficiency"  # default phase follows the topic
    assert q.concepts[0].aliases == ("KV cache", "KV cash") and q.concepts[0].weight == 2.0
    assert q.concepts[1].name == "reuses previous tokens"
    assert q.line == 2 and q.source == str(p)


def test_every_problem_is_reported_with_file_and_line(tmp_path):
    p = write(tmp_path, """\
        questions:
          - id: kv-cache
            topic: inferense
            question: What is the KV cache?
            answer: It stores keys and values.
            difficulty: 5
            colour: blue
            concepts:
              - keys and values
          - id: Bad_Id
            topic: inference
            question: ""
            answer: Something.
            concepts: [a, b, c]
        """)
    _, problems = check_files([p])
    assert problems == [
        f"{p}:7: question 'kv-cache': unknown key 'colour' (allowed: also_accept, answer, concepts, difficulty, follow_ups, "
        "id, kind, misconceptions, phase, question, topic)",
        f"{p}:3: question 'kv-cache': topic: 'inferense' is not one of transformer-basics, attention-efficiency, "
        "tokenization-embeddings, training-alignment, retrieval-agents, inference, judgment",
        f"{p}:6: question 'kv-cache': difficulty: 5 must be 1, 2 or 3",
        f"{p}:8: question 'kv-cache': concepts: at least 3 required (found 1)",
        f"{p}:10: question 'Bad_Id': id: 'Bad_Id' is not a slug (lowercase letters, digits and '-')",
        f"{p}:12: question 'Bad_Id': question: must be non-empty text",
    ]


def test_duplicate_ids_across_files(tmp_path):
    a = write(tmp_path, GOOD, "a.yaml")
    b = write(tmp_path, GOOD, "b.yaml")
    _, problems = check_files([a, b])
    assert problems == [f"{b}:2: question 'kv-cache': duplicate id, already defined at {a}:2"]


def test_yaml_syntax_error_names_the_line(tmp_path):
    p = write(tmp_path, "questions:\n  - id: x\n    topic: [unclosed\n")
    _, problems = check_files([p])
    assert len(problems) == 1
    assert problems[0].startswith(f"{p}:4: YAML syntax error:")


def test_non_utf8_and_missing_and_wrong_shape(tmp_path):
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("questions:\n  - id: caf\xe9\n".encode("latin-1"))
    missing = tmp_path / "nope.yaml"
    shape = write(tmp_path, "- just a list\n", "shape.yaml")
    _, problems = check_files([bad, missing, shape])
    assert problems == [
        f"{bad}:2: not UTF-8 text (byte 22); save the file as UTF-8",
        f"{missing}: no such file",
        f"{shape}:1: expected a mapping with a 'questions:' list at the top level",
    ]


def test_duplicate_keys_and_bad_concepts(tmp_path):
    p = write(tmp_path, """\
        questions:
          - id: q1
            id: q2
            topic: inference
            question: Why?
            answer: Because.
            concepts:
              - name: a
                weight: -1
              - {name: b, aliases: oops}
              - {nam: c}
        """)
    _, problems = check_files([p])
    assert f"{p}:3: question 'q2': key 'id' appears twice" in problems
    assert f"{p}:7: question 'q2': concepts[1] 'a': weight: -1 must be a number above 0 and at most 5" in problems
    assert f"{p}:7: question 'q2': concepts[2] 'b': aliases: must be a list of phrases" in problems
    assert f"{p}:7: question 'q2': concepts[3]: unknown key 'nam' (allowed: name, aliases, weight)" in problems


def test_load_bank_raises_with_all_problems(tmp_path):
    p = write(tmp_path, "questions:\n  - id: x\n")
    with pytest.raises(BankError) as info:
        load_bank([p], builtin=False, user=False)
    assert info.value.problems == [
        f"{p}:2: question 'x': missing required key 'topic'",
        f"{p}:2: question 'x': missing required key 'question'",
        f"{p}:2: question 'x': missing required key 'answer'",
        f"{p}:2: question 'x': missing required key 'concepts'",
    ]


def test_user_bank_may_declare_its_own_topics(tmp_path, viva_home):
    banks = viva_home / "banks"
    banks.mkdir(parents=True)
    write(banks, "topics: [my-deck]\n" + GOOD.replace("topic: inference", "topic: my-deck"), "mine.yaml")
    bank = load_bank(builtin=False)
    assert [q.topic for q in bank.questions] == ["my-deck"]


def test_builtin_bank_loads_and_counts():
    bank = load_bank()
    counts = stats(bank.questions)
    assert counts["total"] == len(bank.questions) > 0
    assert set(counts["by_topic"]) <= {
        "transformer-basics", "attention-efficiency", "tokenization-embeddings", "training-alignment",
        "retrieval-agents", "inference", "judgment"}
    assert sum(counts["by_kind"].values()) == counts["total"]


def test_also_accept_loads_and_a_bad_one_is_reported_with_its_line(tmp_path):
    p = write(tmp_path, GOOD + "    also_accept:\n      - It caches the key and value vectors so decoding never recomputes old tokens.\n")
    (q,), problems = check_files([p])
    assert problems == []
    assert q.also_accept == ("It caches the key and value vectors so decoding never recomputes old tokens.",)
    p = write(tmp_path, GOOD + "    also_accept: just one string\n")
    questions, problems = check_files([p])
    assert questions == [] or not questions[0].also_accept
    assert any(f"{p}:" in x and "also_accept: must be a list of non-empty strings" in x for x in problems)
