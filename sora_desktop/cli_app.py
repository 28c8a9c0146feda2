"""Opening the desktop app from ``sora-desktop``: a project file given on the command line
(a double-click on a ``.sdproj``) and ``--smoke-test``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _project_argument(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """``sora-desktop "My film.sdproj"`` (a double-click on a project): the first positional
    that is no command and names a project file (or any existing file) opens the app with it."""
    positional = [a for a in argv if not a.startswith("-")]
    if not positional:
        return None
    first = positional[0]
    commands = set()
    for action in parser._actions:  # noqa: SLF001 - argparse keeps the subcommands here
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            commands.update(action.choices)
    if first in commands:
        return None
    try:
        is_file = Path(first).is_file()
    except (OSError, ValueError):  # NUL, lone surrogates, too long: not a file we can open
        is_file = False
    if not (first.lower().endswith(".sdproj") or is_file):
        return None
    extra = [a for a in argv if a != first and a != "--smoke-test"]
    if extra:
        from sora_desktop.cli import UsageError

        raise UsageError(f"unexpected arguments after the project file: {' '.join(extra)}")
    return first


def _open_app(smoke_test: bool = False, project: str | None = None) -> int:
    from sora_desktop.cli import EXIT_FAILED

    try:
        from sora_desktop.ui.app import main as ui_main
    except ImportError as exc:
        print(
            f"error: the desktop app could not be started ({exc}); "
            "use 'sora-desktop generate \"...\"' from the command line",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if smoke_test:
        _close_once_shown()
    if project is not None:
        return int(ui_main(project=project) or 0)
    return int(ui_main() or 0)


def _close_once_shown() -> None:
    """--smoke-test: once the event loop runs, print the shown windows and close them."""
    import time

    from PySide6.QtCore import QTimer

    from sora_desktop.cli import EXIT_FAILED
    from sora_desktop.ui.app import create_app

    start = time.perf_counter()
    app = create_app()

    def check() -> None:
        shown = [w.windowTitle() for w in app.topLevelWidgets() if w.isVisible()]
        print(f"window shown: {shown} after {time.perf_counter() - start:.2f} s", flush=True)
        if shown:
            app.closeAllWindows()  # the window's own close path stops its worker thread
            # end the loop ourselves: a message box shown after this (a damaged settings
            # file's warning) must not keep a smoke test running for ever
            app.exit(0)
        else:
            app.exit(EXIT_FAILED)

    QTimer.singleShot(0, check)
