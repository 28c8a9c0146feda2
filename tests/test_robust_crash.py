"""Crash safety (issue #5): a process saving or autosaving a project is killed with SIGKILL at
random moments, many times in a row. After every kill the project reopens, to the last
completed save or the one in flight when the kill came, never to a torn file; the ``.bak``
holds the save before it; the recovery copy of an autosave is offered and restores; and the
folders are left clean (no temp files or markers piling up).

The quick version forks the killed process (no interpreter start-up, so 2 x 30 kills take a
few seconds); ``bench/bench_cancel_stress.py --crash`` runs many more with fresh processes.
"""

from __future__ import annotations

import os
import random
import select
import signal
import time
from pathlib import Path

import pytest

from sora_desktop.core.autosave import Autosaver
from sora_desktop.core.project import BACKUP_SUFFIX, STALE_TEMP_S, load_project, save_project
from tests.robust_support.crash_child import generation, run_loop, seed_project

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork (POSIX)")
KILLS = 30


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))


def kill_at_random(kind: str, path: Path, rng: random.Random, seed: int) -> list[int]:
    """Fork a child running the save loop and SIGKILL it at a random moment while it saves:
    after 0-3 completed saves (so a busy machine cannot make every kill land before the first
    save) plus a random 0-15 ms. Returns the saves it acknowledged."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_fd)
            run_loop(kind, path, lambda n: os.write(write_fd, f"{n}\n".encode()), seed)
        finally:
            os._exit(0)
    os.close(write_fd)
    want, seen, deadline = rng.randint(0, 3), b"", time.monotonic() + 20
    while seen.count(b"\n") < want and time.monotonic() < deadline:
        ready, _, _ = select.select([read_fd], [], [], 0.5)
        if ready:
            seen += os.read(read_fd, 4096)
    time.sleep(rng.uniform(0.0, 0.015))
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
    with os.fdopen(read_fd, "rb") as fh:
        return [int(line) for line in (seen + fh.read()).split()]


def test_killing_project_saves_never_loses_the_file(tmp_path):
    path = tmp_path / "film.sdproj"
    seed_project(path)
    rng = random.Random(1)
    last = 0  # the newest save known to be complete
    saves = 0
    torn: set[str] = set()
    for round_ in range(KILLS):
        acks = kill_at_random("save", path, rng, round_)
        saves += len(acks)
        if acks:
            last = acks[-1]
        project = load_project(path)  # never a ProjectError: the file is always whole
        gen = generation(project)
        assert last <= gen <= last + 1, (round_, last, gen)
        bak = path.with_name(path.name + BACKUP_SUFFIX)
        if bak.exists():  # the previous good state
            assert generation(load_project(bak)) in (gen - 1, gen), round_
        torn |= {f.name for f in tmp_path.glob(".film.sdproj*.part")}
        last = gen
    assert saves > KILLS  # the kills landed while saves were really happening
    # kills that hit a write leave only a temp file, never a torn project; they are reported
    print(f"{KILLS} kills, {saves} completed saves, {len(torn)} writes cut (temp files left)")


def test_a_later_save_clears_temp_files_left_by_a_killed_save(tmp_path):
    path = tmp_path / "film.sdproj"
    project = seed_project(path)
    old = tmp_path / ".film.sdproj.abc123.part"
    old_bak = tmp_path / ".film.sdproj.bak.def456.part"
    young = tmp_path / ".film.sdproj.young.part"  # maybe another window's save in progress
    other = tmp_path / ".other.sdproj.abc.part"  # not this project's
    for f in (old, old_bak, young, other):
        f.write_text("{half")
    stale = time.time() - STALE_TEMP_S - 5
    for f in (old, old_bak, other):
        os.utime(f, (stale, stale))
    save_project(project)
    assert not old.exists() and not old_bak.exists()
    assert young.exists() and other.exists()


def test_killing_autosaves_always_leaves_a_recoverable_copy(tmp_path):
    path = tmp_path / "film.sdproj"
    seed_project(path)
    recovery = tmp_path / "recovery"
    rng = random.Random(2)
    on_disk = generation(load_project(path))
    recovered = 0
    for round_ in range(KILLS):
        acks = kill_at_random("autosave", path, rng, round_)
        with Autosaver(recovery) as app:  # the next start of the app
            pending = app.pending()
            if not acks:  # killed before its first copy was complete: nothing to offer ...
                assert len(pending) <= 1  # ... or the copy whose ack was cut off
            else:
                assert len(pending) == 1, (round_, pending)
            for info in pending:
                project = app.restore(info)  # never a ProjectError
                gen = generation(project)
                # the last acknowledged copy, or the one whose acknowledgement the kill cut off
                expected = (acks[-1], acks[-1] + 1) if acks else (on_disk + 1,)
                assert gen in expected, (round_, acks[-3:], gen)
                assert project.path == path and project.dirty
                recovered += 1
        # restored, then closed cleanly: nothing of either session is left behind
        assert sorted(os.listdir(recovery)) == [], (round_, sorted(os.listdir(recovery)))
        assert generation(load_project(path)) == on_disk  # autosave never touched the file
    assert recovered > KILLS // 2  # most kills came after at least one complete copy
    print(f"{KILLS} kills during autosave, {recovered} copies recovered")


def test_a_killed_session_with_only_a_temp_file_is_cleaned_up(tmp_path):
    recovery = tmp_path / "recovery"
    session = "0" * 32
    recovery.mkdir()
    (recovery / f".{session}-abc.sdproj.x1y2.part").write_text("{half")
    (recovery / f".{session}-abc.json.x1y2.part").write_text("{half")
    (recovery / f"session-{session}.lock").write_text('{"pid": 999999999}')
    with Autosaver(recovery) as app:
        assert app.pending() == []
        left = sorted(os.listdir(recovery))
        assert left == [app.marker.name]


def test_a_live_sessions_temp_files_are_left_alone(tmp_path):
    recovery = tmp_path / "recovery"
    with Autosaver(recovery) as other:  # another window, still running
        tmp = recovery / f".{other.session}-abc.sdproj.x1y2.part"
        tmp.write_text("{half")
        with Autosaver(recovery) as app:
            app.pending()
            assert tmp.exists()
