"""Playing the sound track with the pictures: film time ↔ each sound's position. Qt-free.

The storyboard's timeline is the shots in order, each as long as its settings say (what the
cards show); sound clips sit on it in those seconds. The player shows frames; ``FilmClock``
turns the frame on screen into film seconds, ``Voice`` says where in its file a sound is (and
how loud) at a film second, and ``drifted`` says when a playing sound has wandered far enough
from where it should be to seek it back. The Qt player (ui/audio_playback.py) only applies
these answers to QtMultimedia.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

# A playing sound further than this from where the picture says is sought back into place
# (less is inaudible and seeking on every frame would stutter).
DRIFT_TOLERANCE_S = 0.08


@dataclass(frozen=True)
class ShotSpan:
    """One shot on the storyboard's timeline."""

    shot_id: str
    start: float
    seconds: float

    @property
    def end(self) -> float:
        return self.start + self.seconds


def shot_spans(shots: list[Any]) -> list[ShotSpan]:
    """Each shot's place on the timeline (seconds from its settings, in storyboard order)."""
    spans, t = [], 0.0
    for shot in shots:
        seconds = float(shot.request.seconds)
        spans.append(ShotSpan(shot.id, t, seconds))
        t += seconds
    return spans


@dataclass(frozen=True)
class FilmClock:
    """Where the player's frames are on the timeline: ``segments`` are (first frame index in
    the player, frame count, the shot's span) for each clip loaded, in play order. A shot
    without a clip is skipped by the player, so its time is skipped too."""

    segments: tuple[tuple[int, int, ShotSpan], ...] = ()

    @classmethod
    def for_clips(
        cls, boundaries: list[int], total_frames: int, spans: list[ShotSpan]
    ) -> FilmClock:
        """``boundaries[i]`` is the first frame of ``spans[i]``'s clip in the player."""
        segs = []
        for i, (first, span) in enumerate(zip(boundaries, spans, strict=False)):
            last = boundaries[i + 1] if i + 1 < len(boundaries) else total_frames
            segs.append((first, max(1, last - first), span))
        return cls(tuple(segs))

    def seconds_at(self, frame: int) -> float:
        """Film seconds when ``frame`` is on screen (its shot's start plus its share of the
        shot: a clip of another length than its settings still spans its shot)."""
        if not self.segments:
            return 0.0
        firsts = [s[0] for s in self.segments]
        i = max(0, bisect.bisect_right(firsts, frame) - 1)
        first, count, span = self.segments[i]
        return span.start + min(max(frame - first, 0), count) / count * span.seconds

    def seconds_per_frame(self, frame: int) -> float:
        if not self.segments:
            return 0.0
        firsts = [s[0] for s in self.segments]
        first, count, span = self.segments[max(0, bisect.bisect_right(firsts, frame) - 1)]
        return span.seconds / count


@dataclass(frozen=True)
class Voice:
    """A sound heard on the timeline: ``path`` from ``trim_in`` seconds into the file, starting
    at film second ``start``, for ``duration`` seconds, at ``volume`` (1 = as recorded) with
    linear fades in and out (seconds)."""

    key: str
    path: str
    start: float
    duration: float
    trim_in: float = 0.0
    volume: float = 1.0
    fade_in: float = 0.0
    fade_out: float = 0.0

    @property
    def end(self) -> float:
        return self.start + self.duration

    def active(self, t: float) -> bool:
        return self.start <= t < self.end

    def position(self, t: float) -> float:
        """Seconds into the file at film second ``t`` (clamped to the voice's part)."""
        return self.trim_in + min(max(t - self.start, 0.0), self.duration)

    def gain(self, t: float) -> float:
        """Volume at film second ``t``: 0 outside, ramps over the fades."""
        if not self.active(t):
            return 0.0
        into, left = t - self.start, self.end - t
        g = self.volume
        if self.fade_in > 0 and into < self.fade_in:
            g *= into / self.fade_in
        if self.fade_out > 0 and left < self.fade_out:
            g *= left / self.fade_out
        return max(0.0, g)


def drifted(actual: float, wanted: float, tolerance: float = DRIFT_TOLERANCE_S) -> bool:
    """Whether a playing sound at ``actual`` seconds must be sought to ``wanted``."""
    return abs(actual - wanted) > tolerance
