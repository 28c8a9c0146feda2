"""A queue that survives (issue 18), through the app's real start-up path: the app queues a
storyboard with the built-in model and dies mid-queue (kill -9 after a save, kill -9 with only
the recovery copy, or a normal close with jobs waiting); the next start on the project (or on
the recovery copy) offers the waiting shots, and "Generate now" finishes every one of them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sora_desktop.core import project as core_project
from sora_desktop.core.request import GenerationRequest

ROOT = Path(__file__).resolve().parents[1]
SHOTS = 3

pytestmark = pytest.mark.skipif(os.name != "posix", reason="kill -9 (POSIX signals)")


def run_app(tmp_path: Path, mode: str, *args: str, recovery: str = "Later", timeout: int = 240):
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        SORA_DESKTOP_HOME=str(tmp_path / "home"),
        QT_QPA_PLATFORM="offscreen",
        HF_HUB_OFFLINE="1",
        RESUME_TEST_RECOVERY=recovery,
    )
    env.pop("SORA_DESKTOP_EMBEDDED_MODEL", None)  # the built-in model
    return subprocess.run(
        [sys.executable, "-m", "tests.robust_support.resume_driver", mode, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def lines(run, key: str) -> list[str]:
    return [line[len(key) + 1 :] for line in run.stdout.splitlines() if line.startswith(key)]


def storyboard(tmp_path: Path) -> Path:
    """Three short shots (the third continues from the second), saved, nothing generated."""
    project = core_project.new_project("Film")
    for i, prompt in enumerate(["a red ball", "a blue cube", "the cube rolls"]):
        shot = project.add_shot(GenerationRequest(prompt, steps=2, num_frames=8, seed=i))
        if i == 2:
            project.set_continue_from_previous(shot.id, True)
    return core_project.save_project(project, tmp_path / "film.sdproj")


def check_first_run(run, expect_killed: bool) -> None:
    detail = run.stdout[-2000:] + run.stderr[-3000:]
    assert lines(run, "QUEUED") == [str(SHOTS)], detail
    assert lines(run, "FIRST_DONE") == [""], detail
    if expect_killed:
        assert run.returncode == -signal.SIGKILL, detail
    else:
        assert run.returncode == 0, detail


def check_resumed(run, path: Path, offered: int) -> None:
    detail = run.stdout[-2000:] + run.stderr[-3000:]
    assert run.returncode == 0, detail
    (offer,) = lines(run, "OFFER")
    assert json.loads(offer).startswith(
        f"{offered} shots were still waiting to be generated when Sora Desktop closed."
    ), detail
    assert lines(run, "STATES") == [json.dumps(["done"] * SHOTS)], detail
    assert "Traceback" not in run.stderr, detail
    project = core_project.load_project(path)
    assert all(s.selected is not None and s.selected.status == "done" for s in project.shots)
    for shot in project.shots:  # the interrupted takes were reused: no failed leftovers
        assert [t.status for t in shot.takes] == ["done"], shot.takes
        assert core_project.resolve_media(project, shot.selected.clip).is_file()
    # shot 3 continued from shot 2's clip (its last frame), made after the restart
    assert project.shots[2].selected.request.start_image.endswith("_last.png")
    assert "queue" not in json.loads(path.read_text("utf-8"))  # nothing left to offer


def test_kill_9_after_a_save_then_restart_on_the_project_finishes_the_queue(tmp_path):
    path = storyboard(tmp_path)
    first = run_app(tmp_path, "save", str(path))
    check_first_run(first, expect_killed=True)
    saved = json.loads(path.read_text("utf-8"))
    assert len(saved["queue"]) == SHOTS - 1  # what was still waiting when it died
    again = run_app(tmp_path, "resume", str(path))
    check_resumed(again, path, SHOTS - 1)


def test_kill_9_with_only_the_recovery_copy_then_restore_finishes_the_queue(tmp_path):
    path = storyboard(tmp_path)
    first = run_app(tmp_path, "autosave", str(path))
    check_first_run(first, expect_killed=True)
    assert "queue" not in json.loads(path.read_text("utf-8"))  # the file was never saved
    again = run_app(tmp_path, "resume", recovery="Restore")
    assert lines(again, "ASKED")[:1] == [json.dumps("Restore unsaved work?")], again.stdout
    check_resumed(again, path, SHOTS - 1)


def test_a_normal_close_with_shots_waiting_offers_them_at_the_next_start(tmp_path):
    path = storyboard(tmp_path)
    first = run_app(tmp_path, "close", str(path))
    check_first_run(first, expect_killed=False)
    assert json.loads(lines(first, "ASKED")[0]) == "Generation in progress", first.stdout
    again = run_app(tmp_path, "resume", str(path))
    check_resumed(again, path, SHOTS - 1)


# ------------------------------------------------------------------ in the window, no model


def queued_project(tmp_path: Path) -> Path:
    """A saved project whose three shots were queued (the queue in the file), nothing run."""
    from sora_desktop.studio.queue import ShotQueue

    path = storyboard(tmp_path)
    project = core_project.load_project(path)
    runs: list = []
    runner = type("Runner", (), {"submit": lambda s, r: runs.append(r), "cancel": None})()
    studio = ShotQueue(lambda: project, runner)
    studio.generate_all(force=True)
    core_project.save_project(project)
    return path


def test_not_now_forgets_the_queue_and_the_bar_has_accessible_names(qtbot, tmp_path, monkeypatch):
    from tests.ui_support import close_window, make_window

    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    path = queued_project(tmp_path)
    w = make_window(tmp_path)
    try:
        assert w.open_project(path)
        assert w.resume_bar.isVisible()
        assert w.resume_label.text().startswith(
            "3 shots were still waiting to be generated when Sora Desktop closed."
        )
        for button in (w.resume_now_button, w.resume_later_button):
            assert button.accessibleName() and button.isVisible()
        w.resume_later_button.click()
        assert not w.resume_bar.isVisible() and not w.queue_vm.jobs
        assert "Generate all" in w.statusBar().currentMessage()
        assert w.project_vm.project.queue == []
        assert all(t.status == "failed" for s in w.project_vm.project.shots for t in s.takes)
        w.project_vm.mark_dirty()
        assert w.save()
        assert "queue" not in json.loads(path.read_text("utf-8"))
        w.new_project()
        assert w.open_project(path) and not w.resume_bar.isVisible()  # not offered again
    finally:
        close_window(w)


def test_a_project_open_read_only_elsewhere_is_not_offered(qtbot, tmp_path, monkeypatch):
    from tests.ui_support import close_window, make_window

    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    path = queued_project(tmp_path)
    first, second = make_window(tmp_path), make_window(tmp_path)
    try:
        assert first.open_project(path) and first.resume_bar.isVisible()
        assert second.open_project(path)
        assert second.project_vm.project.read_only and not second.resume_bar.isVisible()
    finally:
        close_window(second)
        close_window(first)
