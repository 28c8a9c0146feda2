"""A sound file's waveform for the storyboard's audio lane: peaks, computed once per file.

Qt-free. The file is decoded as a stream by the project's sound decoder
(``engine.audio_decode.scan_audio``) into the loudest sample per short bucket; ``Peaks`` answers
what each pixel column shows (``levels``), and a ``PeaksCache`` keeps results (least recently
used first out, bounded in bytes), keyed by the file's path, size and time.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CACHE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Peaks:
    """``values[i]`` is the loudest |sample| (0..1) in ``[i / per_second, (i + 1) /
    per_second)`` seconds of the file; ``duration`` is the file's length in seconds."""

    values: Any  # 1-D float32 ndarray
    per_second: float
    duration: float

    @property
    def nbytes(self) -> int:
        return int(self.values.nbytes)

    def window(self, start: float, end: float, columns: int) -> Any:
        """The loudest peak in each of ``columns`` equal slices of ``[start, end)`` seconds
        (0 outside the file): what one pixel column of a waveform shows."""
        import numpy as np

        if columns <= 0 or end <= start:
            return np.zeros(max(0, columns), np.float32)
        return self.levels(np.linspace(start, end, columns + 1))

    def levels(self, edges: Any) -> Any:
        """The loudest peak between each pair of neighbouring ``edges`` (increasing seconds
        in the file; 0 outside it): one value per slice, ``len(edges) - 1`` in all."""
        import numpy as np

        edges = np.asarray(edges, np.float64) * self.per_second
        out = np.zeros(max(0, len(edges) - 1), np.float32)
        n = len(self.values)
        if len(out) == 0 or n == 0:
            return out
        lo = np.clip(np.floor(edges[:-1]).astype(np.int64), 0, n)
        hi = np.clip(np.ceil(edges[1:]).astype(np.int64), 0, n)
        hi = np.maximum(hi, np.minimum(lo + 1, n))
        valid = (hi > lo) & (edges[1:] > 0)
        if valid.any():  # one reduceat over [lo, hi) pairs (the in-between results dropped)
            starts, stops = lo[valid], hi[valid]
            order = np.empty(2 * len(starts), np.int64)
            order[0::2], order[1::2] = starts, stops
            padded = np.append(self.values, np.float32(0))
            out[valid] = np.maximum.reduceat(padded, order)[0::2]
        return out


def compute_peaks(path: str | Path, *, cancelled: Callable[[], bool] | None = None) -> Peaks | None:
    """The file's peaks (None when cancelled before it started). The project's one sound
    decoder reads it (``engine.audio_decode.scan_audio``: streamed, local files and the
    imported formats only, at most ``MAX_AUDIO_SECONDS``, time-bounded), so a waveform holds
    at most ``MAX_AUDIO_SECONDS * PEAKS_PER_SECOND`` values (2 MB for three hours).
    ``FieldError`` for a file that is not readable sound."""
    from sora_desktop.core.safe_paths import check_regular_file
    from sora_desktop.engine.audio_decode import PEAKS_PER_SECOND, scan_audio

    if cancelled is not None and cancelled():
        return None
    check_regular_file(path, "audio")  # a FIFO or device never reaches the decoder
    scan = scan_audio(path)
    return Peaks(scan.peaks, float(PEAKS_PER_SECOND), float(scan.seconds))


def _key(path: str | Path) -> tuple[str, int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (os.path.abspath(os.fspath(path)), st.st_size, st.st_mtime_ns)


class PeaksCache:
    """Peaks per file, least recently used dropped first beyond ``max_bytes``; thread-safe. A
    file changed on disk (size or time) is a new entry."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, int, int], Peaks] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(p.nbytes for p in self._items.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def get(self, path: str | Path) -> Peaks | None:
        key = _key(path)
        with self._lock:
            peaks = self._items.get(key) if key is not None else None
            if peaks is not None:
                self._items.move_to_end(key)
            return peaks

    def put(self, path: str | Path, peaks: Peaks) -> None:
        key = _key(path)
        if key is None or peaks.nbytes > self.max_bytes:
            return
        with self._lock:
            self._items[key] = peaks
            self._items.move_to_end(key)
            total = sum(p.nbytes for p in self._items.values())
            while total > self.max_bytes and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                total -= dropped.nbytes

    def peaks_for(self, path: str | Path, cancelled: Callable[[], bool] | None = None):
        """The cached peaks, else computed now (on the caller's thread) and kept."""
        peaks = self.get(path)
        if peaks is None:
            peaks = compute_peaks(path, cancelled=cancelled)
            if peaks is not None:
                self.put(path, peaks)
        return peaks
