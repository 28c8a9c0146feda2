"""Issue 20, keyboard-only use (pytest-qt, the real window from ``make_window``): Tab alone
reaches every control of the start screen, the takes grid and the Export dialog, and the tiles
(recent projects, examples, takes) and storyboard cards act on Enter / Space as on a click."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from tests.ui_support import (
    model_window,  # noqa: F401 (the window fixture)
    unload_models_after_module,  # noqa: F401
)


def focus_target(w: QWidget) -> QWidget:
    while w.focusProxy() is not None:
        w = w.focusProxy()
    return w


def focusable(root: QWidget) -> list[QWidget]:
    """Every visible, enabled control in ``root``'s window that Tab may stop on."""
    found = []
    for w in root.findChildren(QWidget):
        if w.window() is not root.window() or not (w.isVisible() and w.isEnabled()):
            continue
        if w.focusPolicy() & Qt.FocusPolicy.TabFocus:
            target = focus_target(w)
            if target not in found:
                found.append(target)
    return found


def tab_round(qtbot, start: QWidget, limit: int = 200) -> list[QWidget]:
    """Press Tab from ``start`` until the focus comes back to it; the widgets visited."""
    start.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(start.hasFocus, timeout=2000)
    seen = [start]
    for _ in range(limit):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        focus = QApplication.focusWidget()
        if focus is start:
            return seen
        seen.append(focus)
    pytest.fail("Tab never came back to where it started")


def describe(ws) -> list[str]:
    return [f"{type(w).__name__} {w.accessibleName() or w.objectName()!r}" for w in ws]


def _saved_film(tmp_path, name: str):
    from sora_desktop.core.project import new_project, save_project
    from sora_desktop.core.request import GenerationRequest

    p = new_project(name)
    p.add_shot(GenerationRequest(f"a red circle for {name.lower()}", seed=5))
    path = tmp_path / "films" / f"{name}.sdproj"
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_project(p, path)


def test_start_screen_by_keyboard_alone(window, qtbot, tmp_path):
    from sora_desktop.ui.start_screen import StartScreen, start_up

    films = [_saved_film(tmp_path, "Red film"), _saved_film(tmp_path, "Blue film")]
    window.settings.recent_files = [str(f) for f in films]
    window.settings.first_run_done = True
    start_up(window, None)  # what the app does after its window shows
    screen = window.start_screen
    assert isinstance(screen, StartScreen)
    qtbot.waitExposed(screen)
    seen = tab_round(qtbot, screen.new_btn)
    missed = [w for w in focusable(screen) if w not in seen]
    assert describe(missed) == []
    for tile in [*screen.recent.values(), *screen.examples.values()]:
        assert tile in seen
    # Enter on a recent project's tile opens that project (not the default "New film")
    tile = screen.recent[str(films[1])]
    tile.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(tile.hasFocus, timeout=2000)
    qtbot.keyClick(tile, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.project_vm.project.path is not None, timeout=5000)
    assert str(window.project_vm.project.path) == str(films[1])
    assert window.start_screen is None or not window.start_screen.isVisible()

    # Space on an example opens it
    from sora_desktop.ui.start_screen import show_start_screen

    screen = show_start_screen(window)
    qtbot.waitExposed(screen)
    name, button = next(iter(screen.examples.items()))
    button.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(button.hasFocus, timeout=2000)
    qtbot.keyClick(button, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.project_vm.project.name == name, timeout=5000)
    assert window.project_vm.shots


def _shot_with_takes(window, count: int = 3):
    """A shot with finished takes (made here: the grid shows takes, it does not make them)."""
    from sora_desktop.core.project import Take
    from sora_desktop.core.request import GenerationRequest

    vm = window.project_vm
    vm.add_shot(GenerationRequest("a red ball", seed=1))
    shot = vm.selected
    for n in range(count):
        take = vm.project.add_take(shot.id, Take.create(shot.request.with_changes(seed=10 + n)))
        vm.project.update_take(shot.id, take.id, status="done")
    vm.project.select_take(shot.id, shot.takes[0].id)
    vm.shot_changed.emit(shot.id)
    return vm.shot(shot.id)


def test_cards_and_takes_grid_by_keyboard_alone(window, qtbot):
    shot = _shot_with_takes(window)
    card = window.storyboard.card(shot.id)
    assert card.focusPolicy() & Qt.FocusPolicy.TabFocus
    # the Menu key on a focused card opens its menu; "Compare takes…" by keys opens the grid
    card.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(card.hasFocus, timeout=2000)

    def choose() -> None:
        popup = QApplication.activePopupWidget()
        item = next(a for a in popup.actions() if a.text() == "Compare takes…")
        popup.setActiveAction(item)
        qtbot.keyClick(popup, Qt.Key.Key_Return)

    QTimer.singleShot(300, choose)
    qtbot.keyClick(card, Qt.Key.Key_Menu)
    grid = window.takes_grid.dialog
    assert grid is not None
    qtbot.waitExposed(grid)
    tiles = list(grid.tiles.values())
    seen = tab_round(qtbot, tiles[0])
    assert describe(w for w in focusable(grid) if w not in seen) == []
    # Space picks a take, Enter picks another (undoable, as a click); the focus stays put
    second, third = shot.takes[1].id, shot.takes[2].id
    grid.tiles[second].setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(grid.tiles[second].hasFocus, timeout=2000)
    qtbot.keyClick(grid.tiles[second], Qt.Key.Key_Space)
    assert window.project_vm.shot(shot.id).selected_take == second
    qtbot.waitUntil(lambda: grid.tiles[second].hasFocus(), timeout=2000)
    qtbot.keyClick(grid.tiles[second], Qt.Key.Key_Tab)
    assert grid.tiles[third].hasFocus()
    qtbot.keyClick(grid.tiles[third], Qt.Key.Key_Return)
    assert window.project_vm.shot(shot.id).selected_take == third
    assert grid.tiles[third].isChecked()
    assert grid.isVisible()  # Enter picked the tile; it did not close the dialog
    grid.close()


def test_export_dialog_by_keyboard_alone(window, qtbot):
    from sora_desktop.core.request import GenerationRequest

    window.project_vm.add_shot(GenerationRequest("a red ball", seed=1))
    dialog = window.open_export_dialog()
    qtbot.waitExposed(dialog)
    first = focusable(dialog)[0]
    seen = tab_round(qtbot, first)
    assert describe(w for w in focusable(dialog) if w not in seen) == []
    assert len(seen) >= 5
    dialog.close()
