"""PulseAudio virtual devices for the real-device tests: a speaker and a microphone, headless, as root.

One null sink (``viva_speaker``) is the default output; a second null sink (``viva_mic_sink``) takes what a
test plays "into the microphone", and its monitor, remapped as a source (``viva_mic``), is the default
input. ALSA (so PortAudio, so sounddevice) reaches PulseAudio through libasound2-plugins' pulse plugin,
which /etc/alsa/conf.d/99-pulse.conf makes the default whenever a server is running.

Use it from a test module with ``from pulse import pulse_audio  # noqa: F401`` and a ``pulse_audio`` arg.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

# One daemon per test session: two sessions on one machine (a developer and CI, or two developers) would
# otherwise play their answers into the same virtual microphone, and one's teardown would kill the other's.
RUNTIME_DIR = Path(tempfile.gettempdir()) / f"viva-pulse-{os.getuid()}-{os.getpid()}"
SPEAKER_SINK = "viva_speaker"
MIC_SINK = "viva_mic_sink"
MIC_SOURCE = "viva_mic"
START_TIMEOUT_S = 10.0
MODULES = (
    "module-native-protocol-unix auth-anonymous=1",
    f"module-null-sink sink_name={SPEAKER_SINK} rate=48000",
    f"module-null-sink sink_name={MIC_SINK} rate=48000",
    f"module-remap-source source_name={MIC_SOURCE} master={MIC_SINK}.monitor channels=1",
)


@dataclass(frozen=True)
class PulseDevices:
    env: dict
    started: bool

    def run(self, *args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True, timeout=timeout, **kw)

    def play_into_mic(self, wav: Path) -> subprocess.Popen:
        """Start playing a WAV into the virtual microphone; returns the paplay process."""
        return subprocess.Popen(["paplay", f"--device={MIC_SINK}", str(wav)], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def record_speaker(self, seconds: float, out: Path) -> subprocess.Popen:
        """Record what is played to the virtual speaker (its monitor) into ``out``."""
        return subprocess.Popen(["parec", f"--device={SPEAKER_SINK}.monitor", "--file-format=wav",
                                 "--rate=16000", "--channels=1", str(out)], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _env() -> dict:
    env = dict(os.environ)
    env["XDG_RUNTIME_DIR"] = str(RUNTIME_DIR)
    env["PULSE_SERVER"] = f"unix:{RUNTIME_DIR / 'pulse' / 'native'}"
    return env


def _ready(env: dict) -> bool:
    try:
        out = subprocess.run(["pactl", "list", "short", "sources"], env=env, capture_output=True, text=True,
                             timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and MIC_SOURCE in out.stdout


def start() -> PulseDevices:
    """Start the daemon with the virtual devices, or reuse one already running; export its env."""
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        pytest.skip("PulseAudio is not installed (sudo apt-get install -y pulseaudio pulseaudio-utils "
                    "libasound2-plugins); the real-device tests need its virtual microphone")
    RUNTIME_DIR.mkdir(mode=0o700, exist_ok=True)
    env = _env()
    started = False
    if not _ready(env):
        args = ["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "--system=false", "--disallow-exit",
                "--disallow-module-loading=no", "-n", "--log-target=stderr"]
        args += [f"--load={m}" for m in MODULES]
        # Running as root: PulseAudio warns but works in user mode once XDG_RUNTIME_DIR is private to us.
        proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=START_TIMEOUT_S)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _ready(env):
            if time.monotonic() > deadline:
                pytest.fail(f"PulseAudio did not start: {proc.stderr.strip()[-500:]}")
            time.sleep(0.1)
        started = True
    for cmd in (("set-default-sink", SPEAKER_SINK), ("set-default-source", MIC_SOURCE)):
        subprocess.run(["pactl", *cmd], env=env, check=True, capture_output=True, timeout=5)
    os.environ.update({k: env[k] for k in ("XDG_RUNTIME_DIR", "PULSE_SERVER")})
    if "sounddevice" in sys.modules:  # PortAudio lists devices once; make it see the new server
        from viva.audio import devices

        devices.refresh()
    return PulseDevices(env, started)


def stop(devices: PulseDevices) -> None:
    if devices.started:
        subprocess.run(["pulseaudio", "--kill"], env=devices.env, capture_output=True, timeout=10)
        shutil.rmtree(RUNTIME_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def pulse_audio():
    """Session-scoped virtual speaker + microphone; skips with the install line if PulseAudio is missing."""
    saved = {k: os.environ.get(k) for k in ("XDG_RUNTIME_DIR", "PULSE_SERVER")}
    devices = start()
    yield devices
    stop(devices)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
