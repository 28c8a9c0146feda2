"""The film's sound: every source decoded to float PCM (``MIX_SAMPLE_RATE`` stereo), trimmed,
placed, given its volume and fades, summed, and cut to exactly the film's length; then optionally
normalised for loudness (ffmpeg's ``loudnorm``) and handed to the video encoder as a raw file.

The fade law is ``core/project/audio.fade_gain`` (linear amplitude); ``fade_envelope`` is its
vectorised form. The mix is exactly ``round(frames * MIX_SAMPLE_RATE / fps)`` samples long: a
source running past the film's end is cut there, and silence fills what no source covers.
Summed sources that exceed full scale are clipped at -1..1 (the encoder would wrap them).
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from sora_desktop.core.export_settings import LOUDNESS_TARGET_LUFS, LOUDNESS_TRUE_PEAK_DB
from sora_desktop.core.project.audio import MIX_CHANNELS, MIX_SAMPLE_RATE
from sora_desktop.engine.audio_decode import AudioError, decode_pcm
from sora_desktop.engine.export import ffmpeg
from sora_desktop.engine.export_files import ExportError, _track, _untrack

log = logging.getLogger(__name__)
LOUDNESS_FAILED = (
    "evening out the sound's loudness failed.\nTry: export again, or turn off "
    "“Even out the loudness of the sound” in the Export dialog."
)

# the audio codec each format with sound gets (the bundled ffmpeg has both encoders)
AUDIO_CODECS: dict[str, list[str]] = {
    "mp4": ["-c:a", "aac", "-b:a", "192k"],
    "webm": ["-c:a", "libopus", "-b:a", "160k"],
}
LOUDNORM_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class MixSource:
    """One sound placed on the film: ``duration`` seconds of ``path`` from ``trim_in``, starting
    at ``start`` seconds into the film, times ``gain`` (linear) and the fade envelope."""

    path: Path
    start: float
    trim_in: float
    duration: float
    gain: float = 1.0
    fade_in: float = 0.0
    fade_out: float = 0.0
    label: str = ""  # for messages: "sound clip song.wav", "shot 2's sound"


def film_samples(frames: int, fps: int | float) -> int:
    """The mix's length for a film of ``frames`` frames at ``fps``: exactly its duration."""
    return int(round(Fraction(frames) * MIX_SAMPLE_RATE / Fraction(fps).limit_denominator(1001)))


def fade_envelope(n: int, duration: float, fade_in: float, fade_out: float) -> np.ndarray:
    """``fade_gain`` at each of ``n`` samples from the clip's start (sample k at k / rate)."""
    t = np.arange(n, dtype=np.float64) / MIX_SAMPLE_RATE
    g = np.ones(n, dtype=np.float64)
    if fade_in > 0:
        g = np.minimum(g, t / fade_in)
    if fade_out > 0:
        g = np.minimum(g, (duration - t) / fade_out)
    g[t > duration] = 0.0
    return np.clip(g, 0.0, 1.0).astype(np.float32)


def mix_sources(sources: Sequence[MixSource], total_samples: int, cancel: Any = None) -> np.ndarray:
    """(total_samples, MIX_CHANNELS) float32: the sources summed, exactly ``total_samples``
    long. ``AudioError`` names the source that could not be decoded."""
    if total_samples < 0:
        raise ValueError(f"total_samples: {total_samples} must not be negative")
    mix = np.zeros((total_samples, MIX_CHANNELS), np.float32)
    for src in sources:
        if cancel is not None:
            cancel.raise_if_cancelled()
        first = int(round(src.start * MIX_SAMPLE_RATE))
        if first >= total_samples or src.duration <= 0:
            continue
        # only what plays inside the film is decoded (bounded by the film, not the file)
        seconds = min(src.duration, (total_samples - first) / MIX_SAMPLE_RATE)
        try:
            pcm = decode_pcm(src.path, src.trim_in, seconds)
        except AudioError as exc:
            raise AudioError(f"{src.label or src.path.name}: {exc.message}") from exc
        n = min(len(pcm), total_samples - first)
        if n <= 0:
            continue
        env = fade_envelope(n, src.duration, src.fade_in, src.fade_out) * np.float32(src.gain)
        mix[first : first + n] += pcm[:n] * env[:, None]
    np.clip(mix, -1.0, 1.0, out=mix)
    return mix


def normalize_loudness(pcm: np.ndarray) -> np.ndarray:
    """The mix through ffmpeg's ``loudnorm`` (EBU R128, to ``LOUDNESS_TARGET_LUFS``), at the
    same rate and exactly the same length. Silence is returned as it is."""
    if len(pcm) == 0 or not np.any(pcm):
        return pcm
    with tempfile.TemporaryDirectory(prefix="sora-loudnorm.") as tmp:
        src, dst = Path(tmp) / "in.f32", Path(tmp) / "out.f32"
        np.ascontiguousarray(pcm, "<f4").tofile(src)
        graph = (
            f"loudnorm=I={LOUDNESS_TARGET_LUFS}:TP={LOUDNESS_TRUE_PEAK_DB}:LRA=11,"
            f"aresample={MIX_SAMPLE_RATE}"  # loudnorm works (and outputs) at 192 kHz
        )
        cmd = [
            ffmpeg._ffmpeg_exe(),
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            *raw_input_args(src),
            "-af",
            graph,
            "-ac",
            str(MIX_CHANNELS),
            "-f",
            "f32le",
            "-y",
            str(dst),
        ]
        try:
            run = subprocess.run(cmd, capture_output=True, timeout=LOUDNORM_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("loudness normalisation failed: %s", exc)
            raise ExportError(LOUDNESS_FAILED) from exc
        if run.returncode != 0 or not dst.is_file():
            why = run.stderr.decode("utf-8", "replace").strip()[-2000:]
            log.warning("loudness normalisation failed (%s): %s", run.returncode, why)
            raise ExportError(LOUDNESS_FAILED)
        out = np.fromfile(dst, "<f4")
    out = out[: len(out) - len(out) % MIX_CHANNELS].reshape(-1, MIX_CHANNELS)
    fitted = np.zeros_like(pcm)
    n = min(len(out), len(pcm))
    fitted[:n] = out[:n]
    return np.clip(np.nan_to_num(fitted), -1.0, 1.0)


def raw_input_args(path: Path) -> list[str]:
    """ffmpeg input options for a mix written by ``write_mix``."""
    return [
        "-f",
        "f32le",
        "-ar",
        str(MIX_SAMPLE_RATE),
        "-ac",
        str(MIX_CHANNELS),
        "-i",
        "file:" + str(Path(path).absolute()),
    ]


def write_mix(pcm: np.ndarray, folder: Path | None = None) -> Path:
    """The mix as a raw float file for the encoder (tracked: SIGTERM removes it); the caller
    deletes it with ``remove_mix``."""
    fd, name = tempfile.mkstemp(prefix=".sora-mix.", suffix=".f32", dir=folder)
    path = Path(name)
    _track(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(np.ascontiguousarray(pcm, "<f4").tobytes())
    except BaseException:
        remove_mix(path)
        raise
    return path


def remove_mix(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)
        _untrack(path)


def audio_codec_args(fmt: str) -> list[str]:
    """The audio encoder options for ``fmt`` (MP4: AAC, WebM: Opus)."""
    if fmt not in AUDIO_CODECS:
        raise ValueError(f"format: {fmt!r} carries no sound")
    return list(AUDIO_CODECS[fmt])
