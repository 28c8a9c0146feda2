"""Exporting the film: which clips go in (one shot, or every shot's picked clip in order),
the settings written into the file's metadata, and the render itself (decode, join with
cross-fades, encode). The engine is imported when a render runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sora_desktop.core.project import Project
from sora_desktop.core.request import GenerationRequest
from sora_desktop.studio.takes import take_clip


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
    crossfade_frames: int = 0,
    upscale: int = 1,
    upscale_method: str = "nearest",
    quality: str = "high",
    watermark: bool = False,
    request: GenerationRequest | None = None,
    progress: Callable[[float], None] | None = None,
    cancel: Any = None,
) -> Path:
    """Decode the clips, join them (cross-fading ``crossfade_frames``), and write the export.
    ``progress`` gets a fraction 0..1 (decoding is the first fifth); ``cancel`` is a
    ``CancelToken`` checked between clips and during encoding."""
    from sora_desktop.engine.export import concat_clips, export_video, read_video  # lazy

    def report(fraction: float) -> None:
        if progress is not None:
            progress(max(0.0, min(1.0, fraction)))

    decoded = []
    for i, clip in enumerate(clips):
        if cancel is not None:
            cancel.raise_if_cancelled()
        frames, _fps = read_video(clip)
        decoded.append(frames)
        report(0.2 * (i + 1) / len(clips))
    frames = decoded[0] if len(decoded) == 1 else concat_clips(decoded, crossfade_frames)

    def on_progress(*args: Any) -> None:
        if len(args) >= 2 and args[1]:
            frac = float(args[0]) / float(args[1])
        else:
            frac = float(args[0]) if args else 0.0
        report(0.2 + 0.8 * max(0.0, min(1.0, frac)))

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
    )
    if cancel is not None:
        cancel.raise_if_cancelled()
    return Path(out)
