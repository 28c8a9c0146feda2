"""Sound files for the sound tests (made here with numpy and the bundled ffmpeg) and what the
tests measure on an export: its audio decoded and counted, its video frames counted."""

from __future__ import annotations

import re
import subprocess
import wave
from pathlib import Path

import numpy as np

RATE = 48_000  # what the tests decode an export's sound to (the mix rate)


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def tone(seconds: float, freq: float, amp: float, rate: int = 44_100) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, rate: int = 44_100, channels: int = 2) -> Path:
    """A 16-bit PCM WAV of mono ``samples`` copied to ``channels`` channels."""
    return write_frames(path, np.repeat(samples[:, None], channels, axis=1), rate)


def write_frames(path: Path, frames: np.ndarray, rate: int) -> Path:
    """A 16-bit PCM WAV of (samples, channels) float ``frames`` in -1..1."""
    pcm = np.round(np.clip(frames, -1, 1) * 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(frames.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def transcode(src: Path, dst: Path, *extra: str) -> Path:
    """``src`` re-encoded by ffmpeg into ``dst``'s format (MP3, OGG Vorbis, FLAC...)."""
    subprocess.run(
        [ffmpeg_exe(), "-y", "-v", "error", "-i", str(src), *extra, str(dst)],
        check=True,
        timeout=60,
    )
    return dst


def export_audio(path: Path) -> np.ndarray:
    """The export's sound stream decoded to (samples, 2) float32 at ``RATE`` (empty: none)."""
    run = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a:0?", "-vn"]
        + ["-ac", "2", "-ar", str(RATE), "-f", "f32le", "-"],
        capture_output=True,
        timeout=60,
        check=True,
    )
    return np.frombuffer(run.stdout, "<f4").reshape(-1, 2)


def streams(path: Path) -> str:
    """``ffmpeg -i``'s stream lines (imageio-ffmpeg has no ffprobe)."""
    run = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True)
    return "\n".join(
        ln for ln in run.stderr.decode("utf-8", "replace").splitlines() if "Stream #" in ln
    )


def video_frames(path: Path) -> int:
    """Frames in the export's video stream, counted by decoding (not from the header)."""
    run = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "null", "-"]
        + ["-progress", "pipe:1"],
        capture_output=True,
        timeout=60,
        check=True,
    )
    found = re.findall(r"frame=(\d+)", run.stdout.decode())
    return int(found[-1])


def rms(pcm: np.ndarray, at: float, window: float = 0.02) -> float:
    """RMS of the left channel over ``window`` seconds centred on ``at`` seconds."""
    a = int(round((at - window / 2) * RATE))
    b = int(round((at + window / 2) * RATE))
    seg = pcm[max(0, a) : b, 0].astype(np.float64)
    return float(np.sqrt(np.mean(seg**2))) if len(seg) else 0.0


def dominant_hz(pcm: np.ndarray, start: float, seconds: float = 0.2) -> float:
    """The strongest frequency in ``seconds`` of the left channel from ``start``."""
    a = int(round(start * RATE))
    seg = pcm[a : a + int(seconds * RATE), 0]
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    return float(np.fft.rfftfreq(len(seg), 1 / RATE)[int(np.argmax(spectrum))])
