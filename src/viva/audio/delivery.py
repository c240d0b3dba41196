"""Delivery stats from word timestamps: speaking time, words per minute, long pauses, filler words."""

from __future__ import annotations

import re

from viva.domain import Delivery, Transcript

LONG_PAUSE_S = 1.5  # s between two words that an interviewer notices as a hesitation
# Multi-word fillers first so "you know" is not also counted as two words. "like" is left out: it is a
# real word far too often in technical answers ("a softmax-like function").
FILLERS = ("you know", "sort of", "kind of", "i mean", "um", "umm", "uh", "uhh", "uhm", "erm", "er", "ah",
           "hmm", "mm", "basically")
_FILLER_RE = re.compile(r"\b(" + "|".join(re.escape(f) for f in FILLERS) + r")\b", re.IGNORECASE)
_WORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")


def find_fillers(text: str) -> tuple[str, ...]:
    """Filler words and phrases in order of appearance, lower-cased ("um", "you know", ...)."""
    return tuple(m.group(1).lower() for m in _FILLER_RE.finditer(text))


def count_words(text: str) -> int:
    return len(_WORD_RE.findall(text))


def delivery_from_transcript(transcript: Transcript, speech_s: float | None = None) -> Delivery:
    """Build the Delivery of a spoken answer.

    Speaking time runs from the first word's start to the last word's end (pauses inside count, the silence
    before and after does not); without word timestamps it falls back to ``speech_s`` or the duration.
    """
    words = [w for w in transcript.words if _WORD_RE.search(w[0])]
    n_words = len(words) if words else count_words(transcript.text)
    if words:
        speaking = max(0.0, words[-1][2] - words[0][1])
        gaps = [b[1] - a[2] for a, b in zip(words, words[1:])]
        long_pauses = sum(1 for g in gaps if g >= LONG_PAUSE_S)
    else:
        speaking = speech_s if speech_s is not None else transcript.duration
        long_pauses = 0
    wpm = n_words / (speaking / 60.0) if speaking > 0 else 0.0
    return Delivery(speaking_s=round(speaking, 2), words=n_words, words_per_minute=round(wpm, 1),
                    fillers=find_fillers(transcript.text), long_pauses=long_pauses)
