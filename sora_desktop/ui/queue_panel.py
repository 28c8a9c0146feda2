"""The generation queue panel: one row per job with progress, steps, time left and Cancel."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sora_desktop.core.jobs import Job
from sora_desktop.ui.style import icon
from sora_desktop.ui.viewmodels import QueueViewModel
from sora_desktop.ui.zoom import size_in_em

COUNTDOWN_MS = 250  # the running job's text counts down between step reports


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    seconds = max(0, int(round(seconds)))
    if seconds < 1:
        return "almost done"
    if seconds < 60:
        return f"about {seconds} s left"
    return f"about {seconds // 60} min {seconds % 60:02d} s left"


def describe_running(queue: QueueViewModel, job: Job) -> str:
    """The running job's phase with its own estimate: 'Loading the model…', 'Denoising · step
    12 / 30 · about 40 s left', 'Decoding the video · about 8 s left', 'Writing the clip…'."""
    status = queue.phase_status(job.id)
    if status is None:  # no phase reported (yet): the step count alone
        if job.step == 0:
            return "Loading the model…"
        return f"Step {job.step} / {job.total}  ·  {format_eta(queue.eta_seconds(job.id))}"
    if status.phase == "denoising":
        return (
            f"{status.words} · step {status.step} / {status.total}  ·  "
            f"{format_eta(status.seconds_left)}"
        )
    if status.seconds_left is None:
        return f"{status.words}…"
    return f"{status.words}  ·  {format_eta(status.seconds_left)}"


def describe(queue: QueueViewModel, job: Job) -> str:
    text = _describe(queue, job)
    host = queue.studio.hosts.get(job.id)  # the render-farm machine that runs it
    return f"{text}  ·  on {host}" if host and job.status in ("running", "done") else text


def _describe(queue: QueueViewModel, job: Job) -> str:
    if job.status == "queued":
        return "Waiting…"
    if job.status == "running":
        if job.cancel_requested:
            return "Stopping…"
        if job.id in queue.decode_jobs:
            return "Decoding in low memory (no denoising)…"
        return describe_running(queue, job)
    if job.status == "done":
        return "Done"
    if job.status == "cancelled":
        return queue.notes.get(job.id, "Cancelled")
    first = (job.error or "Failed").split("\n")[0]
    return first


class ProgressRow(QFrame):
    """A queue row's parts: its title and Cancel, a progress bar, and what happens now (shot
    jobs here, music jobs in ui/music_worker.py)."""

    def __init__(self, job_id: str, cancel_tip: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job_id = job_id
        self.setObjectName("JobRow")
        self.title = QLabel()
        self.title.setObjectName("ShotTitle")
        self.detail = QLabel()
        self.detail.setObjectName("Muted")
        self.detail.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(6)
        self.cancel_btn = QToolButton()
        self.cancel_btn.setIcon(icon("cancel"))
        self.cancel_btn.setToolTip(cancel_tip)
        self.cancel_btn.setAutoRaise(True)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.cancel_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 6, 6, 8)
        lay.setSpacing(4)
        lay.addLayout(top)
        lay.addWidget(self.bar)
        lay.addWidget(self.detail)


class JobRow(ProgressRow):
    clicked = Signal(str)
    retry_requested = Signal(str, str)  # shot id, take id: "Retry in low memory"

    def __init__(self, job_id: str, parent: QWidget | None = None) -> None:
        super().__init__(job_id, "Cancel this job (Esc cancels the running one)", parent)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Show this shot")
        lay = self.layout()
        self.retry_btn = QPushButton("Retry in low memory")
        self.retry_btn.setToolTip("Decode the saved denoising again, a few frames at a time")
        self.retry_btn.setVisible(False)
        lay.addWidget(self.retry_btn)
        self._take: tuple[str, str] = ("", "")
        self.retry_btn.clicked.connect(lambda: self.retry_requested.emit(*self._take))

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.clicked.emit(self.job_id)
        super().mousePressEvent(event)

    def update_from(self, queue: QueueViewModel, job: Job) -> None:
        self.title.setText(queue.titles.get(job.id, "Shot"))
        self.detail.setText(describe(queue, job))
        self.detail.setToolTip(job.error or queue.notes.get(job.id, ""))
        self.bar.setValue(int(job.fraction * 1000))
        self.bar.setVisible(job.active)
        self.cancel_btn.setVisible(job.active and not job.cancel_requested)
        self._take = (job.shot_id, job.take_id)
        self.retry_btn.setVisible(job.status == "failed" and queue.decode_failed(job))
        state = queue.state(job)
        if self.property("state") != state:
            self.setProperty("state", state)
            self.style().unpolish(self)
            self.style().polish(self)


