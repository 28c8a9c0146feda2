"""Autosave and crash recovery.

Why it works this way:
- Autosave never touches the user's own project file: a half-finished edit must not replace the
  version they chose to save. Recovery copies live in their own folder (``<data>/recovery``),
  named ``<session>-<project id>.sdproj``, each with a small manifest ``.json`` (original path,
  time, project name) so the "Recover your work?" dialog can describe it without opening it.
- Each running app holds a *session marker* ``session-<id>.lock``, locked with an OS file lock
  (``filelock``) for as long as the app runs. A clean ``close()`` deletes the session's
  recovery copies and then the marker. On the next start, copies whose session's lock is free
  (the process is gone: it crashed, was killed, or the machine lost power) are offered by
  ``pending()``. The lock, not the PID, decides, because PIDs are reused after a reboot; the PID
  (written into the marker, checked with ``psutil``) is the fallback where the file system
  cannot lock. Copies of another *running* instance are never offered, so two open windows do
  not steal each other's work.
- ``restore`` adopts the copy into the current session before deleting the old one, so the work
  exists in at least one recovery file at every moment. The adopted copy names the copy it
  replaces (``recovery_supersedes``, in the copy and its manifest), so a kill between the two
  steps is finished by the next ``pending()``: the replaced copy is deleted, never offered
  twice. ``discard`` deletes the manifest before the copy (a kill in between leaves a copy that
  is still offered, never an orphan manifest); orphan manifests of gone sessions, e.g. from an
  older version, are removed by ``pending()`` at start-up. Both are idempotent.
- Whether the user's file was saved after a copy is decided by the file's save counter
  (``save_count``, core/project/format.py): the copy records the count of the file it started
  from (``base_save_count``); a larger count in the file means a later save. Clocks (same
  second, a clock set back, another machine) never decide.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil
from filelock import FileLock, Timeout

from sora_desktop.core.atomic import atomic_write_text
from sora_desktop.core.project import (
    PROJECT_SUFFIX,
    Project,
    ProjectError,
    mark_interrupted_takes,
    now_iso,
    read_project_file,
)
from sora_desktop.core.project.format import MAX_PROJECT_BYTES, SAVE_COUNT_KEY
from sora_desktop.core.settings import default_paths

# The app writes a recovery copy this long after the last edit (debounced), besides the
# periodic autosave, so a crash loses at most a few seconds of work.
RECOVERY_DELAY_S = 2.0
RECOVERY_FORMAT = "sora-desktop-recovery"
RECOVERY_VERSION = 1
MARKER_PREFIX = "session-"
MARKER_SUFFIX = ".lock"
MANIFEST_SUFFIX = ".json"
MAX_MANIFEST_BYTES = 64 * 1024
COPY_ORIGINAL_KEY = "recovery_original_path"  # in the copy itself; project loading ignores it
SUPERSEDES_KEY = "recovery_supersedes"  # copies (their stems) a restored copy replaces
BASE_COUNT_KEY = "base_save_count"  # in the manifest: the file's save counter the copy began at
MAX_SUPERSEDES = 64
_NAME_RE = re.compile(r"^([0-9a-f]{32})-([A-Za-z0-9_-]{1,64})$")
_TEMP_SUFFIX = ".part"
_TEMP_RE = re.compile(r"^\.([0-9a-f]{32})-[A-Za-z0-9_-]{1,64}\.(sdproj|json)\..*\.part$")


@dataclass(frozen=True)
class RecoveryInfo:
    """One recovery copy left behind by a session that did not close cleanly."""

    path: Path  # the recovery copy (a .sdproj)
    manifest: Path
    original_path: Path | None  # the user's project file; None if it was never saved
    project_name: str
    project_id: str
    saved_at: str  # ISO-8601 UTC
    pid: int | None
    session: str
    base_save_count: int | None = None  # None: a copy from before save counters
    supersedes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def stem(self) -> str:
        return f"{self.session}-{self.project_id}"

    @property
    def original_is_newer(self) -> bool:
        """True when the user's own file was saved after this copy (the copy may be stale):
        its save counter is past the one the copy started from."""
        if self.original_path is None:
            return False
        if self.base_save_count is not None:
            count = _save_count_of(self.original_path)
            return count is not None and count > self.base_save_count
        try:  # a copy written before save counters: the old clock rule, its only clue
            mtime = self.original_path.stat().st_mtime
            saved = datetime.fromisoformat(self.saved_at).timestamp()
        except (OSError, ValueError):
            return False
        return mtime > saved + 1.0


class Autosaver:
    """Writes recovery copies for this session and finds copies from sessions that crashed."""

    def __init__(self, recovery_dir: str | os.PathLike | None = None) -> None:
        self.recovery_dir = (
            Path(recovery_dir) if recovery_dir is not None else default_recovery_dir()
        )
        self.recovery_dir.mkdir(parents=True, exist_ok=True)
        self.session = uuid.uuid4().hex
        self.pid = os.getpid()
        self.marker = self.recovery_dir / f"{MARKER_PREFIX}{self.session}{MARKER_SUFFIX}"
        self._closed = False
        # project id -> stems of older copies a restore adopted (recorded until they are gone)
        self._supersedes: dict[str, list[str]] = {}
        self._marker_lock = _open_and_lock(self.marker)
        if self._marker_lock is None:  # no OS lock here: the PID in the marker decides instead
            content = {"pid": self.pid, "session": self.session, "started_at": now_iso()}
            atomic_write_text(self.marker, json.dumps(content))

    # ------------------------------------------------------------------ this session
    def recovery_path(self, project: Project) -> Path:
        if not _NAME_RE.match(f"{self.session}-{project.id}"):
            raise ValueError(f"project id {project.id!r} cannot name a recovery file")
        return self.recovery_dir / f"{self.session}-{project.id}{PROJECT_SUFFIX}"

    def write(self, project: Project) -> Path:
        """Write (atomically) a recovery copy of ``project``; returns its path."""
        target = self._write_copy(project)
        self._write_manifest(project, target)
        return target

    def _write_copy(self, project: Project) -> Path:
        if self._closed:
            raise RuntimeError("this Autosaver is closed")
        target = self.recovery_path(project)
        if project.path is not None and _same_file(target, Path(project.path)):
            raise ValueError("autosave must not write over the project file itself")
        data = project.to_dict()
        # also inside the copy: a crash between copy and manifest must not lose where it belongs
        data[COPY_ORIGINAL_KEY] = str(project.path) if project.path is not None else None
        data[SAVE_COUNT_KEY] = project.save_count
        data[SUPERSEDES_KEY] = list(self._supersedes.get(project.id, []))
        atomic_write_text(target, json.dumps(data, ensure_ascii=False))
        return target

    def _write_manifest(self, project: Project, target: Path) -> None:
        manifest = {
            "format": RECOVERY_FORMAT,
            "version": RECOVERY_VERSION,
            "original_path": str(project.path) if project.path is not None else None,
            "project_name": project.name,
            "project_id": project.id,
            "saved_at": now_iso(),
            "pid": self.pid,
            "session": self.session,
            BASE_COUNT_KEY: project.save_count,
            SUPERSEDES_KEY: list(self._supersedes.get(project.id, [])),
        }
        atomic_write_text(target.with_suffix(MANIFEST_SUFFIX), json.dumps(manifest, indent=2))

    def clear(self, project: Project | None = None) -> None:
        """Delete this session's copy of ``project`` (after a save or when it is closed), or
        all of this session's copies when ``project`` is None."""
        for path in sorted(self._own_files(), key=lambda p: p.suffix != MANIFEST_SUFFIX):
            # manifests first: a kill in between leaves a copy, never an orphan manifest
            if project is None or path.stem == f"{self.session}-{project.id}":
                path.unlink(missing_ok=True)

    def close(self) -> None:
        """Clean exit: delete this session's copies, then its marker. Safe to call twice."""
        if self._closed:
            return
        self.clear()
        if self._marker_lock is not None:
            self._marker_lock.release()  # before the unlink: Windows cannot delete an open file
            self._marker_lock = None
        self.marker.unlink(missing_ok=True)
        self._closed = True

    def __enter__(self) -> Autosaver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _own_files(self) -> list[Path]:
        return [
            p
            for p in self.recovery_dir.glob(f"{self.session}-*")
            if p.suffix in (PROJECT_SUFFIX, MANIFEST_SUFFIX)
        ]

    # ------------------------------------------------------------------ other sessions
    def pending(self) -> list[RecoveryInfo]:
        """Recovery copies from sessions that ended without ``close()``, newest first."""
        found: list[RecoveryInfo] = []
        alive_cache: dict[str, bool] = {}
        superseded: set[str] = set()
        copies: set[str] = set()
        for copy_path in sorted(self.recovery_dir.glob(f"*{PROJECT_SUFFIX}")):
            m = _NAME_RE.match(copy_path.stem)
            if not m or not copy_path.is_file():
                continue
            copies.add(copy_path.stem)
            session = m.group(1)
            if session not in alive_cache:
                alive_cache[session] = session == self.session or self._session_alive(session)
            info = self._info(copy_path, session, m.group(2))
            superseded.update(info.supersedes)  # also a live session's: it adopted that copy
            if not alive_cache[session]:
                found.append(info)
        # a restore killed before it deleted the copy it adopted: finish it
        for info in [i for i in found if i.stem in superseded]:
            found.remove(info)
            self._delete_copy(info)
        self._remove_orphan_manifests(copies, alive_cache)
        self._remove_stale_temp_files(alive_cache)
        for marker in self.recovery_dir.glob(f"{MARKER_PREFIX}*{MARKER_SUFFIX}"):
            # a session killed before its first copy was complete has only its marker
            session = marker.name[len(MARKER_PREFIX) : -len(MARKER_SUFFIX)]
            if session != self.session and session not in alive_cache:
                alive_cache[session] = self._session_alive(session)
        self._remove_stale_markers(alive_cache)
        found.sort(key=lambda i: i.saved_at, reverse=True)
        return found

    def restore(self, info: RecoveryInfo) -> Project:
        """Load a recovery copy as the user's project (path = the original file, dirty).

        The copy is first re-written under this session, naming the old one as replaced, then
        the old one is deleted, then the new manifest written: a kill at any point leaves one
        copy to offer (``pending`` deletes a replaced one).
        """
        own = self.recovery_dir / f"{self.session}-{info.project_id}{PROJECT_SUFFIX}"
        if info.stem in self._supersedes.get(info.project_id, []) and not info.path.exists():
            project = read_project_file(own)  # restored already (idempotent): the adopted copy
            project.path = info.original_path
            project.dirty = True
            return project
        project = read_project_file(info.path)
        project.path = info.original_path
        mark_interrupted_takes(project)
        project.dirty = True
        replaced = self._supersedes.setdefault(project.id, [])
        if info.stem not in replaced:
            replaced.append(info.stem)
            del replaced[:-MAX_SUPERSEDES]
        target = self._write_copy(project)
        self.discard(info)
        self._write_manifest(project, target)
        return project

    def discard(self, info: RecoveryInfo) -> None:
        """Delete a recovery copy the user does not want (and its session marker if unused).
        Idempotent: a copy already gone is fine."""
        if info.session == self.session:
            raise ValueError("discard: this is the current session's own copy; use clear()")
        self._delete_copy(info)
        self._remove_stale_markers({info.session: False})

    def _delete_copy(self, info: RecoveryInfo) -> None:
        # the manifest first: a kill in between leaves a copy still offered (it reads without
        # its manifest), never a manifest without its copy
        info.manifest.unlink(missing_ok=True)
        info.path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ helpers
    def _marker_of(self, session: str) -> Path:
        return self.recovery_dir / f"{MARKER_PREFIX}{session}{MARKER_SUFFIX}"

    def _session_alive(self, session: str) -> bool:
        marker = self._marker_of(session)
        if not marker.exists():
            return False
        lockable = _probe_lock(marker)
        if lockable is not None:
            return not lockable
        pid = _read_json(marker).get("pid")
        return isinstance(pid, int) and _pid_alive(pid)

    def _remove_stale_temp_files(self, alive_cache: dict[str, bool]) -> None:
        """A session killed mid-write leaves its half-written temp file (``.<name>.*.part``,
        see core/atomic.py); delete those of sessions that are gone so they do not pile up."""
        for tmp in self.recovery_dir.glob(f".*{_TEMP_SUFFIX}"):
            m = _TEMP_RE.match(tmp.name)
            if not m or m.group(1) == self.session:
                continue
            session = m.group(1)
            if session not in alive_cache:
                alive_cache[session] = self._session_alive(session)
            if not alive_cache[session]:
                tmp.unlink(missing_ok=True)

    def _remove_orphan_manifests(self, copies: set[str], alive_cache: dict[str, bool]) -> None:
        """A manifest whose copy is gone (a discard killed in between, by an older version)
        describes nothing: delete those of sessions that are gone."""
        for manifest in self.recovery_dir.glob(f"*{MANIFEST_SUFFIX}"):
            m = _NAME_RE.match(manifest.stem)
            if not m or manifest.stem in copies or m.group(1) == self.session:
                continue
            session = m.group(1)
            if session not in alive_cache:
                alive_cache[session] = self._session_alive(session)
            if not alive_cache[session] and not manifest.with_suffix(PROJECT_SUFFIX).exists():
                manifest.unlink(missing_ok=True)

    def _remove_stale_markers(self, sessions: dict[str, bool]) -> None:
        for session, alive in sessions.items():
            if alive or session == self.session:
                continue
            if any(self.recovery_dir.glob(f"{session}-*{PROJECT_SUFFIX}")):
                continue
            marker = self._marker_of(session)
            if marker.exists() and _probe_lock(marker) is not False:
                marker.unlink(missing_ok=True)

    def _info(self, copy_path: Path, session: str, project_id: str) -> RecoveryInfo:
        manifest_path = copy_path.with_suffix(MANIFEST_SUFFIX)
        manifest = _read_json(manifest_path)
        if manifest.get("format") != RECOVERY_FORMAT:
            manifest = {}
        original = manifest.get("original_path")
        name = manifest.get("project_name")
        base = manifest.get(BASE_COUNT_KEY)
        supersedes = manifest.get(SUPERSEDES_KEY)
        if not manifest:
            # The manifest is written after the copy, so a crash in between leaves none.
            copy_data = _read_json(copy_path, limit=MAX_PROJECT_BYTES)
            name = copy_data.get("name")
            original = copy_data.get(COPY_ORIGINAL_KEY)
            base = copy_data.get(SAVE_COUNT_KEY) if COPY_ORIGINAL_KEY in copy_data else None
            supersedes = copy_data.get(SUPERSEDES_KEY)
        saved_at = manifest.get("saved_at")
        if not isinstance(saved_at, str):
            mtime = copy_path.stat().st_mtime
            saved_at = (
                datetime.fromtimestamp(mtime, timezone.utc).replace(microsecond=0).isoformat()
            )
        pid = manifest.get("pid")
        return RecoveryInfo(
            path=copy_path,
            manifest=manifest_path,
            original_path=Path(original) if isinstance(original, str) and original else None,
            project_name=name if isinstance(name, str) and name else "Recovered project",
            project_id=project_id,
            saved_at=saved_at,
            pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
            session=session,
            base_save_count=base if isinstance(base, int) and not isinstance(base, bool) else None,
            supersedes=tuple(
                s
                for s in (supersedes if isinstance(supersedes, list) else [])[:MAX_SUPERSEDES]
                if isinstance(s, str) and _NAME_RE.match(s)
            ),
        )


