"""End to end through the main window: prompt -> generate (embedded model) -> live preview ->
player -> export -> the file plays back; cancel mid-generation; policy; inline validation."""

from __future__ import annotations

import cv2

from tests.ui_support import (
    model_window,  # noqa: F401 (the window fixture)
    set_fields,
    unload_models_after_module,  # noqa: F401
)


def count_frames(path) -> tuple[int, int, int]:
    cap = cv2.VideoCapture(str(path))
    n = 0
    w = h = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        h, w = frame.shape[:2]
        n += 1
    cap.release()
    return n, w, h


def test_prompt_to_export_plays_back(qtbot, window, tmp_path):
    from sora_desktop.engine.export import read_metadata

    set_fields(window, prompt="a blue cube sliding on sand", steps=3, seconds=2.5)  # 20 frames
    previews = []
    window.player.vm.preview_changed.connect(
        lambda: previews.append(window.player.vm.preview is not None)
    )
    with qtbot.waitSignal(window.queue_vm.job_finished, timeout=60_000) as done:
        window.act_generate.trigger()  # Ctrl+Enter
    job_id, clip = done.args
    assert any(previews), "the player never showed the live preview"

    shot = window.project_vm.selected
    assert shot.status == "done" and shot.selected.clip
    assert shot.selected.request.prompt == "a blue cube sliding on sand"
    # the player loaded the finished clip (after the preview ended)
    assert window.player.vm.preview is None
    assert len(window.player.vm.frames) == 20
    card = window.storyboard.card(shot.id)
    assert card.chip.text() == "Done" and card.thumb.pixmap() is not None
    assert not card.thumb.pixmap().isNull()

    dialog = window.open_export_dialog()
    dialog.format.setCurrentIndex(dialog.format.findData("mp4"))
    dialog.size.setCurrentIndex(dialog.size.findData(2))
    dialog.path_edit.setText(str(tmp_path / "out" / "film.mp4"))
    dialog.export_btn.click()
    qtbot.waitUntil(lambda: dialog.result_path is not None, timeout=60_000)
    out = dialog.result_path
    assert dialog.progress.value() == 1000 and dialog.cancel_btn.text() == "Close"
    assert count_frames(out) == (20, 128, 128)
    meta = read_metadata(out)
    assert meta["ai_generated"] is True
    assert meta["request"]["prompt"] == "a blue cube sliding on sand"
    dialog.close()

    # "Open settings from clip" brings the prompt and settings back into a fresh project
    window.project_vm.set_project(
        __import__("sora_desktop.core.project").core.project.new_project()
    )
    assert window.open_settings_from_clip(out)
    restored = window.project_vm.selected.request
    assert restored.prompt == "a blue cube sliding on sand"
    assert restored.steps == 3 and restored.num_frames == 20
    assert window.editor.prompt_edit.toPlainText() == "a blue cube sliding on sand"


def test_storyboard_export_with_crossfade(qtbot, window, tmp_path):
    set_fields(window, prompt="a red ball", steps=2, seconds=2)
    window.add_shot()  # the draft becomes shot 1
    window.add_shot()  # shot 2: shot 1's settings, a fresh seed and no prompt yet
    set_fields(window, prompt="a green ball", steps=2, seconds=2)
    jobs = window.generate_all()
    assert len(jobs) == 2
    qtbot.waitUntil(lambda: all(j.status == "done" for j in window.queue_vm.jobs), timeout=60_000)
    dialog = window.open_export_dialog()
    dialog.scope.setCurrentIndex(dialog.scope.findData("storyboard"))
    dialog.format.setCurrentIndex(dialog.format.findData("mp4"))
    dialog.size.setCurrentIndex(dialog.size.findData(1))
    dialog.crossfade.setValue(0.5)  # seconds now (issue 20): 4 frames at 8 fps
    dialog.path_edit.setText(str(tmp_path / "board.mp4"))
    dialog.export_btn.click()
    qtbot.waitUntil(lambda: dialog.result_path is not None, timeout=60_000)
    assert count_frames(dialog.result_path)[0] == 16 + 16 - 4
    dialog.close()


def test_cancel_mid_generation_keeps_the_app_usable(qtbot, window):
    set_fields(window, prompt="a yellow star spinning", steps=150)
    ends = []
    for sig in ("finished", "failed", "cancelled"):
        getattr(window.gen_worker, sig).connect(lambda *a, s=sig: ends.append((s, a[0])))
    (job,) = window.generate_selected()
    qtbot.waitUntil(lambda: job.step >= 1, timeout=60_000)
    assert window.act_cancel.isEnabled()
    window.act_cancel.trigger()  # Esc
    qtbot.waitUntil(lambda: job.status == "cancelled", timeout=30_000)
    assert not window.act_cancel.isEnabled()
    assert job.step < 150
    take = window.project_vm.selected.takes[-1]
    assert take.status == "cancelled" and take.clip is None

    # still usable: the next job runs to the end
    set_fields(window, steps=2)
    with qtbot.waitSignal(window.queue_vm.job_finished, timeout=60_000):
        (job2,) = window.generate_selected()
    qtbot.wait(100)
    assert [e for e in ends if e[1] == job.id] == [("cancelled", job.id)]
    assert [e for e in ends if e[1] == job2.id] == [("finished", job2.id)]
    assert window.isVisible()


