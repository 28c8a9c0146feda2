"""Putting decoded shots of mixed frame rates and sizes into one film: retime each shot to the
film's rate (repeat or drop frames, never blend: core/film_layout.py says why) and place it in
the film's frame with its aspect ratio kept (letterbox bars or a centred crop)."""

from __future__ import annotations

import cv2
import numpy as np

from sora_desktop.core.export_settings import FIT_MODES, UPSCALE_METHODS
from sora_desktop.core.film_layout import canvas_size, fit_rect, source_frames
from sora_desktop.engine.export.frames import INTERPOLATION, _check_frames, concat_clips


def fit_frames(
    frames: np.ndarray, canvas: tuple[int, int], fit: str, method: str = "nearest"
) -> np.ndarray:
    """(T, H, W, 3) -> (T, ch, cw, 3): scaled with the aspect ratio kept, then letterboxed
    (black bars) or centre-cropped. A clip already of the canvas size is returned as is."""
    _check_frames(frames)
    if fit not in FIT_MODES:
        raise ValueError(f"fit: {fit!r} is not allowed; allowed {', '.join(FIT_MODES)}")
    if method not in UPSCALE_METHODS:
        raise ValueError(f"upscale_method: {method!r} is not allowed")
    t, sh, sw, _ = frames.shape
    cw, ch = canvas
    if (sw, sh) == (cw, ch):
        return frames
    w, h, x, y = fit_rect((sw, sh), (cw, ch), fit)
    # shrinking averages (no aliasing); enlarging uses the user's "Enlarge with" choice
    interp = cv2.INTER_AREA if w * h < sw * sh else INTERPOLATION[method]
    out = np.zeros((t, ch, cw, 3), np.uint8)  # letterbox bars are black
    # the part of the scaled picture that lands inside the frame
    x0, y0 = max(0, -x), max(0, -y)
    x1, y1 = x0 + min(w, cw), y0 + min(h, ch)
    dx, dy = max(0, x), max(0, y)
    for i in range(t):
        scaled = cv2.resize(frames[i], (w, h), interpolation=interp)  # (h, w, 3)
        out[i, dy : dy + (y1 - y0), dx : dx + (x1 - x0)] = scaled[y0:y1, x0:x1]
    return out


def assemble_film(
    clips: list[tuple[np.ndarray, float]],
    fps: int,
    *,
    fit: str = "letterbox",
    method: str = "nearest",
    crossfade_frames: int = 0,
) -> np.ndarray:
    """Shots ``(frames, their fps)`` -> one (T, H, W, 3) film at ``fps``: each shot keeps its
    duration (to a film frame) and its aspect ratio; the frame is the largest shot's."""
    if not clips:
        raise ValueError("clips: need at least one clip")
    for frames, _fps in clips:
        _check_frames(frames)
    canvas = canvas_size([(f.shape[2], f.shape[1]) for f, _ in clips])
    picks = source_frames([(len(f), r) for f, r in clips], fps)
    shots = []
    for (frames, _r), idx in zip(clips, picks, strict=True):
        if not idx:  # a one-frame shot at a slower film rate may round to no film frame
            continue
        if idx != list(range(len(frames))):  # same rate: no copy
            frames = frames[np.asarray(idx, dtype=np.intp)]
        shots.append(fit_frames(frames, canvas, fit, method))
    if not shots:
        raise ValueError("clips: the shots are too short to show a single frame at this rate")
    return shots[0] if len(shots) == 1 else concat_clips(shots, crossfade_frames)
