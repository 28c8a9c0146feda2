"""Handing a storyboard to an editor: a timeline file (OpenTimelineIO and its adapters) that
references each shot's picked clip, exported into a folder beside it.

    <film>.otio | <film>.fcpxml | <film>.edl     the timeline (``TIMELINE_FORMATS``)
    <film>_media/01_<shot>.mp4 ...               one clip per shot, at the timeline's rate

One clip per shot in storyboard order, each with its shot's duration (a clip made at another
frame rate is converted to the timeline's, frames repeated or dropped as the film export does:
core/film_layout.py); the project's cross-fade becomes a dissolve transition centred on each
cut; each clip carries its prompt as a marker and the prompt, model and seed in its metadata
(``METADATA_KEY``). A shot without a finished picked clip stops the export with a message
naming it. Nothing is half-written: the media are made in a staging folder that takes the
final name only when complete, and the timeline file is written atomically after them.

Qt-free; OpenTimelineIO and the engine (decoding, encoding) are imported when an export runs.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sora_desktop.core import safe_paths
from sora_desktop.core.atomic import atomic_write_text
from sora_desktop.core.film_joins import CrossfadeTooLong, check_crossfade
from sora_desktop.core.film_layout import default_film_fps, shot_spans
from sora_desktop.core.project import Project, Shot
from sora_desktop.core.request import GenerationRequest
from sora_desktop.studio.takes import take_clip

log = logging.getLogger(__name__)

# suffix -> (OpenTimelineIO adapter, what editors call it); defined once, read by the CLI,
# the export dialog and docs/editors.md
TIMELINE_FORMATS: dict[str, tuple[str, str]] = {
    ".otio": ("otio_json", "OpenTimelineIO"),
    ".fcpxml": ("fcpx_xml", "Final Cut Pro XML"),
    ".edl": ("cmx_3600", "CMX 3600 EDL"),
}
METADATA_KEY = "sora_desktop"
MEDIA_SUFFIX = "_media"
_MARKER_CHARS = 200  # a marker's name: the prompt's first line, shortened


class TimelineError(ValueError):
    """A timeline cannot be exported; the message is one plain line for the user."""


@dataclass(frozen=True)
class TimelineShot:
    number: int  # 1-based, storyboard order
    shot: Shot
    clip: Path  # the picked take's finished clip (the project's file)
    request: GenerationRequest
    source_frames: int
    source_fps: float


@dataclass
class TimelineResult:
    path: Path
    media_dir: Path
    media: list[Path] = field(default_factory=list)
    rate: int = 24
    frames: list[int] = field(default_factory=list)  # each clip's length on the timeline
    crossfade_frames: int = 0
    signed: bool = False  # every clip carries proof of origin (C2PA)
    warnings: list[str] = field(default_factory=list)  # e.g. a clip that could not be signed

    def summary(self) -> str:
        n = len(self.media)
        return (
            f"{self.path.name}: {n} clip{'s' if n != 1 else ''} at {self.rate} fps, "
            f"media in {self.media_dir.name}/"
        )


def timeline_adapter(path: str | os.PathLike) -> str:
    """The OpenTimelineIO adapter for ``path``'s suffix; ``TimelineError`` for any other."""
    suffix = Path(path).suffix.lower()
    if suffix not in TIMELINE_FORMATS:
        allowed = ", ".join(TIMELINE_FORMATS)
        raise TimelineError(
            f"cannot tell the timeline format from {Path(path).name!r}; use {allowed}"
        )
    return TIMELINE_FORMATS[suffix][0]


def media_dir_for(path: str | os.PathLike) -> Path:
    p = Path(path)
    return p.with_name(p.stem + MEDIA_SUFFIX)


def _shot_label(number: int, shot: Shot) -> str:
    title = shot.title.strip() or shot.request.prompt.strip().splitlines()[0][:40] or "untitled"
    return f"shot {number} “{title}”"


