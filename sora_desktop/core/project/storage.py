"""Reading and writing ``.sdproj`` files: load, save, backups and the media folder.

Why the file works this way (the app must never lose a user's work):
- Saving is atomic (temp file + fsync + rename, ``core/atomic.py``) and the previous good version
  is kept as ``<file>.sdproj.bak``: a crash mid-save leaves the old file, a bad save leaves a
  backup.
- Loading never writes. Anything wrong (not JSON, cut off, not a project, made by a newer
  version, hostile content) raises ``ProjectError`` with a message a non-programmer can act on,
  and the file stays byte-identical. A newer file is never overwritten by an older app.
- Clip paths are stored *relative* to the project folder, so a project folder can be moved or
  copied as a whole. Paths that are absolute or climb out of the folder (``../``) are refused, so
  opening a file from someone else cannot make the app read or write elsewhere.
"""

from __future__ import annotations

import errno
import glob
import json
import os
import re
import shutil
import stat
import time
from pathlib import Path
from typing import Any

from sora_desktop.core import leftovers, project_lock
from sora_desktop.core.atomic import (
    TEMP_NAME_RE,
    atomic_write_text,
    atomic_write_with,
    check_regular_target,
    write_target,
)
from sora_desktop.core.project.format import (
    BACKUP_SUFFIX,
    MAX_PROJECT_BYTES,
    PROJECT_SUFFIX,
    SAVE_COUNT_KEY,
    _check_id,
)
from sora_desktop.core.project.model import (
    PROJECT_FORMAT,
    PROJECT_VERSION,
    Project,
    ProjectError,
    _check_relpath,
    _check_text,
    now_iso,
)
from sora_desktop.core.project_media import copy_media
from sora_desktop.core.safe_paths import (
    UnsafePathError,
    check_path_text,
    open_regular_file,
    safe_resolve,
)
from sora_desktop.core.settings import default_paths

STALE_TEMP_S = 60.0  # a save's temp file older than this is left over from a crash
INTERRUPTED_MESSAGE = (
    "Interrupted: Sora Desktop closed before this take finished. Generate again to retry."
)


def new_project(name: str = "Untitled") -> Project:
    return Project(name=_check_text("name", name, 500) or "Untitled")


def project_folder(project: Project) -> Path:
    """The folder clip paths are relative to. A never-saved project keeps its media in the
    app's data folder (``unsaved/<project id>``) until the first save copies it out."""
    if project.path is not None:
        return Path(project.path).parent
    return default_paths().data / "unsaved" / project.id


def media_dir(project: Project) -> Path:
    """``<folder>/<stem>_media/``: beside the project file, named after it."""
    stem = Path(project.path).stem if project.path is not None else "untitled"
    return project_folder(project) / f"{stem}_media"


def clip_relpath(project: Project, shot_id: str, take_id: str, suffix: str = ".mp4") -> str:
    """Where a new take's clip goes, relative to the project folder (``/``-separated)."""
    _check_id(shot_id, "shot")
    _check_id(take_id, "take")
    if not re.match(r"^\.[A-Za-z0-9]{1,8}$", suffix):
        raise ValueError(f"suffix: {suffix!r} is not a file extension like '.mp4'")
    return f"{media_dir(project).name}/{shot_id}/{take_id}{suffix}"


AUDIO_FOLDER = "audio"  # imported sound files: <stem>_media/audio/<item id><suffix>


def audio_relpath(project: Project, item_id: str, suffix: str) -> str:
    """Where an imported sound file goes, relative to the project folder (``/``-separated)."""
    _check_id(item_id, "sound clip")
    if not re.match(r"^\.[A-Za-z0-9]{1,8}$", suffix):
        raise ValueError(f"suffix: {suffix!r} is not a file extension like '.wav'")
    return f"{media_dir(project).name}/{AUDIO_FOLDER}/{item_id}{suffix.lower()}"


def resolve_media(project: Project, relpath: str) -> Path:
    """Absolute path of a clip; ``ProjectError`` for absolute paths or paths leaving the folder
    (also through symbolic links)."""
    _check_relpath(relpath, "media path")
    folder = project_folder(project)
    candidate = folder / Path(*re.split(r"[\\/]+", relpath))
    try:  # a link loop: a plain message, not Python 3.11's raw RuntimeError
        root = safe_resolve(folder, "project folder")
        resolved = safe_resolve(candidate, "media path")
    except UnsafePathError as exc:
        raise ProjectError(str(exc)) from exc
    if resolved != root and not resolved.is_relative_to(root):
        raise ProjectError(f"media path: {relpath!r} points outside the project folder")
    return candidate