class QueuePanel(QWidget):
    job_activated = Signal(str)
    retry_decode_requested = Signal(str, str)  # shot id, take id
    # "Cancel all" also stops jobs outside the shot queue (music): their owner connects this and
    # sets ``others_active`` so the button stays usable while only such a job runs
    cancel_all_requested = Signal()

    def __init__(self, queue: QueueViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.setObjectName("QueuePanel")
        title = QLabel("Queue")
        title.setObjectName("PanelTitle")
        self.summary = QLabel()
        self.summary.setObjectName("Muted")
        self.cancel_all_btn = QPushButton("Cancel all")
        self.cancel_all_btn.setObjectName("DangerButton")
        self.clear_btn = QPushButton("Clear finished")
        head = QHBoxLayout()
        head.setContentsMargins(12, 8, 12, 4)
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(self.summary)
        buttons = self.buttons = QHBoxLayout()
        buttons.setContentsMargins(12, 0, 12, 6)
        buttons.addWidget(self.cancel_all_btn)
        buttons.addWidget(self.clear_btn)
        buttons.addStretch(1)

        self.list = QWidget()
        self.rows_layout = QVBoxLayout(self.list)
        self.rows_layout.setContentsMargins(10, 4, 10, 10)
        self.rows_layout.setSpacing(6)
        self.empty = QLabel("Nothing queued. Generated shots appear here with their progress.")
        self.empty.setObjectName("Muted")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.list)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(head)
        lay.addLayout(buttons)
        lay.addWidget(scroll, 1)
        size_in_em(self, min_width=13)  # grows with the UI zoom

        self.rows: dict[str, JobRow] = {}
        self.others_active: Callable[[], bool] = lambda: False
        self.cancel_all_btn.clicked.connect(self.cancel_all)
        self.clear_btn.clicked.connect(queue.clear_finished)
        queue.queue_changed.connect(self.rebuild)
        queue.job_changed.connect(self.refresh)
        self.countdown = QTimer(self)  # the running job's estimate counts down between steps
        self.countdown.setInterval(COUNTDOWN_MS)
        self.countdown.timeout.connect(self._tick)
        self.rebuild()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        """Narrow (large text): the two buttons stack instead of being cut."""
        m = self.buttons.contentsMargins()
        need = sum(b.sizeHint().width() for b in (self.cancel_all_btn, self.clear_btn))
        need += m.left() + m.right() + self.buttons.spacing()
        Dir = QBoxLayout.Direction  # noqa: N806
        wanted = Dir.LeftToRight if event.size().width() >= need else Dir.TopToBottom
        if self.buttons.direction() != wanted:
            self.buttons.setDirection(wanted)
        super().resizeEvent(event)

    def cancel_all(self) -> None:
        self.queue.cancel_all()
        self.cancel_all_requested.emit()

    def _tick(self) -> None:
        running = self.queue.running()
        if running is None:
            self.countdown.stop()
            return
        row = self.rows.get(running.id)
        if row is not None:
            row.detail.setText(describe(self.queue, running))

    def rebuild(self) -> None:
        while self.rows_layout.count():
            item = self.rows_layout.takeAt(0)
            w = item.widget()
            if w is not None and w is not self.empty:
                w.hide()
                w.setParent(None)
                w.deleteLater()
        self.rows = {}
        jobs = self.queue.jobs
        for job in reversed(jobs):  # newest on top
            row = JobRow(job.id)
            row.cancel_btn.clicked.connect(lambda _c=False, j=job.id: self.queue.cancel(j))
            row.clicked.connect(self.job_activated)
            row.retry_requested.connect(self.retry_decode_requested)
            self.rows[job.id] = row
            self.rows_layout.addWidget(row)
            row.update_from(self.queue, job)
        self.rows_layout.addWidget(self.empty)
        self.empty.setVisible(not jobs)
        self.rows_layout.addStretch(1)
        self._summary()

    def refresh(self, job_id: str) -> None:
        row, job = self.rows.get(job_id), self.queue.job(job_id)
        if row is not None and job is not None:
            row.update_from(self.queue, job)
        for other in self.rows.values():  # a retry's progress also changes the failed row
            other_job = self.queue.job(other.job_id)
            if other is not row and job is not None and other_job is not None:
                if other_job.take_id == job.take_id:
                    other.update_from(self.queue, other_job)
        self._summary()

    def _summary(self) -> None:
        jobs = self.queue.jobs
        waiting = sum(1 for j in jobs if j.status == "queued")
        running = sum(1 for j in jobs if j.status == "running")
        self.summary.setText(f"{running} running · {waiting} waiting" if jobs else "")
        self.update_cancel_all()
        if running and not self.countdown.isActive():
            self.countdown.start()
        self.clear_btn.setEnabled(any(j.is_terminal for j in jobs))

    def update_cancel_all(self) -> None:
        busy = any(j.active for j in self.queue.jobs) or self.others_active()
        self.cancel_all_btn.setEnabled(busy)
