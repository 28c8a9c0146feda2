"""The take rules: which take is a shot's clip, whether it still matches its shot, and where a
finished clip belongs in the project (also after a Save As moved the project meanwhile)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from sora_desktop.core import project as core_project
from sora_desktop.core.atomic import atomic_write_with
from sora_desktop.core.project import Project, Shot, Take
from sora_desktop.studio.audio import audio_path
from sora_desktop.studio.media import last_frame_path, thumbnail_path

log = logging.getLogger(__name__)

# What makes a clip: the fields compared to tell whether a finished take still matches its
# shot. Not the seed (variations and a picked variation differ from the shot's seed on purpose;
# the card shows the picked take's seed), not start_image (continuity fills it in per take),
# not original_prompt (a note, not a setting).
CLIP_FIELDS = (
    "prompt",
    "negative_prompt",
    "steps",
    "guidance",
    "num_frames",
    "fps",
    "width",
    "height",
    "model_id",
    "timed_prompts",  # a long shot's prompts over time
)


def has_done_selection(shot: Shot | None) -> bool:
    """The shot's picked take is a finished clip."""
    return shot is not None and shot.selected is not None and shot.selected.status == "done"


def changed_settings(shot: Shot | None) -> list[str]:
    """The settings of the shot that differ from its picked finished take (empty: current)."""
    if shot is None or not has_done_selection(shot):
        return []
    made, now = shot.selected.request, shot.request  # type: ignore[union-attr]
    return [f for f in CLIP_FIELDS if getattr(made, f) != getattr(now, f)]


def is_out_of_date(shot: Shot | None) -> bool:
    """A finished clip whose shot's settings changed after it was made."""
    return bool(changed_settings(shot))


def is_current(shot: Shot | None) -> bool:
    """Done with its current settings: Generate all leaves it alone."""
    return has_done_selection(shot) and not is_out_of_date(shot)


def take_clip(project: Project, take: Take | None) -> Path | None:
    """The finished take's clip file, or ``None`` (not done, no file, or a path that leads out
    of the project: that was noted when the project was opened)."""
    if take is None or not take.clip or take.status != "done":
        return None
    try:
        path = Path(core_project.resolve_media(project, take.clip))
    except core_project.ProjectError:
        return None
    return path if path.is_file() else None


def adopt_clip(project: Project, shot_id: str, take_id: str, path: Path) -> str | None:
    """The clip's path relative to the project. If the project moved while the job ran
    (Save As, also under a new name in the same folder), the clip and its side files are
    copied into the new media folder first (thumbnail, last frame, sound); ``None`` if that
    copy failed."""
    try:
        rel = core_project.relative_media(project, path)
        if rel.split("/")[0] == core_project.media_dir(project).name:
            return rel
    except ValueError:
        pass
    rel = core_project.clip_relpath(project, shot_id, take_id, path.suffix or ".mp4")
    target = core_project.resolve_media(project, rel)
    try:
        for src, dst in (
            (path, target),
            (thumbnail_path(path), thumbnail_path(target)),
            (last_frame_path(path), last_frame_path(target)),
            (audio_path(path), audio_path(target)),
        ):
            if src.is_file():
                atomic_write_with(dst, lambda tmp, s=src: shutil.copyfile(s, tmp))
    except OSError as exc:
        log.warning("could not copy %s into the project's new media folder: %s", path, exc)
        return None
    return rel
