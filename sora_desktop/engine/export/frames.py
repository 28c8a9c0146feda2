"""Frame operations for export: upscaling, the visible AI label, even sizes, joining shots."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from sora_desktop.core.export_settings import MAX_UPSCALE, UPSCALE_METHODS
from sora_desktop.core.film_joins import blend_join, join_starts

# how each of core's UPSCALE_METHODS resizes
INTERPOLATION = {"nearest": cv2.INTER_NEAREST, "lanczos": cv2.INTER_LANCZOS4}
WATERMARK_TEXT = "AI-generated"


def _check_frames(frames: Any) -> np.ndarray:
    if not isinstance(frames, np.ndarray):
        raise ValueError(f"frames: expected a numpy array, got {type(frames).__name__}")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames: expected shape (T, H, W, 3), got {tuple(frames.shape)}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames: expected dtype uint8, got {frames.dtype}")
    if frames.shape[0] < 1 or frames.shape[1] < 1 or frames.shape[2] < 1:
        raise ValueError(f"frames: empty clip of shape {tuple(frames.shape)}")
    return frames


def upscale_frames(frames: np.ndarray, factor: int, method: str = "nearest") -> np.ndarray:
    """Resize every frame by an integer ``factor`` (display size; the model size is unchanged)."""
    if isinstance(factor, bool) or not isinstance(factor, int):
        raise ValueError(f"upscale: expected an integer factor, got {factor!r}")
    if not 1 <= factor <= MAX_UPSCALE:
        raise ValueError(f"upscale: {factor} is out of range; allowed 1 to {MAX_UPSCALE}")
    if method not in UPSCALE_METHODS:
        allowed = ", ".join(UPSCALE_METHODS)
        raise ValueError(f"upscale_method: {method!r} is not supported; allowed: {allowed}")
    if factor == 1:
        return frames
    t, h, w, _ = frames.shape
    out = np.empty((t, h * factor, w * factor, 3), np.uint8)
    for i in range(t):
        out[i] = cv2.resize(
            frames[i], (w * factor, h * factor), interpolation=INTERPOLATION[method]
        )
    return out


def add_watermark(frame: np.ndarray, text: str = WATERMARK_TEXT) -> np.ndarray:
    """A small visible label in the bottom-right corner, legible on any background."""
    img = np.ascontiguousarray(frame).copy()
    h, w = img.shape[:2]
    if w < 200:  # the full label would be an unreadable smear at the model's native size
        text = "AI"
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, _), _ = cv2.getTextSize(text, font, 1.0, 1)
    frac = 0.3 if text == WATERMARK_TEXT else 0.22
    scale = max(0.25, frac * w / tw)
    thick = max(1, int(round(scale)))
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    margin = max(2, w // 50) + thick  # room for the outline
    org = (max(0, w - tw - margin), max(th, h - base - margin // 2))
    # Light text with a dark outline so the label shows on light and dark backgrounds. The
    # outline is the text's own mask grown by a pixel or two: drawing the text again with a
    # thicker pen also widens OpenCV's glyph advance, which made the outline run past the text
    # and read as "AI-generatedd".
    mask = np.zeros((h, w), np.uint8)
    cv2.putText(mask, text, org, font, scale, 255, thick, cv2.LINE_AA)
    radius = max(1, thick // 2 + 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    outline = cv2.dilate(mask, kernel).astype(np.float32)[..., None] / 255.0
    fill = mask.astype(np.float32)[..., None] / 255.0
    out = img.astype(np.float32) * (1.0 - outline)  # dark halo (black, so no added colour)
    out = out * (1.0 - fill) + 255.0 * fill
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _pad_even(frame: np.ndarray) -> np.ndarray:
    """H.264/VP9 in yuv420p need even sizes; repeat the last row/column rather than crop."""
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def concat_clips(clips: list[np.ndarray], crossfade_frames: int = 0) -> np.ndarray:
    """Join shots into one clip, resized to the first clip's size, with optional cross-fades.

    Each cross-fade overlaps the last ``crossfade_frames`` of a shot with the first ones of the
    next, so the result has ``sum(len) - crossfade_frames * (len(clips) - 1)`` frames; where
    shots sit and how a join blends is core/film_joins' rule (the player shows the same).
    """
    if not clips:
        raise ValueError("clips: need at least one clip")
    clips = [_check_frames(c) for c in clips]
    starts = join_starts([len(clip) for clip in clips], crossfade_frames)
    c = crossfade_frames
    h, w = clips[0].shape[1:3]
    out = np.empty((starts[-1] + len(clips[-1]), h, w, 3), np.uint8)
    for i, (clip, first) in enumerate(zip(clips, starts, strict=True)):
        if clip.shape[1:3] != (h, w):
            clip = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in clip])
        if i > 0 and c:  # the join: the previous shot's last frames are already in place
            out[first : first + c] = blend_join(out[first : first + c], clip[:c])
            out[first + c : first + len(clip)] = clip[c:]
        else:
            out[first : first + len(clip)] = clip
    return out
