"""Kill a writer on the exact file event (issue 22): a watcher SIGKILLs the process that saves,
autosaves, saves as or restores a project at the creation or rename of one of its temp files
(or the deletion of a recovery copy or manifest), then checks what was left behind.

The watcher is Linux inotify through ctypes (no dependency); elsewhere it polls the folders
every millisecond. The killed writer is a forked child (no interpreter start-up), so
``tests/test_robust_kill_events.py`` runs a few dozen kills in seconds and
``bench/bench_kill_events.py`` a thousand.

Operations (each child loops until killed, acknowledging each completed step on a pipe):
- ``save``: save the project again and again (``.bak`` temp, file temp, renames);
- ``recover``: start a session; restore the copy a killed session left (if any: restore
  writes the adopted copy, deletes the old copy and manifest, writes the manifest), else load
  the file; then autosave edits again and again;
- ``saveas_name``: Save As back and forth between two names in one folder;
- ``saveas_folder``: Save As back and forth between two folders, the clips copied (hard links
  are switched off in the child, as on another drive or a file system without links), so the
  media folder gets ``.<take>.mp4.*.part`` temp files.

After each kill, before anything cleans up, each folder is counted: temp files (``*.part``),
orphan manifests and replaced recovery copies are leftovers; at most one per folder is allowed
(the write the kill cut). Then a fresh session must offer exactly one recovery copy, holding at
least the last acknowledged state, and the newest project file must open with every clip.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import os
import random
import re
import select
import signal
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

IN_MOVED_FROM = 0x00000040
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_ISDIR = 0x40000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_EVENT = struct.Struct("iIII")
_RECOVERY_RE = re.compile(r"^[0-9a-f]{32}-[A-Za-z0-9_-]{1,64}\.(sdproj|json)$")
OPS = ("save", "recover", "saveas_name", "saveas_folder")
CLIP_BYTES = 6000


def is_trigger(mask: int, name: str) -> bool:
    """The events a writer is killed on: a temp file created or renamed into place, a recovery
    copy or manifest deleted (restore, discard)."""
    if mask & IN_ISDIR:
        return False
    if name.endswith(".part") and mask & (IN_CREATE | IN_MOVED_FROM):
        return True
    return bool(mask & IN_DELETE) and bool(_RECOVERY_RE.match(name))


def _event_kind(mask: int) -> str:
    if mask & IN_CREATE:
        return "create"
    return "rename" if mask & IN_MOVED_FROM else "delete"


class Watcher:
    """inotify on Linux (ctypes), else polling. ``events(timeout)`` -> [(mask, name)]."""

    def __init__(self, folders: list[Path]) -> None:
        self.fd = -1
        self.folders = [Path(f) for f in folders]
        libc_name = ctypes.util.find_library("c")
        libc = ctypes.CDLL(libc_name, use_errno=True) if libc_name else None
        if libc is not None and hasattr(libc, "inotify_init1"):
            fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
            if fd >= 0:
                self.fd = fd
                for folder in self.folders:
                    wd = libc.inotify_add_watch(
                        fd, os.fsencode(folder), IN_CREATE | IN_MOVED_FROM | IN_DELETE
                    )
                    if wd < 0:
                        raise OSError(ctypes.get_errno(), f"inotify_add_watch {folder}")
        self.kind = "inotify" if self.fd >= 0 else "polling"
        self._seen = self._listing() if self.fd < 0 else {}

    def _listing(self) -> dict[Path, set[str]]:
        out = {}
        for folder in self.folders:
            try:
                out[folder] = set(os.listdir(folder))
            except OSError:
                out[folder] = set()
        return out

    def drain(self) -> None:
        self.events(0)

    def events(self, timeout: float, extra_fd: int | None = None) -> tuple[list, bool]:
        """Events within ``timeout`` s; the flag says ``extra_fd`` is readable."""
        if self.fd < 0:
            fds = [extra_fd] if extra_fd is not None else []
            ready = select.select(fds, [], [], min(timeout, 0.001))[0] if fds else []
            if not fds:
                time.sleep(min(timeout, 0.001))
            now = self._listing()
            out = []
            for folder, names in now.items():
                out += [(IN_CREATE, n) for n in names - self._seen.get(folder, set())]
                gone = self._seen.get(folder, set()) - names
                out += [(IN_MOVED_FROM if n.endswith(".part") else IN_DELETE, n) for n in gone]
            self._seen = now
            return out, bool(ready)
        fds = [self.fd] + ([extra_fd] if extra_fd is not None else [])
        ready = select.select(fds, [], [], timeout)[0]
        out = []
        if self.fd in ready:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                buf = b""
            pos = 0
            while pos + _EVENT.size <= len(buf):
                _wd, mask, _cookie, length = _EVENT.unpack_from(buf, pos)
                raw = buf[pos + _EVENT.size : pos + _EVENT.size + length]
                out.append((mask, raw.rstrip(b"\0").decode("utf-8", "replace")))
                pos += _EVENT.size + length
        return out, extra_fd in ready

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def kill_at_event(
    body: Callable[[Callable[[int], None]], None], watcher: Watcher, nth: int, limit_s: float = 20
) -> tuple[list[int], str | None]:
    """Fork a child running ``body(ack)`` and SIGKILL it on the ``nth`` trigger event.
    Returns (acknowledged steps, the event killed on; None if it never came in ``limit_s``)."""
    watcher.drain()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller
        try:
            os.close(read_fd)
            body(lambda n: os.write(write_fd, f"{n}\n".encode()))
        except BaseException:  # noqa: BLE001 - a failing child reports by its exit status
            import traceback

            traceback.print_exc()
            os._exit(3)
        os._exit(0)
    os.close(write_fd)
    seen, count, fired = b"", 0, None
    deadline = time.monotonic() + limit_s
    try:
        while fired is None and time.monotonic() < deadline:
            events, readable = watcher.events(0.5, read_fd)
            for mask, name in events:
                if is_trigger(mask, name):
                    count += 1
                    if count >= nth:
                        os.kill(pid, signal.SIGKILL)  # at once, before reading anything else
                        fired = f"{_event_kind(mask)} {name}"
                        break
            if readable and fired is None:
                chunk = os.read(read_fd, 65536)
                seen += chunk
                if not chunk:  # the child ended on its own (it failed)
                    break
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, status = os.waitpid(pid, 0)
    with os.fdopen(read_fd, "rb") as fh:
        seen += fh.read()
    if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
        raise AssertionError(f"the writer ended on its own (status {status}): it failed")
    return [int(x) for x in seen.split()], fired


def _in_killed_child(action) -> None:
    """Run ``action()`` in a forked child that SIGKILLs itself where ``action`` says (it calls
    ``die()``); the parent waits for the kill."""
    pid = os.fork()
    if pid == 0:
        try:
            action()
        finally:
            os._exit(3)  # reached only if the action never died
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def killed_mid_write(target: Path, size: int) -> None:
    """A real writer (core/atomic.py) SIGKILLed after writing ``size`` bytes of its temp file."""

    def action() -> None:
        def writer(tmp: Path) -> None:
            tmp.write_bytes(b"x" * size)
            die()

        from sora_desktop.core.atomic import atomic_write_with

        atomic_write_with(target, writer)

    _in_killed_child(action)


# ------------------------------------------------------------------------------- the world
@dataclass
class Figures:
    kills: int = 0
    kills_on_event: int = 0
    leftovers_max: dict[str, int] = field(default_factory=dict)
    stale_markers_max: int = 0
    copies_offered_max: int = 0
    copies_offered_min: int | None = None
    events: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


class World:
    """Projects, folders and the recovery folder the kills run against (under ``root``)."""

    def __init__(self, root: Path) -> None:
        try:
            from sora_desktop.core.leftovers import intents_dir
        except ImportError:  # the code before issue 22 (to check the test fails there)
            from sora_desktop.core.settings import default_paths

            def intents_dir() -> Path:
                return default_paths().data / "pending-writes"

        self.root = root
        self.save_dir = root / "save"
        self.name_dir = root / "names"
        self.folders = [root / "drive_a", root / "drive_b"]
        self.recovery = root / "recovery"
        for d in (self.save_dir, self.name_dir, *self.folders, self.recovery):
            d.mkdir(parents=True, exist_ok=True)
        self.intents = intents_dir()
        self.intents.mkdir(parents=True, exist_ok=True)
        self.last: dict[str, int] = {op: 0 for op in OPS}
        self.copy_expected = False  # a complete recovery copy exists (must be offered)
        self.figures = Figures()
        self._seed()
        watched = [self.save_dir, self.name_dir, self.recovery, self.intents]
        for folder in self.folders:
            watched += [folder, *self.media_dirs(folder)]
        self.watcher = Watcher(watched)

    # seeding
    def _seed(self) -> None:
        from sora_desktop.core.project import save_project
        from tests.robust_support.crash_child import seed_project

        seed_project(self.save_dir / "film.sdproj")
        seed_project(self.name_dir / "a.sdproj")
        project = _clip_project(self.folders[0] / "p.sdproj")
        save_project(project)
        self.shot_ids = [s.id for s in project.shots]
        for folder in self.folders:
            for d in self.media_dirs(folder):
                d.mkdir(parents=True, exist_ok=True)

    def media_dirs(self, folder: Path) -> list[Path]:
        return [folder / "p_media" / sid for sid in self.shot_ids]

    # the children
    def body(self, op: str, rng_seed: int) -> Callable[[Callable[[int], None]], None]:
        def run(ack: Callable[[int], None]) -> None:
            _child(self, op, rng_seed, ack)

        return run

    def newest(self, candidates: list[Path]) -> Path:
        from sora_desktop.core.project import load_project
        from tests.robust_support.crash_child import generation

        best, best_gen = candidates[0], -1
        for c in candidates:
            if c.exists():
                gen = generation(load_project(c))
                if gen > best_gen:
                    best, best_gen = c, gen
        return best

    # one kill and its checks
    def round(self, op: str, rng: random.Random) -> None:
        per_step = {"save": 4, "recover": 6, "saveas_name": 6, "saveas_folder": 18}[op]
        nth = rng.randint(1, per_step * 2)
        acks, fired = kill_at_event(self.body(op, rng.randrange(1 << 30)), self.watcher, nth)
        f = self.figures
        f.kills += 1
        if fired is not None:
            f.kills_on_event += 1
            kind = f"{op}: {fired.split()[0]}"
            f.events[kind] = f.events.get(kind, 0) + 1
        self.check(op, acks, f.kills)

    def count_leftovers(self) -> dict[str, int]:
        counts = {}
        places = {
            "save": [self.save_dir],
            "names": [self.name_dir],
            "drive_a": [self.folders[0]],
            "drive_b": [self.folders[1]],
            "intents": [self.intents],
        }
        for label, roots in places.items():
            n = 0
            for r in roots:
                for _dirpath, _dirs, files in os.walk(r):
                    n += sum(1 for x in files if x.endswith(".part"))
                if label == "intents":
                    n += sum(1 for x in os.listdir(r) if x.endswith(".json"))
            counts[label] = n
        rec = os.listdir(self.recovery)
        copies = {
            x[: -len(".sdproj")] for x in rec if _RECOVERY_RE.match(x) and x.endswith("sdproj")
        }
        manifests = {
            x[: -len(".json")] for x in rec if _RECOVERY_RE.match(x) and x.endswith("json")
        }
        counts["recovery"] = (
            sum(1 for x in rec if x.endswith(".part"))
            + len(manifests - copies)
            + max(0, len(copies) - 1)
        )
        return counts

    def check(self, op: str, acks: list[int], k: int) -> None:
        from sora_desktop.core.autosave import Autosaver
        from sora_desktop.core.project import ProjectError, load_project, resolve_media
        from tests.robust_support.crash_child import generation

        f = self.figures
        for label, n in self.count_leftovers().items():
            f.leftovers_max[label] = max(f.leftovers_max.get(label, 0), n)
            if n > 1:
                f.failures.append(f"kill {k} ({op}): {n} leftovers in {label}")
        markers = [x for x in os.listdir(self.recovery) if x.startswith("session-")]
        f.stale_markers_max = max(f.stale_markers_max, len(markers))
        try:
            if op == "recover":
                with Autosaver(self.recovery) as app:  # the next start, offering what is left
                    offered = app.pending()
                n = len(offered)
                f.copies_offered_max = max(f.copies_offered_max, n)
                if self.copy_expected or acks:
                    low = f.copies_offered_min
                    f.copies_offered_min = n if low is None else min(low, n)
                    if n != 1:
                        f.failures.append(f"kill {k}: {n} recovery copies offered, not 1")
                elif n > 1:
                    f.failures.append(f"kill {k}: {n} recovery copies offered")
                if offered:
                    gen = max(generation(load_project(i.path)) for i in offered)
                    want = max([self.last[op], *acks])
                    if gen < want:
                        f.failures.append(f"kill {k}: copy holds {gen}, {want} was done")
                    self.last[op] = gen
                    self.copy_expected = True
                return
            candidates = {
                "save": [self.save_dir / "film.sdproj"],
                "saveas_name": [self.name_dir / "a.sdproj", self.name_dir / "b.sdproj"],
                "saveas_folder": [d / "p.sdproj" for d in self.folders],
            }[op]
            path = self.newest(candidates)
            project = load_project(path)
            gen = generation(project)
            want = max([self.last[op], *acks])
            if gen < want:
                f.failures.append(f"kill {k} ({op}): newest file holds {gen}, {want} was saved")
            self.last[op] = max(gen, self.last[op])
            for shot in project.shots:
                for take in shot.takes:
                    clip = resolve_media(project, take.clip) if take.clip else None
                    if op == "saveas_folder" and (clip is None or not clip.is_file()):
                        f.failures.append(f"kill {k}: {path.parent.name} lacks {take.clip}")
                    elif op == "saveas_folder" and clip.stat().st_size != CLIP_BYTES:
                        f.failures.append(f"kill {k}: {take.clip} is cut")
        except (ProjectError, OSError) as exc:
            f.failures.append(f"kill {k} ({op}): {exc}")

    def finish(self) -> dict[str, int]:
        """What one more save of each project and one more start leave: must be nothing."""
        from sora_desktop.core.autosave import Autosaver
        from sora_desktop.core.project import load_project, save_project

        save_project(load_project(self.save_dir / "film.sdproj"))
        save_project(
            load_project(self.newest([self.name_dir / "a.sdproj", self.name_dir / "b.sdproj"]))
        )
        save_project(load_project(self.newest([d / "p.sdproj" for d in self.folders])))
        with Autosaver(self.recovery) as app:
            offered = app.pending()
        left = self.count_leftovers()
        left["copies_offered"] = len(offered)
        # a run whose recover kills all came before any copy was complete has none to offer
        left["copies_expected"] = int(self.copy_expected)
        left["stale_markers"] = sum(
            1 for x in os.listdir(self.recovery) if x.startswith("session-")
        )
        return left

    def close(self) -> None:
        self.watcher.close()


def _clip_project(path: Path):
    """A project with three shots whose clips (and thumbnails) are real files."""
    from sora_desktop.core.project import Take, new_project, resolve_media
    from sora_desktop.core.request import GenerationRequest

    project = new_project("gen 0")
    project.path = path
    for i in range(3):
        shot = project.add_shot(GenerationRequest(f"shot {i}: a kite", seed=i))
        take = project.add_take(shot.id, Take.create(shot.request))
        rel = f"p_media/{shot.id}/{take.id}.mp4"
        project.update_take(shot.id, take.id, status="done", clip=rel)
        clip = resolve_media(project, rel)
        clip.parent.mkdir(parents=True, exist_ok=True)
        clip.write_bytes(os.urandom(CLIP_BYTES))
        clip.with_name(f"{take.id}_thumb.png").write_bytes(os.urandom(CLIP_BYTES // 3))
    return project


def _no_links(*_args, **_kwargs):
    raise OSError(errno.EXDEV, "links switched off: another drive")


def _child(world: World, op: str, seed: int, ack: Callable[[int], None]) -> None:
    from sora_desktop.core.autosave import Autosaver
    from sora_desktop.core.project import load_project, save_project
    from tests.robust_support.crash_child import _next, generation

    rng = random.Random(seed)
    if op == "save":
        project = load_project(world.save_dir / "film.sdproj")
        n = generation(project)
        while True:
            n += 1
            _next(project, n, rng)
            save_project(project)
            ack(n)
    if op == "recover":
        saver = Autosaver(world.recovery)
        pending = saver.pending()
        if pending:
            project = saver.restore(pending[0])
        else:
            project = load_project(world.save_dir / "film.sdproj")
        n = generation(project)
        while True:
            n += 1
            _next(project, n, rng)
            saver.write(project)
            ack(n)
    if op == "saveas_name":
        names = [world.name_dir / "a.sdproj", world.name_dir / "b.sdproj"]
        project = load_project(world.newest(names))
        n = generation(project)
        while True:
            n += 1
            _next(project, n, rng)
            save_project(project, names[1] if project.path == names[0] else names[0])
            ack(n)
    if op == "saveas_folder":
        os.link = _no_links  # this child only: clips are copied, as onto another drive
        paths = [d / "p.sdproj" for d in world.folders]
        project = load_project(world.newest(paths))
        n = generation(project)
        while True:
            n += 1
            project.name = f"gen {n}"
            target = paths[1] if project.path == paths[0] else paths[0]
            # a fresh destination each time (the files, never the temp files or folders)
            target.unlink(missing_ok=True)
            for d in world.media_dirs(target.parent):
                for x in d.iterdir():
                    if not x.name.endswith(".part"):
                        x.unlink()
            save_project(project, target)
            ack(n)


def run_kills(root: Path, kills: int, seed: int = 0) -> tuple[Figures, dict[str, int], str]:
    """``kills`` event-triggered kills, spread over the four operations; then the clean-up."""
    rng = random.Random(seed)
    world = World(root)
    try:
        for i in range(kills):
            world.round(OPS[i % len(OPS)], rng)
        final = world.finish()
    finally:
        world.close()
    return world.figures, final, world.watcher.kind


def figures_json(figures: Figures, final: dict[str, int], watcher: str, seconds: float) -> str:
    return json.dumps(
        {
            "kills": figures.kills,
            "kills_on_event": figures.kills_on_event,
            "watcher": watcher,
            "leftovers_max_per_folder": figures.leftovers_max,
            "stale_session_markers_max": figures.stale_markers_max,
            "recovery_copies_offered_max": figures.copies_offered_max,
            "recovery_copies_offered_min": figures.copies_offered_min,
            "after_next_save": final,
            "events": figures.events,
            "seconds": round(seconds, 1),
        }
    )
