"""Storyboard edits through the UI: reorder by drop, trim, duplicate, delete, edit settings —
each undoable and redoable; the cards follow the project."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDropEvent

from sora_desktop.core.request import GenerationRequest
from tests.ui_support import (
    plain_window,  # noqa: F401 (the window fixture)
    unload_models_after_module,  # noqa: F401
)


def prompts(window) -> list[str]:
    return [s.request.prompt for s in window.project_vm.shots]


def card_prompts(window) -> list[str]:
    return [c.prompt.toolTip() for c in window.storyboard.strip.cards]


def add(window, *texts):
    for t in texts:
        window.project_vm.add_shot(GenerationRequest(t, steps=2))


def drop(window, shot_id: str, x: int) -> None:
    strip = window.storyboard.strip
    mime = QMimeData()
    mime.setData("application/x-sora-desktop-shot", shot_id.encode())
    event = QDropEvent(
        QPointF(x, 20),
        Qt.DropAction.MoveAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    strip.dropEvent(event)


def test_reorder_by_drop_then_undo_redo(qtbot, window):
    add(window, "one", "two", "three")
    qtbot.wait(10)
    cards = window.storyboard.strip.cards
    first_id = window.project_vm.shots[0].id
    # drop shot "one" behind the last card
    drop(window, first_id, cards[-1].geometry().right() + 5)
    assert prompts(window) == ["two", "three", "one"]
    assert card_prompts(window) == ["two", "three", "one"]
    stack = window.project_vm.undo_stack
    stack.undo()
    assert prompts(window) == ["one", "two", "three"]
    assert card_prompts(window) == ["one", "two", "three"]
    stack.redo()
    assert prompts(window) == ["two", "three", "one"]
    # drop onto the first half of the first card: moves to the front
    qtbot.wait(10)
    cards = window.storyboard.strip.cards
    drop(window, window.project_vm.shots[2].id, cards[0].geometry().left() + 3)
    assert prompts(window) == ["one", "two", "three"]


def test_delete_duplicate_and_undo_restore_the_same_shots(qtbot, window):
    add(window, "one", "two", "three")
    vm = window.project_vm
    ids = [s.id for s in vm.shots]
    vm.select(ids[1])
    window.act_del.trigger()
    assert prompts(window) == ["one", "three"]
    assert vm.selected_id == ids[2]  # the neighbour is selected, not nothing
    vm.undo_stack.undo()
    assert [s.id for s in vm.shots] == ids  # the very same shot back in its place
    # plain Delete works on a clicked card, but not while typing in the prompt
    qtbot.waitUntil(lambda: window.storyboard.card(ids[2]).isVisible())
    card = window.storyboard.card(ids[2])
    qtbot.mouseClick(card, Qt.MouseButton.LeftButton)
    assert vm.selected_id == ids[2]
    window.editor.prompt_edit.setFocus()
    qtbot.keyClick(window.editor.prompt_edit, Qt.Key.Key_Delete)
    assert len(vm.shots) == 3
    qtbot.mouseClick(card, Qt.MouseButton.LeftButton)
    assert card.hasFocus()
    qtbot.keyClick(card, Qt.Key.Key_Delete)
    assert [s.id for s in vm.shots] == ids[:2]
    vm.undo_stack.undo()
    vm.select(ids[0])
    window.act_dup.trigger()
    assert prompts(window) == ["one", "one", "two", "three"]
    assert vm.shots[1].id not in ids and vm.selected_id == vm.shots[1].id
    vm.undo_stack.undo()
    assert [s.id for s in vm.shots] == ids
    vm.undo_stack.redo()
    assert len(vm.shots) == 4
    assert len(window.storyboard.strip.cards) == 4


def test_trim_by_dragging_the_card_edge_is_undoable(qtbot, window):
    add(window, "one")
    shot = window.project_vm.shots[0]
    qtbot.wait(10)
    card = window.storyboard.card(shot.id)
    old_width = card.width()
    edge = QPoint(card.width() - 3, card.height() // 2)
    qtbot.mousePress(card, Qt.MouseButton.LeftButton, pos=edge)
    from PySide6.QtGui import QMouseEvent

    move = QMouseEvent(
        QMouseEvent.Type.MouseMove,
        QPointF(edge.x() + 140, edge.y()),
        card.mapToGlobal(QPointF(edge.x() + 140, edge.y())),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    card.mouseMoveEvent(move)
    qtbot.mouseRelease(card, Qt.MouseButton.LeftButton, pos=QPoint(edge.x() + 140, edge.y()))
    new = window.project_vm.shots[0].request
    from sora_desktop.ui.storyboard import PX_PER_SECOND

    assert new.num_frames > 16  # 140 px more is more than a second longer
    assert new.num_frames == round((old_width + 140) / PX_PER_SECOND * 8)
    assert window.storyboard.card(shot.id).width() > old_width
    window.project_vm.undo_stack.undo()
    assert window.project_vm.shots[0].request.num_frames == 16


def test_editor_changes_are_undoable_and_follow_the_selection(qtbot, window):
    add(window, "one", "two")
    vm = window.project_vm
    ed = window.editor
    vm.select(vm.shots[0].id)
    assert ed.prompt_edit.toPlainText() == "one"
    ed.prompt_edit.setPlainText("one, at sunset")
    ed.flush()
    ed.steps_spin.setValue(7)
    assert vm.shots[0].request.prompt == "one, at sunset"
    assert vm.shots[0].request.steps == 7
    vm.select(vm.shots[1].id)
    assert ed.prompt_edit.toPlainText() == "two" and ed.steps_spin.value() == 2
    vm.select(vm.shots[0].id)
    window.act_undo.trigger()
    assert vm.shots[0].request.steps == 2
    assert ed.steps_spin.value() == 2
    window.act_undo.trigger()
    assert vm.shots[0].request.prompt == "one"
    assert ed.prompt_edit.toPlainText() == "one"
    window.act_redo.trigger()
    assert ed.prompt_edit.toPlainText() == "one, at sunset"
    assert window.isWindowModified()


def test_presets_change_settings_not_the_prompt(qtbot, window):
    add(window, "a calm lake")
    ed = window.editor
    idx = ed.preset_combo.findData("Best quality, slowest")
    ed.preset_combo.activated.emit(idx)
    req = window.project_vm.shots[0].request
    assert req.prompt == "a calm lake" and req.steps == 50 and req.guidance == 5.0
    window.project_vm.undo_stack.undo()
    assert window.project_vm.shots[0].request.steps == 2


def test_player_controls(qtbot, window):
    import numpy as np

    vm = window.player.vm
    frames = np.stack([np.full((8, 8, 3), i * 10, np.uint8) for i in range(6)])
    vm.load_frames(frames, 8, "test")
    assert window.player.slider.maximum() == 5
    vm.step(1)
    vm.step(1)
    assert vm.index == 2 and window.player.slider.value() == 2
    window.player.slider.setValue(4)
    assert vm.index == 4
    vm.loop = False
    with qtbot.waitSignal(vm.playing_changed, timeout=5000, check_params_cb=lambda p: not p):
        window.act_play.trigger()  # Space; plays to the end and stops without loop
    assert vm.index == 5
    view = window.player.view
    view.resize(400, 305)
    # fitted into the 285 px inside a 10 px margin; pixel mode keeps whole multiples (35 x 8)
    for mode, expected in (("fit_pixel", 280), ("fit_smooth", 285), ("one_to_one", 8)):
        view.set_mode(mode)
        from PySide6.QtCore import QSize

        assert view.target_rect(QSize(8, 8)).height() == expected
