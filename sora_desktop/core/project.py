"""Projects, shots and takes, and the versioned ``.sdproj`` file that holds them.

A *project* is an ordered storyboard of *shots*. Each shot has its current settings (a
``GenerationRequest``: what "Generate" will use) and a history of *takes*, one per generation,
each with the exact request that produced it and the clip it produced. One take per shot is
*selected*: that is the clip the timeline plays and the exporter uses.

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
- Hostile or absurd files are bounded: at most ``MAX_PROJECT_BYTES`` (50 MB), ``MAX_SHOTS``
  shots, ``MAX_TAKES_PER_SHOT`` takes per shot, nesting at most ``MAX_JSON_DEPTH`` deep; ids
  must be short and plain (they become folder names).

File format, version 1 (``PROJECT_VERSION``)::

    {"format": "sora-desktop-project", "version": 1, "id": "<hex>", "name": "My film",
     "created_at": "<ISO-8601 UTC>", "modified_at": "<ISO-8601 UTC>",
     "settings": {"crossfade_frames": 0, "export_format": "mp4", "upscale": 1,
                  "upscale_method": "nearest", ...},
     "shots": [{"id": "<hex>", "title": "", "continue_from_previous": false,
                "request": {GenerationRequest.to_dict()},
                "selected_take": "<take id>" | null,
                "takes": [{"id": "<hex>", "request": {...}, "status": "done",
                           "clip": "<stem>_media/<shot id>/<take id>.mp4" | null,
                           "error": null, "created_at": "<ISO-8601 UTC>"}]}]}

Version 0 (the 0.0.x prototype; read and migrated, never written)::

    {"format": "sora-desktop-project", "version": 0, "title": "My film", "crossfade": 0,
     "clips": [{"prompt": "...", "negative": "", "seed": 1, "steps": 25, "guidance": 4.0,
                "frames": 16, "fps": 8, "size": [64, 64], "model": "<model id>",
                "file": "clips/<name>.mp4" | null}]}

v0 had one flat list of clips and no takes. Migration: ``title`` → ``name``; ``crossfade`` →
``settings.crossfade_frames``; each clip becomes a shot whose request is built from the flat
fields, and a clip with a ``file`` also gets one selected ``done`` take pointing at that file.
Saving a migrated project writes version 1; the v0 file is kept as ``.bak``.
"""

from __future__ import annotations

import copy
import glob
import json
import os
import re
import shutil
import stat
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Literal

from sora_desktop.core import project_lock
from sora_desktop.core.atomic import (
    atomic_write_text,
    atomic_write_with,
    check_regular_target,
    write_target,
)
from sora_desktop.core.errors import FieldError
from sora_desktop.core.export_settings import (  # noqa: F401 - names kept for importers
    DEFAULT_PROJECT_SETTINGS,
    EXPORT_FORMATS,
    UPSCALE_METHODS,
    ExportSettings,
)
from sora_desktop.core.project_media import copy_media
from sora_desktop.core.request import GenerationRequest
from sora_desktop.core.safe_paths import (
    UnsafePathError,
    check_path_text,
    open_regular_file,
    safe_resolve,
)
from sora_desktop.core.settings import default_paths

PROJECT_FORMAT = "sora-desktop-project"
PROJECT_VERSION = 1
PROJECT_SUFFIX = ".sdproj"
BACKUP_SUFFIX = ".bak"

MAX_PROJECT_BYTES = 50 * 1024 * 1024
MAX_SHOTS = 10_000
MAX_TAKES_PER_SHOT = 1_000
MAX_TOTAL_TAKES = 100_000
MAX_JSON_DEPTH = 64
MAX_TEXT_CHARS = 10_000
MAX_PATH_CHARS = 1_024
STALE_TEMP_S = 60.0  # a save's temp file older than this is left over from a crash

TakeStatus = Literal["queued", "generating", "done", "failed", "cancelled"]
ShotStatus = Literal["empty", "queued", "generating", "done", "failed"]
TAKE_STATUSES: tuple[str, ...] = ("queued", "generating", "done", "failed", "cancelled")
INTERRUPTED_MESSAGE = (
    "Interrupted: Sora Desktop closed before this take finished. Generate again to retry."
)

