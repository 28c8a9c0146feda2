"""Reading clips and images back, with bounded memory.

A clip's header is checked before decoding: a small file can hold a 4K, 300-frame video
(7.5 GB once decoded), and a 109 KB PNG can claim 30000x30000 pixels. Absurd sizes are refused
before any pixel is decoded; large-but-sane clips are decoded one frame at a time and, for the
player and thumbnails, scaled down to what is shown (``max_side``) within a byte budget.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sora_desktop.core.errors import FieldError

MAX_VIDEO_SIDE = 8192
MAX_VIDEO_FRAMES = 20_000
# What a full-size decode (export of a storyboard) may hold in memory.
DEFAULT_DECODE_BUDGET = 1024 * 1024 * 1024
DECODE_THREADS = 2


def read_image(path: str | os.PathLike, what: str = "image") -> np.ndarray:
    """One image file as (H, W, 3) uint8 RGB. The header is read first: a file that is not an
    image, is cut off, or claims huge dimensions (a decompression bomb) is refused before any
    pixel is decoded. ``ValueError`` starting with ``what``."""
    from sora_desktop.core.image_header import read_image_file

    data, info = read_image_file(path, what)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None or img.shape[:2] != (info.height, info.width):
        raise FieldError(what, f"{Path(path).name} is damaged; it could not be decoded")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    frames: int  # from the header; 0 when the container does not say
    fps: float

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height * 3


def _check_video_header(name: str, width: int, height: int, frames: int) -> None:
    if width < 1 or height < 1:
        raise ValueError(f"path: {name} is not a readable video (no picture size)")
    if width > MAX_VIDEO_SIDE or height > MAX_VIDEO_SIDE:
        raise ValueError(
            f"path: {name} is {width}x{height} pixels; Sora Desktop plays clips of at most "
            f"{MAX_VIDEO_SIDE} pixels a side"
        )
    if frames > MAX_VIDEO_FRAMES:
        raise ValueError(
            f"path: {name} claims {frames} frames; Sora Desktop plays clips of at most "
            f"{MAX_VIDEO_FRAMES} frames"
        )


def _open_capture(p: Path) -> tuple[Any, VideoInfo]:
    from sora_desktop.core.safe_paths import check_regular_file

    check_regular_file(p, "path")  # a FIFO or device must not reach the decoder
    # FFmpeg's frame threads each hold a full-size picture: a few, not one per core (a
    # 16-core machine would hold 16 4K frames).
    threads = max(1, min(DECODE_THREADS, os.cpu_count() or 1))
    cap = cv2.VideoCapture(str(p), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, threads])
    if not cap.isOpened():
        cap.release()
        raise ValueError(f"path: {p.name} is not a readable video")
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
    n = int(count) if math.isfinite(count) and count > 0 else 0
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    try:
        _check_video_header(p.name, w, h, n)
    except ValueError:
        cap.release()
        raise
    return cap, VideoInfo(w, h, n, fps if math.isfinite(fps) else 0.0)


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Size, frame count and fps from the clip's header (a PNG folder: from its first
    frame), without decoding the clip; ``ValueError`` for absurd sizes or unreadable files."""
    p = Path(path)
    if p.is_dir():
        files = _frame_files(p)
        from sora_desktop.core.image_header import read_image_file

        _data, info = read_image_file(files[0], "path", MAX_VIDEO_SIDE)
        _check_video_header(p.name, info.width, info.height, len(files))
        return VideoInfo(info.width, info.height, len(files), _folder_fps(p))
    cap, info = _open_capture(p)
    cap.release()
    return info


def _frame_files(p: Path) -> list[Path]:
    files = sorted(p.glob("frame_*.png"))
    if not files:
        raise ValueError(f"path: {p} holds no frame_*.png files")
    if len(files) > MAX_VIDEO_FRAMES:
        raise ValueError(f"path: {p} holds more than {MAX_VIDEO_FRAMES} frames")
    return files


def _folder_fps(p: Path) -> float:
    from sora_desktop.engine.export import read_metadata  # the PNG folder's sidecar

    try:
        return float(read_metadata(p)["export"]["fps"])
    except (ValueError, KeyError, TypeError):
        return 8.0


