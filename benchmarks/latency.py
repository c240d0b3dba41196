"""Latency benchmark: end of speech → feedback on screen, startup, peak RSS and WER; streaming vs one-shot.

    .venv/bin/python benchmarks/latency.py            # 10, 30 and 90-s answers, 3 times each, both modes
    .venv/bin/python benchmarks/latency.py --quick    # only the 30-s answer, three times, both modes

Each answer is a bank answer spoken by espeak-ng and played into PulseAudio's virtual microphone
(tests/pulse.py) while the real pipeline runs in one worker process, as ``viva practice`` builds it: the
question is spoken, the recorder ends the answer with its VAD, Whisper transcribes (while the candidate
speaks, or in one shot after the answer: the baseline), delivery is measured, the Scorer grades, the
attempt is committed to a real Store and the ConsoleUI renders the feedback panel. Without PulseAudio the
WAV is fed as audio frames at real-time pace through the same VAD endpointing. Modes alternate trial by
trial, so both see the same machine load; every trial uses a question the scorer has not seen yet.

Feedback latency runs from the moment the recorder decided the answer was over (``--silence`` seconds
after the last speech; add that for "from the last word") to the feedback panel being printed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(1, str(ROOT / "tests"))  # pulse.py: the virtual microphone and speaker
RESULTS = ROOT / "benchmarks" / "results" / "latency.json"
LENGTHS_S = (10, 30, 90)  # s: target answer lengths
QUICK_LENGTHS_S = (30,)
REPEATS = 3  # trials per length and mode
MODES = ("streaming", "oneshot")
ESPEAK_VOICE, ESPEAK_WPM = "en-us", 160
WORDS_PER_S = 2.5  # espeak-ng at 160 wpm with its sentence pauses (measured: 79 words in 31 s at 150 wpm)
LEAD_IN_S = 0.3  # s of silence before the answer in each WAV
SILENCE_S = 2.0  # s: practice's default --silence
HELP_RUNS = 5
FIRST_QUESTION_RUNS = 3  # after one unmeasured run that warms the page cache
FIRST_SOUND_DBFS = -50.0  # speaker-monitor level that counts as the question being spoken
FIRST_SOUND_TIMEOUT_S = 60.0
CHUNK_MS = 20  # parec read size


def normalize(text: str) -> str:
    text = text.lower().replace("-", " ").replace("_", " ")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?;])\s+", text) if s.strip()]


def pick_scripts(lengths, repeats: int, modes) -> list[dict]:
    """One distinct question per length and repeat, asked once in each mode; its script is its reference
    answer trimmed or extended (with answers of the same topic) to about the target length."""
    from viva.bank import load_bank

    questions = [q for q in load_bank().questions if q.kind == "concept"]
    trials, used = [], set()
    for target in lengths:
        want = target * WORDS_PER_S
        for rep in range(repeats):
            q = min((q for q in questions if q.id not in used),
                    key=lambda q: abs(_fit(q, questions, want)[1] - want) + questions.index(q) * 1e-3)
            used.add(q.id)
            text, words = _fit(q, questions, want)
            for i, mode in enumerate(modes):
                order = modes if rep % 2 == 0 else modes[::-1]  # alternate which mode goes first
                trials.append({"length": target, "rep": rep, "mode": order[i], "qid": q.id, "script": text,
                               "words": words})
    return trials


def _fit(question, questions, want: float) -> tuple[str, int]:
    pool = [question] + [q for q in questions if q.topic == question.topic and q.id != question.id]
    picked: list[str] = []
    count = 0
    for sentence in (s for q in pool for s in _sentences(q.answer)):
        n = len(sentence.split())
        if picked and abs(count + n - want) >= abs(count - want):
            break
        picked.append(sentence)
        count += n
    return " ".join(picked), count


def synthesize(trials: list[dict], folder: Path) -> None:
    import soundfile as sf

    for t in trials:
        raw, wav = folder / f"{t['qid']}.raw.wav", folder / f"{t['qid']}.wav"
        if wav.is_file():  # the same script in the other mode
            t["wav"], t["audio_s"] = str(wav), round(sf.info(str(wav)).duration, 2)
            continue
        subprocess.run(["espeak-ng", "-v", ESPEAK_VOICE, "-s", str(ESPEAK_WPM), "-w", str(raw), "--", t["script"]],
                       check=True)
        subprocess.run(["sox", str(raw), "-r", "16000", str(wav), "pad", str(LEAD_IN_S), "0"], check=True)
        t["wav"], t["audio_s"] = str(wav), round(sf.info(str(wav)).duration, 2)


# --- the worker: one process, the real pipeline -----------------------------------------------------
class Candidate:
    """The meter hook doubles as the candidate: it starts speaking once the microphone delivers audio, and
    the last meter update is when the recorder decided the answer was over."""

    def __init__(self, play):
        self.play, self.player, self.waiting, self.last_update = play, None, False, 0.0

    def start(self) -> None:
        self.waiting = True

    def update(self, progress) -> None:
        self.last_update = time.perf_counter()
        if self.waiting:
            self.waiting = False
            self.player = self.play()

    def stop(self) -> None:
        if self.player is not None and hasattr(self.player, "wait"):
            self.player.wait(timeout=30)


class FramesRecorder:
    """No audio device: the Recorder's loop over the candidate's WAV, fed at real-time pace."""

    def __init__(self):
        self.audio = None

    def record(self, options, should_stop=None, on_progress=None, **hooks):
        import numpy as np

        from viva.audio.recorder import BLOCK_S, Progress, Recording
        from viva.audio.vad import EndpointOptions, SpeechTracker, default_classifier
        from viva.audio.wav import SAMPLE_RATE

        tracker = SpeechTracker(default_classifier(), EndpointOptions(options.trailing_silence_s,
                                                                      options.no_speech_timeout_s))
        block_n, chunks, start, stopped = int(SAMPLE_RATE * BLOCK_S), [], time.perf_counter(), "max"
        on_audio = hooks.get("on_audio")
        for i in range(int(options.max_s / BLOCK_S)):
            time.sleep(max(0.0, start + (i + 1) * BLOCK_S - time.perf_counter()))
            audio = self.audio if self.audio is not None else np.zeros(0, np.float32)
            block = audio[i * block_n:(i + 1) * block_n]
            block = np.pad(block, (0, block_n - block.size)).astype(np.float32)
            chunks.append(block)
            tracker.feed(block)
            if on_audio:
                on_audio(block)
            if on_progress:
                on_progress(Progress(time.perf_counter() - start, -30.0, False, tracker.heard_speech))
            if tracker.done():
                stopped = tracker.done()
                break
        samples = np.concatenate(chunks)
        return Recording(samples, samples.size / SAMPLE_RATE, tracker.speech_s, stopped, tracker.heard_speech)


class TimedUI:
    """The real ConsoleUI (rendering into a buffer), stamping the moment the feedback panel is printed."""

    def __init__(self):
        from rich.console import Console

        from viva.ui import ConsoleUI

        self.console = Console(file=io.StringIO(), width=100, color_system="truecolor", force_terminal=True)
        self._ui = ConsoleUI(self.console, lambda prompt: "q")
        self.shown_at = 0.0

    def feedback(self, question, score, answer, previous) -> None:
        self._ui.feedback(question, score, answer, previous)
        self.shown_at = time.perf_counter()
        self.answer, self.score = answer, score

    def next_action(self) -> str:
        return "next"

    def summary(self, result) -> None:
        pass

    def notice(self, message: str) -> None:
        print(f"notice: {message}", file=sys.stderr)


def _voice_options(mode: str):
    from viva.audio.recorder import RecordOptions
    from viva.voice import VoiceOptions

    return VoiceOptions(record=RecordOptions(trailing_silence_s=SILENCE_S, max_s=180), streaming=mode == "streaming")


def run_trials(spec: dict) -> dict:
    """In the worker: build the components as the CLI does, run every trial, report rows and peak RSS."""
    os.environ["VIVA_HOME"] = spec["home"]
    if os.environ.get("VIVA_LOG"):
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(relativeCreated)8d %(name)s %(message)s")
        logging.getLogger("faster_whisper").setLevel(logging.DEBUG)
    import jiwer

    from viva.bank import load_bank
    from viva.scoring import Scorer
    from viva.session import PracticeSession
    from viva.store import Store
    from viva.transcribe import build_transcriber
    from viva.voice import Background, SpokenAnswers

    bank = load_bank()
    transcriber = Background(lambda: build_transcriber("faster-whisper", spec["model"]))
    scorer = Scorer()
    scorer.warm()
    if spec["pulse"]:
        from viva.audio.recorder import Recorder
        from viva.audio.tts import build_speaker

        recorder, speaker = Recorder(), build_speaker("auto")
    else:
        from viva.audio.tts import SilentSpeaker

        recorder, speaker = FramesRecorder(), SilentSpeaker()
    model_name = transcriber.get().model_name
    print(f"models loaded: RSS {rss_mb()} MB, peak {peak_rss_mb()} MB", file=sys.stderr, flush=True)
    rows = []
    for trial in spec["trials"]:
        question = bank.get(trial["qid"])
        _forget(scorer)
        play = _player(trial["wav"], recorder, spec["pulse"])
        candidate, ui = Candidate(play), TimedUI()
        heard = {}
        answers = SpokenAnswers(speaker=speaker, recorder=recorder, transcriber=transcriber,
                                show_question=lambda *a: None, notice=ui.notice, read_line=lambda p: "q",
                                options=_voice_options(trial["mode"]), meter=candidate,
                                show_heard=lambda text: heard.setdefault("at", time.perf_counter()),
                                prepare=scorer.plan)
        with Store() as store:
            PracticeSession(store, scorer, answers, ui).run([question], mode="spoken")
        end = candidate.last_update
        text = ui.answer.transcript or ""
        stats = getattr(answers, "stream_stats", None)
        row = {**{k: trial[k] for k in ("length", "rep", "mode", "qid", "audio_s")},
               "latency_s": round(ui.shown_at - end, 3), "transcript_ready_s": round(heard.get("at", end) - end, 3),
               "wer": round(jiwer.wer(normalize(trial["script"]), normalize(text) or "<empty>"), 4),
               "score": round(ui.score.overall, 1), "script": trial["script"], "transcript": text}
        if stats is not None:
            row.update(pieces=len(stats.pieces), left_at_end_s=stats.left_at_finish_s,
                       speculative_used=stats.speculative_used)
        rows.append(row)
        print(f"{row['mode']:<9} {row['length']:>3} s  latency {row['latency_s']:6.2f} s  WER {row['wer']:.3f}  "
              f"RSS {rss_mb():.0f} MB  load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
    return {"rows": rows, "peak_rss_mb": peak_rss_mb(), "model": model_name}


def _forget(scorer) -> None:
    """Both modes ask the same question: start each trial with the scorer cold for it, as in a session."""
    scorer._plans.clear()
    cache = getattr(scorer.embedder, "_cache", None)
    if cache is not None:
        cache.clear()


def _player(wav: str, recorder, pulse: bool):
    if pulse:
        import pulse as pulse_devices

        env = {**os.environ}
        return lambda: subprocess.Popen(["paplay", f"--device={pulse_devices.MIC_SINK}", wav], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from viva.audio.wav import load_audio

    audio = load_audio(wav)

    def play():
        recorder.audio = audio

    return play


def peak_rss_mb(field: str = "VmHWM") -> float:
    """This process's peak RSS (VmHWM), or another /proc/self/status field in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def rss_mb() -> float:
    return peak_rss_mb("VmRSS")