_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ProjectError(ValueError):
    """Something is wrong with a project file or a project operation.

    The message is meant for the user as-is: it says what is wrong and what to do.
    """


def new_id() -> str:
    return uuid.uuid4().hex


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


# ====================================================================== data
@dataclass
class Take:
    """One generation of a shot: the exact request used and the clip it produced."""

    id: str
    request: GenerationRequest
    # Relative to the project folder, always with "/" (e.g. "film_media/<shot>/<take>.mp4").
    clip: str | None = None
    status: TakeStatus = "queued"
    error: str | None = None
    created_at: str = field(default_factory=now_iso)

    @classmethod
    def create(cls, request: GenerationRequest) -> Take:
        return cls(id=new_id(), request=request)

    @property
    def seconds(self) -> float:
        return self.request.seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "request": self.request.to_dict(),
            "clip": self.clip,
            "status": self.status,
            "error": self.error,
            "created_at": self.created_at,
        }


@dataclass
class Shot:
    """A storyboard card: current settings plus every take generated for it."""

    id: str
    request: GenerationRequest
    takes: list[Take] = field(default_factory=list)
    selected_take: str | None = None
    # Start from the last frame of the previous shot's selected take (visual continuity).
    continue_from_previous: bool = False
    title: str = ""

    @classmethod
    def create(cls, request: GenerationRequest, title: str = "") -> Shot:
        return cls(id=new_id(), request=request, title=title)

    @property
    def selected(self) -> Take | None:
        if self.selected_take is None:
            return None
        for take in self.takes:
            if take.id == self.selected_take:
                return take
        return None

    @property
    def status(self) -> ShotStatus:
        """What the storyboard card shows, derived from the takes.

        Work in progress wins (generating, then queued); then a selected finished clip; then the
        newest finished attempt (done or failed); cancelled takes alone leave the shot empty.
        """
        statuses = {t.status for t in self.takes}
        if "generating" in statuses:
            return "generating"
        if "queued" in statuses:
            return "queued"
        selected = self.selected
        if selected is not None and selected.status == "done":
            return "done"
        for take in reversed(self.takes):
            if take.status in ("done", "failed"):
                return take.status  # type: ignore[return-value]
        return "empty"

    @property
    def seconds(self) -> float:
        """Length on the timeline: the selected take's clip, else the current settings."""
        selected = self.selected
        return selected.seconds if selected is not None else self.request.seconds

    def take(self, take_id: str) -> Take:
        for take in self.takes:
            if take.id == take_id:
                return take
        raise KeyError(f"take {take_id!r} is not in shot {self.title or self.id!r}")

    def take_index(self, take_id: str) -> int:
        for i, take in enumerate(self.takes):
            if take.id == take_id:
                return i
        raise KeyError(f"take {take_id!r} is not in shot {self.title or self.id!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "continue_from_previous": self.continue_from_previous,
            "request": self.request.to_dict(),
            "selected_take": self.selected_take,
            "takes": [t.to_dict() for t in self.takes],
        }


