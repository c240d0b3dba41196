"""The README stays true: both commands, and every CLI command, appear in it."""

from __future__ import annotations

from pathlib import Path

import typer.main

from viva.cli import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_shows_the_two_commands():
    assert "make practice" in README and "make test" in README


def test_every_command_is_in_the_readme():
    group = typer.main.get_command(app)
    missing = []
    for name, cmd in group.commands.items():
        subs = getattr(cmd, "commands", None)
        names = [f"viva {name} {s}" for s in subs] if subs else [f"viva {name}"]
        missing += [n for n in names if n not in README]
    assert missing == []
