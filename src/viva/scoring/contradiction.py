"""Wrong claims: answers that state the reverse of the reference (placeholder until polarity lands)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Contradiction:
    """One claim of the answer that the reference contradicts."""

    kind: str  # "reversed" | "swapped" | "misconception"
    answer_text: str
    reference_text: str

    def describe(self) -> str:
        return f'{self.kind}: "{self.answer_text}" vs the reference: "{self.reference_text}"'


def find_contradictions(plan, answer, vecs) -> tuple[str, ...]:
    return ()
