"""Frozen value types shared by every stage: bank → session → scoring → schedule/store → reports."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

TOPICS: tuple[str, ...] = (
    "transformer-basics",
    "attention-efficiency",
    "tokenization-embeddings",
    "training-alignment",
    "retrieval-agents",
    "inference",
    "judgment",
)
KINDS: tuple[str, ...] = ("concept", "judgment")
# The two-week plan's phases, in study order.
PHASES: tuple[str, ...] = ("fundamentals", "training-rag", "inference-efficiency", "judgment-review")
DEFAULT_PHASE: dict[str, str] = {
    "transformer-basics": "fundamentals",
    "attention-efficiency": "fundamentals",
    "tokenization-embeddings": "fundamentals",
    "training-alignment": "training-rag",
    "retrieval-agents": "training-rag",
    "inference": "inference-efficiency",
    "judgment": "judgment-review",
}
TRACKS: tuple[str, ...] = ("said", "recognized")


@dataclass(frozen=True)
class Concept:
    """A key concept an interviewer listens for, with other wordings and likely mis-hearings."""

    name: str
    aliases: tuple[str, ...] = ()
    weight: float = 1.0

    @property
    def phrases(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Question:
    """One bank question with its reference answer."""

    id: str
    topic: str
    question: str
    answer: str
    concepts: tuple[Concept, ...] = ()
    kind: str = "concept"
    difficulty: int = 2
    phase: str = "fundamentals"
    follow_ups: tuple[str, ...] = ()
    misconceptions: tuple[str, ...] = ()
    # Other complete answers an interviewer accepts (another valid approach, another standard phrasing):
    # an answer is graded against each accepted answer and keeps the best grade.
    also_accept: tuple[str, ...] = ()
    source: str = ""
    line: int = 0


@dataclass(frozen=True)
class Delivery:
    """How a spoken answer was delivered, measured from the audio and word timestamps."""

    speaking_s: float
    words: int
    words_per_minute: float
    fillers: tuple[str, ...] = ()
    long_pauses: int = 0

    @property
    def filler_count(self) -> int:
        return len(self.fillers)


class Rating(str, enum.Enum):
    """FSRS ratings, named as the user sees them."""

    AGAIN = "again"
    HARD = "hard"
    GOOD = "good"
    EASY = "easy"


@dataclass(frozen=True)
class ConceptHit:
    """How one concept fared in an answer: hit, partial, misheard or missed, with the evidence span."""

    concept: Concept
    status: str  # "hit" | "partial" | "misheard" | "missed"
    similarity: float
    evidence: str = ""
    heard_as: str = ""  # words of a transcript that sound like one of the concept's phrases ("KV cash")
    sounds_like: str = ""  # the phrase they sound like ("KV cache")

    @property
    def covered(self) -> float:
        return {"hit": 1.0, "misheard": 1.0, "partial": 0.5}.get(self.status, 0.0)


@dataclass(frozen=True)
class Score:
    """The rubric's verdict on one answer. Sub-scores are 0-1, ``overall`` is 0-100."""

    overall: float
    coverage: float
    precision: float
    length: float
    rating: Rating
    hits: tuple[ConceptHit, ...] = ()
    flags: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    length_verdict: str = ""
    fixes: tuple[str, ...] = ()
    dont_know: bool = False
    contradictions: tuple[str, ...] = ()
    similarity: float = 0.0
    recall: float = 0.0  # soft recall of the reference's content words (0-1), part of ``overall``
    matched_reference: str = ""  # the ``also_accept`` answer this was graded against; "" = the reference

    @property
    def missed(self) -> tuple[str, ...]:
        return tuple(h.concept.name for h in self.hits if h.status == "missed")


@dataclass(frozen=True)
class Transcript:
    """What the transcriber heard."""

    text: str
    segments: tuple[dict, ...] = ()
    duration: float = 0.0
    model: str = ""
    engine: str = ""
    words: tuple[tuple[str, float, float], ...] = field(default=(), repr=False)
