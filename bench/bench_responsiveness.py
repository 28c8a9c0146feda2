"""How responsive the desktop studio stays.

1. Start-up: time from launching a fresh Python process to the main window being shown
   (target < 2 s). Measured from the parent, so interpreter start-up and imports count.
2. GUI stalls: while the model loads and while a clip generates in the worker thread, a 10 ms
   QTimer on the GUI thread records the gaps between its ticks; the longest gap is how long the
   window could not react (target < 50 ms).

Median over several runs. Run offscreen:

    QT_QPA_PLATFORM=offscreen python bench/bench_responsiveness.py [--runs 5] [--model DIR]

``--model`` picks the embedded checkpoint (default: model/embedded if trained, else a micro
checkpoint trained on the spot, which is named in the output).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STARTUP_SCRIPT = r"""
import os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QTimer
from sora_desktop.ui.app import create_app
from sora_desktop.core.settings import load_settings
from sora_desktop.ui.style import apply_theme, app_icon
from sora_desktop.ui.main_window import MainWindow
app = create_app()
settings = load_settings()
apply_theme(app, settings.theme)
w = MainWindow(settings, warm_up=False)
w.show()
def shown():
    print("SHOWN", flush=True)
    w.shutdown()
    app.quit()
QTimer.singleShot(0, shown)
app.exec()
"""


def startup_seconds(home: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT), SORA_DESKTOP_HOME=str(home))
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", STARTUP_SCRIPT],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("SHOWN"):
            elapsed = time.perf_counter() - t0
            break
    else:
        raise RuntimeError("the window never showed")
    proc.wait(timeout=60)
    return elapsed


class GapRecorder:
    """Longest interval between ticks of a 10 ms GUI-thread timer."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.gaps: list[float] = []
        self._last: float | None = None
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.gaps.append(now - self._last)
        self._last = now

    def start(self) -> None:
        self.gaps, self._last = [], None
        self.timer.start()

    def stop(self) -> dict[str, float]:
        self.timer.stop()
        gaps = sorted(self.gaps) or [0.0]
        return {
            "max_ms": gaps[-1] * 1000,
            "p99_ms": gaps[int(0.99 * (len(gaps) - 1))] * 1000,
            "ticks": len(gaps),
        }


def wait_until(app, cond, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError("benchmark step timed out")
        app.processEvents()
        time.sleep(0.001)


def gui_gaps(model_dir: Path, runs: int, steps: int, frames: int) -> dict[str, list[dict]]:
    os.environ["SORA_DESKTOP_EMBEDDED_MODEL"] = str(model_dir)
    from sora_desktop.core.autosave import Autosaver
    from sora_desktop.core.settings import Settings
    from sora_desktop.engine import registry
    from sora_desktop.ui.app import create_app
    from sora_desktop.ui.main_window import MainWindow
    from sora_desktop.ui.style import apply_theme

    app = create_app()
    apply_theme(app, "dark")
    tmp = Path(tempfile.mkdtemp(prefix="sd-bench-"))
    settings = Settings(output_dir=str(tmp / "out"), models_dir=str(tmp / "m"), autosave_seconds=0)
    w = MainWindow(settings, autosaver=Autosaver(tmp / "rec"), warm_up=False)
    w.ask = lambda *a, **k: "Don't save"
    w.show()
    app.processEvents()
    rec = GapRecorder()
    out: dict[str, list[dict]] = {"model_load": [], "generation": []}

    # model load (torch import + weights) in the worker thread, first run only is a cold load
    rec.start()
    w.warm_up()
    wait_until(app, lambda: w.model_status.text().startswith("Model"), 300)
    wait_until(app, lambda: w.model_status.text() != "Loading model…", 300)
    out["model_load"].append(rec.stop())

    ed = w.editor
    ed.prompt_edit.setPlainText("a red ball bouncing on green grass")
    ed.steps_spin.setValue(steps)
    ed.duration_spin.setValue(frames / 8)
    ed.flush()
    for _ in range(runs):
        rec.start()
        (job,) = w.generate_selected()
        wait_until(app, lambda j=job: j.is_terminal, 600)
        result = rec.stop()
        result["seconds"] = (job.finished_at or time.time()) - (job.started_at or time.time())
        result["status"] = job.status
        out["generation"].append(result)
    w.shutdown()
    registry.unload_all()
    return out


def micro_checkpoint() -> Path:
    out = Path(tempfile.mkdtemp(prefix="sd-micro-"))
    cmd = [
        sys.executable,
        str(ROOT / "model" / "train.py"),
        "--preset",
        "micro",
        "--out",
        str(out),
        "--vae-steps",
        "2",
        "--dit-steps",
        "2",
        "--pool",
        "8",
        "--batch",
        "4",
        "--save-every",
        "2",
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--model", type=Path, default=None)
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    with tempfile.TemporaryDirectory() as home:
        os.environ["SORA_DESKTOP_HOME"] = home
        times = [startup_seconds(Path(home)) for _ in range(args.runs)]
    print(f"startup to window shown (fresh process), {args.runs} runs:")
    print(
        f"  median {statistics.median(times):.3f} s   min {min(times):.3f}   max {max(times):.3f}"
        f"   target < 2 s"
    )

    model = args.model
    if model is None:
        shipped = ROOT / "model" / "embedded"
        model = shipped if (shipped / "dit.safetensors").is_file() else micro_checkpoint()
    label = "shipped" if model == ROOT / "model" / "embedded" else f"{model}"
    with tempfile.TemporaryDirectory() as home:
        os.environ["SORA_DESKTOP_HOME"] = home
        res = gui_gaps(model, args.runs, args.steps, args.frames)
    load = res["model_load"][0]
    print(f"model: {label}; clip: {args.frames} frames, {args.steps} steps")
    print(
        f"GUI-thread gaps while the model loads (cold, once): longest {load['max_ms']:.1f} ms, "
        f"p99 {load['p99_ms']:.1f} ms over {load['ticks']} ticks"
    )
    gens = res["generation"]
    maxes = [g["max_ms"] for g in gens]
    p99s = [g["p99_ms"] for g in gens]
    secs = [g["seconds"] for g in gens]
    print(f"GUI-thread gaps while a clip generates, {len(gens)} runs:")
    print(
        f"  longest gap median {statistics.median(maxes):.1f} ms (runs: "
        + ", ".join(f"{m:.1f}" for m in maxes)
        + ")   target < 50 ms"
    )
    print(
        f"  p99 gap median {statistics.median(p99s):.1f} ms; generation median "
        f"{statistics.median(secs):.2f} s; statuses {[g['status'] for g in gens]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
