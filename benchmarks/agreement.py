"""How well does viva's rubric agree with human graders? Rubric and raw-cosine baseline side by side.

Data (read in place, never copied into the project):
  ../shared/asag/mohler-dev.jsonl         Pearson / Spearman with the mean human grade (0-5)
  ../shared/asag/semeval2013-train.jsonl  AUC correct vs not, and correct vs contradictory
  benchmarks/data/interview_answers.jsonl viva's own graded ML/LLM interview answers

Every dataset is split by question into a "tune" half (even positions of the sorted question ids) and a
"held-out" half (odd positions); rubric constants were only ever adjusted looking at the tune half, and
the held-out column is the honest figure. Prints a table and writes benchmarks/results/agreement.json.

Usage:  .venv/bin/python benchmarks/agreement.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from viva.domain import Concept, Question
from viva.scoring import Embedder, Scorer

ASAG = ROOT.parent / "shared" / "asag"
MOHLER = ASAG / "mohler-dev.jsonl"
SEMEVAL = ASAG / "semeval2013-train.jsonl"
INTERVIEW = ROOT / "benchmarks" / "data" / "interview_answers.jsonl"
RESULTS = ROOT / "benchmarks" / "results" / "agreement.json"
QUICK_ROWS = {"mohler": 400, "semeval": 1500}  # rows kept per dataset with --quick
SEED = 13
FOLDS = ("tune", "held-out")


def load_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def fold_of(rows: list[dict]) -> dict[str, str]:
    qids = sorted({r["qid"] for r in rows})
    return {qid: FOLDS[i % 2] for i, qid in enumerate(qids)}


def to_question(row: dict) -> Question:
    concepts = tuple(
        Concept(c["name"], tuple(c.get("aliases", ())), float(c.get("weight", 1.0))) if isinstance(c, dict)
        else Concept(str(c))
        for c in row.get("concepts", ())
    )
    return Question(
        id=str(row["qid"]), topic="benchmark", question=row["question"], answer=row["reference"],
        concepts=concepts, kind=row.get("kind", "concept"), misconceptions=tuple(row.get("misconceptions", ())),
        # SemEval's Beetle questions come with several reference answers (best, good, minimal); the rubric
        # grades against each (Question.also_accept) and keeps the best grade, as a bank question would.
        also_accept=tuple(a for a in row.get("references", ()) if a != row["reference"]),
    )


def subsample(rows: list[dict], n: int | None) -> list[dict]:
    if n is None or len(rows) <= n:
        return rows
    return random.Random(SEED).sample(rows, n)


def score_rows(scorer: Scorer, rows: list[dict]) -> tuple[np.ndarray, np.ndarray, float, list]:
    """(rubric overall, raw cosine, answers per second, scores) for rows, in one batched call."""
    questions = {}
    items = []
    for r in rows:
        key = (r["qid"], r["reference"])
        if key not in questions:
            questions[key] = to_question(r)
        items.append((questions[key], r["answer"]))
    start = time.perf_counter()
    scores = scorer.score_many(items)
    rate = len(items) / max(time.perf_counter() - start, 1e-9)
    # The baseline: raw answer-reference cosine, the best over every accepted reference like the rubric.
    cosine = np.array([s.similarity for s in scores])
    multi = [i for i, (q, _) in enumerate(items) if q.also_accept]
    if multi:
        embed = scorer.embedder.embed
        for i in multi:
            q, answer = items[i]
            cosine[i] = float((embed([q.answer, *q.also_accept]) @ embed([answer])[0]).max())
    return np.array([s.overall for s in scores]), cosine, rate, scores


def correlations(pred: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    if len(pred) < 3 or np.std(pred) == 0:
        return {"pearson": float("nan"), "spearman": float("nan")}
    return {"pearson": float(pearsonr(pred, gold)[0]), "spearman": float(spearmanr(pred, gold)[0])}


def auc(pred: np.ndarray, positive: np.ndarray) -> float:
    if positive.all() or not positive.any():
        return float("nan")
    return float(roc_auc_score(positive, pred))


def by_fold(rows: list[dict], fn) -> dict[str, dict]:
    """Apply ``fn(mask)`` to all rows and to each fold's rows."""
    folds = fold_of(rows)
    tags = np.array([folds[r["qid"]] for r in rows])
    out = {"all": fn(np.ones(len(rows), bool))}
    for fold in FOLDS:
        out[fold] = fn(tags == fold)
    return out