def relative_media(project: Project, path: str | os.PathLike) -> str:
    """The ``/``-separated path of a file inside the project folder, for ``Take.clip``.

    ``ProjectError`` if the file is not inside the project folder: storing an outside path would
    break when the folder is moved, so the caller must copy the file in first.
    """
    folder = project_folder(project)
    p = Path(path)
    candidate = p if p.is_absolute() else folder / p
    for base, target in ((folder.absolute(), candidate.absolute()), (None, None)):
        if base is None:
            try:  # a link loop: a plain message, not a raw RuntimeError
                base, target = safe_resolve(folder), safe_resolve(candidate, "media path")
            except UnsafePathError as exc:
                raise ProjectError(str(exc)) from exc
        try:
            rel = target.relative_to(base)
        except ValueError:
            continue
        if rel.parts and ".." not in rel.parts:
            return _check_relpath(rel.as_posix(), "media path")
    raise ProjectError(f"media path: {str(path)!r} is not inside the project folder {folder}")


def mark_interrupted_takes(project: Project) -> int:
    """Takes saved while queued or generating cannot still be running after a reopen: mark them
    failed with a plain reason (``decode_failed`` when their latents were saved: the app closed
    during the decode, so "Retry in low memory" can still make the clip). Returns how many
    changed."""
    count = 0
    for shot in project.shots:
        for take in shot.takes:
            if take.status in ("queued", "generating"):
                take.status = "decode_failed" if take.latents else "failed"
                take.error = INTERRUPTED_MESSAGE
                count += 1
    if count:
        project.warnings.append(interrupted_note(count))
    return count


_INTERRUPTED_NOTE = (
    " take(s) were still being generated when the project was saved; they are marked as "
    "interrupted."
)


def interrupted_note(count: int) -> str:
    """The note an opened project with interrupted takes carries (``mark_interrupted_takes``)."""
    return f"{count}{_INTERRUPTED_NOTE}"


def is_interrupted_note(text: str) -> bool:
    """Whether ``text`` is that note: the window leaves it out when it offers the saved queue
    instead (ui/main_resume.py)."""
    head, _, tail = text.partition(" ")
    return head.isdigit() and f" {tail}" == _INTERRUPTED_NOTE


def _backup_hint(path: Path) -> str:
    bak = path.with_name(path.name + BACKUP_SUFFIX)
    if bak.is_file():
        return f" A backup of the previous save exists: {bak.name} (open it instead)."
    return ""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a project file")


def read_project_file(path: str | os.PathLike) -> Project:
    """Parse a project file without touching ``project.path`` bookkeeping (used by autosave)."""
    try:  # a NUL or unpaired surrogate (a damaged recent-files list): a message, not ValueError
        p = check_path_text(path, "project")
    except UnsafePathError as exc:
        raise ProjectError(f"This project cannot be opened: {exc.message}.") from exc
    name = p.name
    try:
        # O_NONBLOCK + fstat: a FIFO or device is refused without blocking on it
        with open_regular_file(p, name) as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_PROJECT_BYTES:
                raise ProjectError(
                    f"{name} is {size / 1e6:.0f} MB; Sora Desktop opens project files of at "
                    f"most {MAX_PROJECT_BYTES // (1024 * 1024)} MB. It is probably not a project."
                )
            raw = fh.read(MAX_PROJECT_BYTES + 1)
    except UnsafePathError as exc:
        what = exc.message
        raise ProjectError(f"{what}; only project files can be opened.") from exc
    except FileNotFoundError as exc:
        raise ProjectError(f"{name} was not found ({p}).") from exc
    except PermissionError as exc:
        raise ProjectError(f"{name} cannot be opened: permission denied.") from exc
    except OSError as exc:
        raise ProjectError(f"{name} cannot be read: {exc.strerror or exc}.") from exc
    if len(raw) > MAX_PROJECT_BYTES:
        raise ProjectError(f"{name} is larger than {MAX_PROJECT_BYTES // (1024 * 1024)} MB.")
    if not raw.strip():
        raise ProjectError(
            f"{name} is empty; it was probably cut off while being written.{_backup_hint(p)}"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProjectError(
            f"{name} is not a Sora Desktop project (it is not a text file)."
        ) from exc
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) - 1 and text.lstrip().startswith("{"):
            what = "it ends too early, probably cut off while being written"
        else:
            what = f"it is not valid JSON (line {exc.lineno}, column {exc.colno})"
        raise ProjectError(f"{name} cannot be opened: {what}.{_backup_hint(p)}") from exc
    except RecursionError as exc:
        raise ProjectError(f"{name} cannot be opened: its data is nested too deeply.") from exc
    except ValueError as exc:
        raise ProjectError(f"{name} cannot be opened: {exc}.") from exc
    try:
        return Project.from_dict(data)
    except ProjectError as exc:
        hint = _backup_hint(p) if "damaged" in str(exc) else ""
        raise ProjectError(f"{name}: {exc}{hint}") from exc


