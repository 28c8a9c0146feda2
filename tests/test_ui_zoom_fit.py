"""Issue 20, UI zoom: at 100 %, 150 % and 200 % text size nothing in the main window is cut off
at its default size on a 1366x768 screen. Every visible label, button, text field, combo box
and spin box shows all of its text, or lies in a scroll area that can show it. Through the real
window (``make_window``), with shots on the storyboard; the player's painted "No clip yet"
hint stays inside its view."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QApplication

from tests.layout_fit import clipped, painted_past_edges
from tests.ui_support import (
    close_window,
    make_window,
    unload_models_after_module,  # noqa: F401
    use_micro_model,
)

SCREEN = QRect(0, 0, 1366, 768)


@pytest.fixture
def window(qtbot, monkeypatch, micro_model_dir, tmp_path):
    from sora_desktop.core.request import GenerationRequest
    from sora_desktop.ui import style
    from sora_desktop.ui.geometry import default_rect
    from sora_desktop.ui.style import apply_theme

    use_micro_model(monkeypatch, micro_model_dir, tmp_path / "home")
    app = QApplication.instance()
    font, style_name, palette = app.font(), app.style().name(), app.palette()
    apply_theme(app, "dark")  # the theme's em text sizes, as the app has them
    w = make_window(tmp_path)
    w.setGeometry(default_rect(SCREEN))
    qtbot.waitExposed(w)
    prompts = ["a red circle bounces up and down on a plain green background", "a blue square"]
    for n, prompt in enumerate(prompts):
        w.project_vm.add_shot(GenerationRequest(prompt, seed=2_000_000_000 + n))
    w.add_shot()  # a new shot: empty prompt, "No prompt yet" on its card
    yield w
    w.zoom.set(1.0)
    close_window(w)
    app.setFont(font)  # the look is process-wide: back as other tests had it
    app.setStyleSheet("")
    app.setStyle(style_name)
    app.setPalette(palette)
    style._theme_applied = False


def test_nothing_is_cut_off_at_any_zoom(window, qtbot):
    from sora_desktop.ui.geometry import default_rect

    size = default_rect(SCREEN).size()
    found = {}
    for zoom in (1.0, 1.5, 2.0):
        window.zoom.set(zoom)
        qtbot.waitUntil(lambda: window.size() == size, timeout=3000)  # never outgrows the screen
        qtbot.wait(300)  # layouts settle (each pass can post another layout request)
        assert window.minimumSizeHint().height() <= size.height(), zoom
        assert window.player.vm.current is None  # no clip yet: the player paints its hint
        found[zoom] = clipped(window) + painted_past_edges(window.player.view)
    assert found == {1.0: [], 1.5: [], 2.0: []}


def test_export_dialog_fits_the_screen_at_any_zoom(window, qtbot, monkeypatch):
    """The Export dialog, opened as the app opens it (File > Export), at each text size: no
    larger than the 1366x768 screen, and every text shown whole or in its scroll area."""
    from PySide6.QtGui import QScreen

    monkeypatch.setattr(QScreen, "availableGeometry", lambda _screen: SCREEN)  # a laptop screen
    found = {}
    for zoom in (1.0, 1.5, 2.0):
        window.zoom.set(zoom)
        dialog = window.open_export_dialog()
        qtbot.waitExposed(dialog)
        qtbot.wait(300)  # layouts settle
        size = dialog.frameGeometry().size()
        found[zoom] = clipped(dialog)
        qtbot.mouseClick(dialog.sidecar.parentWidget().label, Qt.MouseButton.LeftButton)
        assert dialog.sidecar.isChecked()  # a click on a wrapped check box's text ticks it
        if size.width() > SCREEN.width() or size.height() > SCREEN.height():
            found[zoom].append(f"the dialog is {size.width()}x{size.height()}")
        dialog.close()
        qtbot.waitUntil(lambda d=dialog: not d.isVisible(), timeout=3000)
    assert found == {1.0: [], 1.5: [], 2.0: []}
