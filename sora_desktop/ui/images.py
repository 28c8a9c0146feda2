"""numpy frames <-> Qt images, and small image files (thumbnails, last frames)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage, QPixmap

# A take's files are named and written by the studio; their old home re-exports them.
from sora_desktop.studio.media import (  # noqa: F401
    SIDE_MAX,
    last_frame_path,
    make_side_files,
    save_png,
    thumbnail_path,
)

log = logging.getLogger(__name__)


def frame_to_qimage(frame: np.ndarray) -> QImage:
    """(H, W, 3) uint8 RGB -> a QImage that owns its pixels (safe to send across threads)."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame: expected (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
    frame = np.ascontiguousarray(frame)
    h, w, _ = frame.shape
    return QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


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


# A clip whose full decode is larger than this gets its side files on a background thread.
SIDE_SYNC_BYTES = 16 * 1024 * 1024


class _SideRelay(QObject):
    ready = Signal(str)  # the clip whose thumbnail and last frame now exist


side_files = _SideRelay()  # connect ``side_files.ready`` to refresh what shows thumbnails
_pending: set[str] = set()
_pending_lock = threading.Lock()


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
