"""Save docs/screenshots/advanced_section.png (the prompt editor with Advanced open) and
docs/screenshots/zoom_150.png (the window at 150 % text size, Ctrl+plus, at its default size
on a 1366x768 screen, with shots on the storyboard) and docs/screenshots/export_dialog_150.png
(the Export dialog at 150 %, sized to that screen).

    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1366x768x24" \
        python scripts/screenshot_a11y.py [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.screenshots import settle  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="sd-shots-"))
    os.environ["SORA_DESKTOP_HOME"] = str(home)
    from sora_desktop.core.autosave import Autosaver
    from sora_desktop.core.settings import Settings
    from sora_desktop.ui.app import create_app
    from sora_desktop.ui.main_window import MainWindow
    from sora_desktop.ui.style import apply_theme

    app = create_app([])
    apply_theme(app, "dark")
    settings = Settings(autosave_seconds=0, advanced_open=True)
    window = MainWindow(settings, autosaver=Autosaver(home / "recovery"), warm_up=False)
    window.place_file = None
    from PySide6.QtCore import QRect

    from sora_desktop.core.request import GenerationRequest
    from sora_desktop.ui.geometry import default_rect

    window.setGeometry(default_rect(QRect(0, 0, 1366, 768)))
    window.show()
    for n, prompt in enumerate(
        ["a red circle bounces up and down on a plain green background", "a blue square"]
    ):
        window.project_vm.add_shot(GenerationRequest(prompt, seed=7 + n))
    window.editor.prompt_edit.setPlainText("a yellow star spins slowly on a dark blue background")
    settle(app, 600)
    args.out.mkdir(parents=True, exist_ok=True)
    from PySide6.QtWidgets import QScrollArea

    body = window.editor.findChild(QScrollArea).widget()  # the whole form, not its scrolled view
    body.grab().save(str(args.out / "advanced_section.png"))
    window.zoom.set(1.5)
    settle(app, 600)
    window.grab().save(str(args.out / "zoom_150.png"))
    dialog = window.open_export_dialog()  # as File > Export opens it, at 150 %
    settle(app, 600)
    dialog.grab().save(str(args.out / "export_dialog_150.png"))
    dialog.close()
    window.zoom.set(1.0)
    window.shutdown()
    print(args.out / "advanced_section.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