@dataclass
class Project:
    """The storyboard: ordered shots plus project-level export options.

    Mutating methods mark the project ``dirty`` and update ``modified_at``; ``save_project``
    clears ``dirty``. Methods that remove or replace something return what was there so the
    UI's undo stack can put it back.
    """

    name: str = "Untitled"
    shots: list[Shot] = field(default_factory=list)
    version: int = PROJECT_VERSION
    path: Path | None = field(default=None, compare=False)
    settings: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PROJECT_SETTINGS))
    created_at: str = field(default_factory=now_iso)
    modified_at: str = field(default_factory=now_iso)
    # Stable identity: names the autosave copy and the media folder of a never-saved project.
    id: str = field(default_factory=new_id)
    dirty: bool = field(default=False, compare=False)
    # Things load_project fixed or noticed (migration, interrupted takes); shown, never saved.
    warnings: list[str] = field(default_factory=list, compare=False, repr=False)
    # Set by the window showing the project (core/project_lock.py): its file stays locked while
    # open; ``read_only`` says why saving over it is refused (another window holds it).
    hold_lock: bool = field(default=False, compare=False, repr=False)
    lock: Any = field(default=None, compare=False, repr=False)
    read_only: str | None = field(default=None, compare=False, repr=False)

    # ------------------------------------------------------------------ shots
    def shot(self, shot_id: str) -> Shot:
        for shot in self.shots:
            if shot.id == shot_id:
                return shot
        raise KeyError(f"there is no shot with id {shot_id!r} in project {self.name!r}")

    def index_of(self, shot_id: str) -> int:
        for i, shot in enumerate(self.shots):
            if shot.id == shot_id:
                return i
        raise KeyError(f"there is no shot with id {shot_id!r} in project {self.name!r}")

    def add_shot(self, request: GenerationRequest, index: int | None = None) -> Shot:
        shot = Shot.create(request)
        self.insert_shot(len(self.shots) if index is None else index, shot)
        return shot

    def insert_shot(self, index: int, shot: Shot) -> None:
        if len(self.shots) >= MAX_SHOTS:
            raise ProjectError(f"a project can hold at most {MAX_SHOTS} shots")
        if not 0 <= index <= len(self.shots):
            raise IndexError(f"index: {index} is out of range; allowed 0 to {len(self.shots)}")
        if any(s.id == shot.id for s in self.shots):
            raise ValueError(f"shot {shot.id!r} is already in the project")
        self.shots.insert(index, shot)
        self.touch()

    def duplicate_shot(self, shot_id: str) -> Shot:
        """Copy a shot (new ids) right after the original. Takes share the original clip files."""
        original = self.shot(shot_id)
        mapping = {t.id: new_id() for t in original.takes}
        copy_ = Shot(
            id=new_id(),
            request=original.request,
            takes=[
                Take(mapping[t.id], t.request, t.clip, t.status, t.error, t.created_at)
                for t in original.takes
            ],
            selected_take=mapping.get(original.selected_take or ""),
            continue_from_previous=original.continue_from_previous,
            title=original.title,
        )
        self.insert_shot(self.index_of(shot_id) + 1, copy_)
        return copy_

    def remove_shot(self, shot_id: str) -> tuple[int, Shot]:
        index = self.index_of(shot_id)
        shot = self.shots.pop(index)
        self.touch()
        return index, shot

    def move_shot(self, shot_id: str, new_index: int) -> None:
        index = self.index_of(shot_id)
        if not 0 <= new_index < len(self.shots):
            raise IndexError(
                f"new_index: {new_index} is out of range; allowed 0 to {len(self.shots) - 1}"
            )
        self.shots.insert(new_index, self.shots.pop(index))
        self.touch()

    def set_shot_request(self, shot_id: str, request: GenerationRequest) -> GenerationRequest:
        if not isinstance(request, GenerationRequest):
            raise ValueError("request: expected a GenerationRequest")
        shot = self.shot(shot_id)
        old = shot.request
        shot.request = request
        self.touch()
        return old

    def set_shot_title(self, shot_id: str, title: str) -> str:
        shot = self.shot(shot_id)
        old = shot.title
        shot.title = _check_text("title", title, 500)
        self.touch()
        return old

    def set_continue_from_previous(self, shot_id: str, value: bool) -> bool:
        shot = self.shot(shot_id)
        old = shot.continue_from_previous
        shot.continue_from_previous = bool(value)
        self.touch()
        return old

    def previous_shot(self, shot_id: str) -> Shot | None:
        index = self.index_of(shot_id)
        return self.shots[index - 1] if index > 0 else None

    def continuation_take(self, shot_id: str) -> Take | None:
        """The finished take whose last frame this shot starts from, if it continues one."""
        shot = self.shot(shot_id)
        previous = self.previous_shot(shot_id)
        if not shot.continue_from_previous or previous is None:
            return None
        take = previous.selected
        return take if take is not None and take.status == "done" and take.clip else None

    # ------------------------------------------------------------------ takes
    def add_take(self, shot_id: str, take: Take) -> Take:
        shot = self.shot(shot_id)
        self.insert_take(shot_id, len(shot.takes), take)
        return take

    def insert_take(self, shot_id: str, index: int, take: Take) -> None:
        shot = self.shot(shot_id)
        if len(shot.takes) >= MAX_TAKES_PER_SHOT:
            raise ProjectError(f"a shot can hold at most {MAX_TAKES_PER_SHOT} takes")
        if not 0 <= index <= len(shot.takes):
            raise IndexError(f"index: {index} is out of range; allowed 0 to {len(shot.takes)}")
        if any(t.id == take.id for t in shot.takes):
            raise ValueError(f"take {take.id!r} is already in this shot")
        _check_take_fields(take)
        shot.takes.insert(index, take)
        self.touch()

    def select_take(self, shot_id: str, take_id: str | None) -> str | None:
        """Make ``take_id`` the shot's clip (``None`` clears it); returns the previous choice."""
        shot = self.shot(shot_id)
        if take_id is not None:
            shot.take(take_id)  # KeyError if it is not there
        old = shot.selected_take
        shot.selected_take = take_id
        self.touch()
        return old

    def remove_take(self, shot_id: str, take_id: str) -> tuple[int, Take]:
        """Remove a take from the list (its clip file stays on disk, so undo can restore it).

        If it was selected, the newest remaining finished take is selected instead.
        """
        shot = self.shot(shot_id)
        index = shot.take_index(take_id)
        take = shot.takes.pop(index)
        if shot.selected_take == take_id:
            done = [t for t in shot.takes if t.status == "done"]
            shot.selected_take = done[-1].id if done else None
        self.touch()
        return index, take

    def update_take(
        self,
        shot_id: str,
        take_id: str,
        *,
        status: TakeStatus | None = None,
        clip: str | None = None,
        error: str | None = None,
    ) -> Take:
        """Record a take's progress. A take that becomes ``done`` is selected: it is what the
        user just asked for."""
        shot = self.shot(shot_id)
        take = shot.take(take_id)
        if status is not None:
            if status not in TAKE_STATUSES:
                raise ValueError(f"status: {status!r} is not allowed; allowed {TAKE_STATUSES}")
            take.status = status
        if clip is not None:
            take.clip = _check_relpath(clip, "clip")
        if error is not None:
            take.error = _check_text("error", error, MAX_TEXT_CHARS)
        if status == "done":
            shot.selected_take = take.id
        self.touch()
        return take

    # ------------------------------------------------------------------ misc
    @property
    def total_seconds(self) -> float:
        """Sum of shot lengths (before any crossfade overlap at export)."""
        return sum(s.seconds for s in self.shots)

    @property
    def export_settings(self) -> ExportSettings:
        """The export options this project remembers, validated."""
        return ExportSettings.from_project(self.settings)

    def set_export_settings(self, value: ExportSettings) -> ExportSettings:
        """Store ``value``'s remembered options; returns the previous settings (for undo)."""
        if not isinstance(value, ExportSettings):
            raise ValueError("settings: expected ExportSettings")
        old = self.export_settings
        self.settings.update(value.project_settings())
        self.touch()
        return old

    def touch(self) -> None:
        self.dirty = True
        self.modified_at = now_iso()

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PROJECT_FORMAT,
            "version": PROJECT_VERSION,
            "id": self.id,
            "name": self.name,
            "created_at": self.created_at,
            "modified_at": self.modified_at,
            "settings": copy.deepcopy(self.settings),
            "shots": [s.to_dict() for s in self.shots],
        }

    @classmethod
    def from_dict(cls, data: Any) -> Project:
        """Build a project from file data, migrating older layouts. ``ProjectError`` if bad."""
        _check_depth(data)
        if not isinstance(data, dict) or data.get("format") != PROJECT_FORMAT:
            raise ProjectError(
                "This is not a Sora Desktop project (the file does not say "
                f'"format": "{PROJECT_FORMAT}").'
            )
        version = data.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise ProjectError(
                f"This project file is damaged: version {_short(version)} is not valid."
            )
        if version > PROJECT_VERSION:
            raise ProjectError(
                f"This project was made by a newer Sora Desktop (version {version}); this version "
                f"reads up to {PROJECT_VERSION}. Update Sora Desktop to open it. "
                "The file was not changed."
            )
        warnings: list[str] = []
        if version < PROJECT_VERSION:
            warnings.append(
                f"This project was made by an older Sora Desktop (version {version}). It will be "
                f"saved in the current format; the old file is kept as a {BACKUP_SUFFIX} backup."
            )
        while version < PROJECT_VERSION:
            data = _MIGRATIONS[version](data)
            version += 1
        project = _parse_v1(data)
        project.warnings.extend(warnings)
        return project


