"""ASR benchmark: bank answers spoken by espeak-ng (2 voice/rate settings) and Piper, transcribed per
engine, model, compute type and priming. Reports WER, key-term recall, RTF, load time and peak RSS.

    .venv/bin/python benchmarks/asr.py            # 24 answers × 3 voices, every config (~15 min on 2 cores)
    .venv/bin/python benchmarks/asr.py --quick    # 6 answers × 2 voices, the main configs
    .venv/bin/python benchmarks/asr.py --only tiny.en:hotwords,tiny.en:none --lead-in 0,0.8,1.5

Key-term recall: of the question's concepts whose phrase (name or alias) occurs in the spoken answer,
the share whose phrase, or any alias of it, is found in the transcript (rapidfuzz partial ratio ≥ 90 on
normalized text) — the rubric's alias/fuzzy matching, without the embedding step.
Each model config runs in its own interpreter, so peak RSS (VmHWM) and load time are that config's own.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
RESULTS = ROOT / "benchmarks" / "results" / "asr.json"
FUZZY_MIN = 90  # rapidfuzz partial_ratio for a term to count as recognized
VOICES = (("espeak-us-160", "espeak", "en-us", 160), ("espeak-gb-190", "espeak", "en-gb", 190),
          ("piper-joe", "piper", None, 175))
# (engine, model, compute_type, priming)
CONFIGS = [("faster-whisper", "tiny.en", "int8", "none"), ("faster-whisper", "tiny.en", "int8", "prompt"),
           ("faster-whisper", "base", "int8", "none"), ("faster-whisper", "base", "int8", "prompt"),
           ("faster-whisper", "tiny.en", "int8", "hotwords"), ("faster-whisper", "base", "int8", "hotwords"),
           ("faster-whisper", "tiny.en", "float32", "hotwords"),
           ("openai-whisper", "tiny.en", "fp32", "prompt")]
QUICK_CONFIGS = [c for c in CONFIGS if c[2] == "int8" and c[3] in ("none", "hotwords")]
# Answers with fillers, to measure which ones Whisper keeps (TTS says "um" as a word, so this is an upper
# bound: real hesitations are softer and survive less often).
FILLER_TEXTS = [
    "Um, the KV cache stores keys and values, you know, so we do not recompute them.",
    "So, uh, attention is sort of a weighted sum of the values.",
    "I mean, LoRA trains, um, two low-rank matrices, kind of like an adapter.",
    "Uh, the softmax, um, turns the scores into weights, you know.",
    "Basically, uh, RoPE rotates queries and keys, sort of by their position.",
    "Hmm, I think, um, batching raises throughput, I mean, at some latency cost.",
]
FILLER_CONFIGS = [("faster-whisper", "tiny.en", "int8", "hotwords"), ("faster-whisper", "base", "int8", "hotwords")]
FALLBACK = [("fallback-kv", "The KV cache stores the keys and values of previous tokens so they are not recomputed.",
             ("KV cache", "keys and values")),
            ("fallback-lora", "LoRA freezes the base weights and trains two low-rank matrices per layer.",
             ("LoRA", "low-rank matrices"))]


def normalize(text: str) -> str:
    text = text.lower().replace("-", " ").replace("_", " ")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def load_items(n: int) -> list[dict]:
    try:
        from viva.bank import load_bank

        questions = [q for q in load_bank().questions if q.kind == "concept" and q.concepts]
    except Exception as exc:  # noqa: BLE001 - the bank is optional for the benchmark
        print(f"bank unavailable ({exc}); using fixed texts", file=sys.stderr)
        return [{"id": i, "text": t, "concepts": [[p] for p in c], "terms": list(c)} for i, t, c in FALLBACK]
    # Spread over topics: every k-th question.
    step = max(1, len(questions) // n)
    picked = questions[::step][:n]
    from viva.transcribe.prompt import question_terms

    return [{"id": q.id, "text": q.answer, "concepts": [list(c.phrases) for c in q.concepts],
             "terms": list(question_terms(q)), "question": q.question} for q in picked]


def synthesize(items: list[dict], voices, folder: Path) -> list[dict]:
    from viva.audio.tts import PiperSpeaker, piper_available
    from viva.audio.wav import save_wav

    clips = []
    piper = PiperSpeaker() if piper_available() and any(v[1] == "piper" for v in voices) else None
    for vname, kind, voice, wpm in voices:
        if kind == "piper" and piper is None:
            print("piper not installed: skipping its voice", file=sys.stderr)
            continue
        for item in items:
            out = folder / f"{vname}-{item['id']}.wav"
            if kind == "espeak":
                subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(out), item["text"]], check=True)
            else:
                samples, rate = piper.synthesize(item["text"])
                save_wav(out, samples, rate)
            clips.append({**item, "voice": vname, "wav": str(out)})
    return clips


def with_lead_in(clips: list[dict], leads: list[float]) -> list[dict]:
    """Each clip once per lead-in; a non-zero lead-in is a padded copy whose voice is named "VOICE+Ns"."""
    import numpy as np

    from viva.audio.wav import load_audio, save_wav

    out = []
    for lead in leads:
        for clip in clips:
            if lead <= 0:
                out.append(clip)
                continue
            wav = Path(clip["wav"]).with_name(f"{Path(clip['wav']).stem}+{lead:g}s.wav")
            audio = load_audio(clip["wav"])
            save_wav(wav, np.concatenate([np.zeros(int(lead * 16_000), np.float32), audio]), 16_000)
            out.append({**clip, "voice": f"{clip['voice']}+{lead:g}s", "wav": str(wav)})
    return out


def term_recall(concepts: list[list[str]], reference: str, hypothesis: str) -> tuple[int, int]:
    from rapidfuzz import fuzz

    ref, hyp = normalize(reference), normalize(hypothesis)
    present = found = 0
    for phrases in concepts:
        norm = [normalize(p) for p in phrases if normalize(p)]
        if not any(fuzz.partial_ratio(p, ref) >= FUZZY_MIN for p in norm):
            continue
        present += 1
        found += any(fuzz.partial_ratio(p, hyp) >= FUZZY_MIN for p in norm)
    return found, present


def fillers_kept(reference: str, hypothesis: str) -> tuple[int, int]:
    from collections import Counter

    from viva.audio.delivery import find_fillers

    said, heard = Counter(find_fillers(reference)), Counter(find_fillers(hypothesis))
    return sum(said.values()), sum(min(n, heard[f]) for f, n in said.items())


def run_config(config, clips) -> dict:
    """In a child process: load the model, transcribe every clip, report metrics and peak RSS."""
    engine, model, compute, priming = config
    import jiwer

    from viva.audio.wav import load_audio
    from viva.transcribe import TranscribeOptions, build_transcriber

    try:
        start = time.perf_counter()
        transcriber = build_transcriber(engine, model, compute_type=compute if engine == "faster-whisper" else "int8")
        load_s = time.perf_counter() - start
    except Exception as exc:  # noqa: BLE001 - a missing model or engine is reported, not fatal
        return {"config": list(config), "skipped": str(exc).splitlines()[0]}
    rows, audio_s, decode_s = [], 0.0, 0.0
    for clip in clips:
        audio = load_audio(clip["wav"])
        t0 = time.perf_counter()
        question = clip.get("question", "") if priming != "none" else ""  # as practice primes it
        out = transcriber.transcribe(audio, TranscribeOptions(terms=tuple(clip["terms"]), priming=priming,
                                                              word_timestamps=True, question=question))
        decode_s += time.perf_counter() - t0
        audio_s += len(audio) / 16_000
        found, present = term_recall(clip["concepts"], clip["text"], out.text)
        said, kept = fillers_kept(clip["text"], out.text)
        rows.append({"id": clip["id"], "voice": clip["voice"], "hyp": out.text, "found": found, "present": present,
                     "fillers_said": said, "fillers_kept": kept,
                     "wer": jiwer.wer(normalize(clip["text"]), normalize(out.text) or "<empty>")})
    refs = [normalize(c["text"]) for c in clips]
    hyps = [normalize(r["hyp"]) or "<empty>" for r in rows]
    per_voice = {}
    for v in sorted({r["voice"] for r in rows}):
        idx = [i for i, r in enumerate(rows) if r["voice"] == v]
        per_voice[v] = round(jiwer.wer([refs[i] for i in idx], [hyps[i] for i in idx]), 4)
    found, present = sum(r["found"] for r in rows), sum(r["present"] for r in rows)
    return {"config": list(config), "wer": round(jiwer.wer(refs, hyps), 4), "wer_by_voice": per_voice,
            "term_recall": round(found / present, 4) if present else None, "terms": [found, present],
            "fillers": [sum(r["fillers_kept"] for r in rows), sum(r["fillers_said"] for r in rows)],
            "rtf": round(decode_s / audio_s, 4), "load_s": round(load_s, 2), "audio_s": round(audio_s, 1),
            "peak_rss_mb": peak_rss_mb(), "rows": rows}


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). ru_maxrss would carry the parent's peak over fork + exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def table(results: list[dict]) -> str:
    head = f"{'engine':<15} {'model':<8} {'compute':<8} {'priming':<9} {'WER':>6} {'terms':>7} {'RTF':>6} " \
           f"{'load s':>6} {'RSS MB':>7}"
    lines = [head, "-" * len(head)]
    for r in results:
        e, m, c, p = r["config"]
        if "skipped" in r:
            lines.append(f"{e:<15} {m:<8} {c:<8} {p:<9} skipped: {r['skipped'][:60]}")
            continue
        recall = f"{100 * r['term_recall']:.1f}%" if r["term_recall"] is not None else "-"
        lines.append(f"{e:<15} {m:<8} {c:<8} {p:<9} {100 * r['wer']:5.1f}% {recall:>7} {r['rtf']:6.3f} "
                     f"{r['load_s']:6.2f} {r['peak_rss_mb']:7.0f}")
    return "\n".join(lines)


def run_all(configs, clips, folder: Path, label: str) -> list[dict]:
    clips_file = folder / f"{label}.json"
    clips_file.write_text(json.dumps(clips), encoding="utf-8")
    results = []
    for config in configs:
        # A fresh interpreter per config: its load time and peak memory are its own.
        out = subprocess.run([sys.executable, __file__, "--worker", json.dumps(config), str(clips_file)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            result = {"config": list(config), "skipped": (out.stderr.strip().splitlines() or ["failed"])[-1]}
        else:
            result = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(result)
        print(f"{label}: " + table([result]).splitlines()[-1], file=sys.stderr, flush=True)
    return results


def filler_table(results: list[dict]) -> str:
    lines = []
    for r in results:
        if "fillers" in r:
            kept, said = r["fillers"]
            lines.append(f"fillers kept by {r['config'][1]} ({r['config'][3]}): {kept}/{said}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="6 answers, 2 voices, the main configs")
    ap.add_argument("--answers", type=int, default=None, help="how many bank answers (default 24; quick 6)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--only", help="only these MODEL:PRIMING[:COMPUTE] configs, comma-separated; merged "
                                   "into the existing JSON")
    ap.add_argument("--fillers-only", action="store_true", help="only the filler-survival check")
    ap.add_argument("--lead-in", default="0", help="seconds of silence before each answer, comma-separated: every "
                                                   "clip is run once per value (a real answer starts after a pause)")
    ap.add_argument("--worker", nargs=2, metavar=("CONFIG", "CLIPS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        config, clips = json.loads(args.worker[0]), json.loads(Path(args.worker[1]).read_text(encoding="utf-8"))
        print(json.dumps(run_config(tuple(config), clips)))
        return
    n = args.answers or (6 if args.quick else 24)
    voices = VOICES[::2] if args.quick else VOICES
    configs = QUICK_CONFIGS if args.quick else CONFIGS
    if args.only:
        wanted = [x.strip().split(":") for x in args.only.split(",")]  # MODEL:PRIMING[:COMPUTE]
        configs = [c for c in CONFIGS if any([c[1], c[3], c[2]][:len(w)] == w for w in wanted)]
    items = [] if args.fillers_only else load_items(n)
    with tempfile.TemporaryDirectory(prefix="viva-asr-") as tmp:
        t0 = time.perf_counter()
        clips = with_lead_in(synthesize(items, voices, Path(tmp)), [float(x) for x in args.lead_in.split(",")])
        print(f"{len(clips)} clips ({len(items)} answers × {len(clips) // max(1, len(items))} voices) "
              f"synthesized in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        results = [] if args.fillers_only else run_all(configs, clips, Path(tmp), "answers")
        filler_items = [{"id": f"filler-{i}", "text": t, "concepts": [], "terms": []}
                        for i, t in enumerate(FILLER_TEXTS)]
        filler_clips = synthesize(filler_items, voices, Path(tmp))
        filler_results = run_all(FILLER_CONFIGS, filler_clips, Path(tmp), "fillers")
    if results:
        print(table(results))
    print(filler_table(filler_results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if (args.only or args.fillers_only) and args.out.is_file():
        old = json.loads(args.out.read_text(encoding="utf-8"))
        fresh = {tuple(r["config"]) for r in results}
        results = [r for r in old.get("results", []) if tuple(r["config"]) not in fresh] + results
        filler_results = filler_results or old.get("fillers", [])
    args.out.write_text(json.dumps({"answers": len(items), "voices": [v[0] for v in voices], "clips": len(clips),
                                    "lead_in_s": args.lead_in, "results": results, "fillers": filler_results}, indent=1), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
