"""Shared fixtures. No test touches a real home: VIVA_HOME always points at a temp dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(autouse=True)
def viva_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "viva-home"
    monkeypatch.setenv("VIVA_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def real_scorer():
    """The real rubric with the real all-MiniLM-L6-v2 model, loaded once per test session."""
    from viva.scoring import Scorer

    scorer = Scorer()
    scorer.warm()
    return scorer
