"""The takes grid (issue 20): every take of a shot side by side with its thumbnail, seed,
status and time; the picked one marked; a click picks a take (undoable)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.ui_support import (
    model_window,  # noqa: F401 (the window fixture)
    set_fields,
    unload_models_after_module,  # noqa: F401
)


def _three_takes(qtbot, w):
    set_fields(w, prompt="a red ball", steps=2, seconds=1)
    w.add_shot()
    jobs = w.generate_selected(variations=True)
    assert len(jobs) == 3
    qtbot.waitUntil(lambda: all(j.status == "done" for j in w.queue_vm.jobs), timeout=90_000)
    shot = w.project_vm.selected
    assert [t.status for t in shot.takes] == ["done"] * 3
    return shot


def test_grid_shows_every_take_and_a_click_picks_it_undoably(qtbot, window):
    shot = _three_takes(qtbot, window)
    # opened from the shot card's menu
    menu = window.storyboard.build_menu(shot.id)
    item = next(a for a in menu.actions() if a.text() == "Compare takes…")
    assert item.isEnabled()
    item.trigger()
    grid = window.takes_grid.dialog
    assert grid is not None and grid.isVisible()
    assert list(grid.tiles) == [t.id for t in shot.takes]
    for n, take in enumerate(shot.takes, 1):
        text = grid.tiles[take.id].text()
        assert f"Take {n}" in text and f"seed {take.request.seed}" in text and "Done" in text
    # every thumbnail arrives from the background loader
    tiles = grid.tiles.values()
    qtbot.waitUntil(lambda: all(t.property("thumbnail") for t in tiles), timeout=10_000)
    before = shot.selected_take
    assert before is not None
    assert grid.tiles[before].isChecked() and "Picked" in grid.tiles[before].text()
    other = next(t.id for t in shot.takes if t.id != before)
    qtbot.mouseClick(grid.tiles[other], Qt.MouseButton.LeftButton)
    assert window.project_vm.shot(shot.id).selected_take == other
    assert grid.tiles[other].isChecked() and not grid.tiles[before].isChecked()
    assert window.player.takes_combo.currentData() == other  # the dropdown follows
    window.project_vm.undo_stack.undo()
    assert window.project_vm.shot(shot.id).selected_take == before
    assert grid.tiles[before].isChecked() and "Picked" not in grid.tiles[other].text()
    # and from beside the player's takes dropdown (kept for a quick switch)
    assert window.player.takes_grid_btn.isVisibleTo(window)
    grid.close()
    window.player.takes_grid_btn.click()
    again = window.takes_grid.dialog
    assert again is not None and again.isVisible() and len(again.tiles) == 3
