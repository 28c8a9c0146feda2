"""What a killed write leaves behind, and removing it before it piles up.

Why it works this way:
- Every temp file ``core/atomic.py`` makes carries its writer's PID and process start time in
  its name. A temp file counts as ours by that name and as stale when its writer is gone
  (``atomic.temp_writer_gone``); its age never decides, so a second instance's save in
  progress is never touched, however slow, and a killed one's is removed at once.
- A save sweeps before it writes (``sweep_before_save``), not only after it succeeds: on a full
  disk a save that never succeeds would otherwise never clean up. The sweep covers the
  project's folder, its media folder and the folders of any Save As whose process was killed.
- Save As writes into a folder the next save of the project may never visit again (a new name,
  another folder). It first records that folder in a small *intent* file
  (``<data>/pending-writes/<writer tag>-<random>.json``, removed when the Save As ends); any
  later save of any project (or the app's start) finds the intents of killed processes, sweeps
  their folders and removes them.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
import uuid
from collections.abc import Iterable
from pathlib import Path

from sora_desktop.core.atomic import (
    TEMP_SUFFIX,
    atomic_write_text,
    temp_writer_gone,
    writer_tag,
)
from sora_desktop.core.settings import default_paths

log = logging.getLogger(__name__)

INTENTS_DIR = "pending-writes"
NO_SPACE = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
MAX_INTENT_BYTES = 64 * 1024
MAX_WALK_DIRS = 20_000  # a media folder of a huge project; past this the sweep stops early


def is_no_space(exc: BaseException) -> bool:
    """True for "No space left on device" (and a full disk quota)."""
    return isinstance(exc, OSError) and exc.errno in NO_SPACE


def sweep_folder(folder: Path, recursive: bool = False) -> tuple[int, int]:
    """Remove the temp files of gone writers in ``folder`` (and its sub-folders, without
    following links, when ``recursive``). Returns (files removed, bytes freed). Never raises."""
    removed = freed = 0
    todo, seen = [Path(folder)], 0
    while todo and seen < MAX_WALK_DIRS:
        current = todo.pop()
        seen += 1
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if recursive:
                        todo.append(Path(entry.path))
                    continue
                if not entry.name.endswith(TEMP_SUFFIX) or temp_writer_gone(entry.name) is not True:
                    continue
                st = entry.stat(follow_symlinks=False)
                if not stat.S_ISREG(st.st_mode):
                    continue
                os.unlink(entry.path)
                removed += 1
                freed += st.st_size
            except OSError:
                continue
    if removed:
        log.info("removed %d temp file(s) of killed writes in %s", removed, folder)
    return removed, freed


def intents_dir() -> Path:
    return default_paths().data / INTENTS_DIR


def record_intent(folders: Iterable[Path], trees: Iterable[Path]) -> Path | None:
    """Before a Save As: note where it will write (``folders`` swept flat, ``trees``
    recursively) so a kill mid-way cannot leave temp files nobody visits. None if the note
    cannot be written (the Save As goes on; only this safety net is missing)."""
    folder = intents_dir()
    data = {
        "folders": sorted({str(Path(f)) for f in folders}),
        "trees": sorted({str(Path(t)) for t in trees}),
    }
    path = folder / f"{writer_tag()}-{uuid.uuid4().hex[:12]}.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(data))
    except OSError as exc:
        log.warning("could not record where a Save As writes: %s", exc)
        return None
    return path


def forget_intent(path: Path | None) -> None:
    if path is not None:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def _intent_writer_gone(path: Path) -> bool:
    # <tag>-<random>.json: the tag has the same form as a temp file's (w<pid>s<start>h<host>)
    tag = path.name.rsplit("-", 1)[0]
    return temp_writer_gone(f".x.y.{tag}{TEMP_SUFFIX}") is True


def sweep_intents() -> tuple[int, int]:
    """Sweep the folders of Save As runs whose process is gone, then forget them."""
    folder = intents_dir()
    removed, freed = sweep_folder(folder)
    try:
        intents = sorted(folder.glob("w*-*.json"))
    except OSError:
        return removed, freed
    for intent in intents:
        if not _intent_writer_gone(intent):
            continue
        try:
            if intent.stat().st_size <= MAX_INTENT_BYTES:
                data = json.loads(intent.read_text(encoding="utf-8"))
            else:
                data = {}
        except (OSError, ValueError, RecursionError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        for key, recursive in (("folders", False), ("trees", True)):
            places = data.get(key)
            for place in places if isinstance(places, list) else []:
                if isinstance(place, str) and place:
                    r, f = sweep_folder(Path(place), recursive)
                    removed, freed = removed + r, freed + f
        forget_intent(intent)
    return removed, freed


def sweep_before_save(folders: Iterable[Path], trees: Iterable[Path]) -> tuple[int, int]:
    """Everything a save sweeps first: its folders, its media trees, killed Save As runs."""
    removed, freed = sweep_intents()
    for place in dict.fromkeys(Path(f) for f in folders):
        r, f = sweep_folder(place)
        removed, freed = removed + r, freed + f
    for place in dict.fromkeys(Path(t) for t in trees):
        r, f = sweep_folder(place, recursive=True)
        removed, freed = removed + r, freed + f
    return removed, freed


__all__ = [
    "NO_SPACE",
    "forget_intent",
    "intents_dir",
    "is_no_space",
    "record_intent",
    "sweep_before_save",
    "sweep_folder",
    "sweep_intents",
]
