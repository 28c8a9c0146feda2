"""SIGTERM to the running app (log-out, shutdown, `kill`) while it exports: the export's
ffmpeg and temp files go, unsaved edits stay in a recovery copy, the process ends promptly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

# The real start-up path (`sora-desktop` with no command). Once the window shows: edit the
# project, then export a long, upscaled clip through the window's own export worker.
PROBE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    from PySide6.QtCore import QTimer
    from sora_desktop import cli
    from sora_desktop.core.request import GenerationRequest
    from sora_desktop.engine.export import export_video
    from sora_desktop.ui.app import create_app
    from sora_desktop.ui.main_window import MainWindow
    from sora_desktop.ui.worker import ExportJob

    out = Path(sys.argv[1])
    app = create_app()

    def start():
        window = next(w for w in app.topLevelWidgets() if isinstance(w, MainWindow))
        window.project_vm.add_shot(GenerationRequest(prompt="an edit not saved yet"))
        clip = out.parent / "source.mp4"
        rng = np.random.default_rng(0)
        export_video(rng.integers(0, 255, (120, 64, 64, 3), dtype=np.uint8), clip, 8)
        job = ExportJob("x1", [clip], out / "film.mp4", 8, upscale=16, upscale_method="lanczos")
        window.export_worker.submit(job)
        print("EXPORTING", flush=True)

    QTimer.singleShot(300, start)
    sys.exit(cli.main([]))
    """
)


def _ffmpeg_children(pid: int) -> list[psutil.Process]:
    try:
        kids = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [p for p in kids if "ffmpeg" in p.name().lower()]


def test_sigterm_while_exporting_cleans_up_and_keeps_the_edit(tmp_path):
    out = tmp_path / "exports"
    out.mkdir()
    home = tmp_path / "home"
    env = dict(
        os.environ, PYTHONPATH=str(ROOT), SORA_DESKTOP_HOME=str(home), QT_QPA_PLATFORM="offscreen"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", PROBE, str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    encoders: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and child.poll() is None:
            encoders = _ffmpeg_children(child.pid)
            parts = [p for p in out.iterdir() if p.name.endswith(".part")]
            if encoders and parts and parts[0].stat().st_size > 0:
                break  # ffmpeg is running and writing the temp file
            time.sleep(0.05)
        assert encoders and child.poll() is None, "the export never got going"
        sent = time.monotonic()
        child.send_signal(signal.SIGTERM)
        _stdout, stderr = child.communicate(timeout=60)
        took = time.monotonic() - sent
        assert child.returncode == 128 + signal.SIGTERM, stderr.decode(errors="replace")[-2000:]
        assert took < 30, f"the app took {took:.1f} s to end"
        assert b"Traceback" not in stderr, stderr.decode(errors="replace")[-2000:]
        time.sleep(0.5)
        assert not any(p.is_running() and p.status() != "zombie" for p in encoders)
        assert list(out.iterdir()) == []  # no .part, no half film
        # the unsaved edit is offered back at the next start
        copies = [p for p in home.rglob("*.sdproj") if "recovery" in str(p.parent).lower()]
        assert copies, f"no recovery copy under {home}"
        assert any("an edit not saved yet" in p.read_text("utf-8") for p in copies)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for p in encoders:
            if p.is_running():
                p.kill()
