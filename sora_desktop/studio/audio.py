"""A take's sound (LTX-2 makes audio with its video): a 16-bit PCM WAV side file beside the clip.

Only the standard library's ``wave``; written atomically. Mixing sound into an export is the
sound issue's work, not this module's.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import Any

from sora_desktop.core.atomic import atomic_write_bytes

MAX_CHANNELS = 8
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1_000, 384_000


def audio_path(clip: str | Path) -> Path:
    """``<clip stem>_audio.wav`` beside the clip (a ``<stem>_*`` side file: Save As copies it)."""
    clip = Path(clip)
    return clip.with_name(f"{clip.stem}_audio.wav")


def _checked(audio: Any, sample_rate: int) -> Any:
    import numpy as np

    arr = np.asarray(audio)
    if arr.ndim == 1:
        arr = arr[:, None]  # mono
    if arr.ndim != 2 or not 1 <= arr.shape[1] <= MAX_CHANNELS or arr.dtype.kind != "f":
        raise ValueError(
            f"audio: expected float samples shaped (samples, channels) with 1-{MAX_CHANNELS} "
            f"channels, got {arr.dtype} {arr.shape}"
        )
    if not MIN_SAMPLE_RATE <= int(sample_rate) <= MAX_SAMPLE_RATE:
        raise ValueError(
            f"sample_rate: {sample_rate} is not a sample rate "
            f"({MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz)"
        )
    return arr


def wav_bytes(audio: Any, sample_rate: int) -> bytes:
    """(samples, channels) float in -1..1 → a 16-bit PCM WAV file's bytes (clipped, rounded)."""
    import numpy as np

    arr = _checked(audio, sample_rate)
    pcm = np.round(np.clip(np.nan_to_num(arr, nan=0.0), -1.0, 1.0) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(arr.shape[1])
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def write_wav(path: str | Path, audio: Any, sample_rate: int) -> Path:
    """Write the take's sound atomically (nothing half-written on a crash or a full disk)."""
    return Path(atomic_write_bytes(path, wav_bytes(audio, sample_rate)))


def read_wav(path: str | Path) -> tuple[Any, int]:
    """A 16-bit WAV → ((samples, channels) float32 in -1..1, sample rate)."""
    import numpy as np

    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"audio: {Path(path).name} is not 16-bit PCM")
        channels, rate = w.getnchannels(), w.getframerate()
        data = w.readframes(w.getnframes())
    pcm = np.frombuffer(data, "<i2").reshape(-1, channels)
    return pcm.astype(np.float32) / 32767.0, rate
