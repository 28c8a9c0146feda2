"""Issue 15 §4: the user's files are never lost or exposed by saving a project.

Links are written through, modes kept, a project open elsewhere is locked (read-only for the
second opener, stale locks of dead processes never block), Save As in the same folder gets its
own media. Export-side cases (PNG frames, device nodes, SIGTERM) are in test_robust_export_files.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from sora_desktop.core import project_lock
from sora_desktop.core.atomic import atomic_write_text
from sora_desktop.core.project import (
    ProjectError,
    Take,
    clip_relpath,
    load_project,
    new_project,
    resolve_media,
    save_project,
)
from sora_desktop.core.request import GenerationRequest

ROOT = Path(__file__).resolve().parents[1]
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX links, modes and signals")


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))


@pytest.fixture
def umask022():
    old = os.umask(0o022)  # the usual default: a rename-based save used to give 0644
    yield
    os.umask(old)


def project_with_clip(name: str = "Film"):
    p = new_project(name)
    s = p.add_shot(GenerationRequest("a red ball bounces", seed=1))
    t = p.add_take(s.id, Take.create(s.request))
    p.update_take(s.id, t.id, status="done", clip=clip_relpath(p, s.id, t.id))
    clip = resolve_media(p, t.clip)
    clip.parent.mkdir(parents=True)
    clip.write_bytes(b"clip-bytes")
    clip.with_name(f"{clip.stem}_thumb.png").write_bytes(b"thumb")
    return p, t


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# ------------------------------------------------------------------------------ links, modes
@posix_only
def test_symlinked_project_is_written_through_and_stays_a_link(tmp_path):
    synced = tmp_path / "synced"
    synced.mkdir()
    p, _ = project_with_clip()
    real = save_project(p, synced / "film.sdproj")
    link = tmp_path / "film.sdproj"
    link.symlink_to(real)

    q = load_project(link)
    q.add_shot(GenerationRequest("a shot added through the link"))
    save_project(q)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert len(load_project(real).shots) == 2  # the real (synced) file got the edit
    assert not list(tmp_path.glob(".*.part")) and not list(synced.glob(".*.part"))


@posix_only
def test_hardlinked_project_stays_linked_and_both_names_see_the_edit(tmp_path):
    p, _ = project_with_clip()
    a = save_project(p, tmp_path / "film.sdproj")
    b = tmp_path / "film-link.sdproj"
    os.link(a, b)
    inode = os.stat(a).st_ino

    q = load_project(a)
    q.add_shot(GenerationRequest("edited through one name"))
    save_project(q)
    assert os.stat(a).st_ino == inode == os.stat(b).st_ino and os.stat(a).st_nlink == 2
    assert len(load_project(b).shots) == 2
    assert not list(tmp_path.glob(".*.part"))


@posix_only
def test_private_project_and_its_backup_keep_mode_0600(tmp_path, umask022):
    p, _ = project_with_clip()
    out = save_project(p, tmp_path / "film.sdproj")
    os.chmod(out, 0o600)
    p.add_shot(GenerationRequest("second"))
    save_project(p)
    assert mode(out) == 0o600
    assert mode(tmp_path / "film.sdproj.bak") == 0o600
    p.add_shot(GenerationRequest("third"))
    save_project(p)  # the .bak is now replaced: still private
    assert mode(out) == 0o600 and mode(tmp_path / "film.sdproj.bak") == 0o600


@posix_only
def test_new_files_follow_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        atomic_write_text(tmp_path / "new.txt", "x")
    finally:
        os.umask(old)
    assert mode(tmp_path / "new.txt") == 0o600


@posix_only
def test_save_to_a_fifo_or_device_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "pipe.sdproj"
    os.mkfifo(fifo)
    p, _ = project_with_clip()
    outcome: list[BaseException | None] = []

    def save() -> None:
        try:
            save_project(p, fifo)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=save, daemon=True)
    worker.start()
    worker.join(10)  # reading the FIFO for the version check used to hang here
    if worker.is_alive():
        with open(fifo, "wb"):  # let the stuck reader go so the test process can end
            pass
        pytest.fail("saving to a FIFO hung")
    assert isinstance(outcome[0], ProjectError) and "not a regular file" in str(outcome[0])
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    with pytest.raises(OSError, match="not a regular file"):
        atomic_write_text(fifo, "x")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert [f.name for f in tmp_path.iterdir() if f.name != "home"] == ["pipe.sdproj"]


# ------------------------------------------------------------------------------ Save As
def test_save_as_in_the_same_folder_gets_its_own_media(tmp_path):
    p, t = project_with_clip()
    old = save_project(p, tmp_path / "film.sdproj")
    new = save_project(p, tmp_path / "film-v2.sdproj")
    assert t.clip.startswith("film-v2_media/")
    copy_ = resolve_media(p, t.clip)
    assert copy_.read_bytes() == b"clip-bytes"
    assert copy_.with_name(f"{copy_.stem}_thumb.png").read_bytes() == b"thumb"

    # the user deletes the old project and its media folder
    old.unlink()
    shutil.rmtree(tmp_path / "film_media")
    reopened = load_project(new)
    clip = resolve_media(reopened, reopened.shots[0].takes[0].clip)
    assert clip.read_bytes() == b"clip-bytes"


# ------------------------------------------------------------------------------ locking
def test_second_opener_gets_it_read_only_and_can_save_as(tmp_path):
    p, _ = project_with_clip()
    path = save_project(p, tmp_path / "film.sdproj")
    first, second = load_project(path), load_project(path)
    assert project_lock.hold(first) is None
    reason = project_lock.hold(second)
    assert reason is not None and "read-only" in reason and "Save As" in reason
    assert second.read_only == reason

    second.add_shot(GenerationRequest("made in the second window"))
    before = path.read_bytes()
    with pytest.raises(ProjectError, match="Not saved.*already open"):
        save_project(second)
    assert path.read_bytes() == before
    # code that does not hold the lock cannot write over it either
    with pytest.raises(ProjectError, match="already open"):
        save_project(load_project(path), path)
    assert path.read_bytes() == before

    # Save As another name works, and the second window then owns that file
    other = save_project(second, tmp_path / "film-mine.sdproj")
    assert second.read_only is None and second.lock is not None and second.lock.held
    assert len(load_project(other).shots) == 2
    third = load_project(other)
    assert project_lock.hold(third) is not None  # held by the second window now

    first.add_shot(GenerationRequest("made in the first window"))
    save_project(first)  # the holder saves normally
    project_lock.let_go(first)
    again = load_project(path)
    assert project_lock.hold(again) is None  # released on close
    project_lock.let_go(again)
    project_lock.let_go(second)


@posix_only
def test_symlink_and_target_share_one_lock(tmp_path):
    p, _ = project_with_clip()
    real = save_project(p, tmp_path / "film.sdproj")
    link = tmp_path / "link.sdproj"
    link.symlink_to(real)
    a, b = load_project(real), load_project(link)
    assert project_lock.hold(a) is None
    assert project_lock.hold(b) is not None
    project_lock.let_go(a)


HOLDER = textwrap.dedent(
    """
    import sys, time
    from sora_desktop.core import project_lock
    from sora_desktop.core.project import load_project
    p = load_project(sys.argv[1])
    assert project_lock.hold(p) is None
    print("locked", flush=True)
    time.sleep(120)
    """
)


@posix_only
def test_lock_of_another_instance_and_of_a_dead_one(tmp_path):
    p, _ = project_with_clip()
    path = save_project(p, tmp_path / "film.sdproj")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout.readline().strip() == "locked"
        mine = load_project(path)
        reason = project_lock.hold(mine)
        assert reason is not None and f"process {child.pid}" in reason
        os.kill(child.pid, signal.SIGKILL)  # a crash: no clean-up runs
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    # the dead process's lock does not block: opening again is writable at once
    assert project_lock.hold(mine) is None
    mine.add_shot(GenerationRequest("after the crash"))
    save_project(mine)
    project_lock.let_go(mine)
