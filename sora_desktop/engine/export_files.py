"""Where exports may write, and cleaning up after exports that are stopped.

Kept out of export.py (encoding) so the rules about the user's files sit in one place:
- PNG frames never land among files the export did not make (``frames_folder_for``);
- an export never replaces or writes into a device, FIFO or socket (``refuse_special_file``);
- a process told to stop (SIGTERM) ends every ffmpeg an export started and deletes every temp
  file or staging folder (``abort_running_exports``; the command line calls it).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import stat
import subprocess
import threading
from pathlib import Path
from typing import Any

__all__ = [
    "ExportError",
    "abort_running_exports",
    "frames_folder_for",
    "refuse_special_file",
]


class ExportError(RuntimeError):
    """An export could not be written; the message says what failed and what to do."""


_log = logging.getLogger(__name__)
_EDQUOT = getattr(errno, "EDQUOT", errno.ENOSPC)


def disk_problem(exc: OSError) -> tuple[str, str]:
    """An operating-system error as (cause, next step) in the user's words, no error number:
    ("the disk is full", "free some disk space, or choose a folder on another disk")."""
    code = exc.errno
    if code in (errno.ENOSPC, _EDQUOT):
        return "the disk is full", "free some disk space, or choose a folder on another disk"
    if code in (errno.EACCES, errno.EPERM, errno.EROFS) or isinstance(exc, PermissionError):
        return (
            "Sora Desktop is not allowed to write there",
            "choose a folder you own, such as your Videos folder",
        )
    if code == errno.EFBIG:
        return (
            "the file grew past the largest size allowed on this disk",
            "choose a folder on another disk, or a smaller Size",
        )
    if code == errno.ENAMETOOLONG:
        return "the file name is too long", "choose a shorter name"
    if code == errno.ENOENT or isinstance(exc, FileNotFoundError):
        return (
            "the folder is not there any more (was a disk removed?)",
            "check that the disk is connected, or choose another folder",
        )
    return (
        "the disk could not be written to",
        "check that the disk is connected and has free space, or choose another folder",
    )


def export_failed(name: str, exc: OSError) -> ExportError:
    """The ``ExportError`` for an operating-system error while writing ``name``: what happened
    and what to do, on two lines; the error itself goes to the log."""
    _log.warning("export to %s failed: %s", name, exc)
    cause, step = disk_problem(exc)
    return ExportError(f"export to {name} failed: {cause}.\nTry: {step}, then export again.")


def refuse_special_file(path: str | os.PathLike) -> None:
    """``ExportError`` when ``path`` names a device, FIFO or socket: an export must never replace
    one (as root it used to replace /dev/null) nor block writing into one."""
    p = Path(path)
    try:
        mode = os.stat(p).st_mode  # through links: a link to /dev/null is refused too
    except (OSError, ValueError):
        return
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise ExportError(
            f"cannot export to {p}: it is a device, pipe or socket, not a file; "
            "choose a file name such as clip.mp4"
        )


def frames_folder_for(path: str | os.PathLike, stem: str = "sora") -> Path:
    """The folder PNG frames go to. It is always new or empty: frames never land among files
    the export did not make (they are the user's), and nothing there is replaced or deleted.

    - an existing empty folder is filled;
    - an existing folder that holds anything (``-o .``) gets a new subfolder
      ``<stem>_frames`` (``-2``, ``-3``... when taken): the user asked for the frames *there*;
    - ``clip.png`` means a ``clip_frames`` folder beside it, a name without suffix that
      folder itself; when that name is taken, ``clip_frames-2``... is used.
    This is the engine's rule, so the command line and the app's export behave the same.
    """
    p = Path(path)
    if p.is_dir():
        return p if _is_empty_dir(p) else _free_name(p / f"{stem}_frames")
    folder = p.with_name(f"{p.stem}_frames") if p.suffix else p
    if folder.is_dir() and _is_empty_dir(folder):
        return folder
    return _free_name(folder)


def _is_empty_dir(folder: Path) -> bool:
    try:
        with os.scandir(folder) as entries:
            return next(entries, None) is None
    except OSError:
        return False


def _free_name(folder: Path) -> Path:
    candidate, n = folder, 2
    while os.path.lexists(candidate):
        candidate = folder.with_name(f"{folder.name}-{n}")
        n += 1
    return candidate


# What running exports have on disk or running: ffmpeg children and temp files / folders.
# ``abort_running_exports`` ends and removes them all; the command line calls it on SIGTERM
# (an export in another thread cannot unwind from a signal handler).
_RUNNING_LOCK = threading.RLock()  # re-entered by a signal handler on the same thread
_RUNNING: dict[int, Any] = {}


def _track(item: Any) -> None:
    with _RUNNING_LOCK:
        _RUNNING[id(item)] = item


def _untrack(item: Any) -> None:
    with _RUNNING_LOCK:
        _RUNNING.pop(id(item), None)


def abort_running_exports() -> int:
    """Kill every ffmpeg an export started and delete every temp file or staging folder;
    returns how many things were cleaned. Safe from a signal handler and from any thread."""
    with _RUNNING_LOCK:
        items = list(_RUNNING.values())
    count = 0
    for item in items:
        if isinstance(item, subprocess.Popen):
            if item.poll() is None:
                item.kill()
                try:
                    item.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
                count += 1
    for item in items:
        if isinstance(item, Path):
            if item.is_dir():
                shutil.rmtree(item, ignore_errors=True)
            else:
                item.unlink(missing_ok=True)
            count += 1
    return count
