"""Sound files read as a stream of PCM chunks through the bundled ffmpeg (imageio-ffmpeg).

Any format ffmpeg reads (WAV, MP3, FLAC, OGG ...) comes out as interleaved 16-bit samples at a
chosen rate and channel count, a chunk at a time: a one-hour file never sits in memory whole.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from sora_desktop.core.errors import FieldError

log = logging.getLogger(__name__)

CHUNK_FRAMES = 1 << 15  # sample frames per chunk handed out


def _read_exact(stream, n: int) -> bytes:
    data = b""
    while len(data) < n:
        more = stream.read(n - len(data))
        if not more:
            break
        data += more
    return data


def _wav_channels(stream) -> int:
    """Read a streamed WAV header up to its data: the channel count (0: not a WAV header)."""
    head = _read_exact(stream, 12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return 0
    channels = 0
    for _ in range(64):  # fmt, LIST ... then data
        chunk = _read_exact(stream, 8)
        if len(chunk) < 8:
            return 0
        kind, size = chunk[:4], int.from_bytes(chunk[4:], "little")
        if kind == b"data":
            return channels
        body = _read_exact(stream, size + size % 2)
        if kind == b"fmt " and len(body) >= 4:
            channels = int.from_bytes(body[2:4], "little")
    return 0


def iter_pcm(
    path: str | Path,
    rate: int,
    channels: int | None = None,
    *,
    chunk_frames: int = CHUNK_FRAMES,
    cancelled: Callable[[], bool] | None = None,
) -> Iterator[np.ndarray]:
    """(frames, channels) int16 chunks of ``path``'s first audio stream, resampled to ``rate``,
    with the file's own channels (``channels=None``: a mono file's level is not changed by an
    up-mix) or mixed to ``channels``. ``FieldError("path", ...)`` for a file ffmpeg cannot read or
    that has no sound; stops quietly (the ffmpeg process ended) when ``cancelled()`` is true."""
    from sora_desktop.core.safe_paths import check_regular_file
    from sora_desktop.engine.export.ffmpeg import _ffmpeg_exe

    p = Path(path)
    check_regular_file(p, "path")  # a FIFO or device must not reach ffmpeg
    cmd = [_ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(p)]
    cmd += ["-map", "0:a:0", "-vn", "-ar", str(rate)]
    cmd += ["-ac", str(channels)] if channels else []
    cmd += ["-c:a", "pcm_s16le", "-f", "wav", "-"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    got = 0
    try:
        channels = _wav_channels(proc.stdout) or 1
        frame_bytes = 2 * channels
        while True:
            if cancelled is not None and cancelled():
                return
            data = proc.stdout.read(chunk_frames * frame_bytes)  # type: ignore[union-attr]
            if not data:
                break
            usable = len(data) - len(data) % frame_bytes
            got += usable
            yield np.frombuffer(data[:usable], "<i2").reshape(-1, channels)
        err = proc.stderr.read().decode("utf-8", "replace")  # type: ignore[union-attr]
        code = proc.wait()
        if code != 0 or got == 0:
            lines = [ln.strip() for ln in err.splitlines() if ln.strip()]
            why = lines[-1] if lines else "no sound in it"
            log.info("ffmpeg could not read %s (%s): %s", p.name, code, why)
            raise FieldError("path", f"{p.name} is not a sound file Sora Desktop can read ({why})")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
