"""Anki decks: export the bank with genanki, import a user's deck into a user bank.

Export: one note per question (front: the question, and its spoken audio with ``--with-audio``; back: the
reference and key concepts), one sub-deck per topic, tagged by topic and phase. Note guids come from the
question id and the model and deck ids from fixed names, so a re-export updates the notes in Anki rather
than duplicating them.

Import: an ``.apkg`` (zip) or Anki's "Notes in Plain Text" ``.txt`` export. The zip is read defensively:
only the collection member is read, by name, into a temp dir of our choosing (member names never become
paths), with size and compression-ratio limits checked on the declared sizes and again while streaming;
the SQLite file must look like an Anki collection and is opened read-only with a time limit.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
import zipfile
import zlib
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable, Iterable

from viva import paths
from viva.domain import Question
from viva.errors import InputError

MODEL_NAME, DECK_ROOT = "viva question", "viva"
FIELDS = ("Question", "Reference", "Concepts", "Audio", "Id")
MAX_PACKAGE_BYTES = 1_000_000_000  # media may make a deck large; only the collection is ever read
MAX_COLLECTION_BYTES = 200_000_000  # ~100k notes
MAX_RATIO = 200  # uncompressed/compressed; SQLite pages compress well, but not by 1000x
MAX_MEMBERS = 100_000
MAX_NOTES = 20_000
MAX_TEXT_BYTES = 50_000_000
MAX_FRONT_CHARS, MAX_BACK_CHARS = 1_000, 5_000
QUERY_SECONDS = 20.0  # a crafted collection cannot keep SQLite busy longer than this
SQLITE_MAGIC = b"SQLite format 3\x00"
SLUG_WORDS = 6
CHUNK = 1 << 20
Synthesizer = Callable[[str, Path], None]


def stable_id(name: str) -> int:
    """A fixed 31-bit id for a model or deck name (Anki wants ids that never change)."""
    return (1 << 30) + int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % (1 << 30)


def espeak_synthesizer(text: str, out: Path) -> None:
    """Speak ``text`` into a WAV file with espeak-ng."""
    if shutil.which("espeak-ng") is None:
        raise InputError("espeak-ng is not installed: run 'sudo apt-get install espeak-ng', or export "
                         "without --with-audio")
    done = subprocess.run(["espeak-ng", "-w", str(out), text], capture_output=True, timeout=60)
    if done.returncode != 0 or not out.is_file():
        raise InputError(f"espeak-ng could not speak the question: {done.stderr.decode(errors='replace').strip()}")


@dataclass(frozen=True)
class ExportResult:
    path: Path
    notes: int
    decks: int
    audio: int


def _model():
    import genanki

    return genanki.Model(
        stable_id(MODEL_NAME), MODEL_NAME, fields=[{"name": f} for f in FIELDS],
        templates=[{"name": "say it aloud",
                    "qfmt": '<div class="q">{{Question}}</div>{{Audio}}',
                    "afmt": '{{FrontSide}}<hr id="answer"><div class="a">{{Reference}}</div>'
                            '<div class="c"><b>Key concepts</b>{{Concepts}}</div>'}],
        css=".card { font-family: sans-serif; font-size: 20px; } .q { font-weight: bold; } "
            ".c { margin-top: 1em; font-size: 16px; }")


def export_deck(questions: Iterable[Question], out: Path, *, with_audio: bool = False,
                synthesize: Synthesizer | None = None) -> ExportResult:
    """Write ``questions`` to an ``.apkg`` at ``out``; ``synthesize`` speaks each question when asked."""
    import genanki

    out = Path(out)
    if out.suffix.lower() != ".apkg":
        raise InputError(f"{out}: the deck file must end in .apkg")
    if not out.parent.is_dir():
        raise InputError(f"{out.parent}: no such folder; create it or choose another path")
    qs = list(questions)
    if not qs:
        raise InputError("no questions to export; check --topic")
    model, decks = _model(), {}
    synthesize = synthesize or espeak_synthesizer
    with tempfile.TemporaryDirectory(prefix="viva-anki-") as tmp:
        media = []
        for q in qs:
            audio = ""
            if with_audio:
                wav = Path(tmp) / f"viva-{q.id}.wav"
                synthesize(q.question, wav)
                media.append(str(wav))
                audio = f"[sound:{wav.name}]"
            concepts = "<ul>" + "".join(f"<li>{html.escape(c.name)}</li>" for c in q.concepts) + "</ul>"
            name = f"{DECK_ROOT}::{q.topic}"
            deck = decks.setdefault(name, genanki.Deck(stable_id(name), name))
            deck.add_note(genanki.Note(
                model=model, guid=genanki.guid_for(q.id), tags=[q.topic, q.phase, DECK_ROOT],
                fields=[html.escape(q.question), html.escape(q.answer), concepts, audio, q.id]))
        try:
            genanki.Package(list(decks.values()), media_files=media).write_to_file(str(out))
        except OSError as exc:
            raise InputError(f"{out}: cannot write ({exc.strerror})") from None
    return ExportResult(out, len(qs), len(decks), len(media))


# -- import -------------------------------------------------------------------------------------------
class _TextOnly(HTMLParser):
    BLOCKS = {"br", "div", "p", "li", "tr", "h1", "h2", "h3", "h4", "ul", "ol", "table", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")
        if tag in self.BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0
        if tag in self.BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def strip_html(text: str) -> str:
    """Plain text of an Anki field: tags, scripts, styles and [sound:...] removed, entities decoded."""
    parser = _TextOnly()
    parser.feed(re.sub(r"\[sound:[^\]]*\]", " ", text))
    parser.close()
    return " ".join("".join(parser.parts).split())


@dataclass(frozen=True)
class RawNote:
    """One note as read from a deck: field name -> HTML value, and what kind of note type it is."""

    label: str
    fields: dict[str, str]
    cloze: bool = False


@dataclass(frozen=True)
class ImportResult:
    path: Path
    imported: int
    skipped: tuple[tuple[str, str], ...] = ()
    replaced: bool = False

    def reasons(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, reason in self.skipped:
            counts[reason] = counts.get(reason, 0) + 1
        return counts


def _check_size(path: Path, limit: int) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    if size > limit:
        raise InputError(f"{path}: {size:,} bytes is over the {limit:,}-byte limit for a deck")


def _extract_collection(src: Path, tmp: Path) -> Path:
    """Copy the collection out of an .apkg into ``tmp``, within the size and ratio limits."""
    try:
        return _unzip_collection(src, tmp)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        # a damaged zip: bad CRC, a broken deflate stream, a truncated member, an unknown compression method
        raise InputError(f"{src}: the package is damaged ({exc}); export the deck from Anki again") from None


def _unzip_collection(src: Path, tmp: Path) -> Path:
    if not zipfile.is_zipfile(src):
        raise InputError(f"{src}: not an Anki package (an .apkg is a zip file); export the deck from Anki again")
    with zipfile.ZipFile(src) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise InputError(f"{src}: {len(infos):,} files inside, over the {MAX_MEMBERS:,} limit")
        names = {i.filename: i for i in infos}
        info = names.get("collection.anki21") or (None if "collection.anki21b" in names else
                                                  names.get("collection.anki2"))
        if info is None:
            if "collection.anki21b" in names:
                raise InputError(f"{src}: exported in Anki's newest format, which viva cannot read; in Anki's "
                                 "export dialog tick 'Support older Anki versions' and export again")
            raise InputError(f"{src}: no Anki collection inside; is this an Anki deck export?")
        if info.flag_bits & 0x1:
            raise InputError(f"{src}: the collection is encrypted")
        if info.file_size > MAX_COLLECTION_BYTES:
            raise InputError(f"{src}: the collection is {info.file_size:,} bytes, over the "
                             f"{MAX_COLLECTION_BYTES:,}-byte limit")
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            raise InputError(f"{src}: the collection is compressed {info.file_size // info.compress_size}x, "
                             f"over the {MAX_RATIO}x limit for a real deck (a zip bomb?)")
        target = tmp / "collection.sqlite"
        limit = min(MAX_COLLECTION_BYTES, max(info.compress_size, 1) * MAX_RATIO)
        written = 0
        with zf.open(info) as member, target.open("wb") as sink:
            while chunk := member.read(CHUNK):
                written += len(chunk)
                if written > limit:  # declared sizes can lie: count what actually comes out
                    raise InputError(f"{src}: the collection unpacks past its declared size; refusing it")
                sink.write(chunk)
    return target


def _open_collection(db: Path, src: Path) -> sqlite3.Connection:
    with db.open("rb") as fh:
        if fh.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
            raise InputError(f"{src}: the collection is not an SQLite database")
    conn = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    deadline = time.monotonic() + QUERY_SECONDS
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        conn.execute("PRAGMA trusted_schema=OFF")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise InputError(f"{src}: the collection is not a readable database ({exc})") from None
    if not {"col", "notes"} <= tables:
        conn.close()
        raise InputError(f"{src}: an SQLite file that is not an Anki collection (no notes/col tables)")
    return conn


def _note_types(conn: sqlite3.Connection) -> dict[int, tuple[list[str], bool]]:
    """Note type id -> (field names in order, is cloze)."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if {"notetypes", "fields"} <= tables:  # schema 18: one table per notion
        names = {r[0]: r[1] for r in conn.execute("SELECT id, name FROM notetypes")}
        flds: dict[int, list[str]] = {}
        for ntid, name in conn.execute("SELECT ntid, name FROM fields ORDER BY ntid, ord"):
            flds.setdefault(ntid, []).append(name)
        return {i: (flds.get(i, []), "cloze" in n.lower()) for i, n in names.items()}
    raw = conn.execute("SELECT models FROM col LIMIT 1").fetchone()
    models = json.loads(raw[0]) if raw and raw[0] else {}
    return {int(mid): ([f["name"] for f in sorted(m.get("flds", []), key=lambda f: f.get("ord", 0))],
                       m.get("type") == 1) for mid, m in models.items()}