def timeline_shots(project: Project) -> list[TimelineShot]:
    """Every shot with its picked clip, probed; ``TimelineError`` naming each shot that has
    none (all of them at once, so the user fixes them in one go)."""
    if not project.shots:
        raise TimelineError("the project has no shots; add and generate a shot first")
    from sora_desktop.engine.decode import probe_video  # lazy: the engine

    missing: list[str] = []
    shots: list[TimelineShot] = []
    for number, shot in enumerate(project.shots, start=1):
        take = shot.selected
        clip = take_clip(project, take)
        if take is None or clip is None:
            why = "no picked take" if take is None else "its picked take has no finished clip"
            if take is not None and take.status == "done" and take.clip:
                why = f"its clip file {Path(take.clip).name} is missing"
            missing.append(f"{_shot_label(number, shot)} ({why})")
            continue
        try:
            info = probe_video(clip)
        except (OSError, ValueError) as exc:
            missing.append(f"{_shot_label(number, shot)} (its clip cannot be read: {exc})")
            continue
        frames = info.frames or take.request.num_frames
        fps = info.fps if info.fps > 0 else float(take.request.fps)
        shots.append(TimelineShot(number, shot, clip, take.request, frames, fps))
    if missing:
        raise TimelineError(
            "cannot export the timeline: "
            + "; ".join(missing)
            + ". Generate or pick a take for each shot first"
        )
    return shots


def _check_target(path: Path, overwrite: bool) -> Path:
    path = safe_paths.check_path_text(path, "timeline file")
    timeline_adapter(path)
    media = media_dir_for(path)
    if os.path.lexists(path):
        if path.is_dir() or path.is_symlink():
            raise TimelineError(f"cannot write {path.name}: a folder or link has that name")
        safe_paths.check_regular_file(path, "timeline file")
        if not overwrite:
            raise TimelineError(f"{path.name} already exists; choose another name or replace it")
    if os.path.lexists(media):
        if media.is_symlink() or not media.is_dir():
            raise TimelineError(f"cannot write the clips: {media.name} is not a folder")
        if not overwrite and any(media.iterdir()):
            raise TimelineError(
                f"{media.name} already exists beside {path.name}; choose another name or replace it"
            )
    from sora_desktop.engine.export import check_writable_folder  # lazy: the engine

    check_writable_folder(path.parent)
    return path


def _media_name(ts: TimelineShot) -> str:
    title = ts.shot.title.strip() or ts.request.prompt.strip()[:30] or "shot"
    slug = re.sub(r"[^\w\-]+", "_", title, flags=re.ASCII).strip("_")[:40] or "shot"
    return f"{ts.number:02d}_{slug}.mp4"


def _make_media(ts: TimelineShot, dest: Path, rate: int, cancel: Any) -> int:
    """The shot's clip at ``rate`` in ``dest``; returns its frame count. A clip already at
    that rate is copied as it is; another is converted (frames repeated or dropped)."""
    if round(ts.source_fps) == rate and abs(ts.source_fps - rate) < 1e-3:
        if ts.clip.suffix.lower() == ".mp4":
            shutil.copyfile(ts.clip, dest)
            return ts.source_frames
    import numpy as np

    from sora_desktop.core.film_layout import source_frames
    from sora_desktop.engine.export import export_video, read_video, sidecar_path

    frames, fps = read_video(ts.clip, cancel=cancel)
    picks = source_frames([(len(frames), fps if fps > 0 else ts.source_fps)], rate)[0]
    if not picks:
        raise TimelineError(f"{_shot_label(ts.number, ts.shot)} is too short for {rate} fps")
    out = frames[np.asarray(picks, dtype=np.intp)]
    export_video(out, dest, rate, fmt="mp4", request=ts.request, cancel=cancel)
    sidecar_path(dest).unlink(missing_ok=True)  # the media folder holds clips only
    return len(picks)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def fade_split(cf: int) -> tuple[int, int]:
    """A cross-fade of ``cf`` frames centred on the cut: (frames before it, frames after)."""
    return cf // 2, cf - cf // 2


