"""Start-up stays light: the window is built and shown without torch or the model; the model
loads afterwards in the worker thread. Dialogs open; themes and icons load."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.ui_support import unload_models_after_module  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]

PROBE = textwrap.dedent(
    """
    import os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication
    from sora_desktop.ui.app import create_app
    from sora_desktop.ui.main_window import MainWindow
    from sora_desktop.ui.style import apply_theme
    app = create_app()
    apply_theme(app, "dark")
    w = MainWindow(warm_up=False)
    w.show()
    app.processEvents()
    heavy = sorted(m for m in ("torch", "sora_desktop.engine.embedded", "transformers")
                   if m in sys.modules)
    print("HEAVY", heavy, flush=True)
    w.shutdown()
    """
)


def test_window_shows_without_importing_torch_or_the_model(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), SORA_DESKTOP_HOME=str(tmp_path))
    run = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "HEAVY []" in run.stdout, run.stdout


def test_model_warms_up_in_the_background(qtbot, tmp_path, monkeypatch, micro_model_dir):
    from tests.ui_support import close_window, make_window, use_micro_model

    use_micro_model(monkeypatch, micro_model_dir, tmp_path / "home")
    w = make_window(tmp_path)
    try:
        w.warm_up()
        assert w.model_status.text() == "Loading model…"
        # worker signals reach the window through queued connections: wait for their effect
        qtbot.waitUntil(lambda: w.model_status.text().startswith("Model ready"), timeout=60_000)
    finally:
        close_window(w)


def test_missing_model_is_reported_not_fatal(qtbot, tmp_path, monkeypatch):
    from sora_desktop.engine import registry
    from tests.ui_support import close_window, make_window

    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SORA_DESKTOP_EMBEDDED_MODEL", str(tmp_path / "no-model-here"))
    registry.unload_all()
    w = make_window(tmp_path)
    try:
        w.warm_up()
        qtbot.waitUntil(lambda: w.model_status.text() == "Model not available", timeout=60_000)
        assert "Try" in w.model_status.toolTip()
        assert w.isVisible()
    finally:
        close_window(w)
        registry.unload_all()


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_themes_and_icons_load(qtbot, theme):
    from PySide6.QtWidgets import QApplication

    from sora_desktop.ui.style import app_icon, apply_theme, icon, resources_dir

    app = QApplication.instance()
    assert apply_theme(app, theme) == theme
    assert "ShotCard" in app.styleSheet()
    for name in ("play", "pause", "generate", "export", "undo", "lock"):
        assert not icon(name).isNull(), name
    assert not app_icon().isNull()
    assert (resources_dir() / "icons" / "app.png").is_file()
    apply_theme(app, "dark")


def test_settings_dialog_validates_and_returns_new_settings(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path))
    from sora_desktop.core.settings import Settings
    from sora_desktop.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    dialog.output_dir.setText("   ")
    dialog.accept()
    assert dialog.result_settings is None and not dialog.error.isHidden()
    assert "Exports" in dialog.error.text()  # the label on screen
    dialog.output_dir.setText(str(tmp_path / "videos"))
    dialog.theme.setCurrentIndex(dialog.theme.findData("light"))
    dialog.watermark.setChecked(False)
    dialog.accept()
    s = dialog.result_settings
    assert s is not None and s.theme == "light" and s.watermark is False
    assert s.output_dir == str(tmp_path / "videos")


MAIN_PROBE = textwrap.dedent(
    """
    import os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from sora_desktop.ui.app import create_app, main
    app = create_app()
    def close():
        titles = [w.windowTitle() for w in app.topLevelWidgets() if w.isVisible()]
        print("WINDOWS", titles, flush=True)
        app.closeAllWindows()
    QTimer.singleShot(1500, close)
    sys.exit(main())
    """
)


def test_main_opens_the_window_and_returns_an_exit_code(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), SORA_DESKTOP_HOME=str(tmp_path))
    env["SORA_DESKTOP_EMBEDDED_MODEL"] = str(tmp_path / "no-model")  # warm-up fails quietly
    run = subprocess.run(
        [sys.executable, "-c", MAIN_PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "Untitled[*] — Sora Desktop" in run.stdout
    assert "Traceback" not in run.stderr