def default_recovery_dir() -> Path:
    return default_paths().recovery


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def _save_count_of(path: Path) -> int | None:
    """The save counter in a project file (0 when it has none); None if it cannot be read."""
    data = _read_json(path, limit=MAX_PROJECT_BYTES)
    if not data:
        return None
    count = data.get(SAVE_COUNT_KEY, 0)
    return count if isinstance(count, int) and not isinstance(count, bool) else 0


def _read_json(path: Path, limit: int | None = MAX_MANIFEST_BYTES) -> dict[str, Any]:
    try:
        if limit is not None and path.stat().st_size > limit:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


# ---------------------------------------------------------------------- OS locks
def _open_and_lock(path: Path) -> FileLock | None:
    """Hold an exclusive lock on ``path`` (``filelock``: flock on POSIX, LockFileEx on Windows);
    None where the file system cannot lock."""
    # thread_local=False: the app may close from another thread than it started on
    lock = FileLock(path, timeout=0, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except (Timeout, OSError, NotImplementedError):
        return None
    return lock


def _probe_lock(path: Path) -> bool | None:
    """True if nobody holds the lock (owner gone), False if held, None if locks don't work."""
    if not path.exists():  # probing must never create a marker
        return True
    lock = FileLock(path, timeout=0, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return False
    except (OSError, NotImplementedError):
        return None
    lock.release()
    return True


def _pid_alive(pid: int) -> bool:
    return pid > 0 and psutil.pid_exists(pid)


__all__ = ["Autosaver", "ProjectError", "RecoveryInfo", "default_recovery_dir"]
