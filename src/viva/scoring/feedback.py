"""The two or three most useful fixes for an answer, concrete and naming concepts. Pure."""

from __future__ import annotations

from viva.domain import ConceptHit
from viva.scoring import text as tx
from viva.scoring.contradiction import Contradiction
from viva.scoring.length import LengthCheck
from viva.scoring.plan import QuestionPlan
from viva.scoring.precision import Wording

MAX_FIXES = 3
QUOTE_LIMIT = 90  # characters of a reference clause quoted in a fix


def build_fixes(
    plan: QuestionPlan,
    hits: tuple[ConceptHit, ...],
    contradictions: tuple[Contradiction, ...],
    wording: Wording,
    length: LengthCheck,
    off_topic: tuple[str, ...],
) -> tuple[str, ...]:
    """Fixes in priority order: wrong claims, missed central concepts, mis-heard terms, vague wording,
    half-said concepts, padding, hedges, then length; at most ``MAX_FIXES``."""
    fixes: list[str] = []
    reference = plan.question.answer
    for c in contradictions[:1]:
        verb = {"reversed": "reverses the direction", "swapped": "swaps the roles",
                "misconception": "is a common misconception"}[c.kind]
        fixes.append(f'"{_clip(c.answer_text)}" {verb}; the reference says: "{_clip(c.reference_text, QUOTE_LIMIT)}"')
    missed = sorted((h for h in hits if h.status == "missed"), key=lambda h: -h.concept.weight)
    for h in missed[:2]:
        clause = reference_clause(reference, h.concept.phrases)
        fixes.append(f'Mention {h.concept.name}: "{clause}"' if clause else f"Mention {h.concept.name}.")
    for h in hits:
        if h.status == "misheard":
            fixes.append(f'Say "{h.sounds_like or h.concept.name}" clearly: it came through as "{h.heard_as}".')
    named = [h.concept.name for h in hits if h.status == "hit"] or [h.concept.name for h in hits]
    for v in wording.vague[:1]:
        hint = f" such as {named[0]}" if named else ""
        fixes.append(f'Replace "{v}" with the precise claim{hint}.')
    for h in hits:
        if h.status == "partial":
            fixes.append(f'Be explicit about {h.concept.name}: "{h.evidence}" only gestures at it.')
            break
    if off_topic:
        fixes.append(f'Cut what is off the question, e.g. "{_clip(off_topic[0])}".')
    for hedge in wording.hedges[:1]:
        fixes.append(f'Drop "{hedge}": state the claim, or name the condition it depends on.')
    if length.verdict == "too short" and not missed:
        fixes.append(f"Develop the answer to about {length.target_words} words: say why, not just what.")
    return tuple(dict.fromkeys(fixes))[:MAX_FIXES]


def reference_clause(reference: str, phrases: tuple[str, ...]) -> str:
    """The clause of the reference that best states a concept (most shared content stems)."""
    wanted = {s for p in phrases for s in tx.content_stems(p)}
    best, best_overlap = "", 0
    for a, b in tx.clause_spans(reference):
        overlap = len(wanted & set(tx.content_stems(reference[a:b])))
        if overlap > best_overlap:
            best, best_overlap = reference[a:b], overlap
    return _clip(best, QUOTE_LIMIT)


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."
