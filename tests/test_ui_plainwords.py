"""Issue 20 through the app's real start-up path: the editor names what the built-in model
cannot draw and offers example prompts; a finished clip plays on a loop; the export dialog
defaults to at least 512 px, shows cross-fades in seconds, writes a sidecar only when asked, and
offers "Show in folder" and "Play" afterwards."""

from __future__ import annotations

from pathlib import Path

import cv2

from sora_desktop.studio.vocabulary import EXAMPLE_PROMPTS
from tests.ui_support import (
    model_window,  # noqa: F401 (the window fixture)
    set_fields,
    unload_models_after_module,  # noqa: F401
)


def test_editor_names_unknown_words_and_an_example_fills_the_prompt(qtbot, window):
    ed = window.editor
    set_fields(window, prompt="a cat walking in the rain")
    note = ed.vocabulary_note
    assert note.isVisible() and note.warning.isVisible()
    text = note.warning.text()
    for word in ("cat", "walking", "rain"):
        assert f"“{word}”" in text
    assert "shapes, colours and motions" in text and "Model manager" in text
    assert note.words == ["cat", "walking", "rain"]

    note.examples.linkActivated.emit("1")  # what a click on the second example sends
    assert ed.prompt_edit.toPlainText() == EXAMPLE_PROMPTS[1]
    assert not note.isVisible()  # every word known: no warning
    shot = window.project_vm.selected
    request = shot.request if shot is not None else ed.draft
    assert request.prompt == EXAMPLE_PROMPTS[1]
    # only the built-in model is limited to its world: another model gets no warning
    note.update_for("wan2.1-t2v-1.3b", "a cat walking in the rain")
    assert not note.isVisible() and note.words == []


def _clip_size(path) -> tuple[int, int]:
    cap = cv2.VideoCapture(str(path))
    ok, frame = cap.read()
    cap.release()
    assert ok
    return frame.shape[1], frame.shape[0]


def test_finished_clip_loops_and_export_defaults_show_in_folder_play(
    qtbot, window, tmp_path, monkeypatch
):
    set_fields(window, prompt="a red ball", steps=2, seconds=1)
    with qtbot.waitSignal(window.queue_vm.job_finished, timeout=60_000):
        window.act_generate.trigger()
    vm = window.player.vm
    qtbot.waitUntil(lambda: bool(vm.frames), timeout=10_000)
    assert vm.playing and vm.loop  # a finished clip plays, not frame 1 frozen
    seen: list[int] = []
    vm.frame_changed.connect(seen.append)
    last = len(vm.frames) - 1
    # the frame wraps past the end back to the first one
    qtbot.waitUntil(
        lambda: any(a == last and b == 0 for a, b in zip(seen, seen[1:], strict=False)),
        timeout=20_000,
    )
    assert vm.playing

    # the export dialog: Auto size of at least 512 px, cross-fade in seconds, no sidecar
    dialog = window.open_export_dialog()
    assert dialog.size.currentData() is None  # "Auto"
    plan = dialog.plan()
    assert min(plan.width, plan.height) >= 512
    assert dialog.method.currentData() == "lanczos"
    assert dialog.crossfade.suffix() == " s"
    dialog.crossfade.setValue(0.5)
    assert dialog.chosen_settings().crossfade_frames == 4  # 0.5 s at the film's 8 fps
    assert not dialog.sidecar.isChecked()
    out_dir = tmp_path / "videos"
    out_dir.mkdir()
    dialog.path_edit.setText(str(out_dir / "film.mp4"))
    dialog.export_btn.click()
    qtbot.waitUntil(lambda: dialog.result_path is not None, timeout=60_000)
    out = Path(dialog.result_path)
    assert min(_clip_size(out)) >= 512
    assert sorted(p.name for p in out_dir.iterdir()) == ["film.mp4"]  # no stray .json

    # "Show in folder" and "Play" open the folder and the file with the system's apps
    from PySide6.QtGui import QDesktopServices

    opened: list[str] = []
    monkeypatch.setattr(
        QDesktopServices,
        "openUrl",
        staticmethod(lambda url: opened.append(url.toLocalFile()) or True),
    )
    bar = dialog.done_bar
    assert bar.isVisible()
    bar.show_folder_btn.click()
    bar.play_btn.click()
    assert [Path(p) for p in opened] == [out_dir, out]

    # the sidecar when asked for
    dialog.sidecar.setChecked(True)
    dialog.path_edit.setText(str(out_dir / "with_json.mp4"))
    dialog.result_path = None
    dialog.export_btn.click()
    qtbot.waitUntil(lambda: dialog.result_path is not None, timeout=60_000)
    assert (out_dir / "with_json.mp4.json").is_file()
    dialog.close()
