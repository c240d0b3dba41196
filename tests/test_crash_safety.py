"""Crash safety: SIGKILL a real `viva practice` at each stage of an attempt, then check the history.

Every kill is a real SIGKILL of a real ``python -m viva``-equivalent process (``tests/fast_viva.py``: the
production CLI with the sentence encoder swapped for a fast hash, since scoring quality is not under test).
The stage is found without fault hooks in viva: the process runs with ``VIVA_LOG=debug`` and the test
watches its stderr for the session loop's ``stage: ...`` lines; kills *inside* the attempt's transaction
use an SQLite trace callback installed by the helper (it kills the process as a given statement starts).

After every kill (``reliability.check_history``): PRAGMA integrity_check is ok, every finished attempt is
in the database and no unfinished one is, attempt + card + review log are all-or-nothing, replaying the
review log through fsrs reproduces the cards table, every attempt's recording exists — and the next
``viva practice`` starts normally (it is the next step of the chain).

The spoken chain drives the whole voice loop through PulseAudio's virtual microphone and speaker
(``tests/pulse.py``), with real espeak-ng speech, real Silero VAD and real Whisper tiny.en.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from pulse import pulse_audio  # noqa: F401  (session fixture)
from reliability import Child, attempt_ids, check_history

ANSWER = ("It stores the keys and values of earlier tokens so attention does not recompute them, and its "
          "memory grows with the sequence length.")
TYPED = ["practice", "--type", "--topic", "inference", "--new", "100"]
ONE_ANSWER = f"{ANSWER}\n\n\n"  # the answer, an empty line to end it, Enter for the next question

# (what the kill interrupts, how: ("stage", name, n) = SIGKILL when the n-th such line appears on stderr, or
#  ("sql", arm, n, statement) = the child kills itself as `statement` starts after the n-th `arm` statement;
#  whether the second attempt of the run is committed)
TYPED_KILLS = [
    ("waiting for the typed answer", ("stage", "asking", 2), False),
    ("inside the transaction, before the attempt row", ("sql", "INSERT INTO review_log", 1, "INSERT INTO attempts"),
     False),
    ("inside the transaction, attempt row written, card not", ("sql", "INSERT INTO attempts", 2, "INSERT INTO cards"),
     False),
    ("inside the transaction, card written, review log not",
     ("sql", "INSERT INTO cards", 2, "INSERT INTO review_log"), False),
    ("at COMMIT", ("sql", "INSERT INTO review_log", 2, "COMMIT"), False),
    ("just after COMMIT, before the schedule is shown", ("stage", "committed", 2), True),
]


def _kill_env(how) -> dict:
    if how[0] != "sql":
        return {}
    _, arm, n, statement = how
    return {"VIVA_TEST_KILL_ARM": arm, "VIVA_TEST_KILL_ARM_N": str(n), "VIVA_TEST_KILL_AT_SQL": statement}


def test_sigkill_at_each_stage_of_a_typed_attempt_loses_nothing_finished(tmp_path):
    home = tmp_path / "home"
    finished: list[int] = []
    for label, how, second_commits in TYPED_KILLS:
        with Child(TYPED, home, env=_kill_env(how), stdin=ONE_ANSWER * 3) as child:
            if how[0] == "stage":
                child.wait_stage(how[1], how[2])
                rc = child.kill()
            else:
                rc = child.finish()
            assert rc == -9, (label, rc, child.stderr_tail())
            if how[0] == "sql":
                assert f"fast_viva: SIGKILL at SQL: {how[3]}" in child.stderr, label
            # The first attempt of this run finished (its feedback was printed) before the kill.
            committed = [int(line.rsplit(" ", 1)[1]) for line in child.err_lines if "stage: committed" in line]
        assert len(committed) == (2 if second_commits else 1), label
        finished += committed
        assert attempt_ids(home) == finished, label  # all finished attempts, and no half-written one
        counts = check_history(home)
        assert counts["reviews"] == counts["attempts"] == len(finished), label
    # ... and the next practice after the last kill starts and saves normally.
    with Child(TYPED, home, stdin=ONE_ANSWER + "q\n") as child:
        assert child.finish() == 0, child.stderr_tail()
        assert "Session over: 1 answer" in child.stdout and "Traceback" not in child.stderr
    assert len(attempt_ids(home)) == len(finished) + 1
    check_history(home)


# -- the spoken loop, through PulseAudio's virtual microphone ----------------------------------------------
SPOKEN = ["practice", "--topic", "inference", "--new", "100", "--model", "tiny.en", "--silence", "1",
          "--max-seconds", "30"]
QUIET = [*SPOKEN, "--no-speak"]  # no question speech and no cue: the stages after speaking start sooner
SPOKEN_ANSWER = "The KV cache stores the keys and values of earlier tokens, so they are not recomputed."


@pytest.fixture(scope="module")
def answer_wav(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("speech")
    raw, wav = folder / "raw.wav", folder / "answer.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "170", "-w", str(raw), SPOKEN_ANSWER], check=True)
    subprocess.run(["sox", str(raw), str(wav), "pad", "0.3", "0"], check=True)
    return wav


def _has_stream(pulse, kind: str, pid: int) -> bool:
    """Does process ``pid`` have a PulseAudio stream of ``kind`` (sink-inputs: playing, source-outputs: recording)?"""
    return f'application.process.id = "{pid}"' in pulse.run("pactl", "list", kind, timeout=10).stdout


def _wait_stream(child: Child, pulse, kind: str, present: bool = True, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while _has_stream(pulse, kind, child.proc.pid) != present:
        assert child.proc.poll() is None, f"viva exited early; stderr:\n{child.stderr_tail()}"
        assert time.monotonic() < deadline, f"no {kind} change to {present}; stderr:\n{child.stderr_tail()}"
        time.sleep(0.05)


def _wavs(home: Path) -> list[Path]:
    folder = home / "recordings"
    return sorted(folder.glob("*.wav")) if folder.is_dir() else []


@pytest.mark.slow
def test_sigkill_at_each_stage_of_a_spoken_attempt(pulse_audio, answer_wav, tmp_path):
    home = tmp_path / "home"
    players: list[subprocess.Popen] = []

    def speak_answer() -> None:
        players.append(pulse_audio.play_into_mic(answer_wav))

    def kill_while(stage: str, child: Child) -> None:
        if stage == "speaking":  # the question's speech is playing on the virtual speaker
            _wait_stream(child, pulse_audio, "sink-inputs")
            return
        _wait_stream(child, pulse_audio, "source-outputs")  # the microphone is open: answer
        speak_answer()
        if stage == "recording":
            time.sleep(1.5)  # mid-answer
        elif stage == "transcribing":  # the recorder closed the microphone after the answer's silence
            _wait_stream(child, pulse_audio, "source-outputs", present=False)
        elif stage == "scoring":
            child.wait_stage("scoring")

    runs = [("speaking", SPOKEN, {}), ("recording", QUIET, {}), ("transcribing", QUIET, {}),
            ("scoring", QUIET, {"VIVA_TEST_EMBED_DELAY": "30"}),
            ("committing", QUIET, {"VIVA_TEST_KILL_ARM": "INSERT INTO review_log",
                                   "VIVA_TEST_KILL_AT_SQL": "COMMIT"})]
    try:
        for stage, args, env in runs:
            with Child(args, home, env=env, stdin="q\n") as child:
                if stage == "committing":
                    kill_while("recording", child)
                    rc = child.finish()  # it kills itself as COMMIT starts, inside the transaction
                else:
                    kill_while(stage, child)
                    rc = child.kill()
                assert rc == -9, (stage, child.stderr_tail())
                seen = child.stages()
            for p in players:
                p.kill()
                p.wait(10)
            assert "committed" not in seen and "Traceback" not in child.stderr, stage
            if stage == "committing":  # the recording the scoring kill left behind was set aside at start
                assert "viva: moved 1 recording of an interrupted answer (never saved as an attempt) to " \
                       f"{home / 'recordings' / 'unfinished'}" in child.stdout
            if stage in ("speaking", "recording", "transcribing"):
                assert "scoring" not in seen, f"the kill meant for {stage} came after it: {seen}"
            # Nothing of the unfinished attempt is in the history; its recording, if already written, is
            # not linked (it is swept at the next start).
            assert attempt_ids(home) == [], stage
            check_history(home)
            assert len(_wavs(home)) == (stage in ("scoring", "committing")), (stage, _wavs(home))

        # The next practice starts normally (typed, to keep the test short: the spoken attempt path is the
        # one above, and test_voice_loop completes spoken attempts): it sets the interrupted recording
        # aside, beside a note and the one swept before, and saves an attempt.
        with Child(TYPED, home, stdin=ONE_ANSWER + "q\n") as child:
            assert child.finish() == 0, child.stderr_tail()
        assert "viva: moved 1 recording of an interrupted answer" in child.stdout
        assert "Traceback" not in child.stderr
        unfinished = home / "recordings" / "unfinished"
        assert len(list(unfinished.glob("*.wav"))) == 2 and (unfinished / "README.txt").is_file()
        assert _wavs(home) == []  # the recordings folder holds only recordings an attempt links to
        counts = check_history(home)
        assert counts["attempts"] == counts["reviews"] == 1
    finally:
        for p in players:
            p.kill()


def test_the_sweep_moves_only_unlinked_recordings_and_keeps_a_note(tmp_path):
    from viva.recordings import NOTE_NAME, UNFINISHED_DIR, sweep_unlinked

    folder = tmp_path / "recordings"
    folder.mkdir()
    for name in ("linked.wav", "orphan.wav", "half.partial.wav", "notes.txt"):
        (folder / name).write_bytes(b"RIFF")
    moved = sweep_unlinked({"linked.wav"}, folder)
    assert sorted(p.name for p in moved) == ["half.partial.wav", "orphan.wav"]
    assert sorted(p.name for p in folder.iterdir()) == ["linked.wav", "notes.txt", UNFINISHED_DIR]
    assert "no attempt" in (folder / UNFINISHED_DIR / NOTE_NAME).read_text()
    assert sweep_unlinked({"linked.wav"}, folder) == []  # idempotent
    assert sweep_unlinked(set(), tmp_path / "no-such-folder") == []  # before the first spoken answer