def _scaled_size(info: VideoInfo, max_side: int | None, budget: int) -> tuple[int, int]:
    """The size frames are kept at: at most ``max_side`` a side, and small enough that the
    header's frame count fits ``budget`` bytes."""
    scale = 1.0
    if max_side is not None:
        scale = min(1.0, max_side / max(info.width, info.height))
    if info.frames:
        fit = math.sqrt(budget / (info.frames * info.frame_bytes))
        scale = min(scale, fit)
    w = max(1, int(info.width * scale))
    h = max(1, int(info.height * scale))
    return w, h


def iter_video(
    path: str | os.PathLike,
    max_side: int | None = None,
    budget_bytes: int = DEFAULT_DECODE_BUDGET,
    cancel: Any = None,
) -> tuple[VideoInfo, Iterator[np.ndarray]]:
    """The clip's header info and an iterator of its frames ((H, W, 3) uint8 RGB), decoded one
    at a time; a PNG folder works too.

    The header is checked first (absurd sizes are refused before decoding). With ``max_side``
    frames are scaled down to fit it (the player and thumbnails ask for what is shown, never
    the full 4K picture), and further so that the whole clip fits ``budget_bytes``; without
    it (full size, for export) a clip over the budget is refused. ``cancel`` (an object with
    ``raise_if_cancelled``) is checked between frames.
    """
    p = Path(path)
    if not p.exists() and not p.is_symlink():
        raise ValueError(f"path: {p} does not exist")
    info = probe_video(p)
    if max_side is None and info.frames * info.frame_bytes > budget_bytes:
        raise ValueError(
            f"path: {p.name} is {info.width}x{info.height} pixels x {info.frames} frames, "
            f"{info.frames * info.frame_bytes / 1e9:.1f} GB once decoded; too large to load "
            f"(the limit is {budget_bytes / 1e9:.1f} GB)"
        )
    size = _scaled_size(info, max_side, budget_bytes)
    frame_bytes = size[0] * size[1] * 3
    limit = min(MAX_VIDEO_FRAMES, budget_bytes // frame_bytes)

    def scaled(img: np.ndarray, bgr: bool) -> np.ndarray:
        if img.shape[1::-1] != size:  # scale first: the colour conversion then works small
            img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if bgr else img

    def too_many() -> ValueError:  # a header that lied about the frame count
        return ValueError(f"path: {p.name} holds more frames than its header says; too large")

    def folder_frames() -> Iterator[np.ndarray]:
        for i, f in enumerate(_frame_files(p)):
            if cancel is not None:
                cancel.raise_if_cancelled()
            if i >= limit:
                raise too_many()
            yield scaled(read_image(f, "path"), bgr=False)

    def video_frames() -> Iterator[np.ndarray]:
        cap, _info = _open_capture(p)
        try:
            count = 0
            while True:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                ok, img = cap.read()
                if not ok:
                    break
                if img.shape[:2] != (info.height, info.width):
                    raise ValueError(f"path: {p.name} changes its picture size mid-clip")
                if count >= limit:
                    raise too_many()
                count += 1
                yield scaled(img, bgr=True)
        finally:
            cap.release()

    return info, (folder_frames() if p.is_dir() else video_frames())


def read_video(
    path: str | os.PathLike,
    max_side: int | None = None,
    budget_bytes: int = DEFAULT_DECODE_BUDGET,
    cancel: Any = None,
) -> tuple[np.ndarray, float]:
    """Decode a clip to ((T, H, W, 3) uint8 RGB, fps), bounded as ``iter_video`` says."""
    info, frames = iter_video(path, max_side, budget_bytes, cancel)
    out: np.ndarray | None = None
    extra: list[np.ndarray] = []
    n = 0
    for frame in frames:
        if out is None and info.frames:  # one array, filled in place: no second copy
            out = np.empty((info.frames, *frame.shape), np.uint8)
        if out is not None and n < len(out):
            out[n] = frame
        else:
            extra.append(frame)
        n += 1
    if n == 0:
        raise ValueError(f"path: {Path(path).name} has no decodable frames")
    if out is None:
        return np.stack(extra), info.fps
    if extra:
        return np.concatenate([out, np.stack(extra)]), info.fps
    return out[:n], info.fps