# --- start-up -------------------------------------------------------------------------------------
def viva_command() -> list[str]:
    exe = Path(sys.executable).parent / "viva"
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "viva"]


def time_help() -> float:
    runs = []
    for i in range(HELP_RUNS + 1):
        start = time.perf_counter()
        subprocess.run(viva_command() + ["--help"], capture_output=True, check=True)
        if i:  # the first run warms the page cache
            runs.append(time.perf_counter() - start)
    return round(statistics.median(runs), 3)


def time_first_question(pulse) -> list[float]:
    """`viva practice` → first sound of the question on the virtual speaker, on a fresh data dir."""
    import numpy as np

    import pulse as pulse_devices

    out = []
    for i in range(FIRST_QUESTION_RUNS + 1):
        with tempfile.TemporaryDirectory(prefix="viva-latency-home-") as home:
            env = {**pulse.env, "VIVA_HOME": home}
            rec = subprocess.Popen(["parec", f"--device={pulse_devices.SPEAKER_SINK}.monitor", "--raw",
                                    "--format=s16le", "--rate=16000", "--channels=1", f"--latency-msec={CHUNK_MS}"],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            heard = threading.Event()
            sound_at = [0.0]

            def listen():
                chunk = 16_000 * 2 * CHUNK_MS // 1000
                while not heard.is_set():
                    data = rec.stdout.read(chunk)
                    if not data:
                        return
                    x = np.frombuffer(data, dtype=np.int16).astype(np.float32) / 32768
                    if started.is_set() and 20 * np.log10(max(float(np.sqrt(np.mean(x ** 2))), 1e-9)) > FIRST_SOUND_DBFS:
                        sound_at[0] = time.perf_counter()
                        heard.set()

            started = threading.Event()
            reader = threading.Thread(target=listen, daemon=True)
            reader.start()
            time.sleep(0.5)  # parec is streaming
            start = time.perf_counter()
            started.set()
            viva = subprocess.Popen(viva_command() + ["practice", "--limit", "1"], env=env, stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ok = heard.wait(FIRST_SOUND_TIMEOUT_S)
            viva.terminate()
            viva.wait(timeout=30)
            rec.terminate()
            rec.wait(timeout=10)
            if i and ok:
                out.append(round(sound_at[0] - start, 3))
            print(f"first question: {sound_at[0] - start:.2f} s" if ok else "first question: no sound",
                  file=sys.stderr, flush=True)
    return out


# --- report ---------------------------------------------------------------------------------------
def summarize(rows: list[dict], key: str = "latency_s") -> dict:
    import numpy as np

    out = {}
    for mode in sorted({r["mode"] for r in rows}):
        out[mode] = {}
        for length in sorted({r["length"] for r in rows if r["mode"] == mode}):
            vals = [r[key] for r in rows if r["mode"] == mode and r["length"] == length]
            out[mode][str(length)] = {"median": round(float(np.median(vals)), 3),
                                      "p90": round(float(np.percentile(vals, 90)), 3), "n": len(vals)}
    return out


def corpus_wer(rows: list[dict], mode: str) -> float | None:
    import jiwer

    picked = [r for r in rows if r["mode"] == mode]
    if not picked:
        return None
    return round(jiwer.wer([normalize(r["script"]) for r in picked],
                           [normalize(r["transcript"]) or "<empty>" for r in picked]), 4)


def table(result: dict) -> str:
    lat = result["latency_by_mode"]
    head = f"{'answer':>7} {'mode':<10} {'median s':>9} {'p90 s':>7} {'n':>3}"
    lines = [head, "-" * len(head)]
    lengths = sorted({int(k) for m in lat.values() for k in m})
    for length in lengths:
        for mode in MODES:
            cell = lat.get(mode, {}).get(str(length))
            if cell:
                lines.append(f"{length:>5} s {mode:<10} {cell['median']:9.2f} {cell['p90']:7.2f} {cell['n']:3d}")
    lines.append("")
    lines.append(f"WER streaming {result['wer_streaming']}  one-shot {result['wer_oneshot']}  "
                 f"(model {result['model']}, {result['audio']})")
    lines.append(f"viva --help {result['startup_help_s']} s · viva practice → first spoken word "
                 f"{result['first_question_s']} s · peak RSS {result['peak_rss_mb']} MB · "
                 f"load {result['load_avg']['before']} → {result['load_avg']['after']}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only the 30-s answer, three times")
    ap.add_argument("--model", default=None, help="Whisper model (default: what viva practice uses)")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated: streaming, oneshot")
    ap.add_argument("--repeats", type=int, default=REPEATS)
    ap.add_argument("--no-pulse", action="store_true", help="feed frames instead of the virtual microphone")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(run_trials(json.loads(args.worker.read_text(encoding="utf-8")))))
        return
    load_before = round(os.getloadavg()[0], 2)
    modes = tuple(m for m in args.modes.split(",") if m)
    pulse = None
    if not args.no_pulse and shutil.which("paplay"):
        try:
            import pulse as pulse_devices

            pulse = pulse_devices.start()
        except BaseException as exc:  # noqa: BLE001 - pytest.skip/fail outside pytest: no PulseAudio here
            if isinstance(exc, KeyboardInterrupt):
                raise
            print(f"PulseAudio unavailable ({exc}); feeding frames at real-time pace", file=sys.stderr)
    try:
        result = measure(args, modes, pulse, load_before)
    finally:
        if pulse is not None:
            pulse_devices.stop(pulse)
    print(table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"wrote {args.out}")


def measure(args, modes, pulse, load_before: float) -> dict:
    from viva.transcribe.models import resolve_model

    model = args.model or resolve_model(None).name
    trials = pick_scripts(QUICK_LENGTHS_S if args.quick else LENGTHS_S, args.repeats, modes)
    with tempfile.TemporaryDirectory(prefix="viva-latency-") as tmp:
        synthesize(trials, Path(tmp))
        spec = {"home": str(Path(tmp) / "home"), "model": model, "pulse": pulse is not None, "trials": trials}
        (Path(tmp) / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        proc = subprocess.run([sys.executable, __file__, "--worker", str(Path(tmp) / "spec.json")],
                              stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"worker failed (exit {proc.returncode})")
        worker = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = worker["rows"]
    by_mode = summarize(rows)
    first = time_first_question(pulse) if pulse is not None else []
    return {
        "feedback_latency_s": by_mode.get("streaming", by_mode.get("oneshot", {})),
        "feedback_latency_oneshot_s": by_mode.get("oneshot", {}),
        "latency_by_mode": by_mode,
        "transcript_ready_s": summarize(rows, "transcript_ready_s"),
        "startup_help_s": time_help(),
        "first_question_s": round(statistics.median(first), 3) if first else None,
        "first_question_runs_s": first,
        "peak_rss_mb": worker["peak_rss_mb"],
        "wer_streaming": corpus_wer(rows, "streaming"),
        "wer_oneshot": corpus_wer(rows, "oneshot"),
        "model": worker["model"], "silence_s": SILENCE_S,
        "audio": "PulseAudio virtual microphone" if pulse is not None else "frames at real-time pace",
        "load_avg": {"before": load_before, "after": round(os.getloadavg()[0], 2)}, "cores": os.cpu_count(),
        "rows": rows,
    }


if __name__ == "__main__":
    main()
