"""Anki export (read back from the .apkg's SQLite) and import (round trip, Basic decks, text exports, bad files)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import wave
import zipfile
from pathlib import Path

import genanki
import pytest
from typer.testing import CliRunner

from viva import paths
from viva.anki import (DECK_ROOT, MODEL_NAME, export_deck, espeak_synthesizer, import_deck, read_text_export,
                       stable_id, strip_html)
from viva.bank import check_files, load_bank
from viva.cli import app
from viva.errors import InputError
from viva.store import Store

runner = CliRunner()


@pytest.fixture(scope="module")
def inference():
    return load_bank().select(["inference"])


def read_apkg(path: Path, tmp: Path) -> dict:
    with zipfile.ZipFile(path) as zf:
        zf.extract("collection.anki2", tmp)
        media = json.loads(zf.read("media"))
        members = zf.namelist()
    conn = sqlite3.connect(tmp / "collection.anki2")
    notes = conn.execute("SELECT guid, mid, tags, flds FROM notes ORDER BY id").fetchall()
    decks = json.loads(conn.execute("SELECT decks FROM col").fetchone()[0])
    models = json.loads(conn.execute("SELECT models FROM col").fetchone()[0])
    conn.close()
    return {"notes": notes, "decks": decks, "models": models, "media": media, "members": members}


def test_export_is_read_back_with_stable_ids(inference, tmp_path):
    out = tmp_path / "viva.apkg"
    result = export_deck(inference, out)
    assert (result.notes, result.decks, result.audio) == (len(inference), 1, 0)
    deck = read_apkg(out, tmp_path / "a")
    assert len(deck["notes"]) == len(inference)
    by_guid = {n[0]: n for n in deck["notes"]}
    q = inference[0]
    guid, mid, tags, flds = by_guid[genanki.guid_for(q.id)]
    question, reference, concepts, audio, qid = flds.split("\x1f")
    assert (strip_html(question), strip_html(reference), audio, qid) == (q.question, q.answer, "", q.id)
    assert [strip_html(c) for c in concepts.split("</li>") if strip_html(c)] == [c.name for c in q.concepts]
    assert tags.split() == ["inference", "inference-efficiency", "viva"]
    assert mid == stable_id(MODEL_NAME) and str(mid) in deck["models"]
    assert f"{DECK_ROOT}::inference" in {d["name"] for d in deck["decks"].values()}
    # A second export carries the same guids, model id and deck id: Anki updates instead of duplicating.
    export_deck(inference, tmp_path / "again.apkg")
    again = read_apkg(tmp_path / "again.apkg", tmp_path / "b")
    assert {n[0] for n in again["notes"]} == set(by_guid)
    assert set(again["decks"]) == set(deck["decks"]) and set(again["models"]) == set(deck["models"])


def test_export_with_audio_uses_the_synthesizer(inference, tmp_path):
    spoken = []

    def fake(text: str, out: Path) -> None:
        spoken.append(text)
        with wave.open(str(out), "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(16_000), w.writeframes(b"\0\0" * 160)

    qs = inference[:2]
    result = export_deck(qs, tmp_path / "audio.apkg", with_audio=True, synthesize=fake)
    deck = read_apkg(tmp_path / "audio.apkg", tmp_path / "x")
    assert result.audio == 2 and spoken == [q.question for q in qs]
    assert sorted(deck["media"].values()) == sorted(f"viva-{q.id}.wav" for q in qs)
    assert all(f"[sound:viva-{n[3].split(chr(31))[4]}.wav]" in n[3] for n in deck["notes"])


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_default_synthesizer_is_espeak(tmp_path):
    out = tmp_path / "q.wav"
    espeak_synthesizer("What is the KV cache?", out)
    with wave.open(str(out)) as w:
        assert w.getnframes() / w.getframerate() > 0.5


def test_import_round_trips_the_export(inference, tmp_path):
    export_deck(inference, tmp_path / "viva.apkg")
    result = import_deck(tmp_path / "viva.apkg", "mine")
    assert result.path == paths.user_banks_dir() / "mine.yaml"
    assert (result.imported, result.skipped, result.replaced) == (len(inference), (), False)
    assert result.path.read_text(encoding="utf-8").splitlines()[1] == "topics: [mine]"
    questions, problems = check_files([result.path])
    assert problems == []
    assert [(q.id, q.topic, q.question, q.answer, [c.name for c in q.concepts]) for q in questions] == [
        (f"mine-{q.id}", "mine", q.question, q.answer, [c.name for c in q.concepts]) for q in inference]
    assert load_bank().select(["mine"])  # loads beside the built-in bank: no duplicate ids
    assert import_deck(tmp_path / "viva.apkg", "mine").replaced


def basic_deck(path: Path) -> None:
    deck = genanki.Deck(1234567890, "user deck")
    notes = [
        ("What is <b>dropout</b>?", "Dropout randomly zeroes activations during training, which prevents "
                                    "co-adaptation of neurons and acts as a regularizer; at inference it is off."),
        ("What is dropout?", "The same front again, with a back long enough to give several key concepts."),
        ("Image only", '<img src="x.png">'),
        ("Short?", "Yes."),
        ("Why layer norm?&nbsp;[sound:a.mp3]", "<div>Layer normalization rescales activations per token,</div>"
                                               "<div>stabilizing training of deep transformers and allowing "
                                               "higher learning rates.</div><script>alert(1)</script>"),
    ]
    for front, back in notes:
        deck.add_note(genanki.Note(model=genanki.BASIC_MODEL, fields=[front, back]))
    deck.add_note(genanki.Note(model=genanki.CLOZE_MODEL, fields=["{{c1::Paris}} is in France.", ""]))
    genanki.Package(deck).write_to_file(str(path))


def test_import_of_a_basic_deck_derives_concepts_and_counts_skips(tmp_path):
    basic_deck(tmp_path / "user.apkg")
    result = import_deck(tmp_path / "user.apkg", "my-deck")
    assert result.imported == 2
    assert result.reasons() == {"duplicate of an earlier note's front": 1,
                                "empty front or back once HTML and media are removed": 1,
                                "back too short to find 3 key concepts": 1,
                                "cloze note (only Basic front/back notes can become questions)": 1}
    questions, problems = check_files([result.path])
    assert problems == []
    dropout, norm = questions
    assert dropout.id == "my-deck-what-is-dropout" and dropout.question == "What is dropout?"
    assert norm.question == "Why layer norm?" and "alert" not in norm.answer
    assert norm.answer.startswith("Layer normalization rescales activations per token, stabilizing")
    assert all(3 <= len(q.concepts) <= 6 for q in questions)


def test_text_export_with_headers_and_quoted_fields(tmp_path):
    txt = tmp_path / "deck.txt"
    txt.write_text("#separator:tab\n#html:true\n#notetype column:1\n#tags column:4\n"
                   'Basic\tWhat does a tokenizer do?\t"It splits text into subword tokens,\nmaps each token to an '
                   'id from a fixed vocabulary, and handles unknown words by byte fallback."\tnlp\n'
                   "Cloze\t{{c1::BPE}} merges pairs\t\t\n", encoding="utf-8")
    notes = read_text_export(txt)
    assert len(notes) == 2 and notes[1].cloze
    assert list(notes[0].fields.values())[0] == "What does a tokenizer do?"
    result = import_deck(txt, "nlp")
    assert result.imported == 1 and sum(result.reasons().values()) == 1
    assert check_files([result.path])[1] == []


def zip_with(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_bad_packages_are_refused_with_one_line(tmp_path, viva_home):
    with Store():
        pass  # a real viva.db: an SQLite file that is not an Anki collection
    cases = {
        "not a zip": (tmp_path / "a.apkg", None, "not an Anki package (an .apkg is a zip file)"),
        "no collection": (zip_with(tmp_path / "b.apkg", {"../../evil.txt": b"x"}), None,
                          "no Anki collection inside"),
        "zip bomb": (zip_with(tmp_path / "c.apkg", {"collection.anki2": b"\0" * 5_000_000}), None,
                     "over the 200x limit for a real deck (a zip bomb?)"),
        "not sqlite": (zip_with(tmp_path / "d.apkg", {"collection.anki2": b"hello" * 100}), None,
                       "the collection is not an SQLite database"),
        "viva db": (zip_with(tmp_path / "e.apkg", {"collection.anki2": (viva_home / "viva.db").read_bytes()}),
                    None, "an SQLite file that is not an Anki collection"),
        "new format": (zip_with(tmp_path / "f.apkg", {"collection.anki21b": b"x", "collection.anki2": b"x"}),
                       None, "tick 'Support older Anki versions'"),
    }
    (tmp_path / "a.apkg").write_bytes(b"PK not really")
    for label, (path, _, message) in cases.items():
        with pytest.raises(InputError) as err:
            import_deck(path, "x")
        assert message in str(err.value), label
        assert str(err.value).startswith(str(path)), label
    assert not (tmp_path.parent / "evil.txt").exists() and not Path("evil.txt").exists()
    assert not (paths.user_banks_dir() / "x.yaml").exists()


def test_cli_export_and_import(tmp_path):
    out = tmp_path / "deck.apkg"
    r = runner.invoke(app, ["export", "anki", str(out), "--topic", "judgment"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"Wrote {out}: ") and " notes in 1 deck(s)." in r.stdout
    r = runner.invoke(app, ["import", "anki", str(out), "--bank", "judged"])
    assert r.exit_code == 0, r.output
    assert "question(s) in topic 'judged'." in r.stdout and "viva practice --topic judged" in r.stdout
    r = runner.invoke(app, ["import", "anki", str(out), "--bank", "Bad Name"])
    assert r.exit_code == 1
    assert r.stderr == ("viva: --bank 'Bad Name' must be a slug like 'my-deck' (lowercase letters, digits "
                        "and '-')\n")
    r = runner.invoke(app, ["export", "anki", str(tmp_path / "deck.zip")])
    assert r.exit_code == 1 and r.stderr == f"viva: {tmp_path / 'deck.zip'}: the deck file must end in .apkg\n"
    r = runner.invoke(app, ["import", "anki", str(tmp_path / "none.apkg"), "--bank", "x"])
    assert r.exit_code == 1 and r.stderr == f"viva: {tmp_path / 'none.apkg'}: no such file\n"
