"""Load and validate question banks: YAML through ``yaml.SafeLoader`` into a strict schema.

Every problem in every file is collected and reported in one run, each as
``FILE:LINE: question 'ID': what is wrong``; nothing is loaded unless all files are clean.
"""

from __future__ import annotations

import re
import reprlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

from viva import paths
from viva.domain import DEFAULT_PHASE, KINDS, PHASES, TOPICS, Concept, Question
from viva.errors import BankError

MAX_FILE_BYTES = 5_000_000  # a bank of 1,000 questions is ~1 MB; anything far larger is a mistake
MIN_CONCEPTS, MAX_CONCEPTS = 3, 6
MAX_WEIGHT = 5.0
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
QUESTION_KEYS = {
    "id", "topic", "question", "answer", "concepts", "kind", "difficulty", "phase",
    "follow_ups", "misconceptions", "also_accept",
}
REQUIRED_KEYS = ("id", "topic", "question", "answer", "concepts")
CONCEPT_KEYS = {"name", "aliases", "weight"}
FILE_KEYS = {"questions", "topics"}

# Bad values are quoted in messages through a bounded repr: YAML aliases can make a 1 KB file a structure
# of 10^9 items ("billion laughs"), and a plain repr of it would never finish.
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxother = 2, 4, 4, 80, 80
_show = _REPR.repr


def _key(key) -> str:
    """A key for a one-line message: quoted as written, escaped when it holds line breaks or controls."""
    text = str(key)
    return f"'{text}'" if text.isprintable() else _show(text)


