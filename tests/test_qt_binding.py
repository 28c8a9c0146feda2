"""The Qt binding must not leak references to ``None`` (PySide6-Essentials 6.12.0 on Python
< 3.12 drops one on every void call and the app aborts with "none_dealloc" after minutes of
use). Both checks run in a fresh interpreter, so an abort fails the test instead of the suite,
and the count of ``None`` is not disturbed by other tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# 20,000 repaints through the player's own paint path (each one fillRect, setRenderHint,
# drawImage: void calls) plus 20,000 turns of the event loop (processEvents is void too).
PAINT_PROBE = textwrap.dedent(
    """
    import sys
    import numpy as np
    from sora_desktop.ui.app import create_app
    from sora_desktop.ui.player import PlayerWidget

    app = create_app()
    player = PlayerWidget()
    player.resize(320, 240)
    player.show()
    frames = np.random.default_rng(0).integers(0, 255, (16, 64, 64, 3), dtype=np.uint8)
    player.vm.load_frames(frames, 8)
    app.processEvents()
    view = player.view
    before = sys.getrefcount(None)
    for i in range(20_000):
        player.vm.seek(i % 16)
        view.repaint()  # synchronous paintEvent: the real QPainter calls
        app.processEvents()
    after = sys.getrefcount(None)
    print("NONE", before, after, flush=True)
    player.close()
    """
)

# The real start-up path (ui.app.main, which `sora-desktop` calls): once the window shows,
# load a clip into its player and let it loop for several thousand frames.
SOAK_PROBE = textwrap.dedent(
    """
    import sys
    import numpy as np
    import psutil
    from PySide6.QtCore import QTimer
    from sora_desktop.ui import app as app_module
    from sora_desktop.ui.main_window import MainWindow

    FRAMES = int(sys.argv[1])
    app = app_module.create_app()
    state = {"ticks": 0}

    def start():
        windows = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)]
        window = windows[0]
        status = window.model_status.text()
        if not status.startswith(("Model ready", "Model not available")):
            QTimer.singleShot(200, start)  # let the background warm-up finish first
            return
        vm = window.player.vm
        clip = np.random.default_rng(1).integers(0, 255, (24, 64, 64, 3), dtype=np.uint8)
        vm.load_frames(clip, 8)
        vm.fps = 500  # a long playback, quickly: the same paint per frame
        vm.loop = True
        state["before"] = sys.getrefcount(None)

        def on_frame(_i):
            state["ticks"] += 1
            if state["ticks"] == FRAMES // 4:  # caches filled: measure growth from here
                state["rss"] = psutil.Process().memory_info().rss
            if state["ticks"] == FRAMES:
                vm.stop()
                after = sys.getrefcount(None)
                rss = psutil.Process().memory_info().rss
                grow = (rss - state["rss"]) / 2**20
                print("SOAK", state["before"], after, f"{grow:.1f}", flush=True)
                app.closeAllWindows()

        vm.frame_changed.connect(on_frame)
        vm.play()

    QTimer.singleShot(500, start)
    sys.exit(app_module.main())
    """
)


def _run(code: str, home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        SORA_DESKTOP_HOME=str(home),
        QT_QPA_PLATFORM="offscreen",
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(home),
    )


def _counts(stdout: str, tag: str) -> list[str]:
    lines = [line.split()[1:] for line in stdout.splitlines() if line.startswith(tag + " ")]
    assert lines, f"the probe printed no {tag} line:\n{stdout}"
    return lines[-1]


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12")
def test_installed_binding_is_not_the_leaking_release():
    import PySide6

    major, minor = (int(x) for x in PySide6.__version__.split(".")[:2])
    assert (major, minor) < (6, 12), (
        f"PySide6 {PySide6.__version__} leaks references to None on Python < 3.12"
    )


def test_painting_the_player_does_not_drop_references_to_none(tmp_path):
    run = _run(PAINT_PROBE, tmp_path)
    assert run.returncode == 0, f"the probe died ({run.returncode}):\n{run.stderr[-2000:]}"
    before, after = (int(x) for x in _counts(run.stdout, "NONE"))
    # A leaking binding loses one reference per void call: tens of thousands here.
    assert after >= before - 50, f"None lost {before - after} references over 20,000 repaints"


@pytest.mark.slow
def test_looping_playback_soak_in_the_real_window(tmp_path):
    run = _run(SOAK_PROBE, tmp_path, "4000")
    assert run.returncode == 0, f"the app died ({run.returncode}):\n{run.stderr[-2000:]}"
    before, after, grow = _counts(run.stdout, "SOAK")
    assert int(after) >= int(before) - 50, f"None lost {int(before) - int(after)} references"
    assert float(grow) < 50, f"memory grew {grow} MiB over the last 3,000 frames of playback"
