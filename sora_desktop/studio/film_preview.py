"""The whole storyboard as the export makes it, for the player: the film's rate, each shot
retimed to it, fitted to the film's frame and cross-faded into the next (core/film_joins' rule,
the export's), but at the size the player shows and without holding the film twice.

``preview_film(project)`` reads what the Export dialog would use (the project's export
settings); ``decode_film`` decodes the clips one at a time, hands every source frame the film
shows outside a join to ``convert`` once (the player makes a QImage of it; a frame shown twice
is the same object twice), keeps only the few frames of each join as arrays, and blends them
exactly as the export does. Qt-free; the engine (OpenCV) is imported when a film is decoded.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from sora_desktop.core.film_joins import FilmCut, blend_join, film_cut
from sora_desktop.core.film_layout import canvas_size, source_frames

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class PreviewFilm:
    """How the whole storyboard is assembled: the export's rate, cross-fade and fit.
    ``note``: one line when the project's cross-fade cannot be shown (a shot too short)."""

    fps: int
    crossfade_frames: int = 0
    fit: str = "letterbox"
    method: str = "nearest"
    note: str = ""


def preview_film(project: Any) -> PreviewFilm | None:
    """What an export of the whole storyboard with the project's export settings would be
    (None: no shot has a clip). A cross-fade longer than a shot allows (the export refuses it)
    is shown as cuts, with ``note`` saying why."""
    from sora_desktop.studio.film import film_plan
    from sora_desktop.studio.takes import take_clip

    settings = project.export_settings
    plan = film_plan(project, None, settings)
    if plan is None:
        return None
    cf = settings.crossfade_frames if plan.shots > 1 else 0
    note = ""
    if cf:
        takes = [s.selected for s in project.shots if take_clip(project, s.selected) is not None]
        shots = [(t.request.num_frames, t.request.fps) for t in takes]
        try:
            film_cut(shots, plan.fps, cf)
        except ValueError:
            note = (
                "The cross-fade is longer than a shot allows, so the storyboard plays with "
                "cuts; shorten the cross-fade in Export."
            )
            cf = 0
    return PreviewFilm(plan.fps, cf, settings.fit, settings.upscale_method, note)


def display_size(
    canvas: tuple[int, int], frames: int, max_side: int, budget: int
) -> tuple[int, int]:
    """The film's frame as the player keeps it: at most ``max_side`` a side and small enough
    that ``frames`` pictures fit ``budget`` bytes (never enlarged)."""
    cw, ch = canvas
    scale = min(1.0, max_side / max(cw, ch), math.sqrt(budget / max(1, frames * cw * ch * 3)))
    return max(1, int(cw * scale)), max(1, int(ch * scale))


@dataclass
class _Shot:
    fps: float
    frames: int = 0
    picks: list[int] = field(default_factory=list)
    images: dict[int, Any] = field(default_factory=dict)  # source frame -> converted picture
    head: np.ndarray | None = None  # the film frames of its first join, as arrays
    tail: np.ndarray | None = None  # and of its last


def assemble_preview(
    clips: Sequence[tuple[Callable[[], Any], float]],
    film: PreviewFilm,
    convert: Callable[[np.ndarray], T],
    fit_to: Callable[[np.ndarray], np.ndarray] = lambda frames: frames,
) -> tuple[list[T], FilmCut]:
    """The film's pictures from ``clips`` (``(load, fps)``: ``load()`` gives the clip's frames,
    (H, W, 3) uint8 each; one clip is held at a time) and its cut. ``fit_to`` puts a clip's
    (T, H, W, 3) frames in the film's frame (all clips must come out one size)."""
    c, fps = film.crossfade_frames, film.fps
    shots: list[_Shot] = []
    timing: list[tuple[int, float]] = []
    for load, clip_fps in clips:
        frames = list(load())
        if not frames:
            raise ValueError("path: a clip has no decodable frames")
        arr = fit_to(np.stack(frames))
        del frames
        shot = _Shot(clip_fps, len(arr))
        timing.append((len(arr), clip_fps))
        shot.picks = source_frames(timing, fps)[-1]
        shots.append(shot)
        if not shot.picks:
            continue
        picks = shot.picks
        fades_in = c if any(s.picks for s in shots[:-1]) else 0
        if c:  # the joins' frames stay arrays until the next shot (or the end) is known
            shot.head = arr[np.asarray(picks[:c], np.intp)].copy() if fades_in else None
            shot.tail = arr[np.asarray(picks[-c:], np.intp)].copy()
        for j in range(fades_in, len(picks) - c):
            if picks[j] not in shot.images:
                shot.images[picks[j]] = convert(arr[picks[j]])
        del arr
    cut = film_cut(timing, fps, c)  # ValueError: a cross-fade too long for a decoded shot
    out: list[T] = []
    kept = [s for s in shots if s.picks]
    for order, shot in enumerate(kept):
        place = cut.kept[order]
        if place.fade_in:
            out.extend(convert(f) for f in blend_join(kept[order - 1].tail, shot.head))
        stop = place.count - place.fade_out
        for j in range(place.fade_in, place.count):
            if j >= stop:
                break
            pick = place.picks[j]
            if pick not in shot.images:  # the last shot's tail (no join after it)
                shot.images[pick] = convert(shot.tail[len(shot.tail) - (place.count - j)])
            out.append(shot.images[pick])
        shot.images, shot.head = {}, None
        if order > 0:
            kept[order - 1].tail = None
    if len(out) != cut.frames:  # the rule and this assembly must agree
        raise ValueError(f"frames: the preview has {len(out)} frames, the film {cut.frames}")
    return out, cut


def decode_film(
    paths: Sequence[Path],
    film: PreviewFilm,
    convert: Callable[[np.ndarray], T],
    max_side: int,
    budget: int,
    cancel: Any = None,
) -> tuple[list[T], FilmCut]:
    """Decode ``paths`` (the picked clips, in order) into the film ``film`` describes, each
    picture at most ``max_side`` a side and all within about ``budget`` bytes."""
    from sora_desktop.engine.decode import iter_video, probe_video
    from sora_desktop.engine.export.film import fit_frames

    infos = [probe_video(p) for p in paths]
    canvas = canvas_size([(i.width, i.height) for i in infos])
    shown = sum(i.frames or 1 for i in infos) + film.crossfade_frames * len(infos)
    size = display_size(canvas, shown, max_side, budget)
    share = max(1, budget // max(1, len(paths)))

    def loader(path: Path) -> Callable[[], Any]:
        return lambda: iter_video(path, max(size), share, cancel)[1]

    def fit(frames: np.ndarray) -> np.ndarray:
        return fit_frames(frames, size, film.fit, film.method)

    clips = [(loader(p), i.fps or float(film.fps)) for p, i in zip(paths, infos, strict=True)]
    return assemble_preview(clips, film, convert, fit)
