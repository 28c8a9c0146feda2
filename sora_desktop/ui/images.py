"""numpy frames <-> Qt images, and small image files (thumbnails, last frames)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage, QPixmap

from sora_desktop.core.atomic import atomic_write_bytes

log = logging.getLogger(__name__)


def frame_to_qimage(frame: np.ndarray) -> QImage:
    """(H, W, 3) uint8 RGB -> a QImage that owns its pixels (safe to send across threads)."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame: expected (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
    frame = np.ascontiguousarray(frame)
    h, w, _ = frame.shape
    return QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def save_png(frame: np.ndarray, path: str | Path) -> Path:
    """Write one RGB frame as a PNG, atomically."""
    import cv2  # lazy: keeps the window's start-up light

    ok, buf = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not encode {path} as PNG")
    return atomic_write_bytes(path, buf.tobytes())


def scaled_pixmap(path: str | Path, width: int, height: int) -> QPixmap | None:
    """A thumbnail file scaled to fit, nearest-neighbour so tiny clips stay crisp."""
    pix = QPixmap(str(path))
    if pix.isNull():
        return None
    return pix.scaled(
        width,
        height,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.FastTransformation,
    )


def thumbnail_path(clip: str | Path) -> Path:
    clip = Path(clip)
    return clip.with_name(f"{clip.stem}_thumb.png")


def last_frame_path(clip: str | Path) -> Path:
    clip = Path(clip)
    return clip.with_name(f"{clip.stem}_last.png")


# Side files are made from frames scaled to at most this many pixels a side.
SIDE_MAX = 512
# A clip whose full decode is larger than this gets its side files on a background thread.
SIDE_SYNC_BYTES = 16 * 1024 * 1024


class _SideRelay(QObject):
    ready = Signal(str)  # the clip whose thumbnail and last frame now exist


side_files = _SideRelay()  # connect ``side_files.ready`` to refresh what shows thumbnails
_pending: set[str] = set()
_pending_lock = threading.Lock()


def make_side_files(clip: str | Path) -> None:
    """Write the missing thumbnail (middle frame) and last frame, decoding the clip one frame
    at a time, scaled down: memory stays small whatever the clip's size. ``ValueError`` for a
    clip refused by its header."""
    from sora_desktop.engine.decode import MAX_VIDEO_FRAMES, iter_video  # lazy: cv2

    thumb, last = thumbnail_path(clip), last_frame_path(clip)
    budget = MAX_VIDEO_FRAMES * SIDE_MAX * SIDE_MAX * 3  # frames are streamed, not kept
    info, frames = iter_video(clip, SIDE_MAX, budget)
    middle_index = info.frames // 2
    middle = final = None
    count = 0
    for i, frame in enumerate(frames):
        if i == middle_index:
            middle = frame
        final = frame
        count += 1
    if final is None:
        raise ValueError(f"path: {Path(clip).name} has no decodable frames")
    if not thumb.is_file():
        save_png(middle if middle is not None else final, thumb)
    if not last.is_file():
        save_png(final, last)


def ensure_side_files(clip: str | Path, background: bool = True) -> None:
    """Re-create a clip's thumbnail and last frame when they are missing (a project copied
    with Save As, an imported clip); the clip itself is the source of truth.

    Small clips (the app's own) are done at once; a large one (by its header) is decoded on a
    background thread and ``side_files.ready`` is emitted when its files exist, so the GUI
    never waits on it. A clip that cannot be read is left alone.
    """
    thumb, last = thumbnail_path(clip), last_frame_path(clip)
    if thumb.is_file() and last.is_file():
        return
    from sora_desktop.engine.decode import probe_video  # lazy: cv2

    try:
        info = probe_video(clip)
    except ValueError:
        return
    if not background or (info.frames and info.frames * info.frame_bytes <= SIDE_SYNC_BYTES):
        try:
            make_side_files(clip)
        except ValueError:
            pass
        return
    key = str(clip)
    with _pending_lock:
        if key in _pending:
            return
        _pending.add(key)

    def work() -> None:
        try:
            make_side_files(clip)
            side_files.ready.emit(key)
        except (ValueError, OSError) as exc:
            log.info("no thumbnail for %s: %s", key, exc)
        except RuntimeError:  # the app is closing
            pass
        finally:
            with _pending_lock:
                _pending.discard(key)

    threading.Thread(target=work, name="side-files", daemon=True).start()