def read_apkg(src: Path) -> list[RawNote]:
    """The notes of an .apkg, read safely in a temp dir."""
    _check_size(src, MAX_PACKAGE_BYTES)
    with tempfile.TemporaryDirectory(prefix="viva-import-") as tmp:
        conn = _open_collection(_extract_collection(src, Path(tmp)), src)
        try:
            types = _note_types(conn)
            rows = conn.execute("SELECT id, mid, flds FROM notes ORDER BY id LIMIT ?", (MAX_NOTES + 1,)).fetchall()
        except (sqlite3.DatabaseError, json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
            raise InputError(f"{src}: the collection's notes cannot be read ({exc})") from None
        finally:
            conn.close()
    if len(rows) > MAX_NOTES:
        raise InputError(f"{src}: more than {MAX_NOTES:,} notes; split the deck")
    notes = []
    for n, (_, mid, flds) in enumerate(rows, start=1):
        names, cloze = types.get(mid, ([], False))
        values = str(flds).split("\x1f")
        keys = names if len(names) == len(values) else [f"Field {i + 1}" for i in range(len(values))]
        notes.append(RawNote(f"note {n}", dict(zip(keys, values)), cloze))
    return notes


SEPARATORS = {"tab": "\t", "comma": ",", "semicolon": ";", "space": " ", "pipe": "|", "colon": ":"}
META_COLUMNS = ("guid column", "notetype column", "deck column", "tags column")


def read_text_export(src: Path) -> list[RawNote]:
    """Notes from Anki's "Notes in Plain Text" export (``#separator:`` / ``#... column:`` headers)."""
    _check_size(src, MAX_TEXT_BYTES)
    try:
        text = src.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{src}: not UTF-8 text; export it from Anki again") from None
    lines = text.splitlines()
    headers = {}
    while lines and lines[0].startswith("#") and ":" in lines[0]:
        key, _, value = lines.pop(0)[1:].partition(":")
        headers[key.strip().lower()] = value.strip()
    sep = headers.get("separator", "tab")
    sep = SEPARATORS.get(sep.lower(), sep[:1] or "\t")
    meta = {int(headers[k]) - 1: k for k in META_COLUMNS if headers.get(k, "").isdigit()}
    type_col = next((i for i, k in meta.items() if k == "notetype column"), None)
    notes = []
    rows = csv.reader(io.StringIO("\n".join(lines)), delimiter=sep, quotechar='"')
    for n, row in enumerate(rows, start=1):
        if n > MAX_NOTES:
            raise InputError(f"{src}: more than {MAX_NOTES:,} notes; split the deck")
        values = [v for i, v in enumerate(row) if i not in meta]
        kind = row[type_col] if type_col is not None and type_col < len(row) else ""
        notes.append(RawNote(f"row {n}", {f"Field {i + 1}": v for i, v in enumerate(values)},
                             "cloze" in kind.lower()))
    return notes


def _pick(fields: dict[str, str], names: tuple[str, ...], index: int) -> str:
    lowered = {k.lower(): v for k, v in fields.items()}
    for name in names:
        if name in lowered:
            return lowered[name]
    values = list(fields.values())
    return values[index] if index < len(values) else ""


def _slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())[:SLUG_WORDS]
    return "-".join(words) or "card"


