"""The log file: a failing job leaves its traceback there, the crash handler logs and names the
file, Help → Open log folder shows it; stderr keeps what it showed before."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from sora_desktop.core import logs
from sora_desktop.core.request import GenerationRequest
from tests.ui_support import unload_models_after_module  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]


def test_log_folder_follows_sora_desktop_home(monkeypatch, tmp_path):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    assert logs.log_dir() == tmp_path / "home" / "logs"
    assert logs.log_file("cli") == tmp_path / "home" / "logs" / "cli.log"


def test_configure_once_file_gets_info_stderr_gets_warnings(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path))
    logs.configure("app")
    path = logs.configure("app")  # again: replaced, not doubled
    assert path == tmp_path / "logs" / "app.log"
    ours = [h for h in logging.getLogger().handlers if getattr(h, logs._OURS, False)]
    assert len(ours) == 2
    logging.getLogger("sora_desktop.some.module").info("an info line")
    logging.getLogger("sora_desktop.some.module").warning("a warning line")
    logging.getLogger("some_library").info("library chatter")
    for handler in ours:
        handler.flush()
    text = path.read_text(encoding="utf-8")
    assert "INFO sora_desktop.some.module" in text and "an info line" in text
    assert "a warning line" in text and "library chatter" not in text
    # stderr: what Python prints with no set-up (the message alone), no INFO lines
    assert capsys.readouterr().err == "a warning line\n"


def test_unwritable_log_folder_does_not_stop_start_up(monkeypatch, tmp_path, capsys):
    blocker = tmp_path / "home"
    blocker.mkdir()
    (blocker / "logs").write_text("a file where the folder should be")
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(blocker))
    logs.configure("app")
    logging.getLogger("sora_desktop.x").info("first line")
    logging.getLogger("sora_desktop.x").info("second line")
    err = capsys.readouterr().err
    assert err.count("cannot write the log file") == 1 and "Traceback" not in err
    assert logs.current_log_file() is None  # the crash dialog then names no file


def test_nothing_is_created_until_something_is_logged(monkeypatch, tmp_path):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    path = logs.configure("cli")
    assert not (tmp_path / "home").exists()
    logging.getLogger("sora_desktop.x").info("now")
    assert path.is_file()


def test_a_failing_job_writes_its_traceback_to_the_log(qtbot, monkeypatch, tmp_path):
    """The real worker and registry: the embedded model's folder is missing."""
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SORA_DESKTOP_EMBEDDED_MODEL", str(tmp_path / "no-model"))
    from sora_desktop.engine import registry
    from sora_desktop.ui.worker import GenerationJob, GenerationWorker, WorkerHost

    registry.unload_all()  # another test may have the micro model loaded under the same id
    path = logs.configure("app")
    host = WorkerHost(GenerationWorker(), "test-log-generation")
    failed = []
    host.worker.failed.connect(lambda jid, text: failed.append((jid, text)))
    job = GenerationJob(
        job_id="job-missing-model",
        request=GenerationRequest("a red ball", steps=2, seed=5),
        out_dir=tmp_path / "out",
        stem="take",
    )
    try:
        with qtbot.waitSignal(host.worker.failed, timeout=60_000):
            host.worker.submit(job)
    finally:
        assert host.stop(30_000)
    assert failed and failed[0][0] == "job-missing-model"
    assert "Traceback" not in failed[0][1]  # the user still gets a message, not a traceback
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text(encoding="utf-8")
    assert "generation job job-missing-model started" in text
    assert "generation job job-missing-model failed" in text
    assert "Traceback (most recent call last)" in text and str(tmp_path / "no-model") in text
    assert "a red ball" not in text  # the prompt is the user's own text: not logged


