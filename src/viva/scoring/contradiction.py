"""Wrong claims that embeddings miss: an answer that reverses the reference sits as close to it as a
correct paraphrase (an inverted temperature answer has cosine 0.893, a correct one 0.873), so three
targeted tests look for them:

* reversed direction: clause polarity parity against the aligned reference clause (``polarity``);
* swapped roles: for a pair of entities (encoder/decoder, DPO/RLHF, training/inference, or the two
  things a question contrasts), what the answer says about A matches what the reference says about B;
* known misconceptions: an answer sentence closer to one of the question's ``misconceptions`` than to
  any reference sentence, and using the misconception's own distinctive words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from viva.scoring import polarity
from viva.scoring import text as tx

ROLE_PAIRS: tuple[tuple[str, str], ...] = (
    ("encoder", "decoder"), ("bert", "gpt"), ("dpo", "rlhf"), ("dpo", "ppo"), ("training", "inference"),
    ("train", "test"), ("teacher", "student"), ("generator", "discriminator"), ("actor", "critic"),
    ("prefill", "decode"), ("precision", "recall"), ("bias", "variance"), ("pretraining", "fine-tuning"),
    ("l1", "l2"), ("query", "key"), ("input", "output"), ("retrieval", "fine-tune"), ("lora", "full"),
)
PAIR_PATTERNS = (
    re.compile(r"between (?P<a>[^,?.]+?) and (?P<b>[^,?.]+)", re.IGNORECASE),
    re.compile(r"(?P<a>[\w\- ]+?) (?:vs\.?|versus) (?P<b>[\w\- ]+)", re.IGNORECASE),
    re.compile(r"(?:does|do|is|are) (?P<a>[^,?.]+?) differ from (?P<b>[^,?.]+)", re.IGNORECASE),
    re.compile(r"would you (?P<a>[^,?.]+?) or (?P<b>[^,?.]+)", re.IGNORECASE),
)
MIN_SWAP_VOTES = 1  # clauses whose context matches the other entity's role
MISCONCEPTION_MIN_SIM = 0.75  # an answer sentence at least this close to the misconception...
MISCONCEPTION_MARGIN = 0.07  # ...and this much closer to it than to every reference sentence


@dataclass(frozen=True)
class Contradiction:
    """One claim of the answer that the reference contradicts."""

    kind: str  # "reversed" | "swapped" | "misconception"
    answer_text: str
    reference_text: str

    def describe(self) -> str:
        label = {"reversed": "reverses", "swapped": "swaps the roles in", "misconception": "repeats"}[self.kind]
        what = "a known misconception" if self.kind == "misconception" else "the reference"
        return f'"{_clip(self.answer_text)}" {label} {what}: "{_clip(self.reference_text)}"'


def find_contradictions(
    question: str, reference: str, misconceptions: tuple[str, ...], answer: str,
    sentence_spans: tuple[tuple[int, int], ...], sentence_vecs: np.ndarray,
    ref_sentence_vecs: np.ndarray, misconception_vecs: np.ndarray,
) -> tuple[Contradiction, ...]:
    """Every contradiction found in ``answer`` (empty if none); at most one per test."""
    found: list[Contradiction] = []
    agree, disagree, pairs = polarity.polarity_votes(answer, reference)
    if disagree > agree and pairs:
        found.append(Contradiction("reversed", pairs[0][0].text, pairs[0][1].text))
    swap = role_swap(question, reference, answer)
    if swap is not None:
        found.append(swap)
    hit = misconception_hit(reference, misconceptions, answer, sentence_spans, sentence_vecs,
                            ref_sentence_vecs, misconception_vecs)
    if hit is not None and swap is None and not _roles_right_against_swap(question, reference, hit):
        found.append(hit)
    return tuple(found)


def entity_pairs(question: str, reference: str) -> tuple[tuple[frozenset[str], frozenset[str]], ...]:
    """Pairs of entities whose roles the reference distinguishes (each side a set of marker stems)."""
    return _entity_pairs(question, reference)


@lru_cache(maxsize=4096)
def _entity_pairs(question: str, reference: str) -> tuple[tuple[frozenset[str], frozenset[str]], ...]:
    ref = set(tx.stems(reference))
    pairs = [(frozenset(tx.stems(a)), frozenset(tx.stems(b))) for a, b in ROLE_PAIRS]
    for pattern in PAIR_PATTERNS:
        for m in pattern.finditer(question):
            a, b = set(tx.content_stems(m["a"])), set(tx.content_stems(m["b"]))
            a, b = a - b, b - a
            if a and b:
                pairs.append((frozenset(a), frozenset(b)))
    return tuple((a & ref, b & ref) for a, b in pairs if a & ref and b & ref)


@dataclass(frozen=True)
class RoleVotes:
    """For one entity pair: answer clauses saying of an entity what the reference says of it (keep)
    or of its partner (swap), with the first swapped clause and the reference clause it contradicts."""

    keep: int = 0
    swap: int = 0
    example: str = ""
    reference_clause: str = ""

    @property
    def swapped(self) -> bool:
        return self.swap >= MIN_SWAP_VOTES and self.swap > self.keep and bool(self.example)


def role_votes(question: str, reference: str, answer: str) -> tuple[RoleVotes, ...]:
    """Role votes of ``answer`` for every entity pair the reference distinguishes."""
    out = []
    for a, b in entity_pairs(question, reference):
        ref_ctx = _contexts(reference, a, b)
        if ref_ctx is None:
            continue
        only_a, only_b = ref_ctx[0] - ref_ctx[1], ref_ctx[1] - ref_ctx[0]
        keep = swap = 0
        example = ref_clause = ""
        for clause, side in _assigned_clauses(answer, a, b):
            if clause.negated:
                continue  # "DPO doesn't need a reward model" says the opposite of its words
            anchors = clause.anchors - a - b
            own, other = len(anchors & only_a), len(anchors & only_b)
            if side == 1:
                own, other = other, own
            if other > own:
                swap += 1
                if not example:
                    example, ref_clause = clause.text, _first_clause_with(reference, a if side else b)
            elif own > other:
                keep += 1
        out.append(RoleVotes(keep, swap, example, ref_clause))
    return tuple(out)


def role_swap(question: str, reference: str, answer: str) -> Contradiction | None:
    """A swapped-roles contradiction, if what the answer says of A is what the reference says of B."""
    for votes in role_votes(question, reference, answer):
        if votes.swapped:
            return Contradiction("swapped", votes.example, votes.reference_clause)
    return None


def misconception_hit(
    reference: str, misconceptions: tuple[str, ...], answer: str,
    sentence_spans: tuple[tuple[int, int], ...], sentence_vecs: np.ndarray,
    ref_sentence_vecs: np.ndarray, misconception_vecs: np.ndarray,
) -> Contradiction | None:
    """The first answer sentence that states a listed misconception rather than the reference."""
    if not misconceptions or not len(sentence_spans):
        return None
    ref_stems = set(tx.content_stems(reference))
    to_misc = sentence_vecs @ misconception_vecs.T
    to_ref = (sentence_vecs @ ref_sentence_vecs.T).max(axis=1)
    for i, (a, b) in enumerate(sentence_spans):
        j = int(np.argmax(to_misc[i]))
        sim = float(to_misc[i, j])
        if sim < MISCONCEPTION_MIN_SIM or sim - float(to_ref[i]) < MISCONCEPTION_MARGIN:
            continue
        distinctive = set(tx.content_stems(misconceptions[j])) - ref_stems
        if distinctive and not distinctive & set(tx.content_stems(answer[a:b])):
            continue
        return Contradiction("misconception", answer[a:b], misconceptions[j])
    return None


def _roles_right_against_swap(question: str, reference: str, hit: Contradiction) -> bool:
    """A misconception that swaps roles shares every word with the truth ("BERT is a decoder, GPT an
    encoder"); an answer sentence that gets the roles right is then not that misconception."""
    misconception = role_votes(question, reference, hit.reference_text)
    answer = role_votes(question, reference, hit.answer_text)
    return any(m.swapped and v.keep > v.swap for m, v in zip(misconception, answer))


def _assigned_clauses(text: str, a: frozenset[str], b: frozenset[str]):
    """(clause, side) for clauses about exactly one entity; side 0 = a, 1 = b. A clause that names
    neither inherits the entity of the clause before it in the same sentence."""
    for s0, s1 in tx.sentence_spans(text):
        current = None
        for clause in _role_clauses(text[s0:s1], a, b):
            stems = set(tx.stems(clause.text))
            has_a, has_b = bool(stems & a), bool(stems & b)
            if has_a and has_b:
                current = None
                continue
            if has_a or has_b:
                current = 0 if has_a else 1
            if current is not None:
                yield clause, current


def _role_clauses(sentence: str, a: frozenset[str], b: frozenset[str]) -> list[polarity.Clause]:
    """Clauses, with one naming both entities cut at "and" / "or" ("BERT reads and GPT writes")."""
    out = []
    for clause in polarity.clauses(sentence):
        stems = set(tx.stems(clause.text))
        if stems & a and stems & b:
            parts = [p for p in polarity.AND_RE.split(clause.text) if tx.words(p)]
            if len(parts) > 1:
                out.extend(polarity.clause_of(p) for p in parts)
                continue
        out.append(clause)
    return out


def _contexts(reference: str, a: frozenset[str], b: frozenset[str]) -> tuple[set[str], set[str]] | None:
    ctx: tuple[set[str], set[str]] = (set(), set())
    for clause, side in _assigned_clauses(reference, a, b):
        ctx[side].update(clause.anchors - a - b)
    return ctx if ctx[0] and ctx[1] else None


def _first_clause_with(reference: str, entity: frozenset[str]) -> str:
    for clause in polarity.clauses(reference):
        if set(tx.stems(clause.text)) & entity:
            return clause.text
    return reference


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."
