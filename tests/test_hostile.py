"""Hostile files: Anki decks built to escape or exhaust, SQLite files that are not collections, whisper
checkpoints carrying code, YAML carrying Python objects or alias bombs.

Each is refused (or read harmlessly) in one line, runs no code, and writes nothing outside viva's own temp
dir and the one user bank an import is meant to write. (tests/test_anki.py covers the plain bad packages:
not a zip, no collection, a declared-ratio zip bomb, not SQLite, a viva database, the newest Anki format.)
"""

from __future__ import annotations

import ast
import io
import json
import os
import sqlite3
import stat
import tempfile
import time
import zipfile
from pathlib import Path

import genanki
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from viva import anki, paths
from viva.anki import import_deck
from viva.bank import check_files
from viva.cli import app
from viva.errors import InputError

SRC = Path(__file__).resolve().parent.parent / "src" / "viva"
runner = CliRunner()


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A tree to watch: viva's temp dir, the home, the working dir and a sentinel folder a deck aims at."""
    for name in ("tmp", "cwd", "target", "decks"):
        (tmp_path / name).mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.chdir(tmp_path / "cwd")
    return tmp_path


@pytest.fixture(scope="module")
def plain_package(tmp_path_factory) -> bytes:
    """A real one-note Basic deck (built outside the sandbox: genanki leaves temp files of its own)."""
    deck = genanki.Deck(42, "plain")
    deck.add_note(genanki.Note(model=genanki.BASIC_MODEL, fields=[
        "What is dropout?", "Dropout randomly zeroes activations during training, which prevents co-adaptation "
                            "of neurons and acts as a regularizer; at inference it is switched off."]))
    out = tmp_path_factory.mktemp("plain") / "plain.apkg"
    genanki.Package(deck).write_to_file(str(out))
    return out.read_bytes()


def collection_of(apkg: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(apkg)) as zf:
        return zf.read("collection.anki2")


