"""The Export dialog's "Timeline for an editor" group: write the storyboard as a timeline file
(studio/timeline.py: OpenTimelineIO, Final Cut Pro XML or a CMX EDL) with its clips in a
folder beside it, for DaVinci Resolve, Premiere, Kdenlive or Final Cut (docs/editors.md).

The export runs in the background (ui/timeline_worker.py) with a progress bar and a Cancel
button; the window stays usable. A cancelled or failed export leaves nothing behind: the clips
are made in a hidden staging folder that takes its final name only when complete, and the
timeline file is written after them (studio/timeline.py)."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sora_desktop.studio.provenance import options_from_settings
from sora_desktop.studio.timeline import TIMELINE_FORMATS, TimelineResult
from sora_desktop.ui.timeline_worker import TimelineJob, TimelineWorker, snapshot
from sora_desktop.ui.timeline_worker import timeline_worker_for as _worker_for
from sora_desktop.ui.viewmodels import ProjectViewModel

log = logging.getLogger(__name__)


def _filters() -> str:
    return ";;".join(f"{label} (*{suffix})" for suffix, (_a, label) in TIMELINE_FORMATS.items())


class TimelineExportBox(QGroupBox):
    """A button that asks where to save and starts the timeline export; while it runs, a
    progress bar and Cancel; a line says what happened. ``ended`` says how each export ended
    ("finished", "failed" or "cancelled")."""

    ended = Signal(str)

    def __init__(
        self,
        vm: ProjectViewModel,
        folder: Path,
        parent: QWidget | None = None,
        export_worker: QObject | None = None,
    ) -> None:
        super().__init__("Timeline for an editor", parent)
        self.vm, self.folder = vm, folder
        self.result: TimelineResult | None = None
        self.job_id: str | None = None
        self._export_worker = export_worker  # whose thread the timeline worker shares
        self._worker: TimelineWorker | None = None
        note = QLabel(
            "One clip per shot, with cross-fades and prompts as markers: .otio (Resolve, "
            "Kdenlive), .fcpxml (Resolve, Final Cut), .edl (Premiere, any editor)."
        )
        note.setObjectName("Muted")
        note.setWordWrap(True)
        self.button = QPushButton("Export timeline…")
        self.button.setAccessibleName("Export a timeline for an editor")
        self.button.setToolTip("Write the storyboard as a timeline file with its clips beside it")
        self.button.clicked.connect(self._choose)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setAccessibleName("Cancel the timeline export")
        self.cancel_btn.setToolTip("Stop the timeline export; nothing is left half-written")
        self.cancel_btn.clicked.connect(self.cancel)
        self.cancel_btn.hide()
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Timeline export progress")
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.status = QLabel(" ")
        self.status.setObjectName("Muted")
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.button)
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_btn)
        row.addStretch(0)
        lay = QVBoxLayout(self)
        lay.addWidget(note)
        lay.addLayout(row)
        lay.addWidget(self.status)

    @property
    def busy(self) -> bool:
        return self.job_id is not None

    def worker(self) -> TimelineWorker:
        """The background worker (made on first use, so opening the dialog costs nothing)."""
        if self._worker is None:
            if self._export_worker is not None:
                self._worker = _worker_for(self._export_worker)
            else:  # a box without the window's export worker: one of its own
                self._export_worker = QObject()
                self._worker = _worker_for(self._export_worker)
            w = self._worker
            w.started.connect(self._on_started)
            w.progress.connect(self._on_progress)
            w.finished.connect(self._on_finished)
            w.failed.connect(self._on_failed)
            w.cancelled.connect(self._on_cancelled)
        return self._worker

    def _choose(self) -> None:
        start = str(self.folder / f"{self.vm.project.name or 'film'}.otio")
        path, _ = QFileDialog.getSaveFileName(self, "Export timeline to", start, _filters())
        if path:
            self.export_to(Path(path), overwrite=True)  # the file dialog asked about replacing

    def export_to(self, path: Path, overwrite: bool = False) -> str | None:
        """Start writing the timeline to ``path`` in the background; returns the job's id (None
        while another timeline export runs). The status line says the result or the problem."""
        if self.busy:
            return None
        job = TimelineJob(uuid.uuid4().hex, snapshot(self.vm.project), Path(path), overwrite)
        job.provenance = options_from_settings()  # each clip signed, as Settings say
        self.job_id = job.job_id
        self.result = None
        self.button.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self.cancel_btn.show()
        self.progress.setRange(0, 0)  # busy until the first clip is done
        self.progress.show()
        self.status.setText(f"Exporting the timeline to {Path(path).name}…")
        self.worker().submit(job)
        return job.job_id

    def cancel(self) -> None:
        """Stop the running export (it ends as cancelled, leaving nothing behind)."""
        if self.job_id is not None and self._worker is not None:
            self._worker.cancel(self.job_id)
            self.cancel_btn.setEnabled(False)
            self.status.setText("Cancelling the timeline export…")

    # ------------------------------------------------------------------ the worker's reports
    def _mine(self, job_id: str) -> bool:
        return job_id == self.job_id

    def _on_started(self, job_id: str) -> None:
        if self._mine(job_id) and self.cancel_btn.isEnabled():
            self.status.setText("Exporting the timeline: making the clips…")

    def _on_progress(self, job_id: str, fraction: float) -> None:
        if self._mine(job_id):
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(max(0.0, min(1.0, fraction)) * 1000))

    def _end(self, outcome: str, text: str) -> None:
        self.job_id = None
        self.button.setEnabled(True)
        self.cancel_btn.hide()
        self.progress.hide()
        self.status.setText(text)
        self.ended.emit(outcome)

    def _on_finished(self, job_id: str, result: object) -> None:
        if self._mine(job_id):
            assert isinstance(result, TimelineResult)
            self.result = result
            lines = [f"Saved {result.summary()}"]
            if result.signed:
                lines.append("Each clip carries proof of origin (C2PA).")
            self._end("finished", "\n".join(lines + result.warnings))

    def _on_failed(self, job_id: str, message: str) -> None:
        if self._mine(job_id):
            self._end("failed", f"Timeline not exported: {message} Nothing was written.")

    def _on_cancelled(self, job_id: str) -> None:
        if self._mine(job_id):
            self._end("cancelled", "Timeline export cancelled; nothing was written.")