def run_mohler(scorer: Scorer, quick: bool) -> dict | None:
    if not MOHLER.is_file():
        print(f"skipped Mohler: {MOHLER} not found")
        return None
    rows = subsample(load_jsonl(MOHLER), QUICK_ROWS["mohler"] if quick else None)
    rubric, cosine, rate, _ = score_rows(scorer, rows)
    gold = np.array([r["score"] for r in rows], float)
    res = by_fold(rows, lambda m: {"rubric": correlations(rubric[m], gold[m]),
                                   "cosine": correlations(cosine[m], gold[m]), "n": int(m.sum())})
    res["answers_per_s"] = rate
    return res


def run_semeval(scorer: Scorer, quick: bool) -> dict | None:
    if not SEMEVAL.is_file():
        print(f"skipped SemEval: {SEMEVAL} not found")
        return None
    rows = subsample(load_jsonl(SEMEVAL), QUICK_ROWS["semeval"] if quick else None)
    rubric, cosine, rate, scores = score_rows(scorer, rows)
    label = np.array([r["label_3way"] for r in rows])
    flagged = np.array(["contradiction" in s.flags for s in scores])

    def metrics(m: np.ndarray) -> dict:
        pair = m & np.isin(label, ["correct", "contradictory"])
        correct = label == "correct"
        return {
            "correct_vs_not": {"rubric": auc(rubric[m], correct[m]), "cosine": auc(cosine[m], correct[m])},
            "correct_vs_contradictory": {"rubric": auc(rubric[pair], correct[pair]),
                                         "cosine": auc(cosine[pair], correct[pair])},
            "flag_rate": {"contradictory": float(flagged[m & (label == "contradictory")].mean()),
                          "correct": float(flagged[m & correct].mean())},
            "n": int(m.sum()),
        }

    res = by_fold(rows, metrics)
    res["answers_per_s"] = rate
    return res


def run_interview(scorer: Scorer) -> dict:
    rows = load_jsonl(INTERVIEW)
    rubric, cosine, rate, scores = score_rows(scorer, rows)
    gold = np.array([r["grade"] for r in rows], float)
    labels = np.array([r["label"] for r in rows])
    qids = np.array([r["qid"] for r in rows])

    def metrics(m: np.ndarray) -> dict:
        good = labels == "good"
        out = {"rubric": correlations(rubric[m], gold[m]), "cosine": correlations(cosine[m], gold[m]),
               "auc_good_vs_not": {"rubric": auc(rubric[m], good[m]), "cosine": auc(cosine[m], good[m])},
               "n": int(m.sum())}
        for name, pred in (("rubric", rubric), ("cosine", cosine)):
            bad = total = 0
            for q in set(qids[m]):
                g = pred[(qids == q) & good]
                inv = pred[(qids == q) & (labels == "inverted")]
                total += len(g) * len(inv)
                bad += int(sum(1 for a in inv for b in g if a >= b))
            out[f"inverted_below_good_{name}"] = f"{total - bad}/{total}"
        return out

    res = by_fold(rows, metrics)
    res["answers_per_s"] = rate
    res["passing_inverted"] = [r["answer"][:60] for r, s in zip(rows, scores)
                               if r["label"] == "inverted" and s.rating.value in ("good", "easy")]
    res["mean_by_label"] = {str(lab): round(float(rubric[labels == lab].mean()), 1) for lab in sorted(set(labels))}
    res["ratings_by_label"] = {str(lab): dict(Counter(s.rating.value for s, l in zip(scores, labels) if l == lab))
                               for lab in sorted(set(labels))}
    return res