def build_timeline(
    name: str, shots: list[TimelineShot], media: list[Path], frames: list[int], rate: int, cf: int
) -> Any:
    """The OpenTimelineIO timeline: one clip per shot, dissolves of ``cf`` frames, markers.

    As in the film export, a cross-fade blends the last ``cf`` frames of a shot with the first
    ``cf`` of the next: each clip shows its media less the frames that lie under a dissolve's
    far side (they are the dissolve's handles), so the timeline is exactly the film's length."""
    import opentimelineio as otio

    def t(n: int) -> otio.opentime.RationalTime:
        return otio.opentime.RationalTime(n, rate)

    before, after = fade_split(cf)
    timeline = otio.schema.Timeline(name=name or "Sora Desktop film")
    timeline.global_start_time = t(0)
    track = otio.schema.Track(name="Video 1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    last = len(shots) - 1
    for i, (ts, path, n) in enumerate(zip(shots, media, frames, strict=True)):
        if i > 0 and cf > 0:
            track.append(
                otio.schema.Transition(
                    name="Cross-fade",
                    transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                    in_offset=t(before),
                    out_offset=t(after),
                )
            )
        head = before if i > 0 and cf else 0  # shown under the previous dissolve
        tail = after if i < last and cf else 0  # shown under the next one
        req = ts.request
        info = {
            "prompt": req.prompt,
            "model": req.model_id,
            "seed": req.seed,
            "shot_id": ts.shot.id,
            "take_id": ts.shot.selected_take,
            "media": f"{path.parent.name}/{path.name}",
        }
        ref = otio.schema.ExternalReference(
            target_url=path.resolve().as_uri(), available_range=otio.opentime.TimeRange(t(0), t(n))
        )
        ref.name = path.name
        clip = otio.schema.Clip(
            name=path.stem,
            media_reference=ref,
            source_range=otio.opentime.TimeRange(t(head), t(n - head - tail)),
            metadata={METADATA_KEY: info},
        )
        marker = otio.schema.Marker(
            name=_one_line(req.prompt)[:_MARKER_CHARS] or "(no prompt)",
            marked_range=otio.opentime.TimeRange(t(head), t(1)),
            color=otio.schema.MarkerColor.PURPLE,
            metadata={METADATA_KEY: {"model": req.model_id, "seed": req.seed}},
        )
        clip.markers.append(marker)
        track.append(clip)
    return timeline


# Final Cut's built-in Cross Dissolve (its effect id in every FCPXML that uses it)
_FCP_DISSOLVE = ("Cross Dissolve", "FxPlug:4731E73A-8DAC-4113-9A30-AE85B1761265")


def _fcpxml_with_dissolves(text: str, timeline: Any, rate: int) -> str:
    """The FCPXML adapter writes no transitions: add a Cross Dissolve between the spine's
    clips for each of the timeline's, where the editor expects it (offset: its start)."""
    import xml.etree.ElementTree as ET

    import opentimelineio as otio

    transitions = [item for item in timeline.tracks[0] if isinstance(item, otio.schema.Transition)]
    if not transitions:
        return text
    root = ET.fromstring(text.split("<!DOCTYPE fcpxml>", 1)[-1].strip())
    resources = root.find("resources")
    spine = root.find(".//spine")
    if resources is None or spine is None:
        return text
    ids = {int(e.get("id", "r0")[1:]) for e in resources if e.get("id", "").startswith("r")}
    effect_id = f"r{max(ids, default=0) + 1}"
    ET.SubElement(resources, "effect", id=effect_id, name=_FCP_DISSOLVE[0], uid=_FCP_DISSOLVE[1])
    clips = [c for c in spine if c.tag in ("clip", "asset-clip")]
    for clip, tr in zip(clips[1:], transitions, strict=False):
        cut = otio.opentime.RationalTime.from_seconds(_seconds(clip.get("offset", "0s")), rate)
        start = (cut - tr.in_offset).rescaled_to(rate)
        length = (tr.in_offset + tr.out_offset).rescaled_to(rate)
        node = ET.Element(
            "transition",
            name=_FCP_DISSOLVE[0],
            offset=f"{int(round(start.value))}/{rate}s",
            duration=f"{int(round(length.value))}/{rate}s",
        )
        ET.SubElement(node, "filter-video", ref=effect_id, name=_FCP_DISSOLVE[0])
        spine.insert(list(spine).index(clip), node)
    ET.indent(root, space="    ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n\n' + body + "\n"


def _seconds(value: str) -> float:
    """FCPXML time ("10/3s", "2s") in seconds."""
    text = value.rstrip("s") or "0"
    if "/" in text:
        num, den = text.split("/", 1)
        return float(num) / float(den)
    return float(text)


def export_timeline(
    project: Project,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    progress: Callable[[float], None] | None = None,
    cancel: Any = None,
    provenance: Any = None,
) -> TimelineResult:
    """Write the project's timeline to ``path`` (format by suffix) with its clips beside it.
    ``TimelineError`` (a ``ValueError``) for anything the user must fix; nothing is left
    half-written on any failure. ``provenance``: ``ProvenanceOptions`` to sign each clip with
    its shot's proof of origin (studio/provenance.py; a clip that cannot be signed is kept and
    named in ``TimelineResult.warnings``)."""
    target = _check_target(Path(path), overwrite)
    adapter = timeline_adapter(target)
    shots = timeline_shots(project)
    chosen = project.export_settings
    rate = chosen.fps or default_film_fps([s.source_fps for s in shots])
    cf = chosen.crossfade_frames if len(shots) > 1 else 0
    spans = shot_spans([(s.source_frames, s.source_fps) for s in shots], rate)
    try:  # the film export's rule (core/film_joins): a shot between two needs twice the fade
        check_crossfade(
            [end - first for first, end in spans],
            cf,
            rate,
            [_shot_label(ts.number, ts.shot) for ts in shots],
        )
    except CrossfadeTooLong as exc:
        raise TimelineError(exc.message) from None
    media_dir = media_dir_for(target)
    _sweep_stages(media_dir)  # what a killed export of this timeline left behind
    from sora_desktop.core.atomic import writer_tag

    # named like core/atomic's temp files (this process's PID and start): a later export sweeps
    # it if this process is killed before it takes its final name
    stage = Path(
        tempfile.mkdtemp(
            prefix=f".{media_dir.name}.", suffix=f".{writer_tag()}.part", dir=target.parent
        )
    )
    old: Path | None = None
    try:
        names, frames, warnings = [], [], []
        for i, ts in enumerate(shots):
            if cancel is not None:
                cancel.raise_if_cancelled()
            name = _media_name(ts)
            frames.append(_make_media(ts, stage / name, rate, cancel))
            names.append(name)
            if provenance is not None:
                from sora_desktop.studio.provenance import sign_exported

                warning = sign_exported(stage / name, ts.request, provenance)
                warnings += [warning] if warning else []
            if progress is not None:
                progress(0.9 * (i + 1) / len(shots))
        media = [media_dir / n for n in names]
        timeline = build_timeline(project.name, shots, media, frames, rate, cf)
        import opentimelineio as otio

        text = otio.adapters.write_to_string(timeline, adapter_name=adapter)
        if adapter == "fcpx_xml":
            text = _fcpxml_with_dissolves(text, timeline, rate)
        os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes it private
        if os.path.lexists(media_dir):  # replacing (checked above): set the old one aside
            old = Path(
                tempfile.mkdtemp(prefix=f".{media_dir.name}.", suffix=".old", dir=target.parent)
            )
            os.rename(media_dir, old / "media")
        os.rename(stage, media_dir)
        try:
            atomic_write_text(target, text)
        except BaseException:
            shutil.rmtree(media_dir, ignore_errors=True)
            if old is not None:
                os.rename(old / "media", media_dir)
            raise
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    if progress is not None:
        progress(1.0)
    log.info("timeline %s written: %d clips at %d fps", target, len(media), rate)
    from sora_desktop.studio.provenance import can_carry_proof

    signed = provenance is not None and not warnings and can_carry_proof("mp4")
    return TimelineResult(target, media_dir, media, rate, frames, cf, signed, warnings)


def _sweep_stages(media_dir: Path) -> None:
    """Remove the staging folders of ``media_dir`` whose writer process is gone (killed
    mid-export); a live writer's (another window, the CLI) is never touched."""
    from sora_desktop.core.atomic import TEMP_NAME_RE, temp_writer_gone

    try:
        entries = list(os.scandir(media_dir.parent))
    except OSError:
        return
    for entry in entries:
        m = TEMP_NAME_RE.match(entry.name)
        if m is None or m.group("target") != media_dir.name:
            continue
        if entry.is_dir(follow_symlinks=False) and temp_writer_gone(entry.name) is True:
            log.info("removing %s, left by a killed timeline export", entry.path)
            shutil.rmtree(entry.path, ignore_errors=True)


def _umask() -> int:
    from sora_desktop.core.atomic import current_umask

    return current_umask()
