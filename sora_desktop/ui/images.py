"""numpy frames <-> Qt images, and small image files (thumbnails, last frames)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap

from sora_desktop.core.atomic import atomic_write_bytes


def frame_to_qimage(frame: np.ndarray) -> QImage:
    """(H, W, 3) uint8 RGB -> a QImage that owns its pixels (safe to send across threads)."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame: expected (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
    frame = np.ascontiguousarray(frame)
    h, w, _ = frame.shape
    return QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def qimage_to_frame(image: QImage) -> np.ndarray:
    img = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w = img.height(), img.width()
    arr = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.bytesPerLine() * h)
    return arr.reshape(h, img.bytesPerLine())[:, : 3 * w].reshape(h, w, 3).copy()


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


def ensure_side_files(clip: str | Path) -> None:
    """Re-create a clip's thumbnail and last frame when they are missing (a project copied
    with Save As, an imported clip); the clip itself is the source of truth."""
    thumb, last = thumbnail_path(clip), last_frame_path(clip)
    if thumb.is_file() and last.is_file():
        return
    from sora_desktop.engine.export import read_video  # lazy: cv2

    try:
        frames, _fps = read_video(clip)
    except ValueError:
        return
    if not thumb.is_file():
        save_png(frames[len(frames) // 2], thumb)
    if not last.is_file():
        save_png(frames[-1], last)
