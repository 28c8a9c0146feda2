"""How shots of different frame rates and sizes share one film: its frame size, its frame rate,
which source frame each film frame shows, and where a shot's picture sits in the film's frame.

Plain arithmetic (no numpy, no OpenCV), so the export dialog can show the real output before
anything is decoded and the exporter (engine/export/film.py) makes exactly that.

Timing: each shot keeps its own duration. Shot ``i`` covers film time ``[T_i, T_i+1)`` where
``T_i`` is the sum of the earlier shots' ``frames / fps``; its film frames are those whose index
rounds into that span, so a shot is off by at most one film frame and the film by at most half
a frame, whatever the number of shots (rounding is done on the running total, not per shot, so
errors do not add up). Each film frame shows the source frame on screen at the middle of the
film frame: frames are repeated (film rate above the shot's) or dropped (below), never blended.
Blending or optical-flow interpolation invents pictures the model never made (ghosted doubles
on anything that moves, warped edges), costs far more, and a repeated frame looks exactly like
the shot played at its own rate; with the default film rate (the fastest shot's) no frame is
ever dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

# the frame rates the export dialog offers besides "Auto" (any 1..MAX_FPS is valid)
COMMON_FPS: tuple[int, ...] = (8, 12, 15, 16, 24, 25, 30, 48, 50, 60)


def exact_rate(fps: float | int) -> Fraction:
    """A container's frame rate as an exact fraction (23.976... -> 24000/1001)."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not fps > 0:
        raise ValueError(f"fps: {fps!r} is not a frame rate")
    if isinstance(fps, float) and not math.isfinite(fps):
        raise ValueError(f"fps: {fps!r} is not a frame rate")
    return Fraction(fps).limit_denominator(1001)


def default_film_fps(rates: Sequence[float | int]) -> int:
    """The film's rate when the user has not chosen one: the fastest shot's (rounded), so no
    shot loses a frame; slower shots repeat theirs, which plays exactly as they were made."""
    if not rates:
        raise ValueError("fps: no shots to take a frame rate from")
    return max(1, max(round(float(r)) for r in rates))


def canvas_size(sizes: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The film's frame (before upscaling): the largest shot's (most pixels; the first of equal
    ones), so the most detailed shot is shown as generated and no shot is squashed."""
    if not sizes:
        raise ValueError("size: no shots to take a size from")
    best = sizes[0]
    for w, h in sizes[1:]:
        if w * h > best[0] * best[1]:
            best = (w, h)
    return best


def _round_half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def shot_spans(shots: Sequence[tuple[int, float | int]], film_fps: int) -> list[tuple[int, int]]:
    """For each shot ``(frames, fps)``: its film frames as ``(first, end)`` (end exclusive)."""
    if isinstance(film_fps, bool) or not isinstance(film_fps, int) or film_fps < 1:
        raise ValueError(f"fps: {film_fps!r} is not a frame rate")
    spans = []
    start = Fraction(0)
    for frames, fps in shots:
        if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
            raise ValueError(f"frames: {frames!r}; a shot needs at least one frame")
        end = start + Fraction(frames) / exact_rate(fps)
        spans.append((_round_half_up(start * film_fps), _round_half_up(end * film_fps)))
        start = end
    return spans


def source_frames(shots: Sequence[tuple[int, float | int]], film_fps: int) -> list[list[int]]:
    """For each shot: the index of its source frame shown in each of its film frames."""
    out = []
    start = Fraction(0)
    for (frames, fps), (first, end) in zip(shots, shot_spans(shots, film_fps), strict=True):
        rate = exact_rate(fps)
        picks = []
        for g in range(first, end):
            middle = (Fraction(2 * g + 1, 2 * film_fps) - start) * rate  # in source frames
            picks.append(min(frames - 1, max(0, math.floor(middle))))
        out.append(picks)
        start += Fraction(frames) / rate
    return out


def fit_rect(src: tuple[int, int], canvas: tuple[int, int], mode: str) -> tuple[int, int, int, int]:
    """Where a ``src`` (w, h) picture goes in a ``canvas`` (w, h) frame, aspect ratio kept:
    ``(w, h, x, y)`` of the scaled picture. "letterbox" fits it inside (bars fill the rest);
    "crop" fills the frame (``x``/``y`` <= 0: the overflow is cut off, centred)."""
    sw, sh = src
    cw, ch = canvas
    if min(sw, sh, cw, ch) < 1:
        raise ValueError(f"size: {src} into {canvas} is not a picture size")
    if mode == "letterbox":
        scale = min(Fraction(cw, sw), Fraction(ch, sh))
    elif mode == "crop":
        scale = max(Fraction(cw, sw), Fraction(ch, sh))
    else:
        raise ValueError(f"fit: {mode!r} is not allowed; allowed letterbox, crop")
    w = max(1, _round_half_up(sw * scale))
    h = max(1, _round_half_up(sh * scale))
    if mode == "letterbox":  # rounding never spills past the frame
        w, h = min(w, cw), min(h, ch)
    return w, h, (cw - w) // 2, (ch - h) // 2
