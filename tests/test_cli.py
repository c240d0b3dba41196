"""CLI behaviour through typer's CliRunner on the real app."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from viva.cli import app

runner = CliRunner()


def test_bank_stats_json_shape():
    r = runner.invoke(app, ["bank", "stats", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert set(data) >= {"total", "by_topic", "by_kind"}
    assert data["total"] == sum(data["by_topic"].values()) == sum(data["by_kind"].values())


def test_bank_check_reports_problems_and_exits_1(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("questions:\n  - id: x\n    topic: inference\n    question: Q?\n    answer: A.\n"
                   "    concepts: [one]\n", encoding="utf-8")
    r = runner.invoke(app, ["bank", "check", str(bad)])
    assert r.exit_code == 1
    assert f"{bad}:6: question 'x': concepts: at least 3 required (found 1)" in r.stderr
    assert "1 problem(s) in 1 file(s)" in r.stderr


def test_bank_check_default_banks_pass():
    r = runner.invoke(app, ["bank", "check"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("ok: ")


def test_a_broken_user_bank_stops_practice_with_its_line(viva_home):
    (viva_home / "banks").mkdir(parents=True)
    bad = viva_home / "banks" / "mine.yaml"
    bad.write_text("questions: [", encoding="utf-8")
    r = runner.invoke(app, ["practice", "--type"], input="")
    assert r.exit_code == 1
    assert r.stderr.startswith(f"viva: {bad}:")
    assert "Traceback" not in r.output


def test_due_and_history_on_an_empty_home():
    r = runner.invoke(app, ["due", "--days", "3"])
    assert r.exit_code == 0 and "Due now: 0 to say aloud, 0 to recognize." in r.stdout
    r = runner.invoke(app, ["history"])
    assert r.exit_code == 0 and "No attempts yet" in r.stdout


def test_unknown_topic_is_one_line(viva_home):
    r = runner.invoke(app, ["practice", "--type", "--topic", "cooking"], input="")
    assert r.exit_code == 1
    assert r.stderr.startswith("viva: unknown topic 'cooking'; choose from: ")


def test_corrupt_database_is_one_line_and_untouched(viva_home):
    viva_home.mkdir(parents=True)
    db = viva_home / "viva.db"
    db.write_bytes(b"garbage" * 500)
    r = runner.invoke(app, ["history"])
    assert r.exit_code == 1
    assert r.stderr.startswith(f"viva: {db} is not a readable viva database")
    assert db.read_bytes() == b"garbage" * 500


def test_every_command_has_help_text():
    from viva.cli import app as root

    import typer.main

    group = typer.main.get_command(root)
    def walk(cmd, path):
        for name, sub in getattr(cmd, "commands", {}).items():
            yield path + [name], sub
            yield from walk(sub, path + [name])
    for path, cmd in walk(group, []):
        assert cmd.help and cmd.help.strip().endswith("."), f"viva {' '.join(path)} needs full-sentence help"
        r = runner.invoke(app, [*path, "--help"])
        assert r.exit_code == 0, path
