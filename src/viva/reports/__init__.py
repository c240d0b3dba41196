"""Reports: progress numbers (pure, ``progress``), terminal tables (``terminal``) and the HTML page (``html``)."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from viva.domain import Question
from viva.reports.progress import FORECAST_DAYS, Progress, compute_progress
from viva.store import Store


def load_progress(store: Store, questions: Iterable[Question], now: datetime, days: int = FORECAST_DAYS) -> Progress:
    """Read every attempt and the due forecast from ``store`` and compute the progress figures."""
    return compute_progress(questions, store.attempts(None), now=now,
                            due_said=store.due_counts(now, days, "said"),
                            due_recognized=store.due_counts(now, days, "recognized"))


__all__ = ["Progress", "compute_progress", "load_progress"]