def load_project(path: str | os.PathLike) -> Project:
    """Open a project. Never writes to the file; ``ProjectError`` for anything wrong."""
    p = Path(path)
    project = read_project_file(p)
    project.path = p.absolute()
    mark_interrupted_takes(project)
    _note_unusable_media(project)
    project.dirty = False
    return project


def _note_unusable_media(project: Project) -> None:
    """A clip path that is a link loop (or leads outside the folder) is not playable: say so
    once, in plain words, when the project opens (the player then shows no clip for it)."""
    problems: list[str] = []
    for number, shot in enumerate(project.shots, 1):
        for take in shot.takes:
            if not take.clip:
                continue
            try:
                resolve_media(project, take.clip)
            except ProjectError as exc:
                problems.append(f"shot {number}: {exc}")
    for number, item in enumerate(project.audio, 1):
        try:
            resolve_media(project, item.file)
        except ProjectError as exc:
            problems.append(f"sound clip {number}: {exc}")
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        project.warnings.append(
            "Some clips cannot be used: " + "; ".join(problems[:3]) + more + "."
        )


def _is_good_project(path: Path) -> bool:
    try:
        read_project_file(path)
    except ProjectError:
        return False
    return True


def _newer_version_on_disk(path: Path) -> int | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(MAX_PROJECT_BYTES + 1)
        data = json.loads(head.decode("utf-8-sig"))
    except (OSError, ValueError, RecursionError):
        return None
    if isinstance(data, dict) and data.get("format") == PROJECT_FORMAT:
        version = data.get("version")
        if isinstance(version, int) and version > PROJECT_VERSION:
            return version
    return None


def save_project(project: Project, path: str | os.PathLike | None = None) -> Path:
    """Save atomically and return the path written (``.sdproj`` is added when missing).

    The previous good version of the file is kept as ``<file>.bak``. Saving to another folder
    or under another name ("Save As") gives the saved project its own media folder (clips
    hard-linked where the file system allows, else copied), so it is complete on its own and
    deleting the old project cannot empty it; the old files are left alone. A project file that
    is a link is written through (core/atomic.py) and keeps its permissions, as does its
    ``.bak``. A file another window holds (core/project_lock.py) is never written over. On any
    failure the file on disk and ``project`` are unchanged. Temp files of killed writes are
    swept first (core/leftovers.py); on a full disk our own leftovers are reclaimed and the
    save is tried once more.
    """
    if path is None and project.path is None:
        raise ProjectError("Choose where to save this project first (Save As).")
    target = Path(path if path is not None else project.path).expanduser().absolute()
    if target.suffix.lower() != PROJECT_SUFFIX:
        target = target.with_name(target.name + PROJECT_SUFFIX)
    if target.is_dir():
        raise ProjectError(f"Cannot save to {target}: it is a folder.")
    try:  # before anything reads it: a FIFO would hang, a device must never be replaced
        check_regular_target(write_target(target))
    except OSError as exc:
        raise ProjectError(f"Cannot save to {target}: {_save_problem(exc)}.") from exc
    if (
        project.read_only
        and project.path is not None
        and project_lock.same_file(target, project.path)
    ):
        raise ProjectError(f"Not saved: {project.read_only}")
    newer = _newer_version_on_disk(target) if target.exists() else None
    if newer is not None:
        raise ProjectError(
            f"{target.name} was made by a newer Sora Desktop (version {newer}); saving over it "
            "would lose data. Use Save As to choose another name."
        )
    try:
        new_lock = project_lock.claim_for_save(project, target)
    except project_lock.ProjectLocked as exc:
        raise ProjectError(f"Not saved: {exc}") from exc

    old_folder = project_folder(project)
    old_media = media_dir(project).name
    new_folder = target.parent
    new_media = f"{target.stem}_media"
    old_clips = [(t, t.clip, t.latents) for shot in project.shots for t in shot.takes]
    old_audio = list(project.audio)
    old_modified = project.modified_at
    moving = old_folder.absolute() != new_folder or old_media != new_media
    folders, trees = _save_places(target, new_media)
    # before writing, not only after a success: a full disk must not keep its leftovers
    leftovers.sweep_before_save(folders, trees)
    intent = leftovers.record_intent(folders, trees) if moving else None
    saved = False
    try:
        for attempt in (1, 2):
            try:
                count = _write_project_files(project, target, moving, old_folder, old_media)
                break
            except OSError as exc:
                for take, clip, latents in old_clips:
                    take.clip, take.latents = clip, latents
                if attempt == 2 or not leftovers.is_no_space(exc):
                    raise
                # a full disk: reclaim our own leftovers (also pre-PID ones), then once more
                _reclaim_space(target, folders, trees)
        saved = True
    except BaseException as exc:
        for take, clip, latents in old_clips:
            take.clip, take.latents = clip, latents
        project.audio[:] = old_audio
        project.modified_at = old_modified
        if isinstance(exc, OSError):
            raise ProjectError(
                f"Could not save {target.name}: {_save_problem(exc)}. "
                "The previous file on disk is unchanged."
            ) from exc
        raise
    finally:
        project_lock.after_save(project, new_lock, saved)
        leftovers.forget_intent(intent)
    project.path = target
    project.save_count = count
    project.dirty = False
    _remove_stale_temp_files(target)
    return target


