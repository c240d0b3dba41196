"""Key concepts: derive them from a reference, and find each one in an answer (hit, partial, misheard).

A concept is found two ways and the stronger wins:

* lexically: the content-word stems of the concept phrase (or an alias) appear close together in the
  answer, exactly or fuzzily (rapidfuzz, for typos like "seperated");
* semantically: the embedding of the phrase is close to the best window of the answer (a few words up to a
  sentence; window vectors come pooled from one pass of the encoder, see ``embedder.embed_spans``).

Spoken answers are Whisper transcripts, so a phrase whose words are *heard-alike* in the answer (same
metaphone code, e.g. "KV cash", "Laura", "decay" for d_k) or that matches an alias which is itself a
mis-hearing of another phrase, is reported as ``misheard`` rather than missed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import jellyfish
import numpy as np
from rapidfuzz import fuzz

from viva.domain import Concept, ConceptHit
from viva.scoring import text as tx

# Concept status thresholds on the combined 0-1 concept score (lexical share or calibrated cosine).
HIT_SCORE = 0.75
PARTIAL_SCORE = 0.45
# Cosine between a concept phrase and a pooled answer window: below FLOOR counts 0, at CEIL counts 1.
# Pooled window vectors sit lower than separately embedded ones (context dilutes them), hence the band.
EMBED_FLOOR = 0.30
EMBED_CEIL = 0.72
TOPIC_FLOOR = 0.30  # phrase-question cosine above which a phrase is partly "just the topic"
TOPIC_DISCOUNT = 0.5  # share of that excess taken off the phrase's window cosine
FUZZY_TOKEN_RATIO = 86  # rapidfuzz ratio for two words to count as the same word misspelt (length >= 5)
MIN_FUZZY_LEN = 5
MISHEARD_CODE_RATIO = 80  # metaphone codes this close (and long enough) sound alike
MISHEARD_SPELLING_RATIO = 55  # ...if the spellings are not wildly different either...
LOOKALIKE_SPELLING_RATIO = 75  # ...nor so close that they are just look-alike words
SPELLING_VARIANT_RATIO = 90  # same sound, near-same letters: a spelling variant, not a mis-hearing
SHORT_CODE_SPELLING_RATIO = 45  # metaphone codes of 3 letters or fewer also need this much spelling overlap
MIN_MISHEARD_SHARE = 0.99  # every word of the phrase must be present, exactly or heard-alike
MIN_FAMILY_PREFIX = 4  # two words sharing all but 2 letters of the shorter, and at least this many, are one family
SCATTER_MIN_WORDS = 3  # phrases of this many content words may match spread out...
SCATTER_WINDOW = 20  # ...within this many answer words...
SCATTER_CREDIT = 0.8  # ...for this share of full credit (still a hit when every word is there)
DERIVED_MIN, DERIVED_MAX = 3, 6  # concepts derived from a reference
DERIVED_MAX_WORDS = 4


@dataclass(frozen=True)
class PhrasePlan:
    """A concept phrase prepared for matching."""

    text: str
    stems: tuple[str, ...]
    misheard_alias: bool  # the phrase is a listed mis-hearing of another phrase ("KV cash")
    sounds_like: str = ""  # for a mis-hearing alias: the phrase it is a mis-hearing of ("KV cache")
    n_words: int = 0  # all words of the phrase, stopwords included (sets the search window)


@dataclass(frozen=True)
class ConceptPlan:
    """A concept with its phrases prepared; built once per question."""

    concept: Concept
    phrases: tuple[PhrasePlan, ...]


def derive_concepts(reference: str) -> tuple[Concept, ...]:
    """Key phrases of a reference answer, for questions that list no concepts.

    RAKE-style: runs of content words between stopwords and punctuation are candidate phrases, scored by
    the sum of their words' degree/frequency; the top 3-6 (longest phrases trimmed to 4 words) become
    concepts, in reference order.
    """
    return _derive_concepts(reference.strip())


@lru_cache(maxsize=4096)
def _derive_concepts(reference: str) -> tuple[Concept, ...]:
    runs: list[list[str]] = []
    for a, b in tx.clause_spans(reference):
        current: list[str] = []
        for w in tx.words(reference[a:b]):
            if w.lower in tx.STOPWORDS or w.lower in tx.NEGATIONS:
                if current:
                    runs.append(current)
                current = []
            else:
                current.append(w.text)
        if current:
            runs.append(current)
    runs = [r[:DERIVED_MAX_WORDS] for r in runs if r]
    if not runs:
        return ()
    freq: dict[str, int] = {}
    degree: dict[str, int] = {}
    for run in runs:
        for word in run:
            key = tx.stem(word)
            freq[key] = freq.get(key, 0) + 1
            degree[key] = degree.get(key, 0) + len(run)
    scored: dict[str, tuple[float, int]] = {}
    for pos, run in enumerate(runs):
        phrase = " ".join(run)
        score = sum(degree[tx.stem(w)] / freq[tx.stem(w)] for w in run)
        if len(run) == 1 and len(run[0]) <= 2 and not run[0].isupper():
            continue  # "1", "x": not a concept on its own
        key = phrase.lower()
        if key not in scored or scored[key][0] < score:
            scored[key] = (score, pos)
    count = max(DERIVED_MIN, min(DERIVED_MAX, (len(scored) + 1) // 2))
    best = sorted(scored.items(), key=lambda kv: -kv[1][0])[:count]
    ordered = sorted(best, key=lambda kv: kv[1][1])
    names = {k: " ".join(runs[pos]) for k, (_, pos) in ordered}
    return tuple(Concept(name=names[k]) for k, _ in ordered)


def plan_concepts(concepts: tuple[Concept, ...], reference: str) -> tuple[ConceptPlan, ...]:
    """Prepare concepts for matching: stems per phrase, and which aliases are mis-hearings."""
    ref_stems = set(tx.stems(reference))
    plans = []
    for concept in concepts:
        phrases = [p for p in dict.fromkeys(concept.phrases) if tx.words(p)]
        prepared = []
        for phrase in phrases:
            others = [o for o in phrases if o != phrase]
            meant = _mishearing_of(phrase, others, ref_stems)
            prepared.append(PhrasePlan(phrase, _phrase_stems(phrase), bool(meant), meant, len(tx.words(phrase))))
        plans.append(ConceptPlan(concept, tuple(prepared)))
    return tuple(plans)


def match_concepts(
    plans: tuple[ConceptPlan, ...],
    answer: str,
    answer_words: tuple[tx.Word, ...],
    window_spans: tuple[tuple[int, int], ...],
    window_sims: np.ndarray,
    on_topic: bool = True,
    topic_sims: np.ndarray | None = None,
) -> tuple[ConceptHit, ...]:
    """Grade each concept against one answer.

    Args:
        plans: the question's prepared concepts.
        answer: the answer text.
        answer_words: ``text.words(answer)``.
        window_spans: character spans of the answer windows.
        window_sims: cosine of each phrase with each window, shape ``(n_phrases_total, n_windows)``, rows
            in the order of ``plans`` and their phrases.
        on_topic: whether the answer as a whole is about the question; heard-alike words found without
            a listed alias are only trusted in an on-topic answer.
        topic_sims: cosine of each phrase with the question. A phrase the question itself evokes
            ("no dropout at inference" for a dropout question) is close to any on-topic window, so its
            window cosine is discounted by TOPIC_DISCOUNT of its question cosine above TOPIC_FLOOR.
    """
    hits, row = [], 0
    index = StemIndex(answer_words)
    for plan in plans:
        best_lex, lex_span, best_emb, emb_span = 0.0, None, 0.0, None
        heard: tuple[tuple[int, int], str, str] | None = None  # (span, heard words, meant phrase)
        alias_heard = False  # the mis-hearing is a listed alias ("KV cash"), not just a sound-alike
        for phrase in plan.phrases:
            sims = window_sims[row] if window_sims.size else np.zeros(0)
            row += 1
            lex = _lexical_match(phrase.stems, answer_words, phrase.n_words, index)
            if phrase.misheard_alias:
                if lex.share >= MIN_MISHEARD_SHARE and not alias_heard:
                    heard = (lex.span, answer[lex.span[0] : lex.span[1]], phrase.sounds_like)
                    alias_heard = True
                continue
            if on_topic and lex.heard and lex.heard_share >= MIN_MISHEARD_SHARE and heard is None:
                heard = (lex.heard_span, answer[lex.heard_span[0] : lex.heard_span[1]], phrase.text)
            if lex.share > best_lex:
                best_lex, lex_span = lex.share, lex.span
            if sims.size:
                j = int(np.argmax(sims))
                topic = float(topic_sims[row - 1]) if topic_sims is not None else 0.0
                sim = float(sims[j]) - TOPIC_DISCOUNT * max(0.0, topic - TOPIC_FLOOR)
                emb = float(np.clip((sim - EMBED_FLOOR) / (EMBED_CEIL - EMBED_FLOOR), 0.0, 1.0))
                if emb >= HIT_SCORE and _says_less(answer, window_spans[j], phrase.stems):
                    emb = PARTIAL_SCORE  # "previous tokens" for "reuse previous tokens": words missing
                if emb > best_emb:
                    best_emb, emb_span = emb, window_spans[j]
        if heard is not None and not alias_heard and best_lex >= HIT_SCORE:
            heard = None  # said properly elsewhere: a sound-alike word is then just another word
        score = max(best_lex, best_emb)
        span = lex_span if best_lex >= best_emb else emb_span
        if score >= HIT_SCORE:
            status = "hit"
        elif heard is not None:
            status, score, span = "misheard", max(score, HIT_SCORE), heard[0]
        elif score >= PARTIAL_SCORE:
            status = "partial"
        else:
            status = "missed"
        evidence = answer[span[0] : span[1]] if span is not None and status != "missed" else ""
        heard_as, sounds_like = (heard[1], heard[2]) if heard is not None else ("", "")
        if status == "misheard":
            evidence = heard_as
        hits.append(ConceptHit(plan.concept, status, round(score, 3), evidence, heard_as, sounds_like))
    return tuple(hits)


def _says_less(answer: str, span: tuple[int, int], phrase_stems: tuple[str, ...]) -> bool:
    """True if a window only repeats some of the phrase's words and has no room for the rest: its
    content words are a strict subset of the phrase's, so the embedding match is a partial one."""
    window = set(tx.content_stems(answer[span[0] : span[1]]))
    return bool(window) and window < set(phrase_stems)