# ====================================================================== parsing
def _short(value: Any, limit: int = 80) -> str:
    """A value for a message, cut short: a hostile file's 40 MB string must not be echoed."""
    try:
        text = repr(value)
    except ValueError:  # an int too large to print
        return "a huge number"
    if len(text) <= limit:
        return text
    size = f"{len(value)} characters" if isinstance(value, str) else f"{len(text)} characters"
    return f"{text[:limit]}... ({size})"


def _damaged(where: str, what: str) -> ProjectError:
    return ProjectError(f"This project file is damaged: {where}: {what}.")


def _check_depth(data: Any) -> None:
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        obj, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ProjectError(
                f"This file is not a project Sora Desktop can open: its data is nested more than "
                f"{MAX_JSON_DEPTH} levels deep."
            )
        if isinstance(obj, dict):
            stack.extend((v, depth + 1) for v in obj.values())
            stack.extend((k, depth) for k in obj)
        elif isinstance(obj, list):
            stack.extend((v, depth + 1) for v in obj)
        elif isinstance(obj, str):
            # "\ud800" escapes load as unpaired surrogates, which cannot be saved again
            try:
                obj.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ProjectError(
                    "This project file is damaged: it contains text that is not valid Unicode "
                    f"({obj[max(0, exc.start - 20) : exc.start]!r}...)."
                ) from exc