def _write_project_files(
    project: Project, target: Path, moving: bool, old_folder: Path, old_media: str
) -> int:
    """Media (Save As), the ``.bak`` and the file itself; returns the save counter written."""
    if moving:
        copy_media(project, old_folder, old_media, target.parent, f"{target.stem}_media")
    project.modified_at = now_iso()
    on_disk = 0
    data = project.to_dict()
    if target.exists():
        try:
            previous = read_project_file(target)
        except ProjectError:
            previous = None
        if previous is not None:
            on_disk = previous.save_count
            bak = target.with_name(target.name + BACKUP_SUFFIX)
            # the backup is as private as the project (a 0600 file gets a 0600 .bak)
            bak_mode = stat.S_IMODE(os.stat(target).st_mode)
            atomic_write_with(bak, lambda tmp: shutil.copyfile(target, tmp), mode=bak_mode)
    # the save counter decides whether a recovery copy is older than the file (core/autosave.py)
    count = max(project.save_count, on_disk) + 1
    data[SAVE_COUNT_KEY] = count
    atomic_write_text(target, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return count


def _save_places(target: Path, new_media: str) -> tuple[list[Path], list[Path]]:
    """Folders a save of ``target`` writes temp files into: flat (the project's folder, also
    the real file's for a link) and recursive (the media folder)."""
    folders = [target.parent]
    try:  # a linked project's temp files sit beside the real file (core/atomic.py)
        folders.append(write_target(target).parent)
    except OSError:
        pass
    return folders, [target.parent / new_media]


def _reclaim_space(target: Path, folders: list[Path], trees: list[Path]) -> None:
    """On a full disk: everything ``sweep_before_save`` removes, plus temp files from before
    writers were named (no PID to check) of this project, older than ``STALE_TEMP_S``."""
    leftovers.sweep_before_save(folders, trees)
    _remove_stale_temp_files(target)


def _remove_stale_temp_files(target: Path) -> None:
    """Temp files of this project from before writers were named (``.<file>.<random>.part``,
    no PID to check): removed after a save once older than ``STALE_TEMP_S``; young ones may
    belong to a save in progress in an older version's window. Named ones are swept by their
    writer's PID (core/leftovers.py)."""
    now = time.time()
    try:  # a linked project's temp files sit beside the real file (core/atomic.py)
        real = write_target(target)
    except OSError:
        real = target
    places = []
    for folder, base in {(target.parent, target.name), (real.parent, real.name)}:
        places += [(folder, base), (folder, base + BACKUP_SUFFIX)]
    for folder, name in places:
        for tmp in folder.glob(f".{glob.escape(name)}.*.part"):
            if TEMP_NAME_RE.match(tmp.name):
                continue
            try:
                if now - tmp.stat().st_mtime > STALE_TEMP_S:
                    tmp.unlink()
            except OSError:
                pass


def _save_problem(exc: OSError) -> str:
    """Why a save failed, and what to do, in plain words (no error numbers)."""
    if leftovers.is_no_space(exc):
        return "the disk is full; free some space, or use Save As to choose another disk"
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "Sora Desktop may not write there; use Save As to choose a folder you own"
    return (exc.strerror or "the file could not be written").rstrip(".")
