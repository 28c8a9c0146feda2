"""``sora-desktop`` with no arguments: start the studio.

The window shows first; torch and the model load afterwards in the worker thread, so start-up
stays under two seconds. Unexpected errors are logged and reported in a dialog instead of
closing the app.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import traceback

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, QtMsgType, Signal, qInstallMessageHandler
from PySide6.QtWidgets import QApplication, QMessageBox

from sora_desktop import __version__
from sora_desktop.core import logs

log = logging.getLogger(__name__)
qt_log = logging.getLogger("sora_desktop.qt")


class _CrashReporter(QObject):
    """Shows the crash dialog in the GUI thread, whichever thread the error came from."""

    report = Signal(str, str)  # one-line summary, traceback

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self.box: QMessageBox | None = None
        self.report.connect(self.show, Qt.ConnectionType.QueuedConnection)

    def show(self, summary: str, details: str) -> None:
        if self.box is not None and self.box.isVisible():
            return  # one dialog at a time; every error is in the log anyway
        path = logs.current_log_file()
        where = f"\n\nThe log file for a bug report:\n{path}" if path else ""
        # plain words in the main text; the error itself only under "Show Details…"
        self.box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Something went wrong",
            f"{CRASH_TEXT}{where}",
        )
        self.box.setDetailedText(f"{summary}\n\n{details}")
        self.box.show()


# what the app does on an error nothing caught: logs it, shows this, keeps running (the
# project stays open, unsaved edits included)
CRASH_TEXT = (
    "Something went wrong inside Sora Desktop. It kept running, and your project is still "
    "open with all your changes.\n"
    "Try: save your project now (File → Save), then carry on; if this keeps happening, "
    "restart Sora Desktop and send the log file with a bug report (Help → Open log folder). "
    "Show Details has the technical text."
)


_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def install_crash_handler(app: QApplication) -> _CrashReporter:
    """The one handler for errors nothing caught: an exception in a slot (``sys.excepthook``),
    in a Python thread (``threading.excepthook``), and Qt's own messages. Each is logged; an
    exception also shows a plain dialog naming the log file, and the app keeps running."""
    reporter = _CrashReporter(app)

    def report(exc_type, exc, tb, where: str) -> None:
        log.critical("unexpected error %s", where, exc_info=(exc_type, exc, tb))
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        reporter.report.emit(f"{exc_type.__name__}: {exc}", details)

    def excepthook(exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            app.quit()
            return
        report(exc_type, exc, tb, "in the main thread")

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        if issubclass(args.exc_type, SystemExit):
            return
        name = args.thread.name if args.thread is not None else "?"
        report(args.exc_type, args.exc_value, args.exc_traceback, f"in thread {name}")

    def qt_message(mode: QtMsgType, _context, message: str) -> None:
        qt_log.log(_QT_LEVELS.get(mode, logging.WARNING), "%s", message)

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook
    qInstallMessageHandler(qt_message)
    app._crash_reporter = reporter  # kept alive with the app
    return reporter


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
    log_path = logs.configure("app")
    log.info("Sora Desktop %s started (pid %d); log file %s", __version__, os.getpid(), log_path)
    app = create_app(argv)
    install_crash_handler(app)
    from sora_desktop.core.settings import load_settings
    from sora_desktop.ui.main_window import MainWindow
    from sora_desktop.ui.style import app_icon, apply_theme

    settings = load_settings()
    apply_theme(app, settings.theme)
    app.setWindowIcon(app_icon())
    window = MainWindow(settings)
    opener = _FileOpenFilter(window, app)  # macOS: a double-clicked .sdproj arrives as an event
    app.installEventFilter(opener)
    window.restore_place()  # last place and size, inside the available screen
    window.show()
    _quit_on_sigterm(app, window)
    for warning in settings.warnings:
        log.warning("%s", warning)  # also on stderr: seen when no window can be shown
        QTimer.singleShot(0, lambda w=warning: window.notify("Settings", w, "warning"))
    # After the window shows: first any crash recovery, then the project named on the command
    # line, else the guide (first start only), else the start screen (ui/start_screen.py).
    from sora_desktop.ui.start_screen import start_up

    QTimer.singleShot(0, lambda: start_up(window, project))
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