def _check_text(name: str, value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise FieldError(name, f"expected text, got {type(value).__name__}")
    if len(value) > limit:
        raise FieldError(name, f"{len(value)} characters is too long; the limit is {limit}")
    return value


def _check_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise _damaged(where, f"id {_short(value)} is not valid (letters, digits, - and _ only)")
    return value


def _check_relpath(value: Any, name: str) -> str:
    """Refuse anything that is not a plain relative path inside the project folder."""
    if not isinstance(value, str) or not value or len(value) > MAX_PATH_CHARS or "\0" in value:
        raise ProjectError(f"{name}: {_short(value)} is not a valid file path inside the project")
    posix, win = PurePosixPath(value), PureWindowsPath(value)
    if posix.is_absolute() or win.is_absolute() or win.drive or win.root:
        raise ProjectError(
            f"{name}: {_short(value)} is an absolute path; media must be inside the project folder"
        )
    if ".." in win.parts or ".." in posix.parts:
        raise ProjectError(f"{name}: {_short(value)} points outside the project folder")
    return value


def _check_take_fields(take: Take) -> None:
    if not isinstance(take.request, GenerationRequest):
        raise ValueError("request: expected a GenerationRequest")
    if take.status not in TAKE_STATUSES:
        raise ValueError(f"status: {take.status!r} is not allowed; allowed {TAKE_STATUSES}")
    if take.clip is not None:
        _check_relpath(take.clip, "clip")
    if not _ID_RE.match(take.id):
        raise ValueError(f"id: {take.id!r} is not valid (letters, digits, - and _ only)")


def _parse_request(data: Any, where: str) -> GenerationRequest:
    try:
        return GenerationRequest.from_dict(data)
    except ValueError as exc:
        raise _damaged(where, str(exc)) from exc


def _parse_text(data: dict[str, Any], key: str, where: str, default: str, limit: int) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or len(value) > limit:
        raise _damaged(where, f"{key} must be text of at most {limit} characters")
    return value


def _parse_settings(raw: Any) -> dict[str, Any]:
    if raw is None:
        return dict(DEFAULT_PROJECT_SETTINGS)
    if not isinstance(raw, dict):
        raise _damaged("settings", "expected an object")
    settings = {**DEFAULT_PROJECT_SETTINGS, **raw}
    try:
        validate_project_settings(settings)
    except ValueError as exc:
        raise _damaged("settings", str(exc)) from exc
    return settings


def validate_project_settings(settings: dict[str, Any]) -> None:
    """Check the export options the project stores (the one rule: ``ExportSettings``);
    unknown keys are kept as they are."""
    ExportSettings.from_project(settings)


def _parse_take(data: Any, where: str) -> Take:
    if not isinstance(data, dict):
        raise _damaged(where, "expected an object")
    take_id = _check_id(data.get("id"), where)
    request = _parse_request(data.get("request"), f"{where}, request")
    status = data.get("status", "done")
    if status not in TAKE_STATUSES:
        raise _damaged(where, f"status {_short(status)} is not one of {', '.join(TAKE_STATUSES)}")
    clip = data.get("clip")
    if clip is not None:
        try:
            clip = _check_relpath(clip, "clip")
        except ProjectError as exc:
            raise _damaged(where, str(exc)) from exc
    error = data.get("error")
    if error is not None and (not isinstance(error, str) or len(error) > MAX_TEXT_CHARS):
        raise _damaged(where, "error must be text")
    created = _parse_text(data, "created_at", where, "", 64) or now_iso()
    return Take(take_id, request, clip, status, error, created)


def _parse_shot(data: Any, where: str) -> tuple[Shot, list[str]]:
    if not isinstance(data, dict):
        raise _damaged(where, "expected an object")
    shot_id = _check_id(data.get("id"), where)
    request = _parse_request(data.get("request"), f"{where}, request")
    raw_takes = data.get("takes", [])
    if not isinstance(raw_takes, list):
        raise _damaged(where, "takes must be a list")
    if len(raw_takes) > MAX_TAKES_PER_SHOT:
        raise _damaged(where, f"{len(raw_takes)} takes; at most {MAX_TAKES_PER_SHOT} are allowed")
    takes = [_parse_take(t, f"{where}, take {j + 1}") for j, t in enumerate(raw_takes)]
    ids = [t.id for t in takes]
    if len(set(ids)) != len(ids):
        raise _damaged(where, "two takes have the same id")
    selected = data.get("selected_take")
    warnings: list[str] = []
    if selected is not None and selected not in ids:
        warnings.append(f"{where}: the selected take was missing, so no take is selected.")
        selected = None
    if request.start_image is not None:
        # The app sets a shot's start image only at generation time (from the previous shot's
        # clip), so one stored in the file came from elsewhere: never read a file it names.
        warnings.append(
            f"{where}: the start image stored in the file ({_short(request.start_image, 200)}) was "
            "ignored; use 'Continue from previous shot' to start from the previous clip."
        )
        request = request.with_changes(start_image=None)
    cont = data.get("continue_from_previous", False)
    if not isinstance(cont, bool):
        raise _damaged(where, "continue_from_previous must be true or false")
    title = _parse_text(data, "title", where, "", 500)
    return Shot(shot_id, request, takes, selected, cont, title), warnings


def _parse_v1(data: dict[str, Any]) -> Project:
    raw_shots = data.get("shots", [])
    if not isinstance(raw_shots, list):
        raise _damaged("shots", "expected a list")
    if len(raw_shots) > MAX_SHOTS:
        raise ProjectError(
            f"This project has {len(raw_shots)} shots; Sora Desktop opens at most {MAX_SHOTS}."
        )
    total_takes = sum(
        len(s["takes"])
        for s in raw_shots
        if isinstance(s, dict) and isinstance(s.get("takes"), list)
    )
    if total_takes > MAX_TOTAL_TAKES:
        raise ProjectError(
            f"This project has {total_takes} takes; Sora Desktop opens at most {MAX_TOTAL_TAKES}."
        )
    shots: list[Shot] = []
    warnings: list[str] = []
    for i, raw in enumerate(raw_shots):
        shot, shot_warnings = _parse_shot(raw, f"shot {i + 1}")
        shots.append(shot)
        warnings.extend(shot_warnings)
    if len({s.id for s in shots}) != len(shots):
        raise _damaged("shots", "two shots have the same id")
    project_id = data.get("id") or new_id()
    _check_id(project_id, "project")
    project = Project(
        name=_parse_text(data, "name", "project", "Untitled", 500),
        shots=shots,
        version=PROJECT_VERSION,
        settings=_parse_settings(data.get("settings")),
        created_at=_parse_text(data, "created_at", "project", "", 64) or now_iso(),
        modified_at=_parse_text(data, "modified_at", "project", "", 64) or now_iso(),
        id=project_id,
    )
    project.warnings.extend(warnings)
    return project


def _migrate_v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
    """v0 (prototype): flat "clips" with prompt/seed fields and no takes. See module docstring."""
    clips = data.get("clips", [])
    if not isinstance(clips, list):
        raise _damaged("clips", "expected a list")
    if len(clips) > MAX_SHOTS:
        raise ProjectError(f"This project has {len(clips)} clips; at most {MAX_SHOTS} are allowed.")
    shots = []
    for i, clip in enumerate(clips):
        if not isinstance(clip, dict):
            raise _damaged(f"clip {i + 1}", "expected an object")
        request: dict[str, Any] = {"prompt": clip.get("prompt")}
        for old, new in (
            ("negative", "negative_prompt"),
            ("seed", "seed"),
            ("steps", "steps"),
            ("guidance", "guidance"),
            ("frames", "num_frames"),
            ("fps", "fps"),
            ("model", "model_id"),
        ):
            if old in clip:
                request[new] = clip[old]
        size = clip.get("size")
        if size is not None:
            if not (isinstance(size, list) and len(size) == 2):
                raise _damaged(f"clip {i + 1}", "size must be [width, height]")
            request["width"], request["height"] = size
        shot: dict[str, Any] = {"id": new_id(), "request": request, "takes": []}
        if clip.get("file"):
            take_id = new_id()
            shot["takes"] = [
                {"id": take_id, "request": request, "clip": clip["file"], "status": "done"}
            ]
            shot["selected_take"] = take_id
        shots.append(shot)
    return {
        "format": PROJECT_FORMAT,
        "version": 1,
        "name": data.get("title", "Untitled"),
        "settings": {"crossfade_frames": data.get("crossfade", 0)},
        "shots": shots,
    }


# version N -> function returning the version N+1 layout
_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _migrate_v0_to_v1}


