"""Sound files for the audio tests: a sine tone under a known amplitude envelope."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.sound_support import write_frames

RATE = 44_100
FREQ = 440.0


def envelope(seconds: float, rate: int = RATE) -> np.ndarray:
    """A slow, smooth amplitude envelope: 0.2 rising to 0.9 and back down to 0.4."""
    t = np.arange(int(seconds * rate)) / rate
    return np.interp(t, [0, seconds * 0.5, seconds], [0.2, 0.9, 0.4]).astype(np.float64)


def tone(seconds: float, rate: int = RATE, channels: int = 1) -> np.ndarray:
    """(samples, channels) float samples: a sine at FREQ shaped by ``envelope``."""
    t = np.arange(int(seconds * rate)) / rate
    mono = envelope(seconds, rate) * np.sin(2 * np.pi * FREQ * t)
    return np.repeat(mono[:, None], channels, axis=1)


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    return write_frames(path, samples, rate)


def tone_file(path: Path, seconds: float = 3.0, channels: int = 1) -> Path:
    return write_wav(path, tone(seconds, channels=channels))


def expected_peaks(seconds: float, per_second: float, rate: int = RATE) -> np.ndarray:
    """The envelope's loudest |sample| per bucket, from the samples written (not from the code
    under test): what a waveform of the tone must show."""
    samples = np.abs(tone(seconds, rate)[:, 0])
    width = int(round(rate / per_second))
    n = len(samples) // width
    return samples[: n * width].reshape(n, width).max(axis=1)
