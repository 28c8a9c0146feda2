"""The soundtrack's use cases (Qt-free, torch-free): import a sound file into the project, lay
music under the film, draw a waveform, and find each shot's own sound.

Importing treats the file as hostile: the path is checked first (``core/safe_paths``: NUL,
FIFO, device, link loop), the bytes are copied (at most ``MAX_AUDIO_BYTES``) into the project's
media folder, and only that copy is probed and decoded (``engine/audio_decode``: local files
only, the four formats only, the true length counted from the samples, time bounded). Nothing
is left behind when anything fails. The item is returned, not added: the caller adds it
(``Project.add_audio``; the app through an undo command).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from sora_desktop.core import project as core_project
from sora_desktop.core.errors import FieldError
from sora_desktop.core.project import AudioItem, Project, Shot, new_id
from sora_desktop.core.project.audio import (
    IMPORT_FORMATS,
    IMPORT_LABEL,
    MAX_AUDIO_BYTES,
    MAX_NAME_CHARS,
)
from sora_desktop.core.safe_paths import (
    UnsafePathError,
    check_path_text,
    check_regular_file,
    open_regular_file,
)
from sora_desktop.studio.audio import audio_path

log = logging.getLogger(__name__)

# "--music": the fade in at the film's start and out at its end, at most a quarter of the clip
MUSIC_FADE_SECONDS = 1.0


def _shown_name(path: Path) -> str:
    """The original file name for the track: no control characters, not endless."""
    name = "".join(c if c.isprintable() else "?" for c in path.name)
    return name[:MAX_NAME_CHARS] or "sound"


def _copy_bounded(src: Path, dst: Path) -> None:
    """Copy a regular file (never a FIFO or device; at most MAX_AUDIO_BYTES) to ``dst``."""
    check_regular_file(src, "audio")  # plain words for a missing file, a link loop, a folder
    try:
        fh = open_regular_file(src, "audio", MAX_AUDIO_BYTES)
    except UnsafePathError:
        raise
    except OSError as exc:
        raise UnsafePathError(
            "audio", f"{_shown_name(src)} cannot be used: {exc.strerror or exc}"
        ) from exc
    with fh, open(dst, "xb") as out:
        copied = 0
        while chunk := fh.read(1 << 20):
            copied += len(chunk)
            if copied > MAX_AUDIO_BYTES:  # the file grew while being copied
                raise UnsafePathError(
                    "audio", f"{_shown_name(src)} is larger than {MAX_AUDIO_BYTES >> 20} MB"
                )
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if copied == 0:
        raise UnsafePathError("audio", f"{_shown_name(src)} is empty")


def check_sound_file(path: str | os.PathLike) -> tuple[Any, Any]:
    """``(AudioInfo, AudioScan)`` of a sound file the user named, checked as hostile; every
    problem is a ``FieldError`` on ``"audio"`` with one plain sentence. The file is read in
    place (use ``import_audio`` to keep a copy)."""
    from sora_desktop.engine.audio_decode import probe_audio, scan_audio  # lazy: engine

    p = check_path_text(path, "audio")
    check_regular_file(p, "audio")
    info = probe_audio(p)
    if info.format not in IMPORT_FORMATS:
        raise FieldError("audio", f"{_shown_name(p)} is not a {IMPORT_LABEL} file")
    return info, scan_audio(p)


def import_audio(project: Project, path: str | os.PathLike, start: float = 0.0) -> AudioItem:
    """Copy a WAV, MP3, FLAC or OGG file into the project's media folder and return the item
    that plays all of it from ``start`` seconds (not yet added to the project)."""
    from sora_desktop.engine.audio_decode import probe_audio, scan_audio  # lazy: engine

    src = check_path_text(path, "audio")
    item_id = new_id()
    part_rel = core_project.audio_relpath(project, item_id, ".part")
    part = core_project.resolve_media(project, part_rel)
    part.parent.mkdir(parents=True, exist_ok=True)
    final: Path | None = None
    try:
        _copy_bounded(src, part)
        info = probe_audio(part)
        if info.format not in IMPORT_FORMATS:
            raise FieldError("audio", f"{_shown_name(src)} is not a {IMPORT_LABEL} file")
        scan = scan_audio(part)
        rel = core_project.audio_relpath(project, item_id, IMPORT_FORMATS[info.format])
        final = core_project.resolve_media(project, rel)
        os.replace(part, final)
        item = AudioItem(
            id=item_id,
            file=rel,
            name=_shown_name(src),
            source_seconds=min(scan.seconds, core_project.MAX_AUDIO_SECONDS),
            start=start,
        )
    except FieldError as exc:
        _discard(part, final)
        if part.name in exc.message:  # the copy's name means nothing to the user
            raise FieldError(exc.field, exc.message.replace(part.name, _shown_name(src))) from exc
        raise
    except BaseException:
        _discard(part, final)
        raise
    log.info("imported %s as %s (%.2f s)", src, item.file, item.source_seconds)
    return item


def _discard(*paths: Path | None) -> None:
    for p in paths:
        if p is not None:
            try:
                p.unlink(missing_ok=True)
            except OSError:
                pass


def waveform(project: Project, item: AudioItem) -> Any:
    """The item's whole file as peaks to draw (``engine.audio_decode.PEAKS_PER_SECOND`` per
    second, 0..1, float32); run it off the GUI thread (it decodes the file)."""
    from sora_desktop.engine.audio_decode import scan_audio

    path = core_project.resolve_media(project, item.file)
    check_regular_file(path, "audio")
    return scan_audio(path).peaks


def film_seconds(project: Project) -> float:
    """How long the film is with the project's export settings (``FieldError`` when no shot
    has a clip yet)."""
    from sora_desktop.studio.film import film_plan

    plan = film_plan(project, None, project.export_settings)
    if plan is None or plan.frames <= 0:
        raise FieldError("music", "there is no film to lay music under yet; generate a shot first")
    return plan.seconds


def music_fades(duration: float) -> tuple[float, float]:
    """The fade in and out ``--music`` gives a clip of ``duration`` seconds."""
    fade = min(MUSIC_FADE_SECONDS, duration / 4)
    return fade, fade


def lay_music(project: Project, path: str | os.PathLike, seconds: float | None = None) -> AudioItem:
    """``--music FILE``: import the file and lay it under the whole film from its start, cut to
    the film's length (``seconds``, else the project's film) and faded in and out
    (``music_fades``). Added to the project; returns the item."""
    length = film_seconds(project) if seconds is None else float(seconds)
    item = import_audio(project, path)
    duration = min(item.source_seconds, length)
    fade_in, fade_out = music_fades(duration)
    item = item.with_changes(duration=duration, fade_in=fade_in, fade_out=fade_out)
    project.add_audio(item)
    return item


def shot_sound(project: Project, shot: Shot) -> Path | None:
    """The shot's own sound for the film: its picked take's ``_audio.wav`` (LTX-2 makes one),
    or None (no sound, muted, or a file that is not a regular file inside the project)."""
    from sora_desktop.studio.takes import take_clip

    if shot.mute:
        return None
    take = shot.selected
    clip = take_clip(project, take)
    if clip is None or take is None or not take.clip:
        return None
    rel = str(audio_path(take.clip).as_posix())
    try:
        path = core_project.resolve_media(project, rel)
        check_regular_file(path, "audio")
    except (core_project.ProjectError, UnsafePathError):
        return None
    return path
