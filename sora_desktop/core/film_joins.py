"""Where each shot sits in the film and how two shots blend where they join: ONE rule, read by
the export (engine/export/frames.concat_clips via film.assemble_film), the film's sound
(studio/film_sound.shot_starts), the player's whole-storyboard preview (studio/film_preview) and
the player's clock (studio/playback_sync). No Qt, no torch, no OpenCV.

Each shot is first retimed to the film's rate (``core/film_layout.source_frames``): shot ``i``
shows ``n_i`` film frames (a shot that rounds to none is left out). A cross-fade of ``c`` frames
overlaps the last ``c`` frames of a shot with the first ``c`` of the next, so shot ``i`` starts
at ``first_i = first_(i-1) + n_(i-1) - c`` and the film has ``sum(n) - c * (shots - 1)`` frames.
Film frame ``first_i + j`` (``j < c``) is ``(1 - w_j) * earlier + w_j * later`` with
``w_j = (j + 1) / (c + 1)``: neither shot is ever shown pure inside the fade, so it takes
exactly ``c`` frames. The blend is done in float32 and rounded to the nearest value (ties to
even), so every caller gets the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sora_desktop.core.film_layout import source_frames


def check_crossfade(counts: Sequence[int], crossfade_frames: int) -> None:
    """``ValueError`` unless every shot (``counts``: film frames each) is long enough for its
    fades (a middle shot fades in and out, so it needs twice the cross-fade)."""
    if isinstance(crossfade_frames, bool) or not isinstance(crossfade_frames, int):
        raise ValueError(f"crossfade_frames: expected an integer, got {crossfade_frames!r}")
    if crossfade_frames < 0:
        raise ValueError(f"crossfade_frames: {crossfade_frames} must not be negative")
    c, n = crossfade_frames, len(counts)
    for i, count in enumerate(counts):
        fades = (i > 0) + (i < n - 1)
        if c * fades > count:
            raise ValueError(
                f"crossfade_frames: {c} is too long for shot {i + 1} ({count} frames); "
                f"allowed up to {count // max(1, fades)}"
            )


def join_starts(counts: Sequence[int], crossfade_frames: int) -> list[int]:
    """The first film frame of each shot (``counts``: film frames each), joins overlapping."""
    check_crossfade(counts, crossfade_frames)
    starts, position = [], 0
    for count in counts:
        first = position - crossfade_frames if starts else 0
        starts.append(first)
        position = first + count
    return starts


def join_weights(crossfade_frames: int) -> np.ndarray:
    """``w_j``, the later shot's share of each of the ``c`` frames of a join (float32)."""
    c = crossfade_frames
    return np.arange(1, c + 1, dtype=np.float32) / np.float32(c + 1)


def blend_join(
    tail: np.ndarray, head: np.ndarray, offset: int = 0, crossfade: int = 0
) -> np.ndarray:
    """The frames of one join: ``tail`` (the earlier shot's last frames) faded into ``head``
    (the later shot's first ones), both (k, H, W, 3) uint8 of one size. By default the whole
    join (``k`` = the cross-fade); ``offset``/``crossfade`` give frames ``offset..offset+k-1``
    of a ``crossfade``-frame join, the very same bytes."""
    k = len(tail)
    if len(head) != k or tail.shape != head.shape:
        raise ValueError(
            f"frames: a join needs two runs of one shape, got {tail.shape} {head.shape}"
        )
    c = crossfade or k
    if not 0 <= offset <= c - k:
        raise ValueError(f"frames: frames {offset}..{offset + k - 1} are not in a {c}-frame join")
    alpha = join_weights(c)[offset : offset + k][:, None, None, None]
    blend = (1 - alpha) * tail.astype(np.float32) + alpha * head.astype(np.float32)
    return np.clip(np.round(blend), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class ShotPlace:
    """One shot in the film: ``first`` film frame, ``picks`` (its source frame shown in each of
    its film frames), and how many of those fade in from the shot before / out to the next."""

    shot: int  # its index in the list the film was made from
    first: int
    picks: tuple[int, ...]
    fade_in: int
    fade_out: int

    @property
    def count(self) -> int:
        return len(self.picks)

    @property
    def end(self) -> int:
        return self.first + self.count


@dataclass(frozen=True)
class FilmCut:
    """A film made of shots: each shot's place (None: too short to show a frame at this rate)."""

    places: tuple[ShotPlace | None, ...]
    frames: int
    fps: int
    crossfade_frames: int

    @property
    def kept(self) -> list[ShotPlace]:
        return [p for p in self.places if p is not None]

    def seconds(self, frame: float) -> float:
        """Film seconds at the start of film frame ``frame``."""
        return frame / self.fps

    def sources(self, frame: int) -> tuple[tuple[int, int, float], ...]:
        """What makes film frame ``frame``: ``(shot index, source frame, weight)`` each (one
        entry outside a join, two inside it, weights summing to 1)."""
        if not 0 <= frame < self.frames:
            raise ValueError(f"frame: {frame} is not in a {self.frames}-frame film")
        out: list[tuple[int, int, float]] = []
        weights = join_weights(self.crossfade_frames)
        for place in self.kept:
            if not place.first <= frame < place.end:
                continue
            j = frame - place.first
            if j < place.fade_in:
                weight = float(weights[j])
            elif j >= place.count - place.fade_out:
                weight = 1.0 - float(weights[j - (place.count - place.fade_out)])
            else:
                weight = 1.0
            out.append((place.shot, place.picks[j], weight))
        return tuple(out)


def film_cut(
    shots: Sequence[tuple[int, float | int]], film_fps: int, crossfade_frames: int
) -> FilmCut:
    """The film ``shots`` (``(frames, fps)`` each, in order) make at ``film_fps`` with joins of
    ``crossfade_frames``; ``ValueError`` for a cross-fade longer than a shot allows."""
    picks = source_frames(list(shots), film_fps)
    kept = [i for i, p in enumerate(picks) if p]
    starts = join_starts([len(picks[i]) for i in kept], crossfade_frames)
    places: list[ShotPlace | None] = [None] * len(picks)
    c = crossfade_frames
    for order, (i, first) in enumerate(zip(kept, starts, strict=True)):
        fade_in = c if order > 0 else 0
        fade_out = c if order < len(kept) - 1 else 0
        places[i] = ShotPlace(i, first, tuple(picks[i]), fade_in, fade_out)
    frames = max((p.end for p in places if p is not None), default=0)
    return FilmCut(tuple(places), frames, film_fps, c)
