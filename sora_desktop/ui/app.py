"""``sora-desktop`` with no arguments: start the studio.

The window shows first; torch and the model load afterwards in the worker thread, so start-up
stays under two seconds. Unexpected errors are reported in a dialog instead of closing the app.
"""

from __future__ import annotations

import logging
import signal
import sys
import traceback

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from sora_desktop import __version__

log = logging.getLogger(__name__)


def _install_excepthook(app: QApplication) -> None:
    """A bug in a slot must not close the app with the user's work in it."""

    def hook(exc_type, exc, tb) -> None:
        traceback.print_exception(exc_type, exc, tb)
        if issubclass(exc_type, KeyboardInterrupt):
            app.quit()
            return
        text = f"{exc_type.__name__}: {exc}"
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Something went wrong",
            "Sora Desktop hit an unexpected problem but kept running; your work is safe.\n"
            f"Save your project, and please report this:\n\n{text}",
        )
        box.setDetailedText("".join(traceback.format_exception(exc_type, exc, tb)))
        box.show()
        app._last_error_box = box  # keep a reference while it is shown

    sys.excepthook = hook


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("Sora Desktop")
    app.setOrganizationName("Sora Desktop")
    app.setApplicationVersion(__version__)
    # Wayland matches the window to the menu entry (installers/linux) and its icon by this name
    app.setDesktopFileName("sora-desktop")
    return app


class _FileOpenFilter(QObject):
    """Finder (macOS) hands a double-clicked project to the running app as a FileOpen event."""

    def __init__(self, window, parent: QObject) -> None:
        super().__init__(parent)
        self.window = window

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.FileOpen and event.file():
            path = event.file()
            QTimer.singleShot(0, lambda: self.window.open_project(path))
            return True
        return False


def _quit_on_sigterm(app: QApplication, window) -> None:
    """End cleanly on SIGTERM instead of dying with an export's ffmpeg still writing."""

    def handler(_signum, _frame) -> None:
        log.warning("SIGTERM: ending exports, keeping a recovery copy, quitting")
        window.terminate()
        app.exit(128 + signal.SIGTERM)

    signal.signal(signal.SIGTERM, handler)
    # Python runs signal handlers only between bytecodes; Qt's event loop is C++, so a
    # periodic no-op timer gives the interpreter a turn at least every 200 ms.
    tick = QTimer(app)
    tick.timeout.connect(lambda: None)
    tick.start(200)
    app._sigterm_tick = tick


def main(argv: list[str] | None = None, project: str | None = None) -> int:
    """Open the main window (with ``project`` open, when given: a double-clicked .sdproj) and
    run until it closes; returns the exit code."""
    app = create_app(argv)
    from sora_desktop.core.settings import load_settings
    from sora_desktop.ui.main_window import MainWindow
    from sora_desktop.ui.style import app_icon, apply_theme

    settings = load_settings()
    apply_theme(app, settings.theme)
    app.setWindowIcon(app_icon())
    _install_excepthook(app)
    window = MainWindow(settings)
    opener = _FileOpenFilter(window, app)  # macOS: a double-clicked .sdproj arrives as an event
    app.installEventFilter(opener)
    window.restore_place()  # last place and size, inside the available screen
    window.show()
    _quit_on_sigterm(app, window)
    for warning in settings.warnings:
        log.warning("%s", warning)  # also on stderr: seen when no window can be shown
        QTimer.singleShot(0, lambda w=warning: window.notify("Settings", w, "warning"))
    # After the window shows: first any crash recovery, then (first start only) the guide.
    # A project named on the command line opens instead of the guide.
    QTimer.singleShot(
        0,
        lambda: (
            window.offer_recovery()
            or (window.open_project(project) if project else window.maybe_show_first_run())
        ),
    )
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