def note_to_question(note: RawNote, bank: str, derive) -> tuple[dict | None, str]:
    """A bank question (as YAML-ready dict) from a note, or None and the reason it cannot be used."""
    values = "".join(note.fields.values())
    if note.cloze or "{{c1::" in values:
        return None, "cloze note (only Basic front/back notes can become questions)"
    if len(note.fields) < 2:
        return None, "fewer than two fields"
    front = strip_html(_pick(note.fields, ("question", "front"), 0))
    back = strip_html(_pick(note.fields, ("reference", "back"), 1))
    if not front or not back:
        return None, "empty front or back once HTML and media are removed"
    if len(front) > MAX_FRONT_CHARS or len(back) > MAX_BACK_CHARS:
        return None, f"front over {MAX_FRONT_CHARS} or back over {MAX_BACK_CHARS} characters"
    listed = re.findall(r"<li>(.*?)</li>", note.fields.get("Concepts", ""), flags=re.S)
    concepts = [strip_html(c) for c in listed if strip_html(c)] or [c.name for c in derive(back)]
    seen: set[str] = set()
    concepts = [c for c in concepts if not (c.lower() in seen or seen.add(c.lower()))]  # unique, in order
    if len(concepts) < 3:
        return None, "back too short to find 3 key concepts"
    own_id = note.fields.get("Id", "")
    slug = own_id if re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", own_id) else _slug(front)
    return {"id": f"{bank}-{slug}", "topic": bank, "question": front, "answer": back,
            "concepts": concepts[:6]}, ""