def package(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in members:
            zf.writestr(info, data)
    return path


def symlink_member(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16  # what `zip --symlinks` writes
    return info


def test_path_traversal_members_are_never_written(sandbox, plain_package):
    collection = collection_of(plain_package)
    target = sandbox / "target"
    deck = package(sandbox / "decks" / "escape.apkg", [
        ("collection.anki2", collection),
        (f"../../{target.name}/dotdot.txt", b"x"),
        (str(target / "absolute.txt"), b"x"),
        (symlink_member("link", str(target)), str(target).encode()),
        ("link/through-link.txt", b"x"),
        ("media", json.dumps({"0": f"../{target.name}/media.txt", "1": str(target / "abs-media.txt")}).encode()),
        ("0", b"y"), ("1", b"y"),
    ])
    before = tree(sandbox)
    result = import_deck(deck, "escape")
    assert result.imported == 1
    assert tree(sandbox) - before == {"viva-home", "viva-home/banks", "viva-home/banks/escape.yaml"}
    assert list((sandbox / "tmp").iterdir()) == []  # viva's temp dir is cleaned up too


def test_a_zip_bomb_that_lies_about_its_size_is_refused_after_its_declared_size(sandbox, monkeypatch):
    """The declared sizes pass the ratio check; the stream is cut at the declared size, and the lie is caught."""
    deck = sandbox / "decks" / "liar.apkg"
    package(deck, [("collection.anki2", b"\0" * 20_000_000)])
    raw = bytearray(deck.read_bytes())
    declared = 200_000  # honest-looking: 20 MB really, deflated to ~20 kB
    raw[22:26] = declared.to_bytes(4, "little")  # the local header's uncompressed size
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 24:central + 28] = declared.to_bytes(4, "little")
    deck.write_bytes(bytes(raw))
    written: list[int] = []
    real_open = Path.open

    def watched_open(self, mode="r", *args, **kwargs):
        handle = real_open(self, mode, *args, **kwargs)
        if "w" in mode and self.name == "collection.sqlite":
            real_write = handle.write
            handle.write = lambda data: written.append(len(data)) or real_write(data)
        return handle

    monkeypatch.setattr(Path, "open", watched_open)
    with pytest.raises(InputError) as err:
        import_deck(deck, "liar")
    assert str(err.value).startswith(f"{deck}: the package is damaged (Bad CRC-32")
    assert sum(written) <= declared
    assert list((sandbox / "tmp").iterdir()) == []


def test_too_many_members_and_oversized_collections_are_refused_by_the_directory(sandbox, monkeypatch):
    monkeypatch.setattr(anki, "MAX_MEMBERS", 50)
    many = package(sandbox / "decks" / "many.apkg", [(f"{i}", b"") for i in range(51)])
    with pytest.raises(InputError, match=r"51 files inside, over the 50 limit"):
        import_deck(many, "many")
    monkeypatch.setattr(anki, "MAX_COLLECTION_BYTES", 1_000)
    big = package(sandbox / "decks" / "big.apkg", [("collection.anki2", os.urandom(2_000))])
    with pytest.raises(InputError, match=r"the collection is 2,000 bytes, over the 1,000-byte limit"):
        import_deck(big, "big")


def sqlite_file(path: Path, script: str, rows: dict[str, list[tuple]] | None = None) -> bytes:
    conn = sqlite3.connect(path)
    conn.executescript(script)
    for table, values in (rows or {}).items():
        conn.executemany(f"INSERT INTO {table} VALUES ({','.join('?' * len(values[0]))})", values)
    conn.commit()
    conn.close()
    return path.read_bytes()


NOT_COLLECTIONS = {
    "unrelated tables": ("CREATE TABLE users (name, password);", None,
                         "an SQLite file that is not an Anki collection"),
    "models is a list": ("CREATE TABLE col (models); CREATE TABLE notes (id, mid, flds);",
                         {"col": [("[1, 2]",)], "notes": [(1, 5, "a\x1fb")]}, "the collection's notes cannot be read"),
    "model ids not numbers": ("CREATE TABLE col (models); CREATE TABLE notes (id, mid, flds);",
                              {"col": [('{"abc": {}}',)], "notes": [(1, 5, "a\x1fb")]},
                              "the collection's notes cannot be read"),
    "fields not objects": ("CREATE TABLE col (models); CREATE TABLE notes (id, mid, flds);",
                           {"col": [('{"5": {"flds": [1]}}',)], "notes": [(1, 5, "a\x1fb")]},
                           "the collection's notes cannot be read"),
    "notes without columns": ("CREATE TABLE col (models); CREATE TABLE notes (x);", {"col": [("{}",)]},
                              "the collection's notes cannot be read"),
}


@pytest.mark.parametrize("case", sorted(NOT_COLLECTIONS))
def test_sqlite_files_that_are_not_anki_collections_are_refused(sandbox, case):
    script, rows, says = NOT_COLLECTIONS[case]
    data = sqlite_file(sandbox / "decks" / "c.db", script, rows)
    deck = package(sandbox / "decks" / f"{case.replace(' ', '-')}.apkg", [("collection.anki2", data)])
    before = tree(sandbox)
    r = runner.invoke(app, ["import", "anki", str(deck), "--bank", "hostile"])
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    assert r.stderr.splitlines() == [r.stderr.strip()] and r.stderr.startswith(f"viva: {deck}: ") and says in r.stderr
    assert tree(sandbox) - before <= {"viva-home", "viva-home/banks"}
    assert list((sandbox / "tmp").iterdir()) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.integers(0, 10**9), st.integers(1, 255)), min_size=1, max_size=8),
       cut=st.one_of(st.none(), st.integers(0, 10**9)))
def test_damaged_packages_are_read_or_refused_in_one_line(sandbox, plain_package, flips, cut):
    raw = bytearray(plain_package)
    for where, xor in flips:
        raw[where % len(raw)] ^= xor
    if cut is not None:
        raw = raw[: cut % len(raw)]
    deck = sandbox / "decks" / "damaged.apkg"
    deck.write_bytes(bytes(raw))
    try:
        import_deck(deck, "damaged")
    except InputError as exc:
        assert str(exc).startswith(f"{deck}: ") and "\n" not in str(exc), str(exc)
    assert list((sandbox / "tmp").iterdir()) == []


# -- whisper checkpoints -----------------------------------------------------------------------------------
class _Payload:
    """Unpickling this runs os.system: the classic malicious checkpoint."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")  # torch, on the bare pickle
def test_a_checkpoint_with_a_malicious_reduce_is_refused_and_runs_nothing(tmp_path, viva_home, monkeypatch):
    import pickle

    import torch

    from viva.errors import ModelNotFoundError
    from viva.transcribe import build_transcriber

    marker = tmp_path / "pwned"
    evil = viva_home / "models" / "evil.pt"
    evil.parent.mkdir(parents=True)
    torch.save({"dims": {}, "model_state_dict": {}, "extra": _Payload(marker)}, evil)
    with pytest.raises(ModelNotFoundError, match=r"not a loadable whisper checkpoint"):
        build_transcriber("openai-whisper", str(evil))
    plain = tmp_path / "plain.pt"
    plain.write_bytes(pickle.dumps(_Payload(marker)))  # not even a torch zip: a bare pickle
    with pytest.raises(ModelNotFoundError):
        build_transcriber("openai-whisper", str(plain))
    assert not marker.exists()


def _calls(name: str):
    """Every call to ``<something>.<name>(...)`` or ``name(...)`` in viva's source, with its file."""
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                if called == name:
                    yield path, node