class _Map(dict):
    """A mapping that remembers the line it and each of its keys started on."""

    line = 0
    key_lines: dict
    duplicate_keys: list


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader that records line numbers on mappings (same safety as ``yaml.safe_load``). libyaml's
    parser when PyYAML has it: the bundled banks load in 0.15 s instead of 0.53 s, a third of the time
    from ``viva practice`` to the first spoken word."""


def _construct_map(loader: _LineLoader, node: yaml.MappingNode):
    data = _Map()
    data.line = node.start_mark.line + 1
    data.key_lines, data.duplicate_keys = {}, []
    yield data
    loader.flatten_mapping(node)
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, str):
            if key in data.key_lines:
                data.duplicate_keys.append((key, key_node.start_mark.line + 1))
            data.key_lines.setdefault(key, key_node.start_mark.line + 1)
    data.update(loader.construct_mapping(node, deep=True))


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)


@dataclass(frozen=True)
class Bank:
    """All loaded questions, in file order, plus the files they came from."""

    questions: tuple[Question, ...]
    files: tuple[Path, ...]

    def get(self, question_id: str) -> Question | None:
        return self.by_id.get(question_id)

    @property
    def by_id(self) -> dict[str, Question]:
        return {q.id: q for q in self.questions}

    def select(self, topics: Iterable[str] = ()) -> tuple[Question, ...]:
        wanted = set(topics)
        return tuple(q for q in self.questions if not wanted or q.topic in wanted)


def bank_files(extra: Iterable[Path] = (), *, builtin: bool = True, user: bool = True) -> list[Path]:
    """The YAML files to load: the built-in bank, the user bank folder, then ``extra`` files or folders."""
    files: list[Path] = []
    defaults = ([paths.builtin_bank_dir()] if builtin else []) + ([paths.user_banks_dir()] if user else [])
    for folder in defaults:
        if folder.is_dir():
            files.extend(sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml")))
    for src in map(Path, extra):
        if src.is_dir():
            files.extend(sorted(p for p in src.iterdir() if p.suffix in (".yaml", ".yml")))
        else:
            files.append(src)  # a missing file is reported by the loader
    seen: set[Path] = set()
    unique = []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def load_bank(extra: Iterable[Path] = (), *, builtin: bool = True, user: bool = True) -> Bank:
    """Load every bank file, or raise ``BankError`` listing every problem found."""
    files = bank_files(extra, builtin=builtin, user=user)
    questions, problems = _load_files(files)
    if problems:
        raise BankError(problems)
    return Bank(tuple(questions), tuple(files))


def check_files(files: Iterable[Path]) -> tuple[list[Question], list[str]]:
    """Validate the given files together (ids must be unique across them); return questions and problems."""
    return _load_files(list(files))


def _load_files(files: list[Path]) -> tuple[list[Question], list[str]]:
    questions: list[Question] = []
    problems: list[str] = []
    first_seen: dict[str, str] = {}
    for path in files:
        qs, errs = _load_file(path)
        problems.extend(errs)
        for q in qs:
            where = f"{q.source}:{q.line}"
            if q.id in first_seen:
                problems.append(f"{where}: question '{q.id}': duplicate id, already defined at {first_seen[q.id]}")
                continue
            first_seen[q.id] = where
            questions.append(q)
    return questions, problems


def _read_text(path: Path) -> tuple[str | None, str | None]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, f"{path}: file is {size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit for a bank; split it"
        if not path.is_file():  # a device or a pipe has no size to check and may never end
            return None, f"{path}: not a regular file; give a .yaml bank file"
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, f"{path}: no such file"
    except OSError as exc:
        return None, f"{path}: cannot read ({exc.strerror}); check the path and its permissions"
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, f"{path}:{line}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"


def _load_file(path: Path) -> tuple[list[Question], list[str]]:
    text, err = _read_text(path)
    if err:
        return [], [err]
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - _LineLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        tag = re.search(r"constructor for the tag '([^']*)'", problem)
        if tag:  # SafeLoader refuses !!python/object and friends; say so rather than "syntax error"
            return [], [f"{path}{line}: YAML tag '{tag.group(1)}' is not allowed in a question bank (plain YAML "
                        "only); remove the tag"]
        return [], [f"{path}{line}: YAML syntax error: {problem}; fix the indentation or quote the value"]
    except RecursionError:
        return [], [f"{path}: YAML nested too deeply to be a question bank"]
    if not isinstance(doc, _Map) or not isinstance(doc.get("questions"), list):
        return [], [f"{path}:1: expected a mapping with a 'questions:' list at the top level"]
    problems = [f"{path}:{doc.key_lines[k]}: unknown top-level key {_key(k)} (allowed: questions, topics)"
                for k in doc if k not in FILE_KEYS]
    extra_topics, topic_problems = _file_topics(path, doc)
    problems += topic_problems
    questions = []
    for index, item in enumerate(doc["questions"], start=1):
        q, errs = _parse_question(path, index, item, TOPICS + extra_topics)
        problems.extend(errs)
        if q is not None:
            questions.append(q)
    return questions, problems


def _file_topics(path: Path, doc: _Map) -> tuple[tuple[str, ...], list[str]]:
    """A user bank may declare its own topic ids under ``topics:``."""
    raw = doc.get("topics", [])
    line = doc.key_lines.get("topics", 1)
    if not isinstance(raw, list) or not all(isinstance(t, str) and SLUG.match(t) for t in raw):
        return (), [f"{path}:{line}: topics: must be a list of slugs like 'my-topic'"]
    return tuple(raw), []


def _parse_question(path: Path, index: int, item: Any, topics: tuple[str, ...]):
    if not isinstance(item, _Map):
        return None, [f"{path}: question #{index}: expected a mapping with id, topic, question, answer, concepts"]
    qid = item.get("id")
    label = f"question '{qid}'" if isinstance(qid, str) and qid else f"question #{index}"
    problems: list[str] = []

    def bad(key: str | None, message: str) -> None:
        line = item.key_lines.get(key, item.line) if key else item.line
        problems.append(f"{path}:{line}: {label}: {message}")

    for key, line in item.duplicate_keys:
        problems.append(f"{path}:{line}: {label}: key '{key}' appears twice")
    for key in item:
        if key not in QUESTION_KEYS:
            bad(key, f"unknown key {_key(key)} (allowed: {', '.join(sorted(QUESTION_KEYS))})")
    for key in REQUIRED_KEYS:
        if key not in item:
            bad(None, f"missing required key '{key}'")
    if "id" in item and not (isinstance(qid, str) and SLUG.match(qid)):
        bad("id", f"id: {_show(qid)} is not a slug (lowercase letters, digits and '-')")
    topic = item.get("topic")
    if "topic" in item and topic not in topics:
        bad("topic", f"topic: {_show(topic)} is not one of {', '.join(topics)}")
    text_fields = {}
    for key in ("question", "answer"):
        value = item.get(key)
        if key in item and not (isinstance(value, str) and value.strip()):
            bad(key, f"{key}: must be non-empty text")
        text_fields[key] = " ".join(str(value).split()) if isinstance(value, str) else ""
    kind = item.get("kind", "concept")
    if kind not in KINDS:
        bad("kind", f"kind: {_show(kind)} is not one of {', '.join(KINDS)}")
    difficulty = item.get("difficulty", 2)
    if isinstance(difficulty, bool) or not isinstance(difficulty, int) or not 1 <= difficulty <= 3:
        bad("difficulty", f"difficulty: {_show(difficulty)} must be 1, 2 or 3")
    phase = item.get("phase", DEFAULT_PHASE.get(topic, PHASES[0]) if isinstance(topic, str) else PHASES[0])
    if phase not in PHASES:
        bad("phase", f"phase: {_show(phase)} is not one of {', '.join(PHASES)}")
    lists = {}
    for key in ("follow_ups", "misconceptions", "also_accept"):
        value = item.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            bad(key, f"{key}: must be a list of non-empty strings")
            value = []
        lists[key] = tuple(" ".join(v.split()) for v in value)
    concepts = _parse_concepts(item, bad) if "concepts" in item else ()
    if problems:
        return None, problems
    return Question(
        id=qid, topic=topic, question=text_fields["question"], answer=text_fields["answer"],
        concepts=concepts, kind=kind, difficulty=difficulty, phase=phase,
        follow_ups=lists["follow_ups"], misconceptions=lists["misconceptions"],
        also_accept=lists["also_accept"], source=str(path), line=item.line,
    ), []


def _parse_concepts(item: _Map, bad) -> tuple[Concept, ...]:
    raw = item["concepts"]
    if not isinstance(raw, list):
        bad("concepts", "concepts: must be a list of 3 to 6 concepts")
        return ()
    if not MIN_CONCEPTS <= len(raw) <= MAX_CONCEPTS:
        need = f"at least {MIN_CONCEPTS}" if len(raw) < MIN_CONCEPTS else f"at most {MAX_CONCEPTS}"
        bad("concepts", f"concepts: {need} required (found {len(raw)})")
    concepts = []
    for n, c in enumerate(raw, start=1):
        where = f"concepts[{n}]"
        if isinstance(c, str) and c.strip():
            concepts.append(Concept(" ".join(c.split())))
            continue
        if not isinstance(c, _Map):
            bad("concepts", f"{where}: must be a phrase or a mapping with name, aliases, weight")
            continue
        for key in c:
            if key not in CONCEPT_KEYS:
                bad("concepts", f"{where}: unknown key {_key(key)} (allowed: name, aliases, weight)")
        name = c.get("name")
        if not (isinstance(name, str) and name.strip()):
            bad("concepts", f"{where}: name: must be a non-empty phrase")
            continue
        aliases = c.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
            bad("concepts", f"{where} '{name}': aliases: must be a list of phrases")
            aliases = []
        weight = c.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight <= MAX_WEIGHT:
            bad("concepts", f"{where} '{name}': weight: {_show(weight)} must be a number above 0 and at most "
                            f"{MAX_WEIGHT:g}")
            weight = 1.0
        concepts.append(Concept(" ".join(name.split()), tuple(" ".join(a.split()) for a in aliases), float(weight)))
    names = Counter(c.name.lower() for c in concepts)
    for name, count in names.items():
        if count > 1:
            bad("concepts", f"concepts: '{name}' is listed {count} times")
    return tuple(concepts)


def stats(questions: Iterable[Question]) -> dict:
    """Counts of the bank by topic, kind, difficulty and phase."""
    qs = list(questions)
    return {
        "total": len(qs),
        "by_topic": dict(Counter(q.topic for q in qs)),
        "by_kind": dict(Counter(q.kind for q in qs)),
        "by_difficulty": {str(k): v for k, v in sorted(Counter(q.difficulty for q in qs).items())},
        "by_phase": dict(Counter(q.phase for q in qs)),
    }
