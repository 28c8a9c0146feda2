"""Screenshot for issue 23: the model manager on a 12 GB GPU / 32 GB RAM computer in Low memory
mode, Wan 2.1 1.3B selected (its badges, its fit per memory mode, the estimated time).

    xvfb-run -a python scripts/screenshot_fit.py [--out docs/screenshots/fit-12gb-32gb.png]

The memory probe is replaced by that machine (as the UI tests do); everything else is the real
app: the main window, Models → Model manager, the shipped catalog and ``core/fit.py``.
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
WAN = "wan2.1-t2v-1.3b"


def settle(app, ms: int = 300) -> None:
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "fit-12gb-32gb.png")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="sd-fit-shot-"))
    os.environ["SORA_DESKTOP_HOME"] = str(home)

    from sora_desktop.core.autosave import Autosaver
    from sora_desktop.core.settings import Settings
    from sora_desktop.engine.preflight import MemoryInfo
    from sora_desktop.ui.app import create_app
    from sora_desktop.ui.main_window import MainWindow
    from sora_desktop.ui.style import apply_theme

    app = create_app()
    apply_theme(app, "dark")
    settings = Settings(
        output_dir=str(home / "Videos"),
        models_dir=str(home / "models"),
        autosave_seconds=0,
        memory_mode="low_vram",
    )
    w = MainWindow(settings, autosaver=Autosaver(home / "recovery"), warm_up=False)
    w.place_file = None
    w.ask = lambda *a, **k: "Don't save"
    # a 12 GB GPU with 32 GB of system memory
    w.queue_vm.memory_probe = lambda: MemoryInfo("NVIDIA GeForce RTX 4070", 11.6, 12.0, 29.0, 32.0)
    w.show()
    w.act_models.trigger()
    mm = w.model_manager
    mm.select(WAN)
    settle(app, 600)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    mm.grab().save(str(args.out))
    print("saved", args.out, "|", mm.row_text(WAN, "On this computer"))
    mm.shutdown()
    w.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
