"""Projects through the UI: save / reopen / compare, recovery after a crash, bad files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sora_desktop.core.request import GenerationRequest
from tests.ui_support import (
    close_window,
    make_window,
    set_fields,
    unload_models_after_module,  # noqa: F401
    use_micro_model,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    return tmp_path


def test_save_reopen_and_compare(qtbot, home, monkeypatch, micro_model_dir, tmp_path):
    use_micro_model(monkeypatch, micro_model_dir, tmp_path / "home")
    w = make_window(tmp_path)
    try:
        set_fields(w, prompt="a red ball", steps=2)
        with qtbot.waitSignal(w.queue_vm.job_finished, timeout=60_000):
            w.generate_selected()
        w.add_shot()
        set_fields(w, prompt="a green cube", steps=3, seconds=3)
        w.project_vm.set_continue(w.project_vm.selected_id, True)
        target = tmp_path / "films" / "My film.sdproj"
        assert w.save_as(target)
        assert not w.isWindowModified()
        before = w.project_vm.project.to_dict()
        assert str(target) in w.settings.recent_files[0]
    finally:
        close_window(w)

    w2 = make_window(tmp_path / "second")
    try:
        assert w2.open_project(target)
        after = w2.project_vm.project.to_dict()
        assert after["shots"] == before["shots"]
        assert after["name"] == "My film"
        shots = w2.project_vm.shots
        assert [s.request.prompt for s in shots] == ["a red ball", "a green cube"]
        assert shots[1].continue_from_previous and shots[1].request.num_frames == 24
        # the clip was copied beside the project and plays
        clip = w2.project_vm.selected_clip(shots[0].id)
        assert clip is not None and clip.is_relative_to(target.parent)
        w2.project_vm.select(shots[0].id)
        assert len(w2.player.vm.frames) == 16
        assert [c.shot_id for c in w2.storyboard.strip.cards] == [s.id for s in shots]
        assert not w2.isWindowModified()
    finally:
        close_window(w2)


CRASHER = textwrap.dedent(
    """
    import os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from pathlib import Path
    from PySide6.QtWidgets import QApplication
    from sora_desktop.core.autosave import Autosaver
    from sora_desktop.core.request import GenerationRequest
    from sora_desktop.core.settings import Settings
    from sora_desktop.ui.main_window import MainWindow

    app = QApplication([])
    tmp = Path(sys.argv[1])
    settings = Settings(output_dir=str(tmp / "exports"), models_dir=str(tmp / "models"),
                        autosave_seconds=0)
    w = MainWindow(settings, autosaver=Autosaver(tmp / "recovery"), warm_up=False)
    w.project_vm.add_shot(GenerationRequest("unsaved shot one", steps=2))
    w.project_vm.add_shot(GenerationRequest("unsaved shot two", steps=2))
    assert w.autosave_now() is not None
    print("autosaved", flush=True)
    os._exit(9)  # a crash: no close(), no cleanup
    """
)


def test_autosave_recovery_after_a_crash(qtbot, home, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = subprocess.run(
        [sys.executable, "-c", CRASHER, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 9 and "autosaved" in run.stdout, run.stderr

    from sora_desktop.core.autosave import Autosaver

    w = make_window(tmp_path, autosaver=Autosaver(tmp_path / "recovery"))
    asked = []

    def answer(title, text, buttons, default=0):
        asked.append((title, text))
        return "Restore"

    w.ask = answer
    try:
        assert w.offer_recovery()
        assert asked and "closed unexpectedly" in asked[0][1]
        assert [s.request.prompt for s in w.project_vm.shots] == [
            "unsaved shot one",
            "unsaved shot two",
        ]
        assert w.isWindowModified()  # restored work is unsaved until the user saves it
        assert w.autosaver.pending() == []  # offered once, not again
        # saving it clears the recovery copy
        assert w.save_as(tmp_path / "rescued.sdproj")
        assert not list((tmp_path / "recovery").glob("*.sdproj"))
    finally:
        close_window(w)


def test_autosave_writes_only_when_something_changed(qtbot, home, tmp_path):
    w = make_window(tmp_path)
    try:
        assert w.autosave_now() is None  # nothing to save yet
        w.project_vm.add_shot(GenerationRequest("x"))
        path = w.autosave_now()
        assert path is not None and path.is_file()
        assert w.autosave_now() is None  # unchanged since the last copy
        w.project_vm.undo_stack.undo()
        w.project_vm.undo_stack.redo()
        assert w.autosave_now() is not None
    finally:
        close_window(w)
    assert not path.exists()  # a clean exit removes this session's copies


@pytest.mark.parametrize(
    "content, words",
    [
        (b"{\x00\x01 not json at all", "cannot be opened"),
        (b'{"format": "sora-desktop-project", "version": 1, "shots": [', "cut off"),
        (json.dumps({"format": "sora-desktop-project", "version": 99}).encode(), "newer"),
    ],
    ids=["garbage", "truncated", "newer-version"],
)
def test_bad_project_file_shows_a_message_and_is_never_overwritten(
    qtbot, home, tmp_path, content, words
):
    bad = tmp_path / "bad.sdproj"
    bad.write_bytes(content)
    w = make_window(tmp_path)
    try:
        w.project_vm.add_shot(GenerationRequest("my current work"))
        w.ask = lambda *a, **k: "Don't save"
        assert not w.open_project(bad)
        title, text = w.messages[-1]
        assert title == "Cannot open this project" and words in text
        # the current work is still there and is not tied to the bad file
        assert [s.request.prompt for s in w.project_vm.shots] == ["my current work"]
        assert w.project_vm.project.path != bad
        assert w.save_as(tmp_path / "other.sdproj")
    finally:
        close_window(w)
    assert bad.read_bytes() == content
    assert not (tmp_path / "bad.sdproj.bak").exists()


def test_unsaved_changes_are_offered_for_saving_on_close(qtbot, home, tmp_path):
    w = make_window(tmp_path)
    w.project_vm.add_shot(GenerationRequest("keep me"))
    questions = []

    def answer(title, text, buttons, default=0):
        questions.append(title)
        return "Cancel"

    w.ask = answer
    w.close()
    assert questions == ["Save changes?"] and w.isVisible()  # Cancel keeps the window open
    w.ask = lambda *a, **k: "Don't save"
    w.close()
    assert not w.isVisible()
    close_window(w)


def test_save_as_while_generating_keeps_the_clip_with_the_project(
    qtbot, home, monkeypatch, micro_model_dir, tmp_path
):
    use_micro_model(monkeypatch, micro_model_dir, tmp_path / "home")
    w = make_window(tmp_path)
    try:
        set_fields(w, prompt="a red ball", steps=40)
        (job,) = w.generate_selected()
        qtbot.waitUntil(lambda: job.step >= 1, timeout=60_000)
        target = tmp_path / "moved" / "film.sdproj"
        assert w.save_as(target)  # the project moves while its clip is being made
        qtbot.waitUntil(lambda: job.is_terminal, timeout=60_000)
        take = w.project_vm.selected.selected
        assert take.status == "done" and take.clip.startswith("film_media/")
        clip = w.project_vm.selected_clip(w.project_vm.selected_id)
        assert clip is not None and clip.is_relative_to(target.parent)
    finally:
        close_window(w)


def test_deleting_a_generating_shot_then_undo_leaves_a_cancelled_take(
    qtbot, home, monkeypatch, micro_model_dir, tmp_path
):
    use_micro_model(monkeypatch, micro_model_dir, tmp_path / "home")
    w = make_window(tmp_path)
    try:
        set_fields(w, prompt="a red ball", steps=150)
        (job,) = w.generate_selected()
        qtbot.waitUntil(lambda: job.step >= 1, timeout=60_000)
        w.delete_shot()
        assert w.project_vm.shots == []
        qtbot.waitUntil(lambda: job.is_terminal, timeout=30_000)
        w.project_vm.undo_stack.undo()
        (shot,) = w.project_vm.shots
        assert [t.status for t in shot.takes] == ["cancelled"]
        assert shot.status == "empty"
    finally:
        close_window(w)