def test_variations_keep_the_picked_take(qtbot, window):
    set_fields(window, prompt="a purple ball", steps=2)
    with qtbot.waitSignal(window.queue_vm.job_finished, timeout=60_000):
        (first,) = window.generate_selected()
    shot = window.project_vm.selected
    assert shot.selected_take == first.take_id
    jobs = window.generate_selected(variations=True)
    assert len(jobs) == 3 and len({j.request.seed for j in jobs}) == 3
    qtbot.waitUntil(lambda: all(j.status == "done" for j in jobs), timeout=60_000)
    assert len(shot.takes) == 4
    assert shot.selected_take == first.take_id  # variations do not replace the user's pick
    # the player offers the takes; picking one is an undoable edit
    combo = window.player.takes_combo
    assert combo.isVisible() and combo.count() == 4
    assert combo.currentData() == first.take_id
    combo.activated.emit(combo.findData(jobs[1].take_id))
    assert shot.selected_take == jobs[1].take_id
    assert window.storyboard.card(shot.id).meta.text().endswith("take 3/4")
    window.project_vm.undo_stack.undo()
    assert shot.selected_take == first.take_id
    assert combo.currentData() == first.take_id


def test_continue_from_previous_uses_last_frame(qtbot, window):
    set_fields(window, prompt="a red ball", steps=2)
    window.add_shot()
    window.add_shot()
    set_fields(window, prompt="a red ball rolling away", steps=2)
    second = window.project_vm.selected
    window.editor.continue_check.setChecked(True)
    assert second.continue_from_previous
    jobs = window.generate_all()
    qtbot.waitUntil(lambda: all(j.is_terminal for j in jobs), timeout=60_000)
    assert [j.status for j in jobs] == ["done", "done"]
    start = second.selected.request.start_image
    first_clip = window.project_vm.selected_clip(window.project_vm.shots[0].id)
    assert start is not None and start.endswith("_last.png")
    assert start.startswith(str(first_clip.parent)) and first_clip.stem in start
    # a shot that continues but has no previous clip gets a plain explanation
    window.project_vm.move_shot(second.id, 0)
    window.project_vm.set_continue(second.id, True)
    assert window.generate_selected() == []
    assert "first shot" in window.messages[-1][1]


def test_policy_blocks_before_queueing(qtbot, window):
    set_fields(window, prompt="a nude minor on a beach", steps=2)
    assert window.generate_selected() == []
    assert window.queue_vm.jobs == []
    assert window.editor.policy_label.isVisible()
    assert "sexual content involving minors" in window.editor.policy_label.text()


def test_invalid_values_show_inline_next_to_their_field(qtbot, window):
    ed = window.editor
    set_fields(window, prompt="a ball", steps=5)
    shot_count = len(window.project_vm.shots)
    ed.steps_spin.setValue(0)
    assert ed.steps_error.isVisible() and "steps" not in ed.prompt_error.text()
    assert "allowed 1 to 200" in ed.steps_error.text()
    assert window.generate_selected() == []  # nothing queued while a field is invalid
    assert window.queue_vm.jobs == [] and len(window.project_vm.shots) == shot_count
    ed.steps_spin.setValue(4)
    assert not ed.steps_error.isVisible()
    ed.duration_spin.setValue(30.0)  # 240 frames: more than the built-in model makes
    assert ed.duration_error.isVisible() and "121 frames" in ed.duration_error.text()
    ed.guidance_spin.setValue(50.0)  # a second bad field is flagged at the same time
    assert ed.duration_error.isVisible() and ed.guidance_error.isVisible()
    assert "allowed 0.0 to 30.0" in ed.guidance_error.text()
    ed.guidance_spin.setValue(4.0)
    ed.duration_spin.setValue(2.0)
    assert not ed.duration_error.isVisible() and not ed.guidance_error.isVisible()
    ed.prompt_edit.setPlainText("   ")
    ed.flush()
    assert ed.prompt_error.isVisible() and "must not be empty" in ed.prompt_error.text()


def test_enhance_rewrites_and_can_be_undone(qtbot, window):
    ed = window.editor
    set_fields(window, prompt="red ball grass", steps=2)
    better = ed.enhance()
    assert better and better != "red ball grass"
    assert ed.prompt_edit.toPlainText() == better
    assert ed.revert_btn.isVisible()
    window.add_shot()  # the draft becomes a shot carrying both texts
    req = window.project_vm.selected.request
    assert req.prompt == better and req.original_prompt == "red ball grass"
    ed.revert_btn.click()
    assert ed.prompt_edit.toPlainText() == "red ball grass"
    assert window.project_vm.selected.request.prompt == "red ball grass"


def test_continuing_shot_is_skipped_with_a_note_when_the_previous_take_is_cancelled(qtbot, window):
    """Issue 15: cancelling shot 1 skipped shot 2 (which starts on shot 1's last frame) with a
    note in the queue and the status bar, not an error box."""
    set_fields(window, prompt="a red ball", steps=2)
    window.add_shot()
    window.add_shot()  # a new shot starts without a prompt (issue 20)
    set_fields(window, prompt="the red ball rolls on")
    window.editor.continue_check.setChecked(True)
    first, second = window.generate_all()
    shown_before = len(window.messages)
    window.queue_vm.cancel(first.id)
    qtbot.waitUntil(lambda: second.is_terminal and first.is_terminal, timeout=60_000)
    qtbot.wait(300)  # any late worker signal for the skipped job arrives meanwhile
    assert first.status == "cancelled" and second.status == "cancelled"
    note = window.queue_vm.notes[second.id]
    assert note.startswith("Skipped: Shot 1 was cancelled") and "continue from" in note
    assert window.queue_panel.rows[second.id].detail.text() == note
    assert window.statusBar().currentMessage() == note
    assert window.messages[shown_before:] == []  # no box at all
    assert window.project_vm.shots[1].takes[-1].status == "cancelled"
    assert window.isVisible()
