"""Audio facts and WAV files: load anything soundfile reads as 16 kHz mono float32, save answers as WAV."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import numpy as np

from viva.errors import InputError

log = logging.getLogger("viva")

SAMPLE_RATE = 16_000  # Hz: what Whisper and webrtcvad expect
MIN_AUDIO_S = 0.1  # shorter than this is not an answer, it is a click
MAX_FILE_S = 30 * 60  # 30 minutes: longer files are almost certainly the wrong file
BLOCK_S = 30  # s of input resampled at a time, so a long file never needs its whole length in float64
MARGIN_S = 1  # s of context either side of a block, resampled and dropped (FFT resampling rings at edges)


def resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono float32 audio by band-limited FFT interpolation (good enough for speech)."""
    if rate == target or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    n_out = int(round(samples.size * target / rate))
    if n_out == 0:  # a frame or two at a high rate: nothing left at 16 kHz
        return np.zeros(0, dtype=np.float32)
    spectrum = np.fft.rfft(samples.astype(np.float64))
    n_bins = n_out // 2 + 1
    if n_bins <= spectrum.size:
        spectrum = spectrum[:n_bins]
    else:
        spectrum = np.concatenate([spectrum, np.zeros(n_bins - spectrum.size, dtype=spectrum.dtype)])
    out = np.fft.irfft(spectrum, n=n_out) * (n_out / samples.size)
    return out.astype(np.float32)


def to_mono(samples: np.ndarray) -> np.ndarray:
    return samples.mean(axis=1) if samples.ndim == 2 else samples


def _mono_blocks(f, path: Path) -> Iterator[np.ndarray]:
    for block in f.blocks(blocksize=max(1, f.samplerate) * BLOCK_S, dtype="float32", always_2d=True):
        mono = to_mono(block)
        if not np.isfinite(mono).all():
            raise InputError(f"{path}: the audio holds invalid samples (NaN or infinity); record it again")
        yield mono


def _resampled(blocks: Iterator[np.ndarray], rate: int) -> np.ndarray:
    """16 kHz from mono blocks of BLOCK_S seconds each (the last may be shorter), one block at a time."""
    margin = rate * MARGIN_S
    out: list[np.ndarray] = []
    left = np.zeros(0, dtype=np.float32)
    current = next(blocks, None)
    while current is not None:
        following = next(blocks, None)
        right = following[:margin] if following is not None else np.zeros(0, dtype=np.float32)
        converted = resample(np.concatenate([left, current, right]), rate)
        start = int(round(left.size * SAMPLE_RATE / rate))
        out.append(converted[start:start + int(round(current.size * SAMPLE_RATE / rate))])
        left, current = current[-margin:], following
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def load_audio(path: str | Path) -> np.ndarray:
    """Read an audio file as 16 kHz mono float32 in [-1, 1]; stereo is downmixed, other rates resampled.

    The file is read and resampled in blocks, so a long recording never needs its whole length in float64.

    Raises:
        InputError: the file is missing, empty, truncated, not audio, holds NaN/infinite samples, or is too
            short/long to be an answer.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such audio file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty; record the answer again")
    try:
        with sf.SoundFile(str(path)) as f:
            rate, frames = f.samplerate, f.frames
            if frames / max(rate, 1) > MAX_FILE_S:
                raise InputError(f"{path}: {frames / rate / 60:.0f} minutes of audio; an answer is at most "
                                 f"{MAX_FILE_S // 60} minutes")
            blocks = _mono_blocks(f, path)
            if rate == SAMPLE_RATE:
                parts = list(blocks)
                samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
            else:
                samples = _resampled(blocks, rate)
    except InputError:
        raise
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise InputError(f"{path}: not a readable audio file ({_reason(exc)}); use WAV, FLAC or OGG") from None
    samples = np.clip(samples, -1.0, 1.0)  # float WAVs may exceed full scale; Whisper and the VAD expect [-1, 1]
    if samples.size < MIN_AUDIO_S * SAMPLE_RATE:
        raise InputError(f"{path}: only {samples.size / SAMPLE_RATE:.2f} s of audio; nothing to transcribe")
    return samples


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else exc.__class__.__name__
    return (text.split(": ", 1)[-1] if "Error opening" in text else text).rstrip(".")


def save_wav(path: str | Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    """Write mono float32 (or int16) samples as 16-bit PCM WAV, creating the folder."""
    import soundfile as sf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples, rate, subtype="PCM_16")
    return path


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a WAV as it is (float32, mono-downmixed) with its rate, for playback."""
    import soundfile as sf

    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise InputError(f"{path}: not a readable audio file ({_reason(exc)})") from None
    return to_mono(data), int(rate)


def rms_dbfs(samples: np.ndarray) -> float:
    """Level of a block in dB relative to full scale (-100 for digital silence)."""
    if samples.size == 0:
        return -100.0
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return max(-100.0, 20.0 * np.log10(rms)) if rms > 0 else -100.0
