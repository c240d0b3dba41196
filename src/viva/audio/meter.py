"""The terminal side of recording: the spoken question panel, a live level meter, Enter to stop."""

from __future__ import annotations

import select
import sys
from typing import Callable

from viva.audio.recorder import Progress

METER_WIDTH = 20  # characters
FLOOR_DBFS = -60.0  # the meter's empty end
REFRESH_HZ = 8


def show_spoken_question(console) -> Callable:
    from rich.panel import Panel
    from rich.text import Text

    def show(question, number: int, total: int) -> None:
        meta = f"{number}/{total} · {question.topic} · difficulty {question.difficulty}"
        console.print(Panel(Text(question.question, style="bold"), title=meta, border_style="blue"))

    return show


def level_bar(level_dbfs: float, width: int = METER_WIDTH) -> str:
    filled = round(max(0.0, min(1.0, (level_dbfs - FLOOR_DBFS) / -FLOOR_DBFS)) * width)
    return "▮" * filled + "▯" * (width - filled)


def meter_line(p: Progress) -> str:
    minutes, seconds = divmod(int(p.elapsed_s), 60)
    state = "speaking" if p.speaking else ("listening" if not p.heard_speech else "pause")
    return f"● rec {minutes}:{seconds:02d}  {level_bar(p.level_dbfs)}  {state}"


class LiveMeter:
    """One updating line while recording (rich Live, transient); prints the hint when listening starts."""

    def __init__(self, console, trailing_silence_s: float):
        self.console = console
        self.trailing = trailing_silence_s
        self._live = None
        self._heard = False

    def start(self) -> None:
        self._heard = False
        self.console.print(f"[dim]Answer after the beep. Stop talking for {self.trailing:g} s, or press Enter, "
                           "to finish.[/dim]")

    def update(self, progress: Progress) -> None:
        from rich.live import Live
        from rich.text import Text

        if self._live is None:
            self._live = Live(Text(""), console=self.console, transient=True, refresh_per_second=REFRESH_HZ)
            self._live.start()
        self._live.update(Text(meter_line(progress)))
        self._heard = progress.heard_speech

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        if self._heard:
            self.console.print("[dim]Transcribing…[/dim]")


def enter_pressed() -> bool:
    """True if a line is waiting on an interactive stdin (Enter was pressed); consumes it."""
    stream = sys.stdin
    try:
        if not stream.isatty():
            return False
        ready, _, _ = select.select([stream], [], [], 0)
    except (OSError, ValueError, AttributeError):
        return False
    if ready:
        stream.readline()
        return True
    return False
