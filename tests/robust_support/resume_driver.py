"""Drives the real app (``cli.main``: the installed ``sora-desktop`` start-up path) for
tests/test_ui_queue_resume.py. Run as ``python -m tests.robust_support.resume_driver MODE
[PROJECT]``; questions are answered as a user would (the ``ask`` method is the one place the app
asks), everything else goes through the window's own buttons and methods.

Modes:
- ``save`` / ``autosave``: Generate all; when the first take is done, Save (or write the
  recovery copy, as the app's timer does), then SIGKILL itself: the rest never finishes.
- ``close``: Generate all; when the first take is done, close the window like a user (Quit,
  then Save).
- ``resume``: wait for the "still waiting" bar, press "Generate now" (found by its accessible
  name), wait until every shot has its clip, save, print the result, close.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QPushButton

from sora_desktop import cli
from sora_desktop.ui.app import create_app
from sora_desktop.ui.main_window import MainWindow

ANSWERS = {
    "Restore unsaved work?": os.environ.get("RESUME_TEST_RECOVERY", "Later"),
    "Generation in progress": "Quit",
    "Save changes?": "Save",
}
OFFER_WAIT_S = 30.0
FINISH_WAIT_S = 150.0


def answer(self, title, text, buttons, default=0):
    print("ASKED", json.dumps(title), flush=True)
    return ANSWERS.get(title, buttons[default])


MainWindow.ask = answer


def window() -> MainWindow:
    app = QApplication.instance()
    return next(w for w in app.topLevelWidgets() if isinstance(w, MainWindow))


def report(w: MainWindow) -> None:
    shots = w.project_vm.project.shots
    states = [s.selected.status if s.selected is not None else s.status for s in shots]
    print("STATES", json.dumps(states), flush=True)


def queue_then(how: str) -> None:
    w = window()
    jobs = w.generate_all()
    print("QUEUED", len(jobs), flush=True)

    def first_done(_job_id: str, _path: str) -> None:
        w.queue_vm.job_finished.disconnect(first_done)
        print("FIRST_DONE", flush=True)
        if how == "save":
            w.save()
        elif how == "autosave":
            print("COPY", w.autosave_now(), flush=True)
        if how == "close":
            w.close()
            return
        os.kill(os.getpid(), signal.SIGKILL)  # kill -9 mid-queue: no clean-up at all

    w.queue_vm.job_finished.connect(first_done)


def resume() -> None:
    w = window()
    started = time.monotonic()

    def wait_for_offer() -> None:
        bar = getattr(w, "resume_bar", None)
        if bar is None or not bar.isVisible():
            if time.monotonic() - started > OFFER_WAIT_S:
                print("NO_OFFER", flush=True)
                report(w)
                w.shutdown()
                QApplication.instance().exit(3)
                return
            QTimer.singleShot(100, wait_for_offer)
            return
        print("OFFER", json.dumps(w.resume_label.text()), flush=True)
        buttons = [
            b
            for b in w.findChildren(QPushButton)
            if b.accessibleName() == "Generate the waiting shots now"
        ]
        buttons[0].click()
        wait_for_clips()

    def wait_for_clips() -> None:
        shots = w.project_vm.project.shots
        done = all(s.selected is not None and s.selected.status == "done" for s in shots)
        if done and not w.queue_vm.busy:
            w.save()
            report(w)
            print("QUESTIONS_LEFT", w.resume_bar.isVisible(), flush=True)
            QApplication.instance().closeAllWindows()
            return
        if time.monotonic() - started > FINISH_WAIT_S:
            print("NOT_FINISHED", [m[0] for m in w.messages], flush=True)
            report(w)
            w.shutdown()
            QApplication.instance().exit(4)
            return
        QTimer.singleShot(100, wait_for_clips)

    wait_for_offer()


def main() -> int:
    mode, args = sys.argv[1], sys.argv[2:]
    create_app()
    if mode == "resume":
        QTimer.singleShot(200, resume)
    else:
        QTimer.singleShot(200, lambda: queue_then(mode))
    return cli.main(args)


if __name__ == "__main__":
    sys.exit(main())
