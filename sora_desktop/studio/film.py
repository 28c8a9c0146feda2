"""Exporting the film: which clips go in (one shot, or every shot's picked clip in order),
the film's frame rate, size and length (``film_plan``, what the export dialog shows), the
settings written into the file's metadata, and the render itself (decode, retime each shot to
the film's rate, fit it to the film's frame, join with cross-fades, encode). The engine is
imported when a render runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sora_desktop.core.export_settings import SILENT_FORMATS, ExportSettings
from sora_desktop.core.film_joins import film_cut, film_frames
from sora_desktop.core.film_layout import canvas_size, default_film_fps
from sora_desktop.core.project import Project, Take
from sora_desktop.core.request import GenerationRequest
from sora_desktop.studio.takes import take_clip


@dataclass(frozen=True)
class FilmPlan:
    """What an export will be: the film's frame (after upscaling), rate and length."""

    width: int
    height: int
    fps: int
    frames: int
    shots: int
    auto_fps: int  # the rate "Auto" picks: the fastest shot's
    fit: str
    upscale: int = 1  # the enlargement the export applies ("Auto" resolved: default_upscale)

    @property
    def seconds(self) -> float:
        return self.frames / self.fps

    def summary(self) -> str:
        """One line for the dialog, e.g. "704 × 480 px · 24 fps · 3.3 s · 3 shots"."""
        shots = f"{self.shots} shot{'s' if self.shots != 1 else ''}"
        return f"{self.width} × {self.height} px · {self.fps} fps · {self.seconds:.1f} s · {shots}"


def _film_takes(project: Project, shot_id: str | None) -> list[Take]:
    shots = [project.shot(shot_id)] if shot_id is not None else project.shots
    return [s.selected for s in shots if take_clip(project, s.selected) is not None]  # type: ignore[misc]


def film_plan(project: Project, shot_id: str | None, settings: ExportSettings) -> FilmPlan | None:
    """The film ``settings`` make of the picked clips (None: nothing to export). Read from the
    takes' requests (no clip is decoded); the render makes the same from the files."""
    takes = _film_takes(project, shot_id)
    if not takes:
        return None
    requests = [t.request for t in takes]
    auto = default_film_fps([r.fps for r in requests])
    fps = settings.fps if settings.fps is not None else auto
    w, h = canvas_size([(r.width, r.height) for r in requests])
    timing = [(r.num_frames, r.fps) for r in requests]
    frames = film_frames(timing, fps, settings.crossfade_frames)  # core/film_joins' rule
    up = settings.upscale_for(w, h)
    return FilmPlan(w * up, h * up, fps, frames, len(requests), auto, settings.fit, up)


def film_clips(project: Project, shot_id: str | None = None) -> list[Path]:
    """The picked finished clips to export: the one shot's, or every shot's in storyboard
    order (shots without a clip are left out)."""
    if shot_id is not None:
        clip = take_clip(project, project.shot(shot_id).selected)
        return [clip] if clip is not None else []
    clips = (take_clip(project, shot.selected) for shot in project.shots)
    return [c for c in clips if c is not None]


def film_request(project: Project, shot_id: str | None = None) -> GenerationRequest:
    """The settings labelled into the export: the shot's take, or the first clip's with every
    exported shot's settings under ``extra["storyboard"]``. ``ValueError`` when there is no
    clip."""
    if shot_id is not None:
        take = project.shot(shot_id).selected
        if take_clip(project, take) is None:
            raise ValueError("clips: nothing to export yet; generate a shot first")
        return take.request  # type: ignore[union-attr]
    takes = [s.selected for s in project.shots if take_clip(project, s.selected) is not None]
    if not takes:
        raise ValueError("clips: nothing to export yet; generate a shot first")
    request = takes[0].request  # type: ignore[union-attr]
    storyboard = [t.request.to_dict() for t in takes]  # type: ignore[union-attr]
    return request.with_changes(extra={**request.extra, "storyboard": storyboard})


def render_film(
    clips: list[Path],
    path: Path,
    fps: int,
    *,
    fmt: str,
    fit: str = "letterbox",
    crossfade_frames: int = 0,
    upscale: int = 1,
    upscale_method: str = "nearest",
    quality: str = "high",
    watermark: bool = False,
    request: GenerationRequest | None = None,
    progress: Callable[[float], None] | None = None,
    cancel: Any = None,
    sound: Any = None,
    sidecar: bool = False,
    provenance: Any = None,
    on_warning: Callable[[str], None] | None = None,
) -> Path:
    """Decode the clips, retime each to the film's ``fps`` from its own rate (each shot keeps
    its duration), fit each to the film's frame (the largest clip's) with ``fit`` ("letterbox"
    or "crop"), join them (cross-fading ``crossfade_frames`` film frames), and write the
    export. ``progress`` gets a fraction 0..1 (decoding is the first fifth); ``cancel`` is a
    ``CancelToken`` checked between clips and during encoding. ``sound``: the film's
    ``film_sound.FilmSound`` (None: silent, as before), mixed to exactly the film's length
    (GIF and PNG frames leave it out; ``film_sound.dropped_message`` says so).
    ``provenance``: ``ProvenanceOptions`` to sign the export with a C2PA manifest
    (studio/provenance.py; None: not signed); a failure to sign keeps the film and hands
    ``on_warning`` one line."""
    from sora_desktop.engine.export import export_video, read_video  # lazy
    from sora_desktop.engine.export.film import assemble_film

    def report(fraction: float) -> None:
        if progress is not None:
            progress(max(0.0, min(1.0, fraction)))

    decoded = []
    for i, clip in enumerate(clips):
        if cancel is not None:
            cancel.raise_if_cancelled()
        frames, clip_fps = read_video(clip)
        decoded.append((frames, clip_fps if clip_fps > 0 else fps))
        report(0.2 * (i + 1) / len(clips))
    # a clip shorter than its take says may no longer fit the cross-fade: say so in seconds
    film_cut([(len(f), r) for f, r in decoded], fps, crossfade_frames)
    frames = assemble_film(
        decoded, fps, fit=fit, method=upscale_method, crossfade_frames=crossfade_frames
    )
    timing = [(len(f), r) for f, r in decoded]
    del decoded
    mix = record = None
    if sound is not None:
        from sora_desktop.engine.export.audio_mix import remove_mix
        from sora_desktop.studio.film_sound import mix_sources_for, render_mix

        record = dict(sound.record)
        if fmt not in SILENT_FORMATS:
            sources = mix_sources_for(sound, timing, fps, crossfade_frames)
            mix = render_mix(sources, len(frames), fps, sound.normalize_loudness, cancel)
        else:
            record["dropped"] = True

    def on_progress(*args: Any) -> None:
        if len(args) >= 2 and args[1]:
            frac = float(args[0]) / float(args[1])
        else:
            frac = float(args[0]) if args else 0.0
        report(0.2 + 0.8 * max(0.0, min(1.0, frac)))

    try:
        out = export_video(
            frames,
            path,
            fps,
            fmt=fmt,
            request=request,
            upscale=upscale,
            upscale_method=upscale_method,
            quality=quality,
            watermark=watermark,
            progress=on_progress,
            cancel=cancel,
            audio=mix,
            audio_record=record,
            sidecar=sidecar,
        )
    finally:
        if mix is not None:
            remove_mix(mix)
    if cancel is not None:
        cancel.raise_if_cancelled()
    if provenance is not None:
        from sora_desktop.studio.provenance import sign_exported

        warning = sign_exported(out, request, provenance)
        if warning and on_warning is not None:
            on_warning(warning)
    return Path(out)
