"""The log file: where it lives, and setting logging up once at start-up.

A windowed installer build has no console, so errors go to a rotating file in the user log
folder (``SORA_DESKTOP_HOME/logs`` when that is set, like every other folder). Warnings still
reach stderr exactly as Python prints them without any set-up, so a terminal shows the same
lines as before. Every module logs through ``logging.getLogger(__name__)``.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

import platformdirs

from sora_desktop.core.settings import APP_NAME, ENV_HOME

MAX_LOG_BYTES = 1024 * 1024  # a few thousand lines; three old files are kept beside it
BACKUP_COUNT = 3
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"

log = logging.getLogger(__name__)


def log_dir() -> Path:
    """The folder the log files are in (nothing is created here)."""
    home = os.environ.get(ENV_HOME)
    if home:
        return Path(home).expanduser() / "logs"
    return _user_log_dir()


def _user_log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def log_file(name: str = "app") -> Path:
    """``app.log`` for the studio, ``cli.log`` for the command line: two processes never rotate
    the same file."""
    return log_dir() / f"{name}.log"


class _StderrHandler(logging.StreamHandler):
    """What Python does with no set-up (WARNING and up, message only), on the *current*
    ``sys.stderr`` so a replaced stream (tests, a redirect) is honoured."""

    def __init__(self) -> None:
        logging.Handler.__init__(self, logging.WARNING)
        self.setFormatter(logging.Formatter("%(message)s"))

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # StreamHandler.__init__ would set it; ignore
        pass


class _LogFileHandler(logging.handlers.RotatingFileHandler):
    """Rotating, and lazy: the folder and file appear with the first record (a run that logs
    nothing leaves nothing behind). If they cannot be written, one warning on stderr and file
    logging stops; a read-only home must not stop the program."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            path, maxBytes=MAX_LOG_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True
        )
        self.broken = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.broken:
            return
        if self.stream is None:
            try:
                Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
                self.stream = self._open()
            except OSError as exc:
                self.broken = True  # set first: the warning below comes back through here
                log.warning(
                    "Sora Desktop: cannot write the log file %s: %s", self.baseFilename, exc
                )
                return
        super().emit(record)


_OURS = "_sora_desktop_handler"


def configure(name: str = "app") -> Path:
    """Send this program's logs to ``<log folder>/<name>.log`` (rotating) and warnings to stderr.

    Safe to call again: the handlers it added before are replaced, never doubled. Returns the
    log file (created with the first record).
    """
    shutdown()
    root = logging.getLogger()
    path = log_file(name)
    file_handler = _LogFileHandler(path)
    file_handler.setLevel(logging.INFO)
    file_handler.setFormatter(logging.Formatter(FORMAT))
    for handler in (_StderrHandler(), file_handler):
        setattr(handler, _OURS, True)
        root.addHandler(handler)
    # our own INFO lines go to the file; other libraries only from WARNING up
    logging.getLogger("sora_desktop").setLevel(logging.INFO)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    return path


def current_log_file() -> Path | None:
    """The file ``configure`` set up, unless it could not be written."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, _LogFileHandler) and not handler.broken:
            return Path(handler.baseFilename)
    return None


def shutdown() -> None:
    """Remove and close the handlers ``configure`` added (tests; the end of a CLI run)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _OURS, False):
            root.removeHandler(handler)
            handler.close()
