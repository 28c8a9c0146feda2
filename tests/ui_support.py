"""Shared set-up for the UI tests: an isolated home, the micro checkpoint, a main window."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module", autouse=True)
def unload_models_after_module():
    """The registry is process-wide: leave no micro checkpoint loaded for other test files."""
    yield
    import sys

    registry = sys.modules.get("sora_desktop.engine.registry")
    if registry is not None:
        registry.unload_all()


def use_micro_model(monkeypatch, micro_model_dir: Path, home: Path) -> None:
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(home))
    monkeypatch.setenv("SORA_DESKTOP_EMBEDDED_MODEL", str(micro_model_dir))
    from sora_desktop.core.request import EMBEDDED_MODEL_ID
    from sora_desktop.engine import registry

    # another test may have loaded the shipped model under the same id: start from the micro one
    backend = registry.load_backend(EMBEDDED_MODEL_ID)
    if Path(getattr(backend, "model_dir", micro_model_dir)) != Path(micro_model_dir):
        registry.unload_all()


def make_window(tmp_path: Path, **kwargs):
    from sora_desktop.core.autosave import Autosaver
    from sora_desktop.core.settings import Settings
    from sora_desktop.ui.main_window import MainWindow

    settings = kwargs.pop("settings", None) or Settings(
        output_dir=str(tmp_path / "exports"),
        models_dir=str(tmp_path / "models"),
        autosave_seconds=0,
    )
    autosaver = kwargs.pop("autosaver", None) or Autosaver(tmp_path / "recovery")
    # The model runs in the window's worker thread, so a test can patch the engine in this
    # process; the worker process has its own tests (test_ui_worker_process, test_ui_music).
    kwargs.setdefault("in_process", not kwargs.pop("worker_process", False))
    window = MainWindow(settings, autosaver=autosaver, warm_up=False, **kwargs)
    window.place_file = None  # tests never touch the real window.json
    # questions would block a test; each test that expects one replaces this
    window.ask = lambda title, text, buttons, default=0: pytest.fail(
        f"unexpected question: {title}"
    )
    window.show()
    return window


def close_window(window) -> None:
    window.shutdown()
    for box in list(window._boxes):
        box.close()
    window.hide()
    window.deleteLater()


def set_fields(window, prompt: str | None = None, steps: int | None = None, seconds=None) -> None:
    ed = window.editor
    if prompt is not None:
        ed.prompt_edit.setPlainText(prompt)
    if steps is not None:
        ed.steps_spin.setValue(steps)
    if seconds is not None:
        ed.duration_spin.setValue(seconds)
    ed.flush()


# The main window most UI tests start from (import one as ``window`` in a test file):
# ``model_window`` runs the micro checkpoint as its built-in model, ``plain_window`` has no model
# loaded; both in an isolated home, shown, and closed after the test.
@pytest.fixture(name="window")
def model_window(qtbot, monkeypatch, micro_model_dir, tmp_path):
    use_micro_model(monkeypatch, micro_model_dir, tmp_path / "home")
    w = make_window(tmp_path)
    qtbot.waitExposed(w)
    yield w
    close_window(w)


@pytest.fixture(name="window")
def plain_window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    w = make_window(tmp_path)
    qtbot.waitExposed(w)
    yield w
    close_window(w)
