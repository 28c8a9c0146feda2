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
even), so every caller gets the same bytes. A cross-fade longer than a shot allows (a middle
shot needs twice the cross-fade) is ``CrossfadeTooLong``, said in seconds with the shot named;
the editor hand-off (studio/timeline) and the Export dialog's length (``film_frames``) read the
same rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sora_desktop.core.errors import FieldError
from sora_desktop.core.film_layout import source_frames


class CrossfadeTooLong(FieldError):
    """A cross-fade longer than a shot allows, said in the user's terms (seconds at the film's
    rate when known). ``shot``: the shot's index in the list checked, so a caller that knows
    the storyboard can name it its way (``said``)."""

    def __init__(
        self,
        shot: int,
        crossfade_frames: int,
        shot_frames: int,
        fades: int,
        fps: float | None = None,
        label: str | None = None,
    ) -> None:
        self.shot, self.crossfade_frames, self.shot_frames = shot, crossfade_frames, shot_frames
        self.fades, self.fps = fades, fps
        super().__init__("crossfade_frames", self.said(label or f"the film's shot {shot + 1}"))

    def said(self, label: str) -> str:
        """The sentence, naming the shot ``label`` (e.g. "shot 3")."""
        fade, length = _length(self.crossfade_frames, self.fps), _length(self.shot_frames, self.fps)
        if self.fades < 2:
            return (
                f"The cross-fade ({fade}) is longer than {label} ({length}); shorten it in Export."
            )
        most = _length(self.shot_frames // 2, self.fps)
        return (
            f"The cross-fade ({fade}) is too long for {label} ({length}): a shot between two "
            f"others fades in and out, so at most {most} fits; shorten it in Export."
        )

    def __reduce__(self):  # picklable (FieldError's takes only field and message)
        args = (self.shot, self.crossfade_frames, self.shot_frames, self.fades, self.fps)
        return (_rebuild, (args, self.message))


def _rebuild(args: tuple, message: str) -> CrossfadeTooLong:
    exc = CrossfadeTooLong(*args)
    exc.message, exc.args = message, (f"crossfade_frames: {message}",)
    return exc


def _length(frames: int, fps: float | None) -> str:
    """``frames`` as the user reads it: seconds at ``fps`` ("0.5 s"), else frames."""
    if fps is None:
        return f"{frames} frame{'s' if frames != 1 else ''}"
    return f"{frames / fps:.2f}".rstrip("0").rstrip(".") + " s"


def check_crossfade(
    counts: Sequence[int],
    crossfade_frames: int,
    fps: float | None = None,
    labels: Sequence[str] | None = None,
) -> None:
    """``CrossfadeTooLong`` unless every shot (``counts``: film frames each, at ``fps`` when
    known) is long enough for its fades (a middle shot fades in and out, so it needs twice the
    cross-fade); ``labels`` name the shots in the message (default: their place in the film)."""
    if isinstance(crossfade_frames, bool) or not isinstance(crossfade_frames, int):
        raise ValueError(f"crossfade_frames: expected an integer, got {crossfade_frames!r}")
    if crossfade_frames < 0:
        raise ValueError(f"crossfade_frames: {crossfade_frames} must not be negative")
    c, n = crossfade_frames, len(counts)
    for i, count in enumerate(counts):
        fades = (i > 0) + (i < n - 1)
        if c * fades > count:
            label = labels[i] if labels is not None else None
            raise CrossfadeTooLong(i, c, count, fades, fps, label)


def join_starts(
    counts: Sequence[int],
    crossfade_frames: int,
    fps: float | None = None,
    labels: Sequence[str] | None = None,
) -> list[int]:
    """The first film frame of each shot (``counts``: film frames each), joins overlapping."""
    check_crossfade(counts, crossfade_frames, fps, labels)
    starts, position = [], 0
    for count in counts:
        first = position - crossfade_frames if starts else 0
        starts.append(first)
        position = first + count
    return starts


def film_frames(
    shots: Sequence[tuple[int, float | int]], film_fps: int, crossfade_frames: int
) -> int:
    """How many frames ``film_cut`` makes of ``shots``, also for a cross-fade too long for a
    shot (what the Export dialog shows while the user is still choosing; the export itself
    refuses it): the shots' film frames less the cross-fade at each join, never below 0."""
    counts = [len(p) for p in source_frames(list(shots), film_fps) if p]
    return max(0, sum(counts) - crossfade_frames * max(0, len(counts) - 1))


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
    shots: Sequence[tuple[int, float | int]],
    film_fps: int,
    crossfade_frames: int,
    labels: Sequence[str] | None = None,
) -> FilmCut:
    """The film ``shots`` (``(frames, fps)`` each, in order) make at ``film_fps`` with joins of
    ``crossfade_frames``; ``CrossfadeTooLong`` (a ``ValueError``; its ``shot`` indexes
    ``shots``, ``labels`` name them) for a cross-fade longer than a shot allows."""
    picks = source_frames(list(shots), film_fps)
    kept = [i for i, p in enumerate(picks) if p]
    named = [labels[i] if labels is not None else f"the film's shot {i + 1}" for i in kept]
    try:
        starts = join_starts([len(picks[i]) for i in kept], crossfade_frames, film_fps, named)
    except CrossfadeTooLong as exc:  # its index among ``shots``, not among the kept ones
        raise CrossfadeTooLong(
            kept[exc.shot],
            exc.crossfade_frames,
            exc.shot_frames,
            exc.fades,
            film_fps,
            named[exc.shot],
        ) from None
    places: list[ShotPlace | None] = [None] * len(picks)
    c = crossfade_frames
    for order, (i, first) in enumerate(zip(kept, starts, strict=True)):
        fade_in = c if order > 0 else 0
        fade_out = c if order < len(kept) - 1 else 0
        places[i] = ShotPlace(i, first, tuple(picks[i]), fade_in, fade_out)
    frames = max((p.end for p in places if p is not None), default=0)
    return FilmCut(tuple(places), frames, film_fps, c)