def test_every_torch_load_is_weights_only_and_nothing_unpickles():
    loads = [(p, n) for p, n in _calls("load") if isinstance(n.func, ast.Attribute)
             and getattr(n.func.value, "id", None) == "torch"]
    assert loads, "expected the openai-whisper engine's torch.load"
    for path, node in loads:
        kw = {k.arg: k.value for k in node.keywords}
        assert isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True, path
    for name in ("loads", "load", "Unpickler"):
        bad = [p for p, n in _calls(name) if isinstance(n.func, ast.Attribute)
               and getattr(n.func.value, "id", None) in ("pickle", "dill", "joblib")]
        assert bad == [], bad


# -- YAML ----------------------------------------------------------------------------------------------------
def test_python_tags_in_a_bank_are_refused_with_a_line_and_run_nothing(tmp_path, viva_home):
    marker = tmp_path / "pwned"
    bank = tmp_path / "evil.yaml"
    bank.write_text(f"questions:\n  - id: evil\n    topic: inference\n"
                    f"    question: !!python/object/apply:os.system [\"touch {marker}\"]\n"
                    f"    answer: !!python/object:builtins.object {{}}\n    concepts: [a, b, c]\n", encoding="utf-8")
    _, problems = check_files([bank])
    assert problems == [f"{bank}:4: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed in "
                        "a question bank (plain YAML only); remove the tag"]
    (viva_home / "banks").mkdir(parents=True)
    (viva_home / "banks" / "evil.yaml").write_text(bank.read_text(), encoding="utf-8")
    r = runner.invoke(app, ["practice", "--type"], input="q\n")
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert r.stderr.startswith(f"viva: {viva_home / 'banks' / 'evil.yaml'}:4: YAML tag ")
    assert not marker.exists()


def test_every_yaml_load_in_viva_is_safe():
    for path, node in _calls("load"):
        if isinstance(node.func, ast.Attribute) and getattr(node.func.value, "id", None) == "yaml":
            loader = next((k.value for k in node.keywords if k.arg == "Loader"), None)
            assert isinstance(loader, ast.Name), f"{path}:{node.lineno}: yaml.load without a named safe Loader"
            import viva.bank as bank_module

            import yaml

            cls = getattr(bank_module, loader.id)  # SafeLoader or CSafeLoader: the safe constructor, not Full
            assert issubclass(cls, yaml.constructor.SafeConstructor), f"{path}:{node.lineno}"
            assert not issubclass(cls, yaml.constructor.FullConstructor), f"{path}:{node.lineno}"
    for name in ("unsafe_load", "full_load", "load_all", "unsafe_load_all"):
        assert [p for p, n in _calls(name) if getattr(getattr(n.func, "value", None), "id", None) == "yaml"] == []


def test_a_yaml_alias_bomb_is_refused_in_bounded_time(tmp_path):
    """Nine levels of ten aliases: 10^9 leaves from 400 bytes. Quoting the bad value must not expand it."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    bank = tmp_path / "laughs.yaml"
    bank.write_text("\n".join(lines) + "\nquestions:\n  - id: boom\n    topic: *a8\n    question: *a8\n"
                    "    answer: A.\n    kind: *a8\n    difficulty: *a8\n    concepts: *a8\n", encoding="utf-8")
    start = time.monotonic()
    _, problems = check_files([bank])
    assert time.monotonic() - start < 5
    assert problems and all(p.startswith(f"{bank}:") and "\n" not in p and len(p) < 1_000 for p in problems)
    assert any("question 'boom': topic: [[[" in p for p in problems)


def test_a_device_or_pipe_given_as_a_bank_is_refused(tmp_path):
    _, problems = check_files([Path("/dev/zero")])
    assert problems == ["/dev/zero: not a regular file; give a .yaml bank file"]
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    _, problems = check_files([fifo])
    assert problems == [f"{fifo}: not a regular file; give a .yaml bank file"]


def test_user_bank_dir_is_where_imports_land():
    assert paths.user_banks_dir() == paths.home() / "banks"
