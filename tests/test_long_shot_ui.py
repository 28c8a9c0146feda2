"""'Prompts over time' in the prompt editor of the real main window (issue 17, long shots)."""

from __future__ import annotations

import pytest

from sora_desktop.core.request import TimedPrompt
from tests.ui_support import close_window, make_window


@pytest.fixture
def window(qtbot, tmp_path):
    w = make_window(tmp_path)
    qtbot.waitExposed(w)
    yield w
    close_window(w)


def test_prompts_over_time_are_edited_checked_and_undone(window, qtbot):
    ed = window.editor
    shot = window.project_vm.add_shot(
        ed.base_request().with_changes(prompt="a red ball", num_frames=32, fps=8)  # 4 s
    )
    window.project_vm.select(shot.id)
    assert ed.timed_edit.rows == []

    ed.timed_edit.add_btn.click()  # a row at 1 s, no text yet: not a prompt, no error
    (row,) = ed.timed_edit.rows
    assert (
        row.at_spin.value() == 1.0 and window.project_vm.shot(shot.id).request.timed_prompts == ()
    )
    row.text_edit.setText("the ball turns blue")
    row.text_edit.editingFinished.emit()
    assert window.project_vm.shot(shot.id).request.timed_prompts == (
        TimedPrompt(1.0, "the ball turns blue"),
    )

    # a time past the clip's end: said under the list, the shot keeps its valid prompts
    row.at_spin.setValue(9.0)
    assert ed.timed_error.isVisible() and "outside the clip" in ed.timed_error.text()
    assert window.project_vm.shot(shot.id).request.timed_prompts[0].at == 1.0
    row.at_spin.setValue(2.5)
    assert not ed.timed_error.isVisible()
    assert window.project_vm.shot(shot.id).request.timed_prompts[0].at == 2.5

    # edits of the list in a row are one undo step, as typing in one field is
    window.project_vm.undo_stack.undo()
    assert window.project_vm.shot(shot.id).request.timed_prompts == ()
    assert ed.timed_edit.rows == []  # the editor shows the undone state
    window.project_vm.undo_stack.redo()
    assert [(r.at_spin.value(), r.text_edit.text()) for r in ed.timed_edit.rows] == [
        (2.5, "the ball turns blue")
    ]

    ed.timed_edit.rows[0].remove_btn.click()
    assert window.project_vm.shot(shot.id).request.timed_prompts == ()


def test_each_shot_shows_its_own_prompts_over_time(window):
    ed = window.editor
    pvm = window.project_vm
    base = ed.base_request().with_changes(num_frames=32, fps=8)
    a = pvm.add_shot(base.with_changes(prompt="a red ball"))
    b = pvm.add_shot(
        base.with_changes(prompt="a cat", timed_prompts=(TimedPrompt(2.0, "the cat sleeps"),))
    )
    pvm.select(b.id)
    assert [(r.at_spin.value(), r.text_edit.text()) for r in ed.timed_edit.rows] == [
        (2.0, "the cat sleeps")
    ]
    pvm.select(a.id)
    assert ed.timed_edit.rows == []
    assert pvm.shot(b.id).request.timed_prompts == (TimedPrompt(2.0, "the cat sleeps"),)


def test_a_shot_made_in_one_pass_says_its_prompts_over_time_would_not_be_used(window):
    ed = window.editor
    pvm = window.project_vm
    shot = pvm.add_shot(ed.base_request().with_changes(prompt="a red ball", num_frames=16, fps=8))
    pvm.select(shot.id)
    ed.timed_edit.add_btn.click()
    row = ed.timed_edit.rows[0]
    row.text_edit.setText("the ball turns blue")
    row.text_edit.editingFinished.emit()
    assert ed.timed_error.isVisible() and "in one pass" in ed.timed_error.text()
    assert pvm.shot(shot.id).request.timed_prompts == ()  # nothing committed
    ed.duration_spin.setValue(4.0)  # long enough for a second window: now it is used
    assert not ed.timed_error.isVisible()
    assert pvm.shot(shot.id).request.timed_prompts == (TimedPrompt(1.0, "the ball turns blue"),)
