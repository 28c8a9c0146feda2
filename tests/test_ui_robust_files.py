"""Issue 15 §4 through the app: a project open in two windows, Save As under a new name in the
same folder while a shot is generating, PNG export into a folder that holds the user's files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sora_desktop.core import project as core_project
from sora_desktop.core.autosave import Autosaver
from sora_desktop.core.request import GenerationRequest
from tests.ui_support import (
    close_window,
    make_window,
    set_fields,
    unload_models_after_module,  # noqa: F401
    use_micro_model,
)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    return tmp_path


def test_second_window_opens_the_project_read_only(qtbot, home, tmp_path):
    first = make_window(tmp_path, autosaver=Autosaver(tmp_path / "rec1"))
    second = make_window(tmp_path, autosaver=Autosaver(tmp_path / "rec2"))
    try:
        first.project_vm.add_shot(GenerationRequest("shot from window one"))
        path = tmp_path / "film.sdproj"
        assert first.save_as(path)

        assert second.open_project(path)
        title, text = second.messages[-1]
        assert title == "Opened read-only"
        assert "already open in another window" in text and "Save As" in text
        assert "read-only" in second.windowTitle()
        assert "Read-only" in second.project_status.text()

        second.project_vm.add_shot(GenerationRequest("shot from window two"))
        before = path.read_bytes()
        assert not second.save()  # refused with a plain message, nothing written
        title, text = second.messages[-1]
        assert title == "Could not save" and "Not saved" in text and "Save As" in text
        assert path.read_bytes() == before

        mine = tmp_path / "film-two.sdproj"
        assert second.save_as(mine)  # Save As works and makes that window writable
        assert "read-only" not in second.windowTitle()
        assert len(core_project.load_project(mine).shots) == 2

        # closing a read-only window with changes offers Save As, not a Save that must fail
        other = make_window(tmp_path, autosaver=Autosaver(tmp_path / "rec4"))
        try:
            assert other.open_project(path)
            other.project_vm.add_shot(GenerationRequest("unsaved in a read-only window"))
            asked = []

            def answer(title, text, buttons, default=0):
                asked.append((text, buttons))
                return "Cancel"

            other.ask = answer
            assert not other.maybe_save()
            text, buttons = asked[-1]
            assert buttons[0] == "Save As…" and "read-only" in text
        finally:
            other.ask = lambda *a, **k: "Don't save"
            close_window(other)

        first.project_vm.add_shot(GenerationRequest("another from window one"))
        assert first.save()  # the holder saves as usual
        assert len(core_project.load_project(path).shots) == 2
    finally:
        close_window(second)
        close_window(first)
    # closed windows let go: a new window opens it writable
    third = make_window(tmp_path, autosaver=Autosaver(tmp_path / "rec3"))
    try:
        assert third.open_project(path)
        assert "read-only" not in third.windowTitle()
        assert not any(t == "Opened read-only" for t, _ in third.messages)
    finally:
        close_window(third)


def test_save_as_new_name_same_folder_while_generating_gets_own_media(
    qtbot, home, monkeypatch, micro_model_dir, tmp_path
):
    use_micro_model(monkeypatch, micro_model_dir, tmp_path / "home")
    w = make_window(tmp_path)
    try:
        assert w.save_as(tmp_path / "film.sdproj")
        set_fields(w, prompt="a red ball", steps=40)
        (job,) = w.generate_selected()
        qtbot.waitUntil(lambda: job.step >= 1, timeout=60_000)
        assert w.save_as(tmp_path / "film-v2.sdproj")  # same folder, new name, mid-generation
        qtbot.waitUntil(lambda: job.is_terminal, timeout=60_000)
        take = w.project_vm.selected.selected
        assert take.status == "done" and take.clip.startswith("film-v2_media/")
        assert w.save()
    finally:
        close_window(w)
    shutil.rmtree(tmp_path / "film_media", ignore_errors=True)  # the old project is deleted
    (tmp_path / "film.sdproj").unlink()
    project = core_project.load_project(tmp_path / "film-v2.sdproj")
    clip = core_project.resolve_media(project, project.shots[0].selected.clip)
    assert clip.is_file() and clip.stat().st_size > 0


def test_app_png_export_into_a_folder_with_files_makes_a_subfolder(
    qtbot, home, monkeypatch, micro_model_dir, tmp_path
):
    use_micro_model(monkeypatch, micro_model_dir, tmp_path / "home")
    folder = tmp_path / "renders"
    folder.mkdir()
    mine = {"frame_0001.png": b"mine 1", "frame_9999.png": b"mine 9999", "metadata.json": b"{}"}
    for name, data in mine.items():
        (folder / name).write_bytes(data)
    w = make_window(tmp_path)
    try:
        set_fields(w, prompt="a red ball", steps=2, seconds=1)
        with qtbot.waitSignal(w.queue_vm.job_finished, timeout=60_000):
            w.act_generate.trigger()
        dialog = w.open_export_dialog()
        dialog.format.setCurrentIndex(dialog.format.findData("png"))
        dialog.path_edit.setText(str(folder))
        dialog.export_btn.click()
        qtbot.waitUntil(lambda: dialog.result_path is not None, timeout=60_000)
        out = Path(dialog.result_path)
        dialog.close()
    finally:
        close_window(w)
    assert out.parent == folder and out.name.endswith("_frames")  # the CLI's rule too
    assert len(list(out.glob("frame_*.png"))) == 8
    for name, data in mine.items():
        assert (folder / name).read_bytes() == data
    assert sorted(p.name for p in folder.iterdir()) == sorted([*mine, out.name])
