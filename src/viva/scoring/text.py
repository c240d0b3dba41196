"""Plain-text helpers for the rubric: words with offsets, light stemming, sentences, windows.

Everything here is pure and cheap; the rubric calls it once per answer and once per question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

WORD_RE = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")
SENTENCE_END_RE = re.compile(r"(?<=[.!?;])\s+|\n+")
CLAUSE_BREAK_RE = re.compile(r"[,:;.!?()]|\b(?:while|whereas|but|although|though|so that|because)\b", re.IGNORECASE)
CONTINUATION_RE = re.compile(r"\s*(?:\w+ing|which|thereby)\b", re.IGNORECASE)
MAX_SENTENCE_WORDS = 40  # longer than this is a run-on transcript, not a sentence
CHUNK_WORDS = 20  # ...cut into chunks of about this many words
CHUNK_BREAK_RE = re.compile(r",\s|\s(?:and|so|but|because|then)\s", re.IGNORECASE)
WINDOW_SIZES = (2, 4, 7)  # words per sliding window; sentences are added as windows too
MIN_STEM = 3  # never strip a suffix that leaves fewer letters than this

STOPWORDS = frozenset(
    ["a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "by", "for", "with", "from", "as", "is", "are", "was", "were", "be", "been", "being", "it", "its", "this", "that", "these", "those", "there", "their", "they", "them", "we", "you", "your", "i", "me", "my", "our", "he", "she", "his", "her", "which", "who", "whom", "what", "when", "where", "why", "how", "than", "then", "so", "such", "can", "could", "would", "should", "will", "shall", "may", "might", "must", "do", "does", "did", "done", "has", "have", "had", "having", "not", "no", "nor", "into", "onto", "over", "under", "about", "each", "per", "also", "just", "very", "only", "any", "all", "some", "more", "most", "other", "same", "both", "either", "neither", "own", "too", "up", "down", "out", "off", "again", "further", "once", "here", "s", "t", "if", "else", "because", "while", "whereas", "but", "though", "although", "one", "two", "use", "used", "uses", "using", "make", "makes", "made", "get", "gets", "got"]
)
NEGATIONS = frozenset(["not", "no", "never", "none", "nothing", "neither", "nor", "without", "cannot", "can't", "don't", "doesn't", "isn't", "aren't", "wasn't", "weren't", "won't", "shouldn't", "couldn't", "wouldn't", "didn't", "hasn't", "haven't"])


@dataclass(frozen=True)
class Word:
    """One word of a text: its original characters, offsets and normalised stem."""

    text: str
    start: int
    end: int
    stem: str

    @property
    def lower(self) -> str:
        return self.text.lower()


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """A light, consistent stem: lowercase, drop plural and common verb endings.

    Not linguistics, just enough that "keys"/"key", "stores"/"storing"/"stored", "queries"/"query"
    meet: both sides of every comparison go through the same function.
    """
    w = word.lower().replace("'", "")
    if w.endswith("n't"):
        return w
    for suffix, repl in (("ies", "y"), ("ied", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if w.endswith(suffix) and len(w) - len(suffix) + len(repl) >= MIN_STEM:
            if suffix == "s" and (w.endswith(("ss", "us", "is"))):
                continue
            if suffix == "es" and not re.search(r"(?:s|x|z|ch|sh)es$", w):
                continue
            w = w[: len(w) - len(suffix)] + repl
            break
    if len(w) > MIN_STEM + 1 and w.endswith("e"):
        w = w[:-1]  # "compute"/"computing" and "store"/"storing" meet
    return w


@lru_cache(maxsize=16_384)
def words(text: str) -> tuple[Word, ...]:
    """The words of ``text`` with character offsets (hyphens, underscores and punctuation split words)."""
    return tuple(Word(m.group(), m.start(), m.end(), stem(m.group())) for m in WORD_RE.finditer(text))


def stems(text: str) -> tuple[str, ...]:
    return tuple(w.stem for w in words(text))


def content_stems(text: str) -> tuple[str, ...]:
    """Stems of the words that carry meaning (stopwords dropped), in order."""
    return tuple(w.stem for w in words(text) if w.lower not in STOPWORDS)


def normalise(text: str) -> str:
    """Lowercase, words only, single spaces: "KV-Cache's" → "kv cache's"."""
    return " ".join(w.lower for w in words(text))


@lru_cache(maxsize=16_384)
def sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Character spans of the sentences of ``text`` (split after . ! ? ; and at line breaks).

    A transcript may come with little punctuation, so a "sentence" over MAX_SENTENCE_WORDS words is cut
    into chunks of about CHUNK_WORDS words at the nearest "and" / "so" / "but" / comma.
    """
    spans, start = [], 0
    for m in SENTENCE_END_RE.finditer(text):
        if text[start : m.start()].strip():
            spans.append((start, m.start()))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    out = []
    for a, b in spans:
        out.extend(_chunks(text, *_strip_span(text, a, b)))
    return tuple(out)


def _chunks(text: str, a: int, b: int) -> list[tuple[int, int]]:
    ws = words(text[a:b])
    if len(ws) <= MAX_SENTENCE_WORDS:
        return [(a, b)]
    cuts = [m.start() for m in CHUNK_BREAK_RE.finditer(text, a, b)]  # pos/endpos: offsets are absolute
    out, start, count = [], a, 0
    for w in ws:
        count += 1
        pos = a + w.end
        if count >= CHUNK_WORDS:
            near = [c for c in cuts if pos - 40 <= c <= pos + 40 and c > start]
            cut = min(near, key=lambda c: abs(c - pos)) if near else pos
            out.append(_strip_span(text, start, cut))
            start, count = cut, 0
    if WORD_RE.search(text, start, b):
        out.append(_strip_span(text, start, b))
    return [s for s in out if s[1] > s[0]]


def clause_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Character spans of clauses: sentences cut further at commas, colons and contrast words."""
    spans, start = [], 0
    for m in CLAUSE_BREAK_RE.finditer(text):
        if m.group() == "," and CONTINUATION_RE.match(text, m.end()):
            continue  # "sharpens it, making output deterministic" is one claim
        if WORD_RE.search(text[start : m.start()]):
            spans.append(_strip_span(text, start, m.start()))
        start = m.end()
    if WORD_RE.search(text[start:]):
        spans.append(_strip_span(text, start, len(text)))
    return tuple(spans)


def window_spans(ws: tuple[Word, ...], sizes: tuple[int, ...] = WINDOW_SIZES) -> tuple[tuple[int, int], ...]:
    """Character spans of every run of ``size`` consecutive words, for each size (deduplicated)."""
    seen: dict[tuple[int, int], None] = {}
    n = len(ws)
    if n == 0:
        return ()
    for size in sizes:
        size = min(size, n)
        for i in range(max(n - size + 1, 0)):
            seen[(ws[i].start, ws[i + size - 1].end)] = None
    return tuple(seen)


def content_word_spans(ws: tuple[Word, ...], drop: frozenset[str] = frozenset()) -> tuple[tuple[int, int], ...]:
    """Character spans of the content words (no stopwords, no one-letter words, no stem in ``drop``)."""
    return tuple((w.start, w.end) for w in ws if w.lower not in STOPWORDS and len(w.text) > 1 and w.stem not in drop)


def _strip_span(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and not text[a].isalnum():
        a += 1
    while b > a and not text[b - 1].isalnum():
        b -= 1
    return a, b
