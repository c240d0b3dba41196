"""Precision of wording: precise technical terms count for an answer; vague stand-ins, hedges and fillers
count against it, quoted back. Also recognises "I don't know" answers.

A qualification that names its condition ("it depends on the data size", "if the batch is small") is
precise, not a hedge; a bare "it depends" is a hedge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from viva.scoring import text as tx

# Vague stand-ins for a technical claim. Regexes on lowercased text; word boundaries added.
VAGUE_PATTERNS: tuple[str, ...] = (
    r"(?:it|that|this|things?) gets? (?:big|bigger|small|smaller|better|worse|weird|messy|huge)",
    r"stuff", r"and (?:so on|whatnot|all that)", r"(?:some|that) kind of thing", r"something like that",
    r"kind of (?:helps?|works?|like|does)", r"sort of (?:helps?|works?|like|does)",
    r"makes? (?:it|things|them|the model) (?:better|work|nicer|faster|smarter|good)",
    r"helps? (?:a lot|with things|things)", r"does (?:its|the) (?:thing|magic)", r"(?:some|the) magic",
    r"somehow", r"some(?:thing|how) (?:like|with) that", r"a bunch of (?:things|stuff)", r"(?:and|or) whatever",
    r"works? better", r"more or less", r"things like that", r"in some way", r"blah",
)
# Hedges: the speaker signals doubt without naming a condition.
HEDGE_PATTERNS: tuple[str, ...] = (
    r"i think", r"i guess", r"i believe", r"i suppose", r"i'?m not (?:sure|certain)", r"not (?:sure|certain)",
    r"maybe", r"perhaps", r"probably", r"possibly", r"i'?m guessing", r"if i remember(?: correctly| right)?",
    r"i'?d say", r"it depends(?!\s+(?:on|whether|if|how|what|which)\b)",
    r"or something", r"not really sure", r"don'?t quote me", r"if i'?m not mistaken", r"i would guess",
)
# Fillers typed or transcribed ("um" rarely survives Whisper, "like," and "you know" do).
FILLER_PATTERNS: tuple[str, ...] = (
    r"um+", r"uh+", r"erm+", r"hmm+", r"ah+", r"you know", r"i mean", r"like,", r"basically", r"actually",
    r"literally", r"so yeah", r"yeah so", r"okay so", r"right\?", r"kinda", r"sorta",
)
# "I don't know" and friends. An answer is a non-answer when, after removing these, the fillers and the
# stopwords, fewer than DONT_KNOW_MAX_CONTENT content words remain.
DONT_KNOW_PATTERNS: tuple[str, ...] = (
    r"i (?:really )?(?:don'?t|do not|dunno) (?:really )?know", r"dunno", r"no idea", r"no clue",
    r"not sure", r"i'?m not sure", r"pass", r"skip(?: this)?(?: one| question)?", r"next(?: question)?",
    r"i (?:can'?t|cannot|don'?t) (?:remember|recall)", r"i forg[oe]t", r"i have no idea", r"no",
    r"i'?m blanking", r"(?:i )?(?:have )?never heard of (?:it|this|that)", r"not a clue", r"sorry",
    r"(?:i )?give up", r"haven'?t (?:learned|studied|seen) (?:it|this|that)",
)
DONT_KNOW_MAX_CONTENT = 3
DONT_KNOW_VOCAB = frozenset(["know", "idea", "clue", "sure", "remember", "recall", "forgot", "forget", "pass", "skip", "next", "question", "sorry", "blank", "blanking", "heard", "learned", "studied", "seen", "give", "mind", "honestly", "really", "unfortunately", "one", "this", "that"])
TERM_TARGET_FRACTION = 0.5  # saying half of the reference's technical terms earns full term credit
TERM_TARGET_MAX = 6
VAGUE_PENALTY = 0.15  # per vague stand-in
HEDGE_PENALTY = 0.08  # per hedge
FILLER_PENALTY = 0.03  # per filler word in the text (spoken fillers from Delivery count in length)
TERM_SHARE = 0.7  # precision = TERM_SHARE * term credit + (1 - TERM_SHARE) - penalties


def _compile(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<![\w'])(?:" + "|".join(patterns) + r")(?![\w'])", re.IGNORECASE)


VAGUE_RE = _compile(VAGUE_PATTERNS)
HEDGE_RE = _compile(HEDGE_PATTERNS)
FILLER_RE = re.compile(r"(?<![\w'])(?:" + "|".join(FILLER_PATTERNS) + r")", re.IGNORECASE)
DONT_KNOW_RE = _compile(DONT_KNOW_PATTERNS)
QUALIFIED_RE = re.compile(r"\b(?:depends (?:on|whether|if|how)|if|when|unless|as long as)\b\s+\w+", re.IGNORECASE)


@dataclass(frozen=True)
class Wording:
    """What the precision check found in one answer."""

    score: float
    terms: tuple[str, ...]
    vague: tuple[str, ...]
    hedges: tuple[str, ...]
    fillers: tuple[str, ...]
    qualified: bool

    @property
    def notes(self) -> tuple[str, ...]:
        out = [f'vague: "{v}"' for v in self.vague]
        out += [f'hedge: "{h}"' for h in self.hedges]
        if self.fillers:
            out.append("fillers: " + ", ".join(f'"{f}"' for f in _counted(self.fillers)))
        return tuple(out)


def is_dont_know(answer: str) -> bool:
    """True for an empty answer or one that only says it doesn't know ("no idea", "not sure, pass")."""
    stripped = DONT_KNOW_RE.sub(" ", answer.lower())
    stripped = FILLER_RE.sub(" ", stripped)
    stripped = HEDGE_RE.sub(" ", stripped)
    content = [w for w in tx.words(stripped) if w.lower not in tx.STOPWORDS and w.lower not in DONT_KNOW_VOCAB]
    said_dont_know = DONT_KNOW_RE.search(answer) is not None
    if not tx.words(answer):
        return True
    return said_dont_know and len(content) < DONT_KNOW_MAX_CONTENT or not content


