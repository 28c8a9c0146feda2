"""The model manager's download through the app's real start-up path: ``sora_desktop.cli.main``
with no arguments, in a process started as a user's shell starts it (no HF_HUB_OFFLINE), the
settings file pointing at the fake hub, the embedded model warmed up first. Then quitting the
app in the middle of a download: it ends cleanly, the bytes kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fakehub import FakeHub, FileFaults

from sora_desktop.core.catalog import is_installed, load_catalog

ROOT = Path(__file__).resolve().parents[1]
WAN = "wan2.1-t2v-1.3b"
WEIGHTS = "transformer/diffusion_pytorch_model.safetensors"

DRIVER = textwrap.dedent(
    """
    import sys, time
    from PySide6.QtCore import QTimer
    from sora_desktop import cli
    from sora_desktop.ui.app import create_app

    MODE = sys.argv[1]  # "finish": wait for the install; "quit": close the app mid-download
    WAN = "wan2.1-t2v-1.3b"
    app = create_app()
    state = {"t": time.monotonic()}

    def main_window():
        from sora_desktop.ui.main_window import MainWindow
        return next(w for w in app.topLevelWidgets() if isinstance(w, MainWindow))

    def after(ms, fn):
        QTimer.singleShot(ms, fn)

    def wait_model():  # the embedded model warms up first, as on every start
        w = main_window()
        text = w.model_status.text()
        if text.startswith("Model ready") or text == "Model not available":
            print("MODEL", text, flush=True)
            return start()
        if time.monotonic() - state["t"] > 120:
            print("MODEL TIMEOUT", text, flush=True)
            return app.exit(3)
        after(100, wait_model)

    def start():
        w = main_window()
        w.act_models.trigger()  # Models menu → Model manager
        mm = w.model_manager
        mm.select(WAN)
        mm.btn_download.click()
        state["mm"] = mm
        state["t"] = time.monotonic()
        after(100, watch)

    def watch():
        mm = state["mm"]
        if MODE == "quit" and mm.progress_bar.value() > 50:
            print("QUIT", mm.progress_bar.value(), flush=True)
            state["quit"] = time.monotonic()
            main_window().close()  # as the user closing the main window
            return
        if mm.busy_id is None:
            print("STATUS", mm.status_label.text(), flush=True)
            print("ROW", mm.row_text(WAN, "Status"), flush=True)
            main_window().close()
            return
        if time.monotonic() - state["t"] > 60:
            print("DOWNLOAD TIMEOUT", mm.progress_label.text(), flush=True)
            return app.exit(4)
        after(100, watch)

    QTimer.singleShot(0, wait_model)
    code = cli.main([])
    if "mm" in state:  # the download thread was joined before the app returned
        print("THREAD_RUNNING", state["mm"]._thread.isRunning(), flush=True)
    if "quit" in state:
        print(f"QUIT_TOOK {time.monotonic() - state['quit']:.2f}", flush=True)
    print("EXIT", code, flush=True)
    sys.exit(code)
    """
)


def repo_files(weights_bytes: int) -> dict[str, bytes]:
    rnd = __import__("random").Random(5)
    return {
        "model_index.json": b'{"_class_name": "WanPipeline"}',
        "vae/config.json": b"{}",
        "vae/diffusion_pytorch_model.safetensors": rnd.randbytes(30_000),
        "transformer/config.json": b"{}",
        WEIGHTS: rnd.randbytes(weights_bytes),
    }


def start_app(home: Path, micro_model_dir: Path, mode: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")  # as a user's shell
    }
    env.update(
        PYTHONPATH=str(ROOT),
        SORA_DESKTOP_HOME=str(home),
        SORA_DESKTOP_EMBEDDED_MODEL=str(micro_model_dir),
        HF_HOME=str(home / "hf"),
        QT_QPA_PLATFORM="offscreen",
    )
    return subprocess.run(
        [sys.executable, "-c", DRIVER, mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture
def home_with_hub(tmp_path):
    with FakeHub() as hub:
        home = tmp_path / "home"
        (home / "config").mkdir(parents=True)
        settings = {"hf_endpoint": hub.endpoint, "first_run_done": True, "autosave_seconds": 0}
        (home / "config" / "settings.json").write_text(json.dumps(settings))
        yield home, hub


def test_model_manager_download_through_the_real_start_up(home_with_hub, micro_model_dir):
    home, hub = home_with_hub
    entry = next(e for e in load_catalog() if e.id == WAN)
    files = repo_files(300_000)
    hub.add_repo(entry.repo_id, files)
    run = start_app(home, micro_model_dir, "finish")
    assert "EXIT 0" in run.stdout, run.stdout + run.stderr[-3000:]
    assert "MODEL Model ready" in run.stdout, run.stdout
    assert "STATUS Wan 2.1 VACE 1.3B is installed and verified." in run.stdout, run.stdout
    assert "ROW Installed (" in run.stdout
    assert is_installed(entry, home / "models")
    assert (entry.folder(home / "models") / WEIGHTS).read_bytes() == files[WEIGHTS]


def test_quitting_the_app_during_a_download_ends_it_cleanly(home_with_hub, micro_model_dir):
    home, hub = home_with_hub
    entry = next(e for e in load_catalog() if e.id == WAN)
    repo = hub.add_repo(entry.repo_id, repo_files(3_000_000))
    repo.faults[WEIGHTS] = FileFaults(rate_bps=125_000)  # 1 Mbit/s: 24 s for the weights
    run = start_app(home, micro_model_dir, "quit")
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "EXIT 0" in run.stdout and "QUIT " in run.stdout, run.stdout
    assert "QThread: Destroyed while thread is still running" not in run.stderr
    assert "THREAD_RUNNING False" in run.stdout, run.stdout
    took = float(run.stdout.split("QUIT_TOOK ")[1].split()[0])
    assert took < 5.0, run.stdout
    assert not is_installed(entry, home / "models")
    kept = sum(p.stat().st_size for p in entry.folder(home / "models").rglob("*.part"))
    assert kept > 50_000  # paused on quit: the next start resumes
