"""Which audio devices exist, and playing samples through the default output (sounddevice, lazily)."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys

import numpy as np

from viva.errors import AudioDeviceError

log = logging.getLogger("viva")
PROBE_TIMEOUT_S = 20.0  # starting PortAudio normally takes ~0.2 s; a hung audio server must not hang viva

NO_INPUT_FIX = "no microphone found (plug one in, or start PulseAudio: pulseaudio --start)"
NO_OUTPUT_FIX = ("no speaker found (plug one in, or start PulseAudio: pulseaudio --start), so questions "
                 "are shown but not spoken")


_PROBED = False


def _probe_portaudio() -> None:
    """Start PortAudio once in a child process before this one does.

    A broken ALSA configuration makes alsa-lib abort() the whole process inside PortAudio's start-up
    (seen with an empty ALSA config), which no try/except can catch; the child takes that hit instead.
    """
    global _PROBED
    if _PROBED or "sounddevice" in sys.modules:
        return
    code = "import sounddevice; sounddevice.query_devices()"
    try:
        child = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise AudioDeviceError("the audio system did not start within "
                               f"{PROBE_TIMEOUT_S:g} s; check PulseAudio/ALSA (pulseaudio --start)") from None
    if child.returncode < 0:
        raise AudioDeviceError(f"the audio system crashed while starting (signal {-child.returncode}); "
                               "check the ALSA configuration (/etc/asound.conf, ~/.asoundrc) or start "
                               "PulseAudio: pulseaudio --start")
    _PROBED = True


def _sd():
    _probe_portaudio()
    try:
        import sounddevice as sd
    except OSError as exc:  # PortAudio itself is missing
        raise AudioDeviceError(f"PortAudio is not installed ({exc}); run: sudo apt-get install -y libportaudio2") \
            from None
    return sd


def refresh() -> None:
    """Re-scan devices: PortAudio lists them once, when it starts (e.g. after PulseAudio came up)."""
    sd = _sd()
    sd._terminate()
    sd._initialize()


def input_problem() -> str | None:
    """None if a default input device exists, else one line naming the fix."""
    return _problem("input", NO_INPUT_FIX)


def output_problem() -> str | None:
    return _problem("output", NO_OUTPUT_FIX)


def _problem(kind: str, fix: str) -> str | None:
    try:
        sd = _sd()
        info = sd.query_devices(kind=kind)
    except AudioDeviceError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - PortAudioError/ValueError: no default device
        log.info("no %s device: %s", kind, exc)
        return fix
    channels = info.get(f"max_{kind}_channels", 0)
    return None if channels > 0 else fix


def describe(kind: str) -> str:
    """The default device's name, for doctor."""
    sd = _sd()
    return str(sd.query_devices(kind=kind)["name"])


def play(samples: np.ndarray, rate: int) -> None:
    """Play mono float32 samples on the default output and wait until they end.

    Raises:
        AudioDeviceError: no output device, or it cannot be opened.
    """
    sd = _sd()
    if output_problem():
        raise AudioDeviceError(NO_OUTPUT_FIX)
    try:
        with quiet_stderr():  # ALSA's pulse plugin prints "underrun occurred" on the first buffer
            sd.play(np.asarray(samples, dtype=np.float32), rate, blocking=True)
    except sd.PortAudioError as exc:
        raise AudioDeviceError(f"cannot play audio ({exc}); check the speaker or pass --no-speak") from None


@contextlib.contextmanager
def quiet_stderr():
    """Silence C libraries that write to fd 2 (ALSA, espeak) for the duration of a call."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def beep(frequency_hz: float = 880.0, duration_s: float = 0.15, rate: int = 16_000) -> np.ndarray:
    """A short sine cue with 10 ms fades, so it clicks neither on nor off."""
    t = np.arange(int(duration_s * rate)) / rate
    tone = 0.25 * np.sin(2 * np.pi * frequency_hz * t)
    fade = min(len(t) // 2, int(0.01 * rate))
    ramp = np.linspace(0, 1, fade)
    tone[:fade] *= ramp
    tone[-fade:] *= ramp[::-1]
    return tone.astype(np.float32)
