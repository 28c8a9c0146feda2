"""Issue 20, accessibility, through the real main window: Tab leaves the prompt box, Ctrl+Enter
generates from it, Help lists every shortcut, tooltips give the keys, every control has an
accessible name (window, Settings, Export), and Ctrl+plus zooms the text (remembered)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.ui_support import (
    close_window,
    make_window,
    model_window,  # noqa: F401 (the window fixture)
    unload_models_after_module,  # noqa: F401
    use_micro_model,
)


@pytest.fixture
def reset_zoom():
    """The application font is process-wide: put the system size back for other tests."""
    app = QApplication.instance()
    font = app.font()
    yield
    app.setFont(font)


def test_tab_leaves_the_prompt_and_negative_boxes(window, qtbot):
    ed = window.editor
    for box in (ed.prompt_edit, ed.negative_edit):
        box.setPlainText("a red ball")
        box.setFocus()
        qtbot.waitUntil(box.hasFocus, timeout=2000)
        qtbot.keyClick(box, Qt.Key.Key_Tab)
        assert box.toPlainText() == "a red ball"  # no tab typed
        qtbot.waitUntil(lambda b=box: not b.hasFocus(), timeout=2000)
        assert QApplication.focusWidget() is not None


@pytest.mark.parametrize("key", [Qt.Key.Key_Return, Qt.Key.Key_Enter])
def test_ctrl_enter_in_the_prompt_box_generates(window, qtbot, key):
    calls = []
    window.queue_vm.generate_shot = lambda shot_id, force=False: calls.append(shot_id) or object()
    ed = window.editor
    ed.prompt_edit.setPlainText("a red ball bounces")
    ed.prompt_edit.setFocus()
    qtbot.waitUntil(ed.prompt_edit.hasFocus, timeout=2000)
    qtbot.keyClick(ed.prompt_edit, key, Qt.KeyboardModifier.ControlModifier)
    assert len(calls) == 1
    assert window.project_vm.shot(calls[0]).request.prompt == "a red ball bounces"
    assert ed.prompt_edit.toPlainText() == "a red ball bounces"  # no new line typed


def test_shortcut_list_in_help_and_keys_in_tooltips(window, qtbot):
    help_menu = next(
        a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "Help"
    )
    entry = next(a for a in help_menu.actions() if "Keyboard shortcuts" in a.text())
    entry.trigger()
    dialog = window.shortcuts_dialog
    qtbot.waitExposed(dialog)
    table = dialog.table
    rows = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert rows["Generate shot"] == "Ctrl+Enter"
    assert rows["Undo"] == "Ctrl+Z"
    assert "Zoom in" in rows and "Ctrl+0" in rows.values()
    # every action with keys is listed, and its tooltip names them
    with_keys = [a for a in window.actions() if not a.shortcut().isEmpty()]
    assert len(with_keys) >= 15
    for action in with_keys:
        keys = action.shortcut().toString().replace("Return", "Enter")
        assert keys in action.toolTip(), (action.text(), action.toolTip())
    assert window.act_generate.toolTip() == "Generate the selected shot (Ctrl+Enter)"
    # the buttons that repeat an action show the action's keys too
    assert window.editor.generate_btn.toolTip() == "Generate this shot (Ctrl+Enter)"
    assert window.editor.variations_btn.toolTip().endswith("(Ctrl+Shift+Enter)")
    assert window.player.play_btn.toolTip() == "Play / pause (Space)"
    assert window.storyboard.add_btn.toolTip().endswith("(Ctrl+T)")
    dialog.close()


def _unnamed(root) -> list[str]:
    from sora_desktop.ui.accessibility import interactive_widgets

    return [
        f"{type(w).__name__} {w.objectName()!r} text={getattr(w, 'text', lambda: '')()!r}"
        for w in interactive_widgets(root)
        if not w.accessibleName().strip()
    ]


def test_every_control_has_an_accessible_name(window, qtbot):
    from sora_desktop.ui.settings_dialog import SettingsDialog

    controls = window.findChildren(object)
    assert len(controls) > 50
    assert _unnamed(window) == []
    assert window.editor.duration_spin.accessibleName() == "Duration"
    assert window.editor.prompt_edit.accessibleName() == "Prompt"
    window.editor.timed_edit.add_row()  # controls made later are named too
    assert _unnamed(window) == []
    assert window.editor.timed_edit.rows[0].remove_btn.accessibleName() == "Remove this prompt"
    export = window.open_export_dialog()
    qtbot.waitExposed(export)
    assert _unnamed(export) == []
    assert export.format.accessibleName() == "Format"
    export.close()
    settings = SettingsDialog(window.settings, window)
    assert _unnamed(settings) == []
    assert settings.device.accessibleName() == "Device"
    settings.deleteLater()


def test_ctrl_plus_zooms_and_the_zoom_survives_a_restart(
    qtbot, monkeypatch, micro_model_dir, tmp_path, reset_zoom
):
    from sora_desktop.core.settings import load_settings

    use_micro_model(monkeypatch, micro_model_dir, tmp_path / "home")
    app = QApplication.instance()
    before = app.font().pointSizeF()
    w = make_window(tmp_path)
    qtbot.waitExposed(w)
    box = w.editor.prompt_edit  # where the keyboard is: the keys work while typing
    box.setFocus()
    qtbot.waitUntil(box.hasFocus, timeout=2000)
    text = box.toPlainText()
    qtbot.keyClick(box, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(box, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    grown = app.font().pointSizeF()
    assert grown > before * 1.15
    qtbot.waitUntil(lambda: box.font().pointSizeF() == pytest.approx(grown), timeout=3000)
    assert box.toPlainText() == text  # nothing typed
    qtbot.keyClick(box, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert before < app.font().pointSizeF() < grown
    qtbot.keyClick(box, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    saved = load_settings()
    assert saved.ui_zoom > 1.15
    close_window(w)

    reset_font = type(app.font())(app.font())  # a "new process": the system size again
    reset_font.setPointSizeF(before)
    app.setFont(reset_font)
    w2 = make_window(tmp_path, settings=load_settings())
    qtbot.waitExposed(w2)
    assert app.font().pointSizeF() == pytest.approx(grown)
    w2.editor.prompt_edit.setFocus()
    qtbot.waitUntil(w2.editor.prompt_edit.hasFocus, timeout=2000)
    qtbot.keyClick(w2.editor.prompt_edit, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert app.font().pointSizeF() == pytest.approx(before)
    assert load_settings().ui_zoom == 1.0
    close_window(w2)


def test_theme_text_sizes_follow_the_application_font(qtbot, reset_zoom):
    from sora_desktop.core.assets import resources_dir
    from sora_desktop.ui.style import sized_stylesheet

    for name in ("dark", "light"):
        qss = (resources_dir() / f"theme_{name}.qss").read_text(encoding="utf-8")
        assert "pt;" not in qss and "pt }" not in qss  # no fixed point sizes left
        small = sized_stylesheet(qss, 10.0)
        large = sized_stylesheet(qss, 20.0)
        assert "font-size: 8.50pt" in small and "font-size: 17.00pt" in large
        assert "em;" not in large


def test_advanced_section_folds_the_technical_settings(
    qtbot, monkeypatch, micro_model_dir, tmp_path
):
    from sora_desktop.core.settings import load_settings

    use_micro_model(monkeypatch, micro_model_dir, tmp_path / "home")
    w = make_window(tmp_path)
    qtbot.waitExposed(w)
    ed = w.editor
    # closed by default: steps, guidance and seed are out of sight; the plain fields are not
    assert ed.prompt_edit.isVisible() and ed.duration_spin.isVisible()
    for spin in (ed.steps_spin, ed.guidance_spin, ed.seed_spin):
        assert not spin.isVisible()
    qtbot.mouseClick(ed.advanced.button, Qt.MouseButton.LeftButton)
    assert ed.steps_spin.isVisible() and ed.seed_spin.isVisible()
    assert load_settings().advanced_open is True  # remembered at once
    close_window(w)

    w2 = make_window(tmp_path, settings=load_settings())  # a restart: still open
    qtbot.waitExposed(w2)
    assert w2.editor.steps_spin.isVisible()
    qtbot.mouseClick(w2.editor.advanced.button, Qt.MouseButton.LeftButton)
    assert not w2.editor.steps_spin.isVisible()
    # a bad value in a folded field opens the section so its message shows
    w2.editor.prompt_edit.setPlainText("a ball")
    w2.editor.steps_spin.setValue(0)
    assert w2.editor.steps_error.isVisible()
    assert load_settings().advanced_open is False  # only the user's clicks are remembered
    close_window(w2)


def test_zoom_setting_is_validated(tmp_path, monkeypatch):
    import json

    from sora_desktop.core.errors import FieldError
    from sora_desktop.core.settings import UI_ZOOM_MAX, Settings, default_paths, load_settings

    with pytest.raises(FieldError, match="ui_zoom"):
        Settings(ui_zoom=UI_ZOOM_MAX * 2)
    with pytest.raises(FieldError, match="ui_zoom"):
        Settings(ui_zoom="big")
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path))
    path = default_paths().settings_file
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"ui_zoom": 40, "theme": "light"}), encoding="utf-8")
    loaded = load_settings()
    assert loaded.ui_zoom == 1.0 and loaded.theme == "light"  # the bad value only is dropped
    assert any("ui_zoom" in w for w in loaded.warnings)


def test_tab_alone_reaches_every_control(window, qtbot):
    """Keyboard-only use: Tab from the first field visits every visible control of the window;
    the toolbar's buttons (no focus, as in every Qt app) are all in the menus (Alt / F10)."""
    from PySide6.QtWidgets import QToolBar

    from sora_desktop.core.request import GenerationRequest
    from sora_desktop.ui.accessibility import interactive_widgets
    from tests.test_ui_keyboard import focusable

    for prompt in ("a red ball", "a blue square"):  # storyboard cards are controls too
        window.project_vm.add_shot(GenerationRequest(prompt, seed=1))
    cards = window.storyboard.strip.cards
    qtbot.waitUntil(lambda: all(card.isVisible() for card in cards), timeout=2000)
    window.editor.advanced.set_expanded(True)
    start = window.editor.model_combo
    start.setFocus()
    qtbot.waitUntil(start.hasFocus, timeout=2000)
    seen = []
    for _ in range(150):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        focus = QApplication.focusWidget()
        if focus is start:
            break
        seen.append(focus)
    else:
        pytest.fail("Tab never came back to the first field")
    in_menus = {a for m in window.menuBar().actions() if m.menu() for a in m.menu().actions()}
    missed = []
    # what a user operates, and anything else Tab may stop on (cards, the scrubber…)
    must = interactive_widgets(window) + focusable(window)
    for w in dict.fromkeys(must):
        if not (w.isVisible() and w.isEnabled()) or w in seen or w is start:
            continue
        if isinstance(w.parentWidget(), QToolBar) and w.defaultAction() in in_menus:
            continue
        missed.append(f"{type(w).__name__} {w.accessibleName()!r}")
    assert missed == []
    assert window.editor.prompt_edit in seen and window.editor.generate_btn in seen
    assert len(cards) == 2 and all(card in seen for card in cards)
