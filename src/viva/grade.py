"""``viva grade``: score JSON lines of (question, reference, answer) in batch."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Iterator

from viva.domain import Concept, Question

REQUIRED = ("question", "reference", "answer")


@dataclass(frozen=True)
class GradeError:
    line: int
    message: str


def parse_lines(lines: Iterable[str], source: str = "-") -> Iterator[tuple[int, Question | None, dict | GradeError]]:
    """Yield ``(line_number, question, record)`` per non-blank line, or a ``GradeError`` as the record."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        where = f"{source}:{number}"
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield number, None, GradeError(number, f"{where}: not valid JSON ({exc.msg} at column {exc.colno}); "
                                                   "each line must be one JSON object")
            continue
        except RecursionError:
            yield number, None, GradeError(number, f"{where}: JSON nested too deeply to be an answer; each line "
                                                   "must be one flat JSON object")
            continue
        if not isinstance(record, dict):
            yield number, None, GradeError(number, f"{where}: expected a JSON object with question, reference, answer")
            continue
        missing = [k for k in REQUIRED if not isinstance(record.get(k), str)]
        if missing:
            yield number, None, GradeError(number, f"{where}: missing or non-text field(s): {', '.join(missing)}")
            continue
        if not record["reference"].strip():
            yield number, None, GradeError(number, f"{where}: 'reference' is empty; give the reference answer")
            continue
        concepts = record.get("concepts")
        if concepts is not None and not (isinstance(concepts, list) and all(isinstance(c, str) and c.strip()
                                                                            for c in concepts)):
            yield number, None, GradeError(number, f"{where}: 'concepts' must be a list of strings")
            continue
        also = record.get("also_accept")
        if also is not None and not (isinstance(also, list) and all(isinstance(a, str) and a.strip() for a in also)):
            yield number, None, GradeError(number, f"{where}: 'also_accept' must be a list of non-empty strings "
                                                   "(other reference answers to accept)")
            continue
        qid = record.get("id")
        question = Question(
            id=str(qid) if qid is not None else f"line-{number}", topic="custom",
            question=record["question"], answer=record["reference"],
            concepts=tuple(Concept(c.strip()) for c in concepts or ()),
            also_accept=tuple(" ".join(a.split()) for a in also or ()),
        )
        yield number, question, record


def result_record(record: dict, score) -> dict:
    """The input fields plus the grade, as ``viva grade`` prints it."""
    out = dict(record)
    out.update(
        score=round(score.overall, 1), coverage=round(score.coverage, 3), precision=round(score.precision, 3),
        length=round(score.length, 3), rating=score.rating.value, missed=list(score.missed),
        flags=list(score.flags),
    )
    if score.matched_reference:
        out["matched_reference"] = score.matched_reference
    return out