CRASH_PROBE = textwrap.dedent(
    """
    import sys, threading
    from PySide6.QtCore import QTimer, qWarning
    from PySide6.QtWidgets import QMessageBox
    from sora_desktop.ui.app import create_app, main
    app = create_app()

    def slot_error():
        raise ZeroDivisionError("probe error in a slot")

    def thread_error():
        raise KeyError("probe error in a thread")

    def fire():
        qWarning("probe Qt warning")
        slot_error()

    def close():
        boxes = [w for w in app.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
        print("BOXES", len(boxes), flush=True)
        for box in boxes:
            print("TEXT", box.text().replace("\\n", " | "), flush=True)
            print("DETAILS", box.detailedText().replace("\\n", " | "), flush=True)
        app.closeAllWindows()
        for box in boxes:
            box.close()

    QTimer.singleShot(800, fire)
    QTimer.singleShot(900, lambda: threading.Thread(target=thread_error, name="probe").start())
    QTimer.singleShot(2500, close)
    sys.exit(main())
    """
)


def test_crash_handler_logs_and_names_the_log_file(tmp_path):
    """The real start-up path (ui.app.main): an error in a slot and one in a thread are both
    logged with their tracebacks; the dialog names the log file; the app keeps running."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), SORA_DESKTOP_HOME=str(tmp_path))
    env["SORA_DESKTOP_EMBEDDED_MODEL"] = str(tmp_path / "no-model")
    run = subprocess.run(
        [sys.executable, "-c", CRASH_PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    log_path = tmp_path / "logs" / "app.log"
    text = log_path.read_text(encoding="utf-8")
    assert "ZeroDivisionError: probe error in a slot" in text
    assert "unexpected error in thread probe" in text and "KeyError" in text
    assert "WARNING sora_desktop.qt" in text and "probe Qt warning" in text
    boxes = [line for line in run.stdout.splitlines() if line.startswith("TEXT")]
    assert len(boxes) == 1, run.stdout  # one dialog at a time
    # plain words in the main text (issue 20), the error itself under Show Details
    from tests.test_plain_errors import assert_plain

    assert "ZeroDivisionError" not in boxes[0] and "probe error" not in boxes[0]
    assert "Something went wrong inside Sora Desktop" in boxes[0] and "File → Save" in boxes[0]
    assert_plain(boxes[0].replace(str(log_path), "the log file"))
    details = [line for line in run.stdout.splitlines() if line.startswith("DETAILS")]
    assert "ZeroDivisionError: probe error in a slot" in details[0]
    assert str(log_path) in boxes[0]
    assert "ZeroDivisionError" in run.stderr  # the terminal still shows the traceback


def test_help_menu_opens_the_log_folder(qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    from tests.ui_support import close_window, make_window

    window = make_window(tmp_path)
    shown = []
    window.open_folder = shown.append
    try:
        help_menu = next(
            a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "Help"
        )
        assert window.act_log_folder in help_menu.actions()
        window.act_log_folder.trigger()
    finally:
        close_window(window)
    assert shown == [tmp_path / "home" / "logs"] and shown[0].is_dir()


def test_cli_logs_to_its_own_file_only(monkeypatch, tmp_path, capsys):
    """`sora-desktop generate` through the real CLI: its log lines go to cli.log, its stdout and
    stderr stay the user's output."""
    from sora_desktop import cli
    from sora_desktop.engine import registry

    class Broken:  # duck-typed: only what the CLI calls
        model_id = "test/broken"

        def check_request(self, request) -> None:
            pass

        def capabilities(self):  # the long-shot dispatch asks for the model's window
            from sora_desktop.core.capabilities import ModelCapabilities

            return ModelCapabilities(model_id=self.model_id)

        def generate(self, request, cancel=None):
            raise RuntimeError("the test backend always fails")

        def unload(self) -> None:
            pass

    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path))
    monkeypatch.setitem(registry._factories, "test/broken", lambda model_id, device: Broken())
    registry.unload_all()
    code = cli.main(["generate", "a red ball", "--model", "test/broken", "-o", str(tmp_path)])
    registry.unload_all()
    out, err = capsys.readouterr()
    assert code != 0 and "the test backend always fails" in err
    assert "loaded model" not in out + err  # the log lines stay out of the user's output
    text = (tmp_path / "logs" / "cli.log").read_text(encoding="utf-8")
    assert "INFO sora_desktop.engine.registry [MainThread] loaded model test/broken" in text
    assert not (tmp_path / "logs" / "app.log").exists()
