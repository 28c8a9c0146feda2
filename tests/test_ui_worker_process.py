"""Issue 18 through the app's real start-up path (``ui.app.main``), in a fresh process so no
other test has imported torch there: the built-in model warms up and generates in the worker
process; the worker is killed with SIGKILL mid-shot; the app keeps running, the shot shows
failed with a plain message, generating again works on a restarted worker, and the GUI process
never imported torch, diffusers or transformers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

APP = textwrap.dedent(
    """
    import json, os, signal, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QTimer
    from sora_desktop.ui.app import create_app, main
    from sora_desktop.ui.main_window import MainWindow

    app = create_app()
    out = {"pid": os.getpid()}

    def script():
        (w,) = [x for x in app.topLevelWidgets() if isinstance(x, MainWindow)]
        w.ask = lambda *a, **k: "Don't save"
        yield lambda: w.model_status.text().startswith("Model ready")
        out["worker_pid"] = w.gen_worker.process.pid
        ed = w.editor
        ed.prompt_edit.setPlainText("a red ball bouncing on green grass")
        ed.steps_spin.setValue(2)
        ed.flush()
        (first,) = w.generate_selected()
        yield lambda: first.is_terminal
        out["first"] = [first.status, first.output, first.request.num_frames]
        out["same_worker"] = w.gen_worker.process.pid == out["worker_pid"]
        ed.steps_spin.setValue(200)
        ed.flush()
        (doomed,) = w.generate_selected()
        yield lambda: doomed.status == "running" and doomed.step >= 1
        os.kill(w.gen_worker.process.pid, signal.SIGKILL)
        yield lambda: doomed.is_terminal
        take = w.project_vm.selected.takes[-1]
        out["killed"] = [doomed.status, doomed.error, take.id == doomed.take_id, take.status,
                         take.error]
        out["messages"] = w.messages
        out["window_visible"] = w.isVisible()
        ed.steps_spin.setValue(2)
        ed.flush()
        (again,) = w.generate_selected()
        yield lambda: again.is_terminal
        out["again"] = [again.status, again.output, again.request.num_frames]
        out["new_worker"] = w.gen_worker.process.pid not in (None, out["worker_pid"])
        out["heavy"] = sorted(m for m in ("torch", "diffusers", "transformers")
                              if m in sys.modules)
        app.closeAllWindows()

    steps = script()
    waiting = [None]

    def tick():
        try:
            if waiting[0] is None or waiting[0]():
                waiting[0] = next(steps)
        except StopIteration:
            timer.stop()
            return
        except Exception as exc:
            out["error"] = repr(exc)
            timer.stop()
            app.closeAllWindows()

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(50)
    code = main()
    print("RESULT " + json.dumps(out), flush=True)
    sys.exit(code)
    """
)


def test_killing_the_worker_mid_shot_never_takes_the_app_down(tmp_path):
    from sora_desktop.engine.export import read_video

    home = tmp_path / "home"
    env = dict(os.environ, PYTHONPATH=str(ROOT), SORA_DESKTOP_HOME=str(home))
    env.pop("SORA_DESKTOP_EMBEDDED_MODEL", None)  # the built-in model
    run = subprocess.run(
        [sys.executable, "-c", APP], env=env, capture_output=True, text=True, timeout=600
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, (run.returncode, run.stdout[-2000:], run.stderr[-4000:])
    out = json.loads(lines[-1][len("RESULT ") :])
    assert "error" not in out, out
    assert run.returncode == 0, run.stderr[-4000:]
    assert out["worker_pid"] not in (None, out["pid"])  # the model ran in another process

    status, clip, frames = out["first"]
    assert status == "done" and read_video(clip)[0].shape[0] == frames
    assert out["same_worker"]

    status, error, same_take, take_status, take_error = out["killed"]
    assert status == "failed" and same_take and take_status == "failed"
    assert "stopped unexpectedly" in error and "project" in error and "Try:" in error
    assert take_error == error
    assert any(error in text for _title, text in out["messages"])  # the user was told
    assert out["window_visible"]

    status, clip, frames = out["again"]
    assert status == "done" and read_video(clip)[0].shape[0] == frames
    assert out["new_worker"]
    assert out["heavy"] == []  # the GUI process never imported the model's libraries
    log = (home / "logs" / "app.log").read_text(encoding="utf-8")
    assert "the worker process ended (signal SIGKILL)" in log
