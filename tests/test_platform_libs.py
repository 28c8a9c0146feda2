"""Platform code through libraries: session locks with filelock, PIDs with psutil (also where
the file system cannot lock), RAM with psutil (see test_diffusers_backend)."""

from __future__ import annotations

import json
import subprocess
import sys

from filelock import FileLock, Timeout

from sora_desktop.core import autosave
from sora_desktop.core.autosave import Autosaver
from sora_desktop.core.project import new_project


def test_session_marker_is_a_filelock_held_while_the_app_runs(tmp_path):
    with Autosaver(tmp_path) as app:
        other = FileLock(app.marker, timeout=0)  # what another process's probe does
        try:
            other.acquire(timeout=0)
            raise AssertionError("the session marker was not locked")
        except Timeout:
            pass
    assert not app.marker.exists()


class _NoLocks:
    """A file system without working locks (some network shares)."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def acquire(self, timeout=None):
        raise NotImplementedError("FileSystem does not appear to support flock")


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    return child.pid


def test_without_locks_the_pid_decides(monkeypatch, tmp_path):
    monkeypatch.setattr(autosave, "FileLock", _NoLocks)
    running = Autosaver(tmp_path)
    assert json.loads(running.marker.read_text())["pid"] == running.pid
    running.write(new_project("Storyboard"))
    second = Autosaver(tmp_path)
    try:
        assert second.pending() == []  # its process is alive: not offered
        marker = json.loads(running.marker.read_text())
        running.marker.write_text(json.dumps({**marker, "pid": _dead_pid()}))
        [info] = second.pending()  # the process is gone: the copy is offered
        assert info.session == running.session and info.project_name == "Storyboard"
    finally:
        second.close()
        running.close()
