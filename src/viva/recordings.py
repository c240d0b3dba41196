"""Recordings on disk and the attempts that link them: tidying what an interrupted answer leaves behind.

A spoken answer's WAV is written before its attempt is committed, so a crash (even SIGKILL) in between
leaves a recording that no attempt links to. ``sweep_unlinked`` runs when a session starts, under the
session lock (so no other session is between saving and committing), and moves such files into
``recordings/unfinished/`` beside a note: nothing is deleted, and the recordings folder holds only files
that an attempt links to.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from viva import paths

log = logging.getLogger("viva")

UNFINISHED_DIR = "unfinished"
NOTE_NAME = "README.txt"
NOTE = ("These recordings belong to spoken answers that were interrupted (viva was closed, killed or "
        "crashed) after the answer was recorded but before it was saved, so no attempt in viva's history "
        "links to them. viva never reads this folder; keep or delete the files as you like.\n")


def sweep_unlinked(linked_names: set[str], folder: Path | None = None) -> list[Path]:
    """Move every WAV in ``folder`` whose name no attempt links to into ``folder/unfinished``.

    Args:
        linked_names: file names of the recordings attempts link to (``Store.audio_names()``).
        folder: the recordings folder; default ``paths.recordings_dir()``.

    Returns:
        Where the moved files are now. Housekeeping never stops a session: an OS error is logged and the
        file stays where it is.
    """
    folder = Path(folder) if folder else paths.recordings_dir()
    try:
        strays = sorted(p for p in folder.iterdir()
                        if p.suffix.lower() == ".wav" and p.name not in linked_names and p.is_file())
    except OSError:
        return []  # no recordings folder yet (or unreadable: then there is nothing we could move either)
    moved: list[Path] = []
    if not strays:
        return moved
    target = folder / UNFINISHED_DIR
    try:
        target.mkdir(exist_ok=True)
        note = target / NOTE_NAME
        if not note.exists():
            note.write_text(NOTE, encoding="utf-8")
    except OSError as exc:
        log.warning("cannot tidy %s: %s", folder, exc)
        return moved
    for path in strays:
        dest = target / path.name
        try:
            os.replace(path, dest)
        except OSError as exc:
            log.warning("cannot move %s: %s", path, exc)
            continue
        moved.append(dest)
    return moved


__all__ = ["NOTE_NAME", "UNFINISHED_DIR", "sweep_unlinked"]
