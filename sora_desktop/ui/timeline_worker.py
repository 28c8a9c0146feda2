"""Writing a timeline for an editor off the GUI thread (studio/timeline.py does the work).

Like the film export's worker (ui/worker.ExportWorker): past-tense signals, exactly one
terminal signal per job (``finished`` / ``failed`` / ``cancelled``), cooperative cancel through
a ``CancelToken`` that the export checks between clips and while converting one, and no
widget touched here: the Export dialog's timeline box (ui/timeline_export.py) listens.

The worker lives in the film export's thread (``timeline_worker_for``): one export runs at a
time, and the main window's shutdown joins that thread already. A job works on a snapshot of
the project taken when it was submitted, so edits made meanwhile cannot change it halfway.
"""

from __future__ import annotations

import atexit
import copy
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal

from sora_desktop.core.project import Project
from sora_desktop.engine.backend import CancelToken, GenerationCancelled
from sora_desktop.studio import timeline
from sora_desktop.ui.job_worker import JobWorker

log = logging.getLogger(__name__)


@dataclass
class TimelineJob:
    job_id: str
    project: Project  # a snapshot (``snapshot``), never the window's own project
    path: Path
    overwrite: bool = False
    token: CancelToken = field(default_factory=CancelToken)
    provenance: Any = None  # ProvenanceOptions: sign each clip (C2PA); None: not signed


def snapshot(project: Project) -> Project:
    """A copy of what a timeline export reads (shots, takes, settings), safe to read from
    another thread while the window's project is edited."""
    copied = copy.copy(project)
    copied.shots = copy.deepcopy(project.shots)
    copied.settings = copy.deepcopy(project.settings)
    return copied


def failure_message(exc: BaseException) -> str:
    """One plain line: what went wrong, and that nothing was left half-written."""
    if isinstance(exc, ValueError):  # TimelineError, FieldError: already the user's words
        text = str(exc).strip()
    elif isinstance(exc, OSError):
        why = exc.strerror or str(exc)
        text = f"the files could not be written ({why}); check the disk has room, or choose "
        text += "another folder"
    else:
        text = str(exc).strip() or type(exc).__name__
    return text + ("" if text.endswith(".") else ".")


class TimelineWorker(JobWorker):
    """Runs ``studio.timeline.export_timeline`` for each submitted ``TimelineJob``."""

    started = Signal(str)
    progress = Signal(str, float)  # 0..1
    finished = Signal(str, object)  # (job, TimelineResult)
    failed = Signal(str, str)  # (job, one plain line)
    cancelled = Signal(str)

    def _run_job(self, job: TimelineJob) -> None:
        jid = job.job_id
        if job.token.cancelled:
            self.cancelled.emit(jid)
            return
        self.started.emit(jid)
        try:
            result = timeline.export_timeline(
                job.project,
                job.path,
                overwrite=job.overwrite,
                progress=lambda fraction: self.progress.emit(jid, fraction),
                cancel=job.token,
                provenance=job.provenance,
            )
        except GenerationCancelled:
            self.cancelled.emit(jid)
        except Exception as exc:  # noqa: BLE001 - every job ends with one terminal signal
            if job.token.cancelled:
                self.cancelled.emit(jid)
                return
            if not isinstance(exc, ValueError):
                log.exception("timeline export %s failed (%s)", jid, job.path)
            self.failed.emit(jid, failure_message(exc))
        else:
            self.finished.emit(jid, result)


_OWN_THREADS: list[tuple[QThread, TimelineWorker]] = []  # kept alive until the app ends
_STOP_REGISTERED = False


def _stop_own_threads() -> None:
    while _OWN_THREADS:
        thread, worker = _OWN_THREADS.pop()
        worker.cancel_all()
        thread.quit()
        thread.wait(30_000)


def timeline_worker_for(export_worker: QObject) -> TimelineWorker:
    """The timeline worker that shares ``export_worker``'s thread (made on first use). An
    export worker still in the GUI thread (not hosted) gets a thread of its own, kept until the
    application quits and joined then."""
    worker = getattr(export_worker, "_timeline_worker", None)
    if worker is not None:
        return worker
    worker = TimelineWorker()
    thread = export_worker.thread()
    app = QCoreApplication.instance()
    if app is not None and thread is app.thread():
        thread = QThread()
        thread.setObjectName("timeline export")
        thread.start()
        global _STOP_REGISTERED
        if not _STOP_REGISTERED:
            app.aboutToQuit.connect(_stop_own_threads)
            atexit.register(_stop_own_threads)
            _STOP_REGISTERED = True
        _OWN_THREADS.append((thread, worker))
    worker.moveToThread(thread)
    export_worker._timeline_worker = worker
    return worker
