"""Directional polarity of clauses, for catching reversed claims. Pure and lexical.

Each directional word carries a sign on one consistent axis: "higher", "more", "increase", "sharper",
"deterministic" are +1; "lower", "less", "decrease", "flatter", "random" are -1; a negation flips the sign.
A clause's polarity is the *product* of its signs, so "lower temperature sharpens the distribution"
(-1 x +1 = -1) agrees with "higher temperature flattens it" (+1 x -1 = -1), while "higher temperature
sharpens it" (+1) reverses it. Comparing products means a double inversion never looks like a reversal.

Only *relational* clauses are compared: ones with a change or comparison word (grows, sharper, less,
before). Plain size adjectives alone ("two small matrices", "a low-rank update") describe, they claim
no direction. Two one-word claims are compared only on the same axis ("more context" is not the
opposite of "before the model generates").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from viva.scoring import text as tx

# axis: (words read as +1, words read as -1). Exact lowercase word forms, not stems, so that
# "separate reward model" never reads as "separated".
AXES: dict[str, tuple[str, str]] = {
    "magnitude": ("high large big huge", "low small tiny"),  # descriptive: not relational on its own
    "quantity": (
        ("higher more increase increases increased increasing larger bigger greater grow grows growing grew "
        "raise raises raising rise rises rising above expand expands amplify amplifies boost boosts "
        "maximize maximise maximizes maximises longer wider stronger max maximum exploding explode explodes "
        "upweight"),
        ("lower less fewer decrease decreases decreased decreasing smaller shrink shrinks shrinking shrank "
        "reduce reduces reduced reducing below compress compresses dampen dampens drop drops fall "
        "falls falling minimize minimise minimizes minimises shorter narrower weaker min minimum vanishing "
        "vanish vanishes lose loses downweight"),  # not "decay": Whisper's word for d_k
    ),
    "sharpness": (
        ("sharper sharpen sharpens sharpened sharpening sharp peakier peaky peaked confident deterministic "
        "greedy focused"),
        "flatter flatten flattens flattened flattening flat uniform random randomness diverse diversity creative",
    ),
    "order": ("after later afterwards", "before earlier"),
    "speed": ("faster", "slower"),
    "state": (
        "enable enables enabled connected same true correct possible overfit overfitting",
        ("disable disables disabled off separated disconnected different false incorrect impossible "
        "underfit underfitting"),
    ),
}
DIRECTION: dict[str, tuple[int, str]] = {}
for _axis, (_up, _down) in AXES.items():
    DIRECTION.update({w: (1, _axis) for w in _up.split()})
    DIRECTION.update({w: (-1, _axis) for w in _down.split()})
# Comparative modifiers multiply into the directional word after them: "more random" is -1.
MODIFIERS = frozenset({"more", "less", "fewer", "much", "even"})
AND_RE = re.compile(r"\s+(?:and|or|so)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Clause:
    """One clause with its directional factors and its anchor stems (content words, minus directions)."""

    text: str
    sign: int  # product of the factors' signs (and of negations)
    factors: int  # directional factors counted (adjacent words like "more random" form one)
    anchors: frozenset[str]
    axes: frozenset[str] = frozenset()
    negated: bool = False
    bound: tuple[frozenset[str], ...] = ()  # per factor: the anchors right next to it ("reduces memory")

    @property
    def bound_all(self) -> frozenset[str]:
        return frozenset().union(*self.bound) if self.bound else frozenset()

    @property
    def relational(self) -> bool:
        return bool(self.axes - {"magnitude"})


def clause_of(text: str) -> Clause:
    """Polarity, axes and anchors of one clause."""
    sign, factors, run, negated = 1, 0, 0, False
    anchors: set[str] = set()
    axes: set[str] = set()
    ws = tx.words(text)
    for i, w in enumerate(ws):
        low = w.lower
        if low in tx.NEGATIONS or low.endswith("n't"):
            sign, run, negated = -sign, 0, True
            continue
        d, axis = DIRECTION.get(low, (0, ""))
        if not d:
            if low not in tx.STOPWORDS and len(low) > 1:
                anchors.add(w.stem)
            if low not in ("and", "or"):
                run = 0  # adjacent directional words ("small low-rank") form one factor
            continue
        axes.add(axis)
        if run == 0:
            factors, sign = factors + 1, sign * d
            run = 2 if low in MODIFIERS else d
        elif run == 2 or low in MODIFIERS:  # "more random": the modifier multiplies in
            sign, run = sign * d, d
        elif d != run:  # "small but large" is a second factor, "small, low-rank" is one
            factors, sign, run = factors + 1, sign * d, d
    return Clause(text, sign, factors, frozenset(anchors), frozenset(axes), negated, _bound(ws))


def _bound(ws: tuple[tx.Word, ...]) -> tuple[frozenset[str], ...]:
    """Per directional word, the nearest content word on each side: what the direction is about."""
    content = [i for i, w in enumerate(ws) if w.lower not in tx.STOPWORDS and w.lower not in DIRECTION
               and w.lower not in tx.NEGATIONS and len(w.lower) > 1]
    out = []
    for i, w in enumerate(ws):
        if w.lower in DIRECTION:
            before = [j for j in content if j < i]
            after = [j for j in content if j > i]
            out.append(frozenset(ws[j].stem for j in (before[-1:] + after[:1])))
    return tuple(out)


@lru_cache(maxsize=8192)
def clauses(text: str) -> tuple[Clause, ...]:
    """The clauses of ``text`` with their polarity; a clause joining two claims with "and" / "or" / "so",
    each with a direction or a negation, counts as two ("low T sharpens it and high T flattens it")."""
    out = []
    for a, b in tx.clause_spans(text):
        parts = [clause_of(p) for p in AND_RE.split(text[a:b]) if tx.words(p)]
        if sum(1 for p in parts if p.factors or p.negated) >= 2:
            out.extend(parts)
        else:
            out.append(clause_of(text[a:b]))
    return tuple(out)


def comparable(answer: Clause, ref: Clause) -> bool:
    """Whether the parity of two clauses says anything: both relational, a directional word of each next
    to the same anchor, two one-factor claims only on the same axis, and extra factors only about
    anchors both clauses share."""
    if not (answer.relational and ref.relational) or not answer.bound_all & ref.bound_all:
        return False
    if answer.factors == 1 and ref.factors == 1:
        return bool(answer.axes & ref.axes)
    if answer.factors != ref.factors:
        # The longer claim may only add factors the shorter one implies ("less memory as the sequence
        # gets longer" vs "memory grows with sequence length"): each must be about an anchor of both.
        longer, shorter = (answer, ref) if answer.factors > ref.factors else (ref, answer)
        return all(b & shorter.anchors for b in longer.bound)
    return True


def aligned(answer: Clause, reference: tuple[Clause, ...]) -> tuple[Clause, ...]:
    """The comparable reference clauses an answer clause talks about: those sharing the most anchors."""
    best, out = 0, []
    for ref in reference:
        if not comparable(answer, ref):
            continue
        shared = len(answer.anchors & ref.anchors)
        if shared < 1:
            continue
        if shared > best:
            best, out = shared, [ref]
        elif shared == best:
            out.append(ref)
    return tuple(out)


def polarity_votes(answer: str, reference: str) -> tuple[int, int, tuple[tuple[Clause, Clause], ...]]:
    """Count answer clauses whose polarity agrees / disagrees with the aligned reference clauses.

    Returns:
        ``(agree, disagree, reversed_pairs)``; a clause disagrees only if it disagrees with every
        best-aligned reference clause. Votes are weighted by the factors compared (a two-factor
        relation outweighs a one-word echo). ``reversed_pairs`` holds (answer clause, reference clause).
    """
    ref = clauses(reference)
    agree = disagree = 0
    pairs = []
    for a in clauses(answer):
        refs = aligned(a, ref) if a.factors else ()
        if not refs:
            continue
        weight = min(a.factors, max(r.factors for r in refs))
        if any(r.sign == a.sign for r in refs):
            agree += weight
        else:
            disagree += weight
            pairs.append((a, refs[0]))
    return agree, disagree, tuple(pairs)


def same_polarity(a: str, b: str) -> bool:
    """True if two claims have the same directional polarity (product of signs, negation included)."""
    return clause_of(a).sign == clause_of(b).sign