def phrase_texts(plans: tuple[ConceptPlan, ...]) -> list[str]:
    """Every phrase of every concept, in the row order ``match_concepts`` expects."""
    return [p.text for plan in plans for p in plan.phrases]


def _phrase_stems(phrase: str) -> tuple[str, ...]:
    content = tx.content_stems(phrase)
    return content or tx.stems(phrase)


def _mishearing_of(phrase: str, others: list[str], ref_stems: set[str]) -> str:
    """The phrase ``phrase`` is a mis-hearing of, or "". An alias is a mis-hearing when the reference
    never uses its words and a word of it sounds like, without being a form of, a word of another
    phrase of the concept: "KV cash" beside "KV cache", "Laura" beside "LoRA", "decay" beside "d_k".
    Added or dropped words ("subtract the max") and other forms ("diverges") are not mis-hearings."""
    if set(tx.stems(phrase)) <= ref_stems:
        return ""
    own = [w.lower for w in tx.words(phrase)]
    glued = "".join(own)
    for other in others:
        if not set(tx.stems(other)) <= ref_stems:
            continue  # a mis-hearing is of the real term, which the reference uses
        theirs = [w.lower for w in tx.words(other)]
        if glued in "".join(theirs) or "".join(theirs) in glued:
            continue  # "FP 32" / "fp32": spacing, not hearing
        mine = [w for w in own if w not in theirs and w not in tx.STOPWORDS and tx.stem(w) not in ref_stems]
        rest = [w for w in theirs if w not in own and w not in tx.STOPWORDS]
        if not mine or not rest:
            continue
        pairs = [(a, b) for a in mine for b in rest] + [("".join(mine), "".join(rest))]
        for a, b in pairs:
            if not _same_word_family(a, b) and _sounds_alike(_code(a), _code(b), a, b):
                return other
    return ""


