"""Save PNG screenshots of the desktop studio in its main states into docs/screenshots/.

    QT_QPA_PLATFORM=offscreen python scripts/screenshots.py [--model DIR] [--out DIR]
        [--only first_run]

States: an empty project; a storyboard of several generated shots; generating with progress and
a live preview; the export dialog; the settings dialog; the light theme; the first-run guide
(with this computer's real hardware check). Uses the shipped checkpoint (model/embedded) when
trained, else ``--model`` / SORA_DESKTOP_EMBEDDED_MODEL. ``--only first_run`` makes just the
guide's screenshot (no model needed).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHOTS = [
    ("a red circle bounces up and down on a plain green background", 24),
    ("a yellow star drifts toward the top right corner on a dark blue background", 16),
    ("a white square moves in a circle on a gradient background from purple to black", 20),
    ("a cyan triangle slides right on a plain orange background", 16),
]


def wait_until(app, cond, timeout: float = 600) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError("screenshot step timed out")
        app.processEvents()
        time.sleep(0.005)


def settle(app, ms: int = 150) -> None:
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.005)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--only", choices=["first_run"], default=None)
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="sd-shots-"))
    os.environ["SORA_DESKTOP_HOME"] = str(home)
    shipped = ROOT / "model" / "embedded"
    if args.model is not None:
        os.environ["SORA_DESKTOP_EMBEDDED_MODEL"] = str(args.model)
    elif (shipped / "dit.safetensors").is_file():
        os.environ.pop("SORA_DESKTOP_EMBEDDED_MODEL", None)
    args.out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtWidgets import QScrollArea

    from sora_desktop.core.autosave import Autosaver
    from sora_desktop.core.settings import Settings
    from sora_desktop.ui.app import create_app
    from sora_desktop.ui.main_window import MainWindow
    from sora_desktop.ui.settings_dialog import SettingsDialog
    from sora_desktop.ui.style import app_icon, apply_theme

    app = create_app()
    apply_theme(app, "dark")
    app.setWindowIcon(app_icon())
    settings = Settings(
        output_dir=str(home / "Videos" / "Sora Desktop"),
        models_dir=str(home / "models"),
        autosave_seconds=0,
    )
    w = MainWindow(settings, autosaver=Autosaver(home / "recovery"), warm_up=False)
    w.ask = lambda *a, **k: "Don't save"
    w.resize(1440, 900)
    w.show()
    settle(app)

    def save(name: str, widget=None) -> None:
        settle(app)
        path = args.out / name
        (widget or w).grab().save(str(path))
        print("saved", path)

    # 7. the first-run guide (taken first: it opens on an empty project at the first start)
    guide = w.show_first_run()
    guide.vm.wait_detection()
    wait_until(app, lambda: guide.vm.hardware is not None, timeout=120)
    scroll = guide.findChild(QScrollArea)
    settle(app)
    needed = scroll.widget().layout().totalHeightForWidth(scroll.viewport().width())
    extra = guide.height() - scroll.viewport().height()  # the footer
    guide.resize(guide.width(), needed + extra + 2)  # the whole guide, no scrolling
    save("07_first_run.png", guide)
    guide.close()
    if args.only == "first_run":
        w.shutdown()
        return 0

    # 1. empty project
    save("01_empty_project.png")

    # 2. a storyboard of several generated shots
    ed = w.editor
    for i, (prompt, frames) in enumerate(SHOTS):
        if i:
            w.add_shot()
        ed.prompt_edit.setPlainText(prompt)
        ed.steps_spin.setValue(args.steps)
        ed.duration_spin.setValue(frames / 8)
        ed.seed_spin.setValue(100 + i)
        ed.flush()
        if i == 0:
            w.add_shot()  # the draft becomes shot 1
    w.project_vm.set_title(w.project_vm.shots[0].id, "Opening")
    w.project_vm.set_continue(w.project_vm.shots[1].id, False)
    w.project_vm.project.name = "Shapes at play"
    jobs = w.generate_all()
    wait_until(app, lambda: all(j.is_terminal for j in jobs))
    w.project_vm.select(w.project_vm.shots[0].id)
    w.player.vm.seek(10)
    w.queue_vm.clear_finished()
    save("02_storyboard.png")

    # 3. generating: progress in the queue and on the card, live preview in the player
    w.project_vm.select(w.project_vm.shots[2].id)
    w.player.vm.stop()
    ed.steps_spin.setValue(200)
    ed.flush()
    variations = w.generate_selected(variations=True)
    wait_until(app, lambda: variations[0].step >= 24)
    save("03_generating.png")
    w.queue_vm.cancel_all()
    wait_until(app, lambda: all(j.is_terminal for j in variations))
    w.project_vm.undo_stack.undo()  # steps back to what they were
    w.queue_vm.clear_finished()

    # 4. the export dialog
    w.project_vm.select(w.project_vm.shots[0].id)
    dialog = w.open_export_dialog()
    dialog.scope.setCurrentIndex(dialog.scope.findData("storyboard"))
    dialog.crossfade.setValue(4)
    dialog.adjustSize()
    save("04_export_dialog.png", dialog)
    dialog.close()

    # 5. the settings dialog
    sd = SettingsDialog(w.settings, w)
    sd.show()
    sd.adjustSize()
    save("05_settings_dialog.png", sd)
    sd.close()

    # 6. the light theme (chosen in Settings, applied at start-up): reopen the saved project
    project_file = home / "Shapes at play.sdproj"
    assert w.save_as(project_file)
    w.shutdown()
    w.hide()
    apply_theme(app, "light")
    w2 = MainWindow(settings, autosaver=Autosaver(home / "recovery2"), warm_up=False)
    w2.ask = lambda *a, **k: "Don't save"
    w2.resize(1440, 900)
    w2.show()
    assert w2.open_project(project_file)
    w2.project_vm.select(w2.project_vm.shots[1].id)
    w2.player.vm.seek(8)
    save("06_light_theme.png", w2)
    w2.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