def technical_terms(reference: str, concept_phrases: list[str]) -> frozenset[str]:
    """Stems an interviewer counts as precise for this question: the reference's and concepts' content
    words that look technical (length >= 4, or acronyms / words with digits)."""
    out = set()
    for w in tx.words(reference + " " + " ".join(concept_phrases)):
        if w.lower in tx.STOPWORDS or w.lower in tx.NEGATIONS:
            continue
        if len(w.text) >= 4 or w.text.isupper() or any(ch.isdigit() for ch in w.text):
            out.add(w.stem)
    return frozenset(out)


def assess_wording(answer: str, terms: frozenset[str]) -> Wording:
    """Score the wording of ``answer`` 0-1 against the question's technical terms."""
    ws = tx.words(answer)
    used = tuple(dict.fromkeys(w.lower for w in ws if w.stem in terms))
    target = max(1.0, min(TERM_TARGET_MAX, TERM_TARGET_FRACTION * len(terms)))
    term_credit = min(1.0, len(used) / target)
    vague = tuple(m.group() for m in VAGUE_RE.finditer(answer))
    hedges = tuple(m.group() for m in HEDGE_RE.finditer(answer))
    fillers = tuple(m.group().rstrip(",").lower() for m in FILLER_RE.finditer(answer))
    score = TERM_SHARE * term_credit + (1 - TERM_SHARE)
    score -= VAGUE_PENALTY * len(vague) + HEDGE_PENALTY * len(hedges) + FILLER_PENALTY * len(fillers)
    return Wording(
        score=float(min(1.0, max(0.0, score))),
        terms=used,
        vague=vague,
        hedges=hedges,
        fillers=fillers,
        qualified=QUALIFIED_RE.search(answer) is not None,
    )


def is_hedge(phrase: str) -> bool:
    """True if ``phrase`` contains a hedge; a qualification naming its condition is not one."""
    return HEDGE_RE.search(phrase) is not None


def _counted(items: tuple[str, ...]) -> list[str]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return [f"{k}" if n == 1 else f"{k} x{n}" for k, n in counts.items()]