def _same_word_family(a: str, b: str) -> bool:
    """Two forms of one word ("recompute" / "recomputation", "adapt" / "adaptive"): a long shared start."""
    if a[:MIN_FAMILY_PREFIX] != b[:MIN_FAMILY_PREFIX]:
        return False  # the common case, without walking the letters
    shared = len(os.path.commonprefix([a, b]))
    return shared >= max(MIN_FAMILY_PREFIX, min(len(a), len(b)) - 2)


@lru_cache(maxsize=65_536)
def _code(text: str) -> str:
    return jellyfish.metaphone(tx.normalise(text).replace(" ", "")) if text.strip() else ""


def _sounds_alike(code_a: str, code_b: str, spell_a: str, spell_b: str) -> bool:
    if not code_a or not code_b:
        return False
    if code_a == code_b:
        spelling = fuzz.ratio(spell_a, spell_b)
        if spelling >= SPELLING_VARIANT_RATIO:
            return False  # "maximisation" / "maximization" is a spelling, not a hearing
        # Short codes collide by chance ("cards" and "greedy" are both KRT): then the letters must agree
        # somewhat too, unless one side is an abbreviation ("mu", "KV").
        abbreviation = min(len(spell_a.replace(" ", "")), len(spell_b.replace(" ", ""))) <= 3
        return len(code_a) > 3 or abbreviation or spelling >= SHORT_CODE_SPELLING_RATIO
    # Close codes count only for words spelt quite differently ("radiance" / "gradients"); close codes
    # with close spellings are look-alike words ("pretraining" / "uptraining"), not mis-hearings.
    return (
        min(len(code_a), len(code_b)) >= 4
        and fuzz.ratio(code_a, code_b) >= MISHEARD_CODE_RATIO
        and MISHEARD_SPELLING_RATIO <= fuzz.ratio(spell_a, spell_b) < LOOKALIKE_SPELLING_RATIO
    )


