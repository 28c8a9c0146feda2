"""The main window's offer to finish a queue the app was still working on when it closed or
crashed (issue 18; a mixin of ``MainWindow``). The rules are in ``studio/resume.py``.

Whenever a project becomes the window's project (start-up with a file, Open, Open Recent,
restoring a recovery copy) and it has unfinished jobs, a bar above the panels says so in plain
words, without blocking anything: "Generate now" queues them in their saved order; "Not now"
forgets the list (the takes stay marked interrupted on the storyboard; Generate or Generate all
makes them later). A project open read-only (another window has it) is not offered: that
window owns its queue.
"""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from sora_desktop.studio.resume import decline, offer_text, pending_jobs, resume_pending

log = logging.getLogger(__name__)


class MainResumeMixin:
    """The "waiting shots" bar; ``offer_resume`` is called each time a project is shown."""

    def _build_resume_bar(self) -> None:
        """Put the (hidden) bar above the window's panels."""
        bar = QFrame()
        bar.setObjectName("ResumeBar")
        bar.setFrameShape(QFrame.Shape.StyledPanel)
        bar.setAccessibleName("Unfinished generation queue")
        self.resume_label = QLabel()
        self.resume_label.setWordWrap(True)
        self.resume_label.setAccessibleName("Shots still waiting to be generated")
        self.resume_now_button = QPushButton("Generate now")
        self.resume_now_button.setAccessibleName("Generate the waiting shots now")
        self.resume_now_button.setToolTip("Queue them again, in the order they were waiting.")
        self.resume_later_button = QPushButton("Not now")
        self.resume_later_button.setAccessibleName("Do not generate the waiting shots")
        self.resume_later_button.setToolTip(
            "They stay marked as interrupted; generate them any time (Generate all)."
        )
        row = QHBoxLayout(bar)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(self.resume_label, 1)
        row.addWidget(self.resume_now_button)
        row.addWidget(self.resume_later_button)
        self.resume_now_button.clicked.connect(self.resume_queue)
        self.resume_later_button.clicked.connect(self.decline_queue)
        bar.hide()
        self.resume_bar = bar
        panels = self.centralWidget()
        holder = QWidget()
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(bar)
        column.addWidget(panels, 1)
        self.setCentralWidget(holder)

    def offer_resume(self) -> bool:
        """Show the bar when the window's project has unfinished jobs. True if shown."""
        project = self.project_vm.project
        entries = [] if project.read_only else pending_jobs(project)
        if not entries:
            self.resume_bar.hide()
            return False
        self.resume_label.setText(
            offer_text(entries) + " Generate them now, in the order they were waiting?"
        )
        self.resume_bar.show()
        log.info("offering %d unfinished job(s) of %s", len(entries), project.path)
        return True

    def resume_queue(self) -> list:
        """The "Generate now" answer: queue the unfinished jobs again, in their saved order."""
        self.resume_bar.hide()
        self.editor.flush()
        result = resume_pending(self.queue_vm.studio)
        if result.problems:
            self.notify(
                "Some shots could not be queued again",
                "\n".join(result.problems)
                + "\n\nThey stay marked as interrupted; fix them, then generate them.",
                "warning",
            )
        count = len(result.jobs)
        self.status(f"Queued {count} waiting take{'s' if count != 1 else ''} again.")
        return result.jobs

    def decline_queue(self) -> None:
        """The "Not now" answer: forget the list; the takes stay marked interrupted."""
        self.resume_bar.hide()
        count = decline(self.project_vm.project)
        self.status(
            f"{count} waiting take{'s were' if count != 1 else ' was'} not generated: "
            f"{'they show' if count != 1 else 'it shows'} as interrupted. Generate them any "
            "time with Generate all.",
            15000,
        )
