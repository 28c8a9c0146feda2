"""Save docs/screenshots/start_screen.png (recent projects with their thumbnails, "New film"
and the examples) and docs/screenshots/takes_grid.png (one shot's takes side by side).

    xvfb-run -a -s "-screen 0 1366x768x24" python scripts/screenshot_start.py [--out DIR]

Everything is made for real: each recent project's first shot and each take is generated with
the built-in model (about a second each), the projects are saved with Save As, and the start
screen is opened by the app's start-up step (``ui.start_screen.start_up``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.screenshots import settle, wait_until  # noqa: E402

FILMS = [
    ("Bouncing ball", "a red circle bounces up and down on a plain green background"),
    ("Night star", "a yellow star drifts toward the top right corner on a dark blue background"),
    ("Orange slide", "a cyan triangle slides right on a plain orange background"),
]
# one shot, four takes: the user tried the same idea in other colours and seeds
TAKES = [
    "a white square moves in a circle on a gradient background from purple to black",
    "a red square moves in a circle on a plain blue background",
    "a yellow square moves in a circle on a plain green background",
    "a cyan square moves in a circle on a gradient background from purple to black",
]


def generate(app, window, prompt: str, steps: int) -> None:
    ed = window.editor
    ed.prompt_edit.setPlainText(prompt)
    ed.steps_spin.setValue(steps)
    ed.randomize_seed()
    ed.flush()
    jobs = window.generate_selected()
    if not jobs:
        raise RuntimeError(f"could not queue {prompt!r}: {window.messages[-1:]}")
    wait_until(app, lambda: all(j.is_terminal for j in window.queue_vm.jobs), 300)
    failed = [j for j in window.queue_vm.jobs if j.status != "done"]
    if failed:
        raise RuntimeError(f"a take failed: {failed[0].error}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--steps", type=int, default=12)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="sd-shots-"))
    os.environ["SORA_DESKTOP_HOME"] = str(home)
    args.out.mkdir(parents=True, exist_ok=True)
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QCursor

    from sora_desktop.core.autosave import Autosaver
    from sora_desktop.core.settings import Settings
    from sora_desktop.ui.app import create_app
    from sora_desktop.ui.main_window import MainWindow
    from sora_desktop.ui.start_screen import start_up
    from sora_desktop.ui.style import app_icon, apply_theme

    app = create_app([])
    apply_theme(app, "dark")
    app.setWindowIcon(app_icon())
    settings = Settings(
        output_dir=str(home / "Videos"),
        models_dir=str(home / "models"),
        autosave_seconds=0,
        first_run_done=True,
    )
    window = MainWindow(settings, autosaver=Autosaver(home / "recovery"), warm_up=False)
    window.place_file = None
    window.ask = lambda title, text, buttons, default=0: "Discard"  # no unsaved work here
    window.resize(1229, 691)  # the default size on a 1366x768 screen
    window.show()
    films = home / "Films"
    films.mkdir()
    for name, prompt in reversed(FILMS):  # the last saved is the first in the list
        window.new_project()
        generate(app, window, prompt, args.steps)
        if not window.save_as(films / f"{name}.sdproj"):
            raise RuntimeError(f"could not save {name}")
    window.new_project()
    settle(app, 300)

    start_up(window, None)  # the app's own step after its window shows
    screen = window.start_screen
    if screen is None:
        raise RuntimeError("the start screen did not open")
    tiles = list(screen.recent.values())
    wait_until(app, lambda: all(t.property("thumbnail") for t in tiles), 30)
    settle(app, 400)
    screen.grab().save(str(args.out / "start_screen.png"))
    screen.close()

    window.new_project()
    for prompt in TAKES:  # each Generate adds a take to the same shot
        generate(app, window, prompt, args.steps)
    shot = window.project_vm.selected
    grid = window.takes_grid.open(shot.id)
    tiles = list(grid.tiles.values())
    wait_until(app, lambda: all(t.property("thumbnail") for t in tiles), 30)
    grid.pick(shot.takes[1].id)  # the picked take is marked
    if app.focusWidget() is not None:
        app.focusWidget().clearFocus()  # no focus frame that looks like a second pick
    QCursor.setPos(grid.mapToGlobal(grid.rect().bottomRight()) + QPoint(40, 40))  # no hover
    settle(app, 400)
    grid.grab().save(str(grid_path := args.out / "takes_grid.png"))
    grid.close()
    window.project_vm.mark_saved()
    window.shutdown()
    print(args.out / "start_screen.png")
    print(grid_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