def import_deck(src: Path, bank: str) -> ImportResult:
    """Turn an Anki deck (.apkg or .txt) into the user bank ``<user banks>/<bank>.yaml``."""
    import yaml

    from viva.bank import SLUG, bank_files, check_files
    from viva.scoring import derive_concepts

    src = Path(src)
    if not SLUG.match(bank):
        raise InputError(f"--bank {bank!r} must be a slug like 'my-deck' (lowercase letters, digits and '-')")
    suffix = src.suffix.lower()
    if suffix not in (".apkg", ".txt"):
        raise InputError(f"{src}: expected an Anki .apkg package or a .txt 'Notes in Plain Text' export")
    notes = read_apkg(src) if suffix == ".apkg" else read_text_export(src)
    questions, skipped, fronts, ids = [], [], set(), set()
    for note in notes:
        q, reason = note_to_question(note, bank, derive_concepts)
        if q is not None and q["question"].lower() in fronts:
            q, reason = None, "duplicate of an earlier note's front"
        if q is None:
            skipped.append((note.label, reason))
            continue
        base, n = q["id"], 2
        while q["id"] in ids:
            q["id"], n = f"{base}-{n}", n + 1
        fronts.add(q["question"].lower())
        ids.add(q["id"])
        questions.append(q)
    if not questions:
        why = "; ".join(f"{k} ({v})" for k, v in ImportResult(src, 0, tuple(skipped)).reasons().items())
        raise InputError(f"{src}: no note could become a question ({why or 'the deck is empty'})")
    folder = paths.user_banks_dir()
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"{bank}.yaml"
    tmp = folder / f".{bank}.yaml.tmp"
    header = f"# Imported from {src.name} by 'viva import anki'; edit freely, 'viva bank check' validates it.\n"
    body = yaml.safe_dump({"questions": questions}, sort_keys=False, allow_unicode=True, width=100)
    tmp.write_text(f"{header}topics: [{bank}]\n{body}", encoding="utf-8")
    others = [f for f in bank_files() if f.resolve() != dest.resolve()]
    _, problems = check_files([*others, tmp])
    mine = [p for p in problems if p.startswith(str(tmp))]
    if mine:
        tmp.unlink()
        raise InputError(f"the imported bank would not load: {mine[0]}")
    replaced = dest.exists()
    os.replace(tmp, dest)
    return ImportResult(dest, len(questions), tuple(skipped), replaced)
