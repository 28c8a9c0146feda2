"""The ``.sdproj`` file layout: checking file data and migrating older layouts.

``project_from_dict`` (behind ``Project.from_dict``) turns parsed JSON into a ``Project`` or
raises ``ProjectError`` with a message a non-programmer can act on. It never trusts the file:
hostile or absurd files are bounded (at most ``MAX_PROJECT_BYTES`` (50 MB), ``MAX_SHOTS`` shots,
``MAX_TAKES_PER_SHOT`` takes per shot, nesting at most ``MAX_JSON_DEPTH`` deep) and ids must be
short and plain (they become folder names).

File format, version 2 (``PROJECT_VERSION``)::

    {"format": "sora-desktop-project", "version": 2, "id": "<hex>", "name": "My film",
     "created_at": "<ISO-8601 UTC>", "modified_at": "<ISO-8601 UTC>",
     "settings": {"crossfade_frames": 0, "export_format": "mp4", "upscale": 1,
                  "upscale_method": "nearest", ...},
     "shots": [{"id": "<hex>", "title": "", "continue_from_previous": false,
                "end_on_next_shot": false, "mute": false,
                "request": {GenerationRequest.to_dict()},
                "selected_take": "<take id>" | null,
                "takes": [{"id": "<hex>", "request": {...}, "status": "done",
                           "clip": "<stem>_media/<shot id>/<take id>.mp4" | null,
                           "error": null, "created_at": "<ISO-8601 UTC>"}]}],
     "audio": [{"id": "<hex>", "file": "<stem>_media/audio/<id>.wav", "name": "song.wav",
                "source_seconds": 30.0, "start": 0.0, "trim_in": 0.0, "duration": 30.0,
                "volume_db": 0.0, "fade_in": 0.0, "fade_out": 0.0, "kind": "music",
                "request": {MusicRequest.to_dict()} (a "generated" item only)}]}

Version 2 added the soundtrack: ``audio`` (``core/project/audio.py``: at most
``MAX_AUDIO_ITEMS`` items, each checked like everything else here: plain ids, every time bounded,
the file a relative path inside the project folder) and each shot's ``mute``; the settings may
hold ``normalize_loudness``. Migration from version 1: an empty ``audio`` list (no shot muted).
The version was raised (not an optional key added) so that a Sora Desktop that knows no sound
refuses the file with its "made by a newer Sora Desktop" message and never saves over it,
instead of silently dropping the soundtrack on its next save.

A take whose VAE decode failed (status ``decode_failed`` in memory) is written as
``"status": "failed"`` with ``"latents": "<stem>_media/<shot id>/<take id>.latents.npz"`` and read
back as ``decode_failed``: an older reader (which knows no ``decode_failed`` and ignores
unknown keys) still opens the file, so no version bump was needed.

Version 0 (the 0.0.x prototype; read and migrated, never written)::

    {"format": "sora-desktop-project", "version": 0, "title": "My film", "crossfade": 0,
     "clips": [{"prompt": "...", "negative": "", "seed": 1, "steps": 25, "guidance": 4.0,
                "frames": 16, "fps": 8, "size": [64, 64], "model": "<model id>",
                "file": "clips/<name>.mp4" | null}]}

v0 had one flat list of clips and no takes. Migration: ``title`` → ``name``; ``crossfade`` →
``settings.crossfade_frames``; each clip becomes a shot whose request is built from the flat
fields, and a clip with a ``file`` also gets one selected ``done`` take pointing at that file.
Saving a migrated project writes the current version; the v0 file is kept as ``.bak``.

``end_on_next_shot`` (and the settings' ``export_fps``/``export_fit``) were added to version 1
as optional keys: a file without them reads as before (false; Auto rate, letterbox), so no
migration is needed and older version-1 files open unchanged.

``save_count`` (optional, version 1): how many times the file was saved (``save_project``
writes one more than the larger of the project's and the file's count). A recovery copy keeps
the count of the file it started from, so "the file was saved after this copy" is decided by
the counter, never by the clock (core/autosave.py). An older reader ignores the key; a file
without it reads as 0. No version bump.

``queue`` (optional, version 1 and later; no version bump): the unfinished jobs in order,
``[{"shot": "<shot id>", "take": "<take id>", "kind": "take" | "variation" | "decode"}]``,
written only while jobs wait (``queue_record.py``; offered again on opening,
``studio/resume.py``). An older reader ignores it; a damaged one is ignored with a note, never
refusing the project.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sora_desktop.core.errors import FieldError
from sora_desktop.core.export_settings import DEFAULT_PROJECT_SETTINGS, ExportSettings
from sora_desktop.core.labels import field_label, in_words
from sora_desktop.core.project.audio import MAX_AUDIO_ITEMS, AudioItem
from sora_desktop.core.project.model import (
    _ID_RE,
    MAX_SHOTS,
    MAX_TAKES_PER_SHOT,
    MAX_TEXT_CHARS,
    PROJECT_FORMAT,
    PROJECT_VERSION,
    TAKE_STATUSES,
    Project,
    ProjectError,
    Shot,
    Take,
    _check_relpath,
    _short,
    new_id,
    now_iso,
)
from sora_desktop.core.project.queue_record import QUEUE_KEY, parse_queue
from sora_desktop.core.request import GenerationRequest

PROJECT_SUFFIX = ".sdproj"
BACKUP_SUFFIX = ".bak"
SAVE_COUNT_KEY = "save_count"
MAX_SAVE_COUNT = 2**53  # a JSON number every reader keeps exact

MAX_PROJECT_BYTES = 50 * 1024 * 1024
MAX_TOTAL_TAKES = 100_000
MAX_JSON_DEPTH = 64


def project_from_dict(data: Any) -> Project:
    """Build a project from file data, migrating older layouts. ``ProjectError`` if bad."""
    _check_depth(data)
    if not isinstance(data, dict) or data.get("format") != PROJECT_FORMAT:
        raise ProjectError(
            "This is not a Sora Desktop project (the file does not say "
            f'"format": "{PROJECT_FORMAT}").'
        )
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ProjectError(f"This project file is damaged: version {_short(version)} is not valid.")
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
    project = _parse_project(data)
    project.warnings.extend(warnings)
    return project


# ====================================================================== parsing
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


def _check_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise _damaged(where, f"id {_short(value)} is not valid (letters, digits, - and _ only)")
    return value


def _parse_request(data: Any, where: str) -> GenerationRequest:
    try:
        return GenerationRequest.from_dict(data)
    except ValueError as exc:
        raise _damaged(where, in_words(exc)) from exc


def _parse_text(data: dict[str, Any], key: str, where: str, default: str, limit: int) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or len(value) > limit:
        raise _damaged(where, f"{field_label(key)} must be text of at most {limit} characters")
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
        raise _damaged("settings", in_words(exc)) from exc
    return settings


def validate_project_settings(settings: dict[str, Any]) -> None:
    """Check the export options the project stores (the one rule: ``ExportSettings``);
    unknown keys are kept as they are."""
    ExportSettings.from_project(settings)


def _parse_flag(data: dict[str, Any], key: str, where: str) -> bool:
    """An on/off setting of a shot; a damaged one is named by its label on screen."""
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise _damaged(where, f"“{field_label(key)}” must be on or off (true or false)")
    return value


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
            raise _damaged(where, in_words(exc)) from exc
    error = data.get("error")
    if error is not None and (not isinstance(error, str) or len(error) > MAX_TEXT_CHARS):
        raise _damaged(where, "error must be text")
    created = _parse_text(data, "created_at", where, "", 64) or now_iso()
    latents = data.get("latents")
    if latents is not None:
        try:
            latents = _check_relpath(latents, "latents")
        except ProjectError as exc:
            raise _damaged(where, in_words(exc)) from exc
        if status == "failed":
            status = "decode_failed"  # see the module docstring
        elif status == "done":
            latents = None  # a finished take keeps no latents
    return Take(take_id, request, clip, status, error, created, latents)


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
    if request.end_image is not None:  # likewise: set per take from the next shot's clip
        request = request.with_changes(end_image=None)
    cont = _parse_flag(data, "continue_from_previous", where)
    end_on_next = _parse_flag(data, "end_on_next_shot", where)
    mute = _parse_flag(data, "mute", where)
    title = _parse_text(data, "title", where, "", 500)
    return Shot(shot_id, request, takes, selected, cont, title, end_on_next, mute), warnings


def _parse_audio(raw: Any) -> list[AudioItem]:
    if not isinstance(raw, list):
        raise _damaged("audio", "expected a list")
    if len(raw) > MAX_AUDIO_ITEMS:
        raise _damaged("audio", f"{len(raw)} sound clips; at most {MAX_AUDIO_ITEMS} are allowed")
    items = []
    for i, entry in enumerate(raw):
        try:
            items.append(AudioItem.from_dict(entry))
        except FieldError as exc:
            raise _damaged(f"sound clip {i + 1}", in_words(exc)) from exc
        except (TypeError, ValueError) as exc:
            raise _damaged(f"sound clip {i + 1}", in_words(exc)) from exc
    if len({a.id for a in items}) != len(items):
        raise _damaged("audio", "two sound clips have the same id")
    return items


def _parse_project(data: dict[str, Any]) -> Project:
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
        audio=_parse_audio(data.get("audio", [])),
        version=PROJECT_VERSION,
        settings=_parse_settings(data.get("settings")),
        created_at=_parse_text(data, "created_at", "project", "", 64) or now_iso(),
        modified_at=_parse_text(data, "modified_at", "project", "", 64) or now_iso(),
        id=project_id,
        save_count=_parse_save_count(data.get(SAVE_COUNT_KEY, 0)),
    )
    project.queue, queue_notes = parse_queue(data.get(QUEUE_KEY))
    project.warnings.extend(warnings + queue_notes)
    return project


def _parse_save_count(value: Any) -> int:
    """The optional save counter; a damaged one reads as 0 (it only ever adds a note)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SAVE_COUNT:
        return value
    return 0


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


def _migrate_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 had no sound: the soundtrack starts empty and no shot is muted."""
    return {**data, "version": 2, "audio": []}


_parse_v1 = _parse_project  # the old name (re-exported by the package)

# version N -> function returning the version N+1 layout
_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    0: _migrate_v0_to_v1,
    1: _migrate_v1_to_v2,
}
