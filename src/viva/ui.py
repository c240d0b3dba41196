"""Terminal rendering with rich: the question, the feedback panel and the session summary."""

from __future__ import annotations

from typing import Callable

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from viva.domain import Question, Score
from viva.session import Answer, SessionResult

RATING_STYLE = {"again": "bold red", "hard": "bold yellow", "good": "bold green", "easy": "bold cyan"}
STATUS_MARK = {"hit": ("✓", "green"), "partial": ("~", "yellow"), "misheard": ("?", "cyan"), "missed": ("✗", "red")}


def bar(value: float, width: int = 10) -> str:
    filled = round(max(0.0, min(1.0, value)) * width)
    return "█" * filled + "·" * (width - filled)


def concept_changes(score: Score, previous: Score | None) -> tuple[list[str], list[str]]:
    """Concepts gained and lost against the previous attempt at the same question."""
    if previous is None:
        return [], []
    before = {h.concept.name: h.covered for h in previous.hits}
    now = {h.concept.name: h.covered for h in score.hits}
    gained = [n for n, v in now.items() if v > before.get(n, 0.0)]
    lost = [n for n, v in now.items() if v < before.get(n, 0.0)]
    return gained, lost


def render_feedback(question: Question, score: Score, answer: Answer | None = None,
                    previous: Score | None = None) -> Panel:
    rating = score.rating.value
    head = Text.assemble(("Score ", "bold"), (f"{score.overall:.0f}/100", "bold"), "  ",
                         (rating.upper(), RATING_STYLE[rating]))
    parts: list = [head]
    if score.dont_know:
        parts.append(Text("Marked as not known: here is the reference to study.", style="yellow"))
    else:
        subs = Table.grid(padding=(0, 2))
        for label, value in (("coverage", score.coverage), ("precision", score.precision),
                             ("length", score.length)):
            subs.add_row(label, bar(value), f"{value:.2f}")
        parts.append(subs)
        concepts = Table(show_header=False, box=None, padding=(0, 1))
        for hit in score.hits:
            mark, style = STATUS_MARK.get(hit.status, ("·", "white"))
            label = hit.concept.name + (" (possibly misheard)" if hit.status == "misheard" else "")
            evidence = f'"{hit.evidence}"' if hit.evidence and hit.status != "missed" else ""
            concepts.add_row(Text(mark, style=style), Text(label), Text(evidence, style="dim"))
        parts.append(concepts)
        for flag in score.contradictions:
            parts.append(Text(f"Contradicts the reference: {flag}", style="bold red"))
        for note in score.notes:
            parts.append(Text(f"Wording: {note}", style="yellow"))
        if score.length_verdict:
            parts.append(Text(f"Length: {score.length_verdict}"))
        if answer is not None and answer.delivery is not None:
            d = answer.delivery
            fillers = f", fillers: {', '.join(d.fillers)}" if d.fillers else ""
            parts.append(Text(f"Delivery: {d.words_per_minute:.0f} words/min over {d.speaking_s:.0f} s, "
                              f"{d.long_pauses} long pauses{fillers}"))
    gained, lost = concept_changes(score, previous)
    if previous is not None:
        parts.append(Text(f"Against your last try: {previous.overall:.0f} → {score.overall:.0f}; "
                          f"gained: {', '.join(gained) or 'none'}; lost: {', '.join(lost) or 'none'}",
                          style="magenta"))
    if score.fixes:
        parts.append(Text("Fix first:", style="bold"))
        parts.extend(Text(f"  • {fix}") for fix in score.fixes)
    if score.matched_reference:
        parts.append(Text.assemble(("Graded against this accepted answer: ", "bold"), score.matched_reference))
    parts.append(Text.assemble(("Reference: ", "bold"), question.answer))
    return Panel(Group(*parts), title=question.id, border_style=RATING_STYLE[rating].split()[-1])


class ConsoleUI:
    """The practice loop's terminal face."""

    def __init__(self, console: Console, read_line: Callable[[str], str]):
        self.console, self.read_line = console, read_line

    def show_question(self, question: Question, number: int, total: int) -> None:
        meta = f"{number}/{total} · {question.topic} · difficulty {question.difficulty}"
        self.console.print(Panel(Text(question.question, style="bold"), title=meta, border_style="blue"))
        self.console.print("[dim]Type your answer; an empty line ends it, q quits.[/dim]")

    def feedback(self, question: Question, score: Score, answer: Answer, previous: Score | None) -> None:
        self.console.print(render_feedback(question, score, answer, previous))

    def next_action(self) -> str:
        try:
            choice = self.read_line("Enter: next · r: retry · q: quit > ").strip().lower()
        except (EOFError, KeyboardInterrupt):
            return "quit"
        return {"r": "retry", "retry": "retry", "q": "quit", "quit": "quit"}.get(choice, "next")

    def notice(self, message: str) -> None:
        self.console.print(message)

    def summary(self, result: SessionResult) -> None:
        if not result.answered:
            self.console.print("No answers this session; nothing was scheduled.")
            return
        ratings = ", ".join(f"{k} {v}" for k, v in result.ratings().items() if v)
        noun = "answer" if result.answered == 1 else "answers"
        self.console.print(f"Session over: {result.answered} {noun}, mean score {result.mean_score:.0f}/100 "
                           f"({ratings}). Every attempt is saved; 'viva due' shows what comes next.")
