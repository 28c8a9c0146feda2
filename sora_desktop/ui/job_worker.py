"""The bookkeeping every one-job-at-a-time worker shares (exports, editor timelines).

A subclass declares its own past-tense signals and ``_run_job(job)``, which emits exactly one
terminal signal; jobs carry ``job_id`` and a ``token`` (``CancelToken``). ``submit`` and
``cancel`` may be called from any thread; jobs run in the worker's thread, in order.
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot


class JobWorker(QObject):
    _submit = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self._jobs: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._submit.connect(self._run, Qt.ConnectionType.QueuedConnection)

    def submit(self, job: Any) -> None:
        with self._lock:
            self._jobs[job.job_id] = job
        self._submit.emit(job)

    def cancel(self, job_id: str) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is not None:
            job.token.cancel()

    def cancel_all(self) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.token.cancel()

    @Slot(object)
    def _run(self, job: Any) -> None:
        try:
            self._run_job(job)
        finally:
            with self._lock:
                self._jobs.pop(job.job_id, None)

    def _run_job(self, job: Any) -> None:
        raise NotImplementedError