@lru_cache(maxsize=262_144)
def _token_match(phrase_stem: str, answer_stem: str) -> tuple[float, bool]:
    """(credit, heard_alike) for one phrase word against one answer word."""
    if phrase_stem == answer_stem:
        return 1.0, False
    if _same_word_family(phrase_stem, answer_stem):
        return 0.9, False  # "adapt" / "adaptive": another form of the word, not a mis-hearing
    long_enough = min(len(phrase_stem), len(answer_stem)) >= MIN_FUZZY_LEN
    if long_enough and fuzz.ratio(phrase_stem, answer_stem) >= FUZZY_TOKEN_RATIO:
        return 0.9, False  # a typo: "seperated"
    if len(phrase_stem) >= 3 and _sounds_alike(_code(phrase_stem), _code(answer_stem), phrase_stem, answer_stem):
        return 1.0, True
    return 0.0, False


class StemIndex:
    """Where the words of one answer match each phrase word, memoised: every phrase of every concept
    is matched against the same answer, and phrases share words ("KV cache", "cache of keys"), so each
    phrase word is compared once with each distinct stem of the answer instead of with every word."""

    def __init__(self, answer_words: tuple[tx.Word, ...]):
        self._where: dict[str, list[tuple[int, bool]]] = {}
        for j, w in enumerate(answer_words):
            self._where.setdefault(w.stem, []).append((j, w.lower in tx.STOPWORDS))
        self._memo: dict[str, list[tuple[int, float, bool, bool]]] = {}

    def matches(self, phrase_stem: str) -> list[tuple[int, float, bool, bool]]:
        """(answer position, credit, heard-alike, is a stopword) for each matching answer word, in order."""
        got = self._memo.get(phrase_stem)
        if got is None:
            got = []
            for stem, where in self._where.items():
                c, alike = _token_match(phrase_stem, stem)
                if c:
                    got.extend((j, c, alike, stop) for j, stop in where)
            got.sort()
            self._memo[phrase_stem] = got
        return got


@dataclass(frozen=True)
class LexicalMatch:
    """How much of a phrase an answer says: ``share`` exactly or misspelt, ``heard_share`` also counting
    heard-alike words (``heard``, the answer's words), each with the character span of its evidence."""

    share: float = 0.0
    span: tuple[int, int] | None = None
    heard_share: float = 0.0
    heard_span: tuple[int, int] | None = None
    heard: str = ""


