"""One writer per project file: the app locks a project while it is open in a window.

Without it two windows (or two running copies of Sora Desktop) saving one project silently
overwrite each other, and a shot ends up in neither the file nor its ``.bak``. So:

- Opening a project in a window takes an operating-system lock (``filelock``: ``flock`` on
  POSIX, ``LockFileEx`` on Windows). The second opener gets the project *read-only* with a plain
  explanation; saving over it is refused, Save As (another name) works.
- The lock files live in the app's data folder (``data/locks/``), keyed by the project's real
  path (a symbolic link and its target share one lock), so nothing is added to the user's
  folder.
- The OS drops the lock when the holding process ends, however it ends (crash, kill, power
  cut on the next boot): a stale lock never blocks. Taking it never waits.
- ``save_project`` (core/project/storage.py) also refuses to write over a file another window
  holds, and moves a window's lock to the new file after Save As.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from sora_desktop.core.settings import default_paths

log = logging.getLogger(__name__)

READ_ONLY_HINT = "Use Save As to keep your changes under another name."


def lock_file_for(path: str | os.PathLike) -> Path:
    """The lock file of a project path (its real path: links to one file share one lock)."""
    real = os.path.normcase(os.path.realpath(os.path.abspath(path)))
    key = hashlib.sha256(os.fsencode(real)).hexdigest()[:32]
    return default_paths().data / "locks" / f"{key}.lock"


class ProjectLock:
    """The lock of one project file. ``acquire`` never waits; ``release`` is safe to repeat."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.lock_file = lock_file_for(path)
        self.info_file = self.lock_file.with_suffix(".json")
        # thread_local=False: a window may release from another thread than it acquired on
        self._lock = FileLock(self.lock_file, timeout=0, thread_local=False)

    def covers(self, path: str | os.PathLike) -> bool:
        return self.held and lock_file_for(path) == self.lock_file

    @property
    def held(self) -> bool:
        return self._lock.is_locked

    def acquire(self) -> bool:
        """Take the lock now; ``False`` if another window or program holds it."""
        if self.held:
            return True
        try:
            self.lock_file.parent.mkdir(parents=True, exist_ok=True)
            self._lock.acquire(timeout=0)
        except Timeout:
            return False
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%H:%M", time.localtime()),
            "path": str(self.path),
        }
        try:
            self.info_file.write_text(json.dumps(info), encoding="utf-8")
        except OSError:
            pass  # only used to name the holder in a message
        return True

    def release(self) -> None:
        if self.held:
            try:
                self.info_file.unlink(missing_ok=True)
            except OSError:
                pass
            self._lock.release(force=True)

    def holder(self) -> str:
        """Who holds the lock, in words, for the message the second opener sees."""
        try:
            info: Any = json.loads(self.info_file.read_text(encoding="utf-8"))
            if isinstance(info, dict) and info.get("pid") == os.getpid():
                return "another window of this Sora Desktop"
            if isinstance(info, dict) and isinstance(info.get("pid"), int):
                return (
                    f"another Sora Desktop (process {info['pid']}, opened at {info.get('since')})"
                )
        except (OSError, ValueError):
            pass
        return "another Sora Desktop window or program"

    def locked_message(self) -> str:
        return f"{self.path.name} is already open in {self.holder()}."


def hold(project: Any) -> str | None:
    """For the project a window shows: lock its file. Returns ``None`` when the window may save
    it, else the plain reason it is read-only (also kept in ``project.read_only``).

    A project that cannot be locked for another reason (the data folder is not writable) stays
    writable: the lock is a guard, not a reason to refuse the user's own file.
    """
    project.hold_lock = True
    project.read_only = None
    if project.path is None:
        return None
    try:
        lock = project.lock if project.lock is not None else ProjectLock(project.path)
        ok = lock.acquire()
    except (OSError, ValueError) as exc:
        log.warning("cannot lock %s: %s", project.path, exc)
        return None
    if ok:
        project.lock = lock
        return None
    project.lock = None
    project.read_only = f"{lock.locked_message()} It was opened read-only. {READ_ONLY_HINT}"
    return project.read_only


def let_go(project: Any) -> None:
    """The window closes the project: release its lock."""
    lock = getattr(project, "lock", None)
    if lock is not None:
        lock.release()
        project.lock = None


class ProjectLocked(Exception):
    """Saving would write over a project file another window or program has open."""


def claim_for_save(project: Any, target: str | os.PathLike) -> ProjectLock | None:
    """Before ``save_project`` writes ``target``: ``None`` when the project's own lock already
    covers it, else a new lock taken on ``target`` (see ``after_save``). ``ProjectLocked`` when
    another window holds it. A lock that cannot be taken at all (unwritable data folder) does
    not stop the save."""
    own = getattr(project, "lock", None)
    if own is not None and own.covers(target):
        return None
    try:
        lock = ProjectLock(target)
        if not getattr(project, "hold_lock", False) and not lock.lock_file.exists():
            return None  # nobody holds it (a holder made the file), and this caller keeps none
        ok = lock.acquire()
    except (OSError, ValueError) as exc:
        log.warning("cannot lock %s: %s", target, exc)
        return None
    if not ok:
        raise ProjectLocked(
            f"{lock.locked_message()} Saving over it would overwrite the changes made there: "
            "choose another name, or close it there first."
        )
    return lock


def after_save(project: Any, lock: ProjectLock | None, saved: bool) -> None:
    """A window's project keeps the lock of the file it was saved to (Save As moves it; a
    read-only project saved under a new name becomes writable); anyone else lets it go."""
    if lock is None:
        return
    if not saved or not getattr(project, "hold_lock", False):
        lock.release()
        return
    let_go(project)
    project.lock = lock
    project.read_only = None


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    return lock_file_for(a) == lock_file_for(b)