# ====================================================================== files
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
    failed with a plain reason. Returns how many changed."""
    count = 0
    for shot in project.shots:
        for take in shot.takes:
            if take.status in ("queued", "generating"):
                take.status = "failed"
                take.error = INTERRUPTED_MESSAGE
                count += 1
    if count:
        project.warnings.append(
            f"{count} take(s) were still being generated when the project was saved; they are "
            "marked as interrupted."
        )
    return count


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
    failure the file on disk and ``project`` are unchanged.
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
        raise ProjectError(f"Cannot save to {target}: {exc.strerror or exc}.") from exc
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
    old_clips = [(take, take.clip) for shot in project.shots for take in shot.takes]
    old_modified = project.modified_at
    saved = False
    try:
        if old_folder.absolute() != new_folder or old_media != new_media:
            copy_media(project, old_folder, old_media, new_folder, new_media)
        project.modified_at = now_iso()
        text = json.dumps(project.to_dict(), indent=2, ensure_ascii=False) + "\n"
        if target.exists() and _is_good_project(target):
            bak = target.with_name(target.name + BACKUP_SUFFIX)
            # the backup is as private as the project (a 0600 file gets a 0600 .bak)
            bak_mode = stat.S_IMODE(os.stat(target).st_mode)
            atomic_write_with(bak, lambda tmp: shutil.copyfile(target, tmp), mode=bak_mode)
        atomic_write_text(target, text)
        saved = True
    except BaseException as exc:
        for take, clip in old_clips:
            take.clip = clip
        project.modified_at = old_modified
        if isinstance(exc, OSError):
            raise ProjectError(
                f"Could not save {target.name}: {exc.strerror or exc}. "
                "The previous file on disk is unchanged."
            ) from exc
        raise
    finally:
        project_lock.after_save(project, new_lock, saved)
    project.path = target
    project.dirty = False
    _remove_stale_temp_files(target)
    return target


def _remove_stale_temp_files(target: Path) -> None:
    """A save killed mid-write (crash, power cut) leaves its temp file beside the project
    (``.<file>.<random>.part``, see core/atomic.py); a later save removes old ones. Young ones
    are left: they may belong to a save still in progress in another window."""
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
            try:
                if now - tmp.stat().st_mtime > STALE_TEMP_S:
                    tmp.unlink()
            except OSError:
                pass