def _lexical_match(
    phrase_stems: tuple[str, ...],
    answer_words: tuple[tx.Word, ...],
    phrase_words: int = 0,
    index: StemIndex | None = None,
) -> LexicalMatch:
    """Best share of the phrase's words found close together in the answer.

    Phrase words are searched in a window of the phrase's length + 2 answer words, so "keys and the
    values" still matches "keys and values"; the phrase glued into one word is tried against single
    answer words too ("decay" for "d k", "softmax" for "soft max"). A phrase of 3+ content words also
    counts, at SCATTER_CREDIT, when its words are spread over up to SCATTER_WINDOW words in any order
    ("salient channels by input activation magnitude" said as "channels ... are salient ... the
    magnitude of their input activations"). Heard-alike words count only toward ``heard_share``.
    """
    m = len(phrase_stems)
    if not m or not answer_words:
        return LexicalMatch()
    index = index or StemIndex(answer_words)
    # Where each phrase word matches: (answer position, credit, heard-alike); "the" never stands for a term.
    found = [[(j, c, alike) for j, c, alike, stop in index.matches(ps) if not (alike and stop)] for ps in phrase_stems]
    joined = "".join(phrase_stems) if m > 1 and len("".join(phrase_stems)) >= 4 else ""
    # The glued phrase must equal a word or sound like it: prefixes and typos of a glued phrase
    # ("tokenstep" for "token") mean nothing.
    glued = [(j, c, alike) for j, c, alike, _ in index.matches(joined) if c == 1.0] if joined else []
    starts = sorted({j for matches in found for j, _, _ in matches} | {j for j, _, _ in glued})
    width = max(phrase_words, m) + 2
    best, best_heard = (0.0, None), (0.0, None, "")
    for i in starts:
        credit, heard, used = 0.0, [], set()
        for matches in found:
            options = [(c, not alike, -j) for j, c, alike in matches if i <= j < i + width and j not in used]
            if options:
                c, exact, j = max(options)  # best credit, then a real match over a heard-alike, then first
                j, alike = -j, not exact
                used.add(j)
                if alike:
                    heard.append(j)
                else:
                    credit += c
        for j, c, alike in glued:
            if j == i and alike and len(heard) + credit < m:
                credit, heard, used = 0.0, [j], {j}
            elif j == i and c * m > credit:
                credit, heard, used = c * m, [], {j}
        if not used:
            continue
        span = (answer_words[min(used)].start, answer_words[max(used)].end)
        if credit / m > best[0]:
            best = (credit / m, span)
        if heard and (credit + len(heard)) / m > best_heard[0]:
            best_heard = ((credit + len(heard)) / m, span, " ".join(answer_words[j].text for j in sorted(heard)))
        if credit >= m:
            break
    if m >= SCATTER_MIN_WORDS and best[0] < 1.0:
        scattered, span = _scattered_match(found, answer_words)
        if scattered * SCATTER_CREDIT > best[0]:
            best = (scattered * SCATTER_CREDIT, span)
    return LexicalMatch(min(best[0], 1.0), best[1], min(best_heard[0], 1.0), best_heard[1], best_heard[2])


def _scattered_match(
    found: list[list[tuple[int, float, bool]]], answer_words: tuple[tx.Word, ...]
) -> tuple[float, tuple[int, int] | None]:
    """Share of the phrase's words found (exactly or misspelt) within SCATTER_WINDOW answer words."""
    hits = sorted((j, k, c) for k, matches in enumerate(found) for j, c, alike in matches if not alike)
    best, best_span = 0.0, None
    for start, _, _ in hits:
        per_word: dict[int, float] = {}
        last = start
        for j, k, c in hits:
            if start <= j < start + SCATTER_WINDOW:
                per_word[k] = max(per_word.get(k, 0.0), c)
                last = max(last, j)
        share = sum(per_word.values()) / len(found)
        if share > best:
            best, best_span = share, (answer_words[start].start, answer_words[last].end)
    return best, best_span
