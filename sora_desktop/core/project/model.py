"""Projects, shots and takes: the data a project holds, and the rules each change must keep.

A *project* is an ordered storyboard of *shots*. Each shot has its current settings (a
``GenerationRequest``: what "Generate" will use) and a history of *takes*, one per generation,
each with the exact request that produced it and the clip it produced. One take per shot is
*selected*: that is the clip the timeline plays and the exporter uses.

The ``.sdproj`` file layout, its checks and the migration of older layouts are in ``format.py``;
reading and writing files, backups and media paths in ``storage.py``.
"""

from __future__ import annotations

import copy
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any, Literal

from sora_desktop.core.errors import FieldError
from sora_desktop.core.errors import short_repr as _short
from sora_desktop.core.export_settings import DEFAULT_PROJECT_SETTINGS, ExportSettings
from sora_desktop.core.project.audio import MAX_AUDIO_ITEMS, AudioItem
from sora_desktop.core.request import GenerationRequest

if TYPE_CHECKING:  # queue_record.py reads this module's id rule
    from sora_desktop.core.project.queue_record import QueuedJob

PROJECT_FORMAT = "sora-desktop-project"
PROJECT_VERSION = 2  # 2: the soundtrack (audio items, per-shot mute); format.py

MAX_SHOTS = 10_000
MAX_TAKES_PER_SHOT = 1_000
MAX_TEXT_CHARS = 10_000
MAX_PATH_CHARS = 1_024

