"""Playing the sound track with the pictures: film time ↔ each sound's position. Qt-free.

The storyboard's timeline is the shots in order, each as long as its picked clip (else its
settings); sound clips sit on it in those seconds, as in the exported film. Playing, a shot
sits where the exported film has it (``film_spans``: core/film_joins' rule, so cross-faded
shots start earlier and overlap, and their own sound cross-fades with them). The player shows
frames: ``FilmClock`` turns the frame on screen into film seconds, ``Voice`` says where in its
file a sound is (and how loud) at a film second, and ``DriftCheck`` says when a playing sound
has wandered far enough from there to seek it back. The Qt player (ui/audio_playback.py) only
applies these answers to QtMultimedia.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from sora_desktop.core.project.audio import fade_gain

# A playing sound further than this from where the picture says is sought back into place
# (less is hard to hear, and a player's position reports jitter by tens of milliseconds:
# seeking on every frame would stutter). Readings are smoothed over ``DRIFT_READINGS``; one
# reading past ``JUMP_S`` (a loop back to the start, a jump) seeks at once.
DRIFT_TOLERANCE_S = 0.12
DRIFT_READINGS = 3
JUMP_S = 0.4


@dataclass(frozen=True)
class ShotSpan:
    """One shot on the storyboard's timeline."""

    shot_id: str
    start: float
    seconds: float
    fade_in: float = 0.0  # seconds it cross-fades from the shot before (its own sound too)
    fade_out: float = 0.0

    @property
    def end(self) -> float:
        return self.start + self.seconds


def shot_spans(shots: list[Any]) -> list[ShotSpan]:
    """Each shot's place on the timeline, in storyboard order (``Shot.seconds``: its picked
    clip's length, else its settings')."""
    spans, t = [], 0.0
    for shot in shots:
        seconds = float(shot.seconds)
        spans.append(ShotSpan(shot.id, t, seconds))
        t += seconds
    return spans


def cut_spans(cut: Any, shot_ids: list[str]) -> list[ShotSpan]:
    """The shots of a ``core.film_joins.FilmCut`` (``shot_ids`` in its order) at their film
    seconds; a shot the film leaves out (too short at its rate) has none."""
    fps = cut.fps
    return [
        ShotSpan(sid, p.first / fps, p.count / fps, p.fade_in / fps, p.fade_out / fps)
        for sid, p in zip(shot_ids, cut.places, strict=False)
        if p is not None
    ]


def film_spans(project: Any) -> list[ShotSpan]:
    """Each shot with a picked clip where an export of the whole film (the project's Export
    settings: rate, cross-fade) puts it, from its take's settings (no clip is decoded)."""
    from sora_desktop.core.film_joins import film_cut
    from sora_desktop.studio.film_preview import preview_film
    from sora_desktop.studio.takes import take_clip

    film = preview_film(project)
    if film is None:
        return []
    shots = [s for s in project.shots if take_clip(project, s.selected) is not None]
    timing = [(s.selected.request.num_frames, s.selected.request.fps) for s in shots]
    cut = film_cut(timing, film.fps, film.crossfade_frames)
    return cut_spans(cut, [s.id for s in shots])


def lane_spans(project: Any) -> list[ShotSpan]:
    """Every shot in storyboard order where the exported film has it (``film_spans``), for the
    sound lane under the cards. A shot the film leaves out (no clip yet, or too short at the
    film's rate) takes no film time: a span of 0 seconds where the film goes on after it."""
    placed = {s.shot_id: s for s in film_spans(project)}
    after = max((s.end for s in placed.values()), default=0.0)
    spans: list[ShotSpan] = []
    for shot in reversed(project.shots):
        span = placed.get(shot.id) or ShotSpan(shot.id, after, 0.0)
        spans.append(span)
        after = span.start
    return spans[::-1]


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

    @classmethod
    def for_film(cls, spans: list[ShotSpan], fps: float) -> FilmClock:
        """The player shows the film itself (``spans`` from ``cut_spans``): frame ``k`` is
        film second ``k / fps``, cross-faded shots overlapping."""
        segs = []
        for span in spans:
            first = round(span.start * fps)
            segs.append((first, max(1, round(span.seconds * fps)), span))
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
    at film second ``start``, for ``duration`` seconds, at ``volume`` (an amplitude factor, 1 =
    as recorded) with fades in and out (seconds; the project's fade law, ``fade_gain``)."""

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
        return self.volume * fade_gain(t - self.start, self.duration, self.fade_in, self.fade_out)


def item_voice(project: Any, item: Any) -> Voice | None:
    """The voice of a clip on the audio track (None: its file is not usable)."""
    from sora_desktop.core.project import ProjectError, resolve_media

    try:
        path = resolve_media(project, item.file)
    except (ProjectError, ValueError, OSError):
        return None
    return Voice(
        f"audio:{item.id}",
        str(path),
        item.start,
        item.duration,
        item.trim_in,
        item.gain,
        item.fade_in,
        item.fade_out,
    )


def shot_voice(project: Any, span: ShotSpan) -> Voice | None:
    """A shot's own sound (its picked take's ``_audio.wav``, LTX-2's), under the shot, unless
    the shot is muted or has none."""
    from sora_desktop.studio.soundtrack import shot_sound

    path = shot_sound(project, project.shot(span.shot_id))
    if path is None:
        return None
    return Voice(
        f"shot:{span.shot_id}",
        str(path),
        span.start,
        span.seconds,
        fade_in=span.fade_in,
        fade_out=span.fade_out,
    )


def voices_for(project: Any, spans: list[ShotSpan] | None = None) -> list[Voice]:
    """Everything the player should sound: the track's clips, then each unmuted shot's own
    sound under its shot (``spans``; default: where the exported film has it), cross-fading
    over the joins as the export mixes it."""
    voices = [item_voice(project, item) for item in project.audio]
    spans = film_spans(project) if spans is None else spans
    voices += [shot_voice(project, span) for span in spans]
    return [v for v in voices if v is not None]


class DriftCheck:
    """Whether a playing sound has wandered from where the picture says it should be."""

    def __init__(self) -> None:
        self.readings: list[float] = []

    def reset(self) -> None:
        """After a seek: the player's position reports lag until the seek lands."""
        self.readings.clear()

    def observe(self, actual: float, wanted: float) -> bool:
        """Note one reading (seconds into the file); True when the sound must be sought to
        ``wanted`` (the readings then start again)."""
        off = actual - wanted
        if abs(off) > JUMP_S:
            self.reset()
            return True
        self.readings = [*self.readings[-(DRIFT_READINGS - 1) :], off]
        if len(self.readings) < DRIFT_READINGS:
            return False
        middle = sorted(self.readings)[len(self.readings) // 2]
        if abs(middle) > DRIFT_TOLERANCE_S:
            self.reset()
            return True
        return False
