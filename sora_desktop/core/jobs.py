"""The generation queue as plain data: which takes wait, which one runs, how far it is.

Why a Qt-free model: the queue's rules (first in, first out; cancelling a waiting job removes it
at once while a running one is only *asked* to stop; exactly one ending per job; a time estimate
from the measured step rate) are easy to get subtly wrong and must be testable without a GUI.
The UI's worker thread drives it with ``mark_*`` calls and listens with ``subscribe``.

Thread safety: every method takes one lock, so the worker thread and the UI thread may both call
in. Listeners are called after the lock is released, on the calling thread.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from sora_desktop.core.capabilities import segments_for
from sora_desktop.core.request import GenerationRequest

JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]
JOB_STATUSES: tuple[str, ...] = ("queued", "running", "done", "failed", "cancelled")
TERMINAL: frozenset[str] = frozenset({"done", "failed", "cancelled"})


class JobError(ValueError):
    """An impossible queue operation (unknown job, or a transition that cannot happen)."""


@dataclass
class Job:
    """One generation waiting, running or finished. Times are ``time.time()`` seconds."""

    id: str
    shot_id: str
    take_id: str
    request: GenerationRequest
    status: JobStatus = "queued"
    step: int = 0
    total: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    output: str | None = None
    submitted_at: float = 0.0
    # A running job was asked to stop; the worker stops it at the next step.
    cancel_requested: bool = False
    # First progress report (step, time): the step rate is measured from here, because the
    # time before it is mostly model loading.
    _first: tuple[int, float] | None = field(default=None, repr=False, compare=False)
    _last: tuple[int, float] | None = field(default=None, repr=False, compare=False)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    @property
    def fraction(self) -> float:
        """Progress 0..1 (1 once done)."""
        if self.status == "done":
            return 1.0
        return min(1.0, self.step / self.total) if self.total > 0 else 0.0

    def seconds_per_step(self) -> float | None:
        if self._first is None or self._last is None:
            return None
        (s0, t0), (s1, t1) = self._first, self._last
        if s1 > s0:
            return max(0.0, (t1 - t0) / (s1 - s0))
        if s1 > 0 and self.started_at is not None:
            # Only one report so far: the whole time since start, loading included.
            return max(0.0, (t1 - self.started_at) / s1)
        return None


Listener = Callable[[Job], None]


class JobQueue:
    """First-in, first-out queue of generation jobs (one runs at a time)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._jobs: list[Job] = []
        self._by_id: dict[str, Job] = {}
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        # Seconds per step of the last job that finished: the estimate for jobs not started.
        self._last_rate: float | None = None

    # ------------------------------------------------------------------ listening
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(job)`` after every change; returns a function that unsubscribes."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _notify(self, job: Job) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(job)

    # ------------------------------------------------------------------ queries
    @property
    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs)

    def __len__(self) -> int:
        return len(self._jobs)

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._by_id.get(job_id)
        if job is None:
            raise JobError(f"there is no job with id {job_id!r} in the queue")
        return job

    def queued(self) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs if j.status == "queued"]

    @property
    def running(self) -> Job | None:
        with self._lock:
            return next((j for j in self._jobs if j.status == "running"), None)

    @property
    def busy(self) -> bool:
        with self._lock:
            return any(j.active for j in self._jobs)

    def jobs_for_shot(self, shot_id: str) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs if j.shot_id == shot_id]

    def next_job(self) -> Job | None:
        """The job the worker should start next (oldest queued), without changing it."""
        with self._lock:
            return next((j for j in self._jobs if j.status == "queued"), None)

    # ------------------------------------------------------------------ changes
    def submit(
        self,
        job_or_shot_id: Job | str,
        take_id: str | None = None,
        request: GenerationRequest | None = None,
        *,
        job_id: str | None = None,
    ) -> Job:
        """Add a job at the end: ``submit(job)`` or ``submit(shot_id, take_id, request)``."""
        if isinstance(job_or_shot_id, Job):
            job = job_or_shot_id
            if job.status != "queued":
                raise JobError(f"job {job.id!r}: only a queued job can be submitted")
        else:
            if take_id is None or not isinstance(request, GenerationRequest):
                raise JobError("submit: give a Job, or shot_id, take_id and a GenerationRequest")
            job = Job(job_id or uuid.uuid4().hex, job_or_shot_id, take_id, request)
        if job.total <= 0:  # every pass of a chained clip runs all its steps
            job.total = job.request.steps * segments_for(job.request)
        job.submitted_at = self._clock()
        with self._lock:
            if job.id in self._by_id:
                raise JobError(f"job {job.id!r} is already in the queue")
            self._jobs.append(job)
            self._by_id[job.id] = job
        self._notify(job)
        return job

    def cancel(self, job_id: str) -> bool:
        """Cancel a job. Queued: cancelled at once. Running: ``cancel_requested`` is set and the
        worker must stop it and call ``mark_cancelled``. Finished: nothing to do (False)."""
        with self._lock:
            job = self.get(job_id)
            if job.status == "queued":
                job.status = "cancelled"
                job.finished_at = self._clock()
            elif job.status == "running" and not job.cancel_requested:
                job.cancel_requested = True
            else:
                return False
        self._notify(job)
        return True

    def cancel_all(self) -> int:
        """Cancel every queued or running job; returns how many were affected."""
        return sum(self.cancel(j.id) for j in self.jobs if j.active)

    def mark_running(self, job_id: str) -> Job:
        with self._lock:
            job = self.get(job_id)
            if job.status == "running":
                return job
            self._require(job, "queued", "start")
            job.status = "running"
            job.started_at = self._clock()
        self._notify(job)
        return job

    def mark_progress(self, job_id: str, step: int, total: int | None = None) -> Job:
        with self._lock:
            job = self.get(job_id)
            self._require(job, "running", "report progress for")
            if total is not None:
                if total < 1:
                    raise JobError(f"total: {total} must be at least 1")
                job.total = total
            if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= job.total:
                raise JobError(f"step: {step!r} is out of range; allowed 0 to {job.total}")
            now = self._clock()
            if job._first is None or step < job._first[0]:
                job._first = (step, now)
            job._last = (step, now)
            job.step = step
        self._notify(job)
        return job

    def mark_done(self, job_id: str, output: str | None = None) -> Job:
        with self._lock:
            job = self.get(job_id)
            self._require(job, "running", "finish")
            rate = job.seconds_per_step()
            if rate is not None:
                self._last_rate = rate
            job.status = "done"
            job.output = output
            job.step = job.total
            job.finished_at = self._clock()
        self._notify(job)
        return job

    def mark_failed(self, job_id: str, error: str) -> Job:
        with self._lock:
            job = self.get(job_id)
            self._require(job, ("queued", "running"), "fail")
            job.status = "failed"
            job.error = error
            job.finished_at = self._clock()
        self._notify(job)
        return job

    def mark_cancelled(self, job_id: str) -> Job:
        with self._lock:
            job = self.get(job_id)
            if job.status == "cancelled":
                return job
            self._require(job, ("queued", "running"), "cancel")
            job.status = "cancelled"
            job.finished_at = self._clock()
        self._notify(job)
        return job

    def remove(self, job_id: str) -> Job:
        """Forget a finished job (a running one must end first)."""
        with self._lock:
            job = self.get(job_id)
            if job.active:
                raise JobError(f"job {job_id!r} is {job.status}; cancel it before removing it")
            self._jobs.remove(job)
            del self._by_id[job_id]
        return job

    def clear_finished(self) -> list[Job]:
        with self._lock:
            gone = [j for j in self._jobs if j.is_terminal]
            self._jobs = [j for j in self._jobs if not j.is_terminal]
            self._by_id = {j.id: j for j in self._jobs}
        return gone

    # ------------------------------------------------------------------ estimates
    def eta_seconds(self, job: Job | str, now: float | None = None) -> float | None:
        """Seconds until ``job`` finishes, or ``None`` while there is nothing to measure.

        Running: remaining steps × its own measured seconds per step, counted from its latest
        report. Queued: everything ahead of it plus its own steps, at the running job's rate (or
        the last finished job's). Finished: 0.
        """
        with self._lock:
            job = self.get(job) if isinstance(job, str) else job
            if job.is_terminal:
                return 0.0
            now = self._clock() if now is None else now
            running = self.running
            rate = running.seconds_per_step() if running is not None else None
            rate = rate if rate is not None else self._last_rate
            if job.status == "running":
                own = job.seconds_per_step()
                if own is None:
                    return None
                return _running_remaining(job, own, now)
            if rate is None:
                return None
            total = 0.0
            if running is not None:
                own = running.seconds_per_step()
                total += _running_remaining(running, own if own is not None else rate, now)
            for other in self._jobs:
                if other.status != "queued":
                    continue
                total += max(other.total - other.step, 0) * rate
                if other is job:
                    return total
            return None

    @staticmethod
    def _require(job: Job, allowed: str | tuple[str, ...], verb: str) -> None:
        allowed = (allowed,) if isinstance(allowed, str) else allowed
        if job.status not in allowed:
            raise JobError(f"cannot {verb} job {job.id!r}: it is {job.status}")


def _running_remaining(job: Job, rate: float, now: float) -> float:
    remaining = max(job.total - job.step, 0) * rate
    if job._last is not None:
        # Time already spent on the step in progress counts against the estimate.
        remaining -= min(now - job._last[1], rate)
    return max(remaining, 0.0)