# "decode_failed": denoised, its latents saved (``Take.latents``), but the VAE decode failed;
# "Retry in low memory" decodes the latents without denoising again (studio/decode.py).
TakeStatus = Literal["queued", "generating", "done", "failed", "cancelled", "decode_failed"]
ShotStatus = Literal["empty", "queued", "generating", "done", "failed", "decode_failed"]
TAKE_STATUSES: tuple[str, ...] = (
    "queued",
    "generating",
    "done",
    "failed",
    "cancelled",
    "decode_failed",
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
    # The saved latents (like ``clip``, relative to the project folder) while the take waits
    # for a decode: set from denoising's end until the clip exists.
    latents: str | None = None

    @classmethod
    def create(cls, request: GenerationRequest) -> Take:
        return cls(id=new_id(), request=request)

    @property
    def seconds(self) -> float:
        return self.request.seconds

    def to_dict(self) -> dict[str, Any]:
        data = {
            "id": self.id,
            "request": self.request.to_dict(),
            "clip": self.clip,
            "status": self.status,
            "error": self.error,
            "created_at": self.created_at,
        }
        if self.latents is not None:
            data["latents"] = self.latents
        if self.status == "decode_failed":
            # written as a failed take with its latents (format.py): an older Sora Desktop
            # opens the project and shows it failed, instead of refusing the file
            data["status"] = "failed"
        return data


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
    # End on the first frame of the next shot's selected clip (a keyframe; studio/shots.py).
    end_on_next_shot: bool = False
    # Leave this shot's own sound (a take's ``_audio.wav``, e.g. LTX-2's) out of the film's mix.
    mute: bool = False

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
            if take.status in ("done", "failed", "decode_failed"):
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
            "end_on_next_shot": self.end_on_next_shot,
            "mute": self.mute,
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
    # The soundtrack: clips on the storyboard's audio track (core/project/audio.py), in the
    # order they were added (the mix sums them; their times say where they play).
    audio: list[AudioItem] = field(default_factory=list)
    created_at: str = field(default_factory=now_iso)
    modified_at: str = field(default_factory=now_iso)
    # Stable identity: names the autosave copy and the media folder of a never-saved project.
    id: str = field(default_factory=new_id)
    # The unfinished jobs, in order (queue_record.py): kept up to date by studio/queue.py,
    # saved with the project, offered again on opening it (studio/resume.py).
    queue: list[QueuedJob] = field(default_factory=list, compare=False)
    dirty: bool = field(default=False, compare=False)
    # Things load_project fixed or noticed (migration, interrupted takes); shown, never saved.
    warnings: list[str] = field(default_factory=list, compare=False, repr=False)
    # Set by the window showing the project (core/project_lock.py): its file stays locked while
    # open; ``read_only`` says why saving over it is refused (another window holds it).
    hold_lock: bool = field(default=False, compare=False, repr=False)
    lock: Any = field(default=None, compare=False, repr=False)
    read_only: str | None = field(default=None, compare=False, repr=False)
    # How many times the file was saved (the optional ``save_count`` key, format.py): whether
    # a recovery copy is older than the file is decided by it, not by the clock.
    save_count: int = field(default=0, compare=False, repr=False)

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
                Take(mapping[t.id], t.request, t.clip, t.status, t.error, t.created_at, t.latents)
                for t in original.takes
            ],
            selected_take=mapping.get(original.selected_take or ""),
            continue_from_previous=original.continue_from_previous,
            title=original.title,
            end_on_next_shot=original.end_on_next_shot,
            mute=original.mute,
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

    def set_end_on_next_shot(self, shot_id: str, value: bool) -> bool:
        shot = self.shot(shot_id)
        old = shot.end_on_next_shot
        shot.end_on_next_shot = bool(value)
        self.touch()
        return old

    def set_shot_mute(self, shot_id: str, value: bool) -> bool:
        """Leave the shot's own sound out of the film (or put it back); returns the old value."""
        if not isinstance(value, bool):
            raise FieldError("mute", f"expected true or false, got {_short(value)}")
        shot = self.shot(shot_id)
        old = shot.mute
        shot.mute = value
        self.touch()
        return old

    def next_shot(self, shot_id: str) -> Shot | None:
        index = self.index_of(shot_id)
        return self.shots[index + 1] if index + 1 < len(self.shots) else None

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
        latents: str | None = None,
    ) -> Take:
        """Record a take's progress. A take that becomes ``done`` is selected: it is what the
        user just asked for; it keeps no latents (its clip exists)."""
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
        if latents is not None:
            take.latents = _check_relpath(latents, "latents")
        if status == "done":
            shot.selected_take = take.id
            take.latents = None
        self.touch()
        return take

    # ------------------------------------------------------------------ audio
    def audio_item(self, item_id: str) -> AudioItem:
        for item in self.audio:
            if item.id == item_id:
                return item
        raise KeyError(f"there is no sound clip with id {item_id!r} in project {self.name!r}")

    def audio_index(self, item_id: str) -> int:
        for i, item in enumerate(self.audio):
            if item.id == item_id:
                return i
        raise KeyError(f"there is no sound clip with id {item_id!r} in project {self.name!r}")

    def add_audio(self, item: AudioItem, index: int | None = None) -> AudioItem:
        """Put a sound clip on the track (at the end of the list, or at ``index`` for undo)."""
        self.insert_audio(len(self.audio) if index is None else index, item)
        return item

    def insert_audio(self, index: int, item: AudioItem) -> None:
        if not isinstance(item, AudioItem):
            raise ValueError("audio: expected an AudioItem")
        if len(self.audio) >= MAX_AUDIO_ITEMS:
            raise ProjectError(f"a project can hold at most {MAX_AUDIO_ITEMS} sound clips")
        if not 0 <= index <= len(self.audio):
            raise IndexError(f"index: {index} is out of range; allowed 0 to {len(self.audio)}")
        if any(a.id == item.id for a in self.audio):
            raise ValueError(f"sound clip {item.id!r} is already in the project")
        self.audio.insert(index, item)
        self.touch()

    def update_audio(self, item_id: str, **changes: Any) -> AudioItem:
        """Change a sound clip (start, trim_in, duration, volume_db, fade_in, fade_out...),
        validated as a whole (``FieldError`` names the field; nothing changes then); returns
        the previous item, for undo (``replace_audio(old)`` puts it back)."""
        if "id" in changes:
            raise FieldError("id", "a sound clip's id cannot change")
        old = self.audio_item(item_id)
        self.replace_audio(old.with_changes(**changes))
        return old

    def replace_audio(self, item: AudioItem) -> AudioItem:
        """Put ``item`` in place of the clip with its id; returns the previous one."""
        if not isinstance(item, AudioItem):
            raise ValueError("audio: expected an AudioItem")
        index = self.audio_index(item.id)
        old = self.audio[index]
        self.audio[index] = item
        self.touch()
        return old

    def remove_audio(self, item_id: str) -> tuple[int, AudioItem]:
        """Take a sound clip off the track (its file stays in the media folder, so undo can
        put it back with ``insert_audio(index, item)``)."""
        index = self.audio_index(item_id)
        item = self.audio.pop(index)
        self.touch()
        return index, item

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
            "audio": [a.to_dict() for a in self.audio],
            **(queue_to_dict(self.queue) if self.queue else {}),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Project:
        """Build a project from file data, migrating older layouts. ``ProjectError`` if bad."""
        # format.py builds Project objects, so it is imported here rather than at the top
        from sora_desktop.core.project.format import project_from_dict

        return project_from_dict(data)


# ====================================================================== checks


def queue_to_dict(queue: list[QueuedJob]) -> dict[str, Any]:
    """The file's optional ``queue`` key (queue_record.py imports this module, hence here)."""
    from sora_desktop.core.project.queue_record import QUEUE_KEY

    return {QUEUE_KEY: [job.to_dict() for job in queue]}


def _check_text(name: str, value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise FieldError(name, f"expected text, got {type(value).__name__}")
    if len(value) > limit:
        raise FieldError(name, f"{len(value)} characters is too long; the limit is {limit}")
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
    if take.latents is not None:
        _check_relpath(take.latents, "latents")
    if not _ID_RE.match(take.id):
        raise ValueError(f"id: {take.id!r} is not valid (letters, digits, - and _ only)")
