"""Scoring: the rubric with the real encoder (loaded once per module), plus fast tests of the pure parts."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from viva.domain import Concept, Delivery, Question, Rating
from viva.scoring import Scorer, derive_concepts, rating_from_score
from viva.scoring.length import assess_length
from viva.scoring.precision import assess_wording, is_dont_know, is_hedge

KV = Question(
    id="kv-cache-what",
    topic="inference",
    question="What is the KV cache and why does it speed up generation?",
    answer=(
        "During autoregressive decoding, the KV cache stores the key and value vectors of every previous "
        "token, so each new token computes attention only for itself instead of recomputing the whole "
        "prefix. This turns per-token cost from quadratic recomputation into a linear read, at the price "
        "of memory that grows with batch size, layers and sequence length."
    ),
    concepts=(
        Concept("stores keys and values", ("key value cache", "cached keys and values"), 2.0),
        Concept("KV cache", ("key value cache", "KV cash")),
        Concept("avoids recomputing the prefix", ("no recomputation", "reuse previous tokens")),
        Concept("memory grows with sequence length", ("memory cost", "grows with context length")),
    ),
    misconceptions=("The KV cache stores the attention weights of previous tokens so softmax can be skipped.",),
)

KV_ANSWERS = {
    "good": (
        "The KV cache keeps the keys and values computed for all previous tokens, so each new token only "
        "computes its own query, key and value and attends over the cached ones instead of recomputing the "
        "prefix. The cost is memory, which grows linearly with sequence length, batch size and layers."
    ),
    "partial": "It caches the keys and values from earlier tokens so generation is faster.",
    "vague": "It's basically a cache that kind of helps the model go faster, stuff gets stored so it makes it better.",
    "rambling": (
        "The KV cache stores keys and values of previous tokens so we avoid recomputing the prefix, and its "
        "memory grows with sequence length. I first learned about this at a meetup in Berlin. The weather "
        "was great that day and we went hiking afterwards. My favourite framework is Django for web apps."
    ),
    "concise": (
        "The KV cache stores keys and values of previous tokens so we avoid recomputing the prefix, and its "
        "memory grows with sequence length."
    ),
}


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    s = Scorer()
    s.warm()
    return s


# --- with the real model ------------------------------------------------------------------------------


def test_good_beats_partial_beats_vague(scorer: Scorer) -> None:
    good, partial, vague = (scorer.score(KV, KV_ANSWERS[k]) for k in ("good", "partial", "vague"))
    assert good.overall > partial.overall > vague.overall
    assert good.rating in (Rating.GOOD, Rating.EASY)
    assert 0.0 <= vague.precision < good.precision <= 1.0
    assert any('"stuff"' in n for n in vague.notes) and "vague" in vague.flags


def test_rambling_scores_below_concise(scorer: Scorer) -> None:
    rambling, concise = scorer.score(KV, KV_ANSWERS["rambling"]), scorer.score(KV, KV_ANSWERS["concise"])
    assert rambling.overall < concise.overall
    assert rambling.length_verdict.startswith("rambling: 3 sentences")
    assert "rambling" in rambling.flags


@pytest.mark.parametrize("text", ["I don't know.", "no idea", "Not sure, pass.", "I can't remember", "skip", ""])
def test_dont_know_is_again_with_zero_scores(scorer: Scorer, text: str) -> None:
    s = scorer.score(KV, text)
    assert s.dont_know and s.rating is Rating.AGAIN and s.flags == ("dont-know",)
    assert (s.overall, s.coverage, s.precision, s.length) == (0.0, 0.0, 0.0, 0.0)
    assert s.notes == ()


def test_feedback_names_the_missed_concept(scorer: Scorer) -> None:
    s = scorer.score(KV, "The KV cache stores the keys and values of earlier tokens so we skip recomputing the prefix.")
    assert "memory grows with sequence length" in s.missed
    assert any("memory grows with sequence length" in f for f in s.fixes)
    assert 1 <= len(s.fixes) <= 3


def test_misheard_term_is_credited_as_misheard(scorer: Scorer) -> None:
    s = scorer.score(KV, "The KV cash holds the keys and values of previous tokens so the prefix is not recomputed.")
    kv = next(h for h in s.hits if h.concept.name == "KV cache")
    assert kv.status == "misheard" and kv.covered == 1.0 and kv.evidence == "KV cash"
    assert "misheard" in s.flags
    assert any(n.startswith('possibly misheard: "KV cash"') for n in s.notes)


def test_score_many_matches_score(scorer: Scorer) -> None:
    items = [(KV, a) for a in KV_ANSWERS.values()] + [(KV, "no idea")]
    batch = scorer.score_many(items)
    single = [scorer.score(q, a) for q, a in items]
    assert [b.overall for b in batch] == pytest.approx([s.overall for s in single], abs=0.2)
    assert 0.0 < batch[0].similarity <= 1.0


def test_delivery_pace_folds_into_length(scorer: Scorer) -> None:
    answer = KV_ANSWERS["good"]
    calm = scorer.score(KV, answer, delivery=Delivery(20.0, 47, 140.0))
    rushed = scorer.score(KV, answer, delivery=Delivery(10.0, 47, 260.0, fillers=("um",) * 6))
    assert rushed.length < calm.length and "fast" in rushed.length_verdict


# --- pure parts (no model) ----------------------------------------------------------------------------


class FakeEmbedder:
    """Deterministic bag-of-words vectors: enough to exercise the scorer without the model."""

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 64), np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, hash(w.strip(".,")) % 64] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_rating_boundaries() -> None:
    assert rating_from_score(0) is Rating.AGAIN and rating_from_score(39.9) is Rating.AGAIN
    assert rating_from_score(40) is Rating.HARD and rating_from_score(59.9) is Rating.HARD
    assert rating_from_score(60) is Rating.GOOD and rating_from_score(84.9) is Rating.GOOD
    assert rating_from_score(85) is Rating.EASY and rating_from_score(100) is Rating.EASY


def test_hedge_versus_named_condition() -> None:
    assert is_hedge("I think it helps") and is_hedge("maybe it's the learning rate") and is_hedge("it depends.")
    assert not is_hedge("it depends on the data size")
    assert not is_hedge("it depends whether the batch fits in memory")
    wording = assess_wording("It depends on the data size: with small data use fewer layers.", frozenset())
    assert wording.hedges == () and wording.qualified


def test_dont_know_variants_but_not_hedged_answers() -> None:
    for text in ("I don't know", "no idea, sorry", "I'm not sure, pass", "I forgot", "skip this one", "um"):
        assert is_dont_know(text), text
    assert not is_dont_know("I'm not sure, but I think it caches keys and values of past tokens")
    assert not is_dont_know("Attention weights sum to one because of the softmax.")


def test_length_short_versus_padding() -> None:
    assert assess_length(6, 50, (), coverage=0.2).verdict == "too short"
    assert assess_length(6, 50, (), coverage=1.0).verdict == "short but complete"
    rambling = assess_length(90, 50, ("I like hiking.", "Berlin was nice."), coverage=1.0)
    assert rambling.verdict == "rambling: 2 sentences off the question" and rambling.score < 0.6
    assert assess_length(70, 50, (), coverage=1.0).score == 1.0  # relevant detail costs nothing


def test_derive_concepts_finds_key_phrases() -> None:
    concepts = derive_concepts("To simulate the behaviour of portions of the desired software product.")
    names = [c.name for c in concepts]
    assert 3 <= len(names) <= 6 and "desired software product" in names


def test_fake_embedder_and_derived_concepts() -> None:
    q = Question(id="p", topic="judgment", question="What is a prototype for?",
                 answer="To simulate the behaviour of portions of the desired software product.")
    s = Scorer(embedder=FakeEmbedder())
    good = s.score(q, "A prototype simulates the behaviour of portions of the desired software product.")
    bad = s.score(q, "It is a kind of database index.")
    assert good.overall > bad.overall and len(good.hits) >= 3


def test_import_is_light() -> None:
    code = "import sys, viva.scoring; print(any(m in sys.modules for m in ('torch', 'sentence_transformers')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