def throughput(rows: list[dict], repeat_rows: int = 600, runs: int = 3) -> dict:
    """score_many on a fresh scorer (model loaded, caches empty), in answers per wall second: the median
    and range of ``runs`` runs, the two modes alternating (this machine's speed drifts by 20-30% between
    runs). "cold" builds each question's plan (its concept and reference vectors) inside the timed
    batch; "prepared" builds them first, as practice does while the question is spoken."""
    import torch

    rows = (rows * (repeat_rows // max(len(rows), 1) + 1))[:repeat_rows]
    # Fresh text per row so the text cache cannot help: append a row number the rubric ignores.
    rows = [dict(r, answer=f"{r['answer']} ({i})") for i, r in enumerate(rows)]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    out: dict = {"cores": cores, "load_avg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"),
                 "answers": len(rows), "runs": runs}
    rates: dict[str, list[float]] = {"cold": [], "prepared": []}
    for _ in range(runs):
        for mode in rates:
            scorer = Scorer(embedder=Embedder())
            scorer.warm()
            if mode == "prepared":
                for r in rows:
                    scorer.plan(to_question(r))
            rates[mode].append(score_rows(scorer, rows)[2])
    for mode, values in rates.items():
        out[mode] = {"answers_per_s": float(np.median(values)), "min": min(values), "max": max(values)}
    out["answers_per_s"] = out["cold"]["answers_per_s"]
    out["torch_threads"] = torch.get_num_threads()
    return out


def fmt(x) -> str:
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def print_table(results: dict) -> None:
    print(f"\n{'metric':46} {'fold':9} {'rubric':>8} {'cosine':>8} {'n':>6}")
    print("-" * 81)
    for fold in ("all", *FOLDS):
        m = results.get("mohler")
        if m:
            for k in ("pearson", "spearman"):
                print(f"{'Mohler ' + k:46} {fold:9} {fmt(m[fold]['rubric'][k]):>8} {fmt(m[fold]['cosine'][k]):>8} {m[fold]['n']:>6}")
        s = results.get("semeval")
        if s:
            for k in ("correct_vs_not", "correct_vs_contradictory"):
                print(f"{'SemEval AUC ' + k:46} {fold:9} {fmt(s[fold][k]['rubric']):>8} {fmt(s[fold][k]['cosine']):>8} {s[fold]['n']:>6}")
        i = results["interview"]
        print(f"{'interview Pearson':46} {fold:9} {fmt(i[fold]['rubric']['pearson']):>8} {fmt(i[fold]['cosine']['pearson']):>8} {i[fold]['n']:>6}")
        print(f"{'interview Spearman':46} {fold:9} {fmt(i[fold]['rubric']['spearman']):>8} {fmt(i[fold]['cosine']['spearman']):>8}")
        print(f"{'interview AUC good vs not':46} {fold:9} {fmt(i[fold]['auc_good_vs_not']['rubric']):>8} {fmt(i[fold]['auc_good_vs_not']['cosine']):>8}")
        print(f"{'interview inverted below good (pairs)':46} {fold:9} {i[fold]['inverted_below_good_rubric']:>8} {i[fold]['inverted_below_good_cosine']:>8}")
        print("-" * 81)
    s = results.get("semeval")
    if s:
        print(f"SemEval contradiction flag rate: contradictory {s['all']['flag_rate']['contradictory']:.3f}, "
              f"correct {s['all']['flag_rate']['correct']:.3f}")
    print(f"interview mean overall by label: {results['interview']['mean_by_label']}")
    print(f"interview ratings by label: {results['interview']['ratings_by_label']}")
    print(f"inverted answers rated Good or Easy: {len(results['interview']['passing_inverted'])}")
    for name, t in results["throughput"].items():
        c, p = t["cold"], t["prepared"]
        print(f"throughput score_many, {name}, median of {t['runs']} x {t['answers']} answers/s wall: "
              f"cold {c['answers_per_s']:.0f} ({c['min']:.0f}-{c['max']:.0f}), questions prepared "
              f"{p['answers_per_s']:.0f} ({p['min']:.0f}-{p['max']:.0f}); {t['torch_threads']} torch thread(s), "
              f"machine load {t['load_avg_1min']:.1f} on {t['cores']} cores")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Subsample Mohler and SemEval for a fast run.")
    args = parser.parse_args(argv)
    scorer = Scorer()
    start = time.perf_counter()
    scorer.warm()
    load_s = time.perf_counter() - start
    results: dict = {"quick": args.quick, "model_load_s": round(load_s, 2)}
    results["mohler"] = run_mohler(scorer, args.quick)
    results["semeval"] = run_semeval(scorer, args.quick)
    results["interview"] = run_interview(scorer)
    results["throughput"] = {"interview answers (~50 words)": throughput(load_jsonl(INTERVIEW))}
    if MOHLER.is_file():
        results["throughput"]["Mohler answers (~18 words)"] = throughput(load_jsonl(MOHLER))
    print_table(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=float) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
