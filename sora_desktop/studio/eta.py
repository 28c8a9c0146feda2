"""How far a running job is, phase by phase: loading the model, denoising, decoding the video,
writing the clip, each with its own estimate (issue 23: "Step 30/30 · about 0 s left" stayed up
for 26 s of decoding; the first estimate counted the model's load time; the text only moved on
step reports).

The worker reports each phase as it begins and every denoising step. The step rate is measured
between step reports only, so loading never counts; until two steps are in, the last job of the
same model gives the rate. Loading, decoding and writing are estimated from how long they took
last time for that model (nothing is shown before a first run). ``status`` is a function of
the clock, so a timer can count down between reports. Qt-free.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

PHASES = ("loading", "denoising", "decoding", "writing")
PHASE_WORDS = {
    "loading": "Loading the model",
    "denoising": "Denoising",
    "decoding": "Decoding the video",
    "writing": "Writing the clip",
}


@dataclass(frozen=True)
class PhaseStatus:
    """Where a running job is now. ``seconds_left``: this phase's estimate (None: unknown)."""

    phase: str
    step: int = 0
    total: int = 0
    seconds_left: float | None = None
    elapsed: float = 0.0  # in this phase

    @property
    def words(self) -> str:
        return PHASE_WORDS.get(self.phase, self.phase)


@dataclass
class _Run:
    model_id: str
    phase: str
    since: float
    first: tuple[int, float] | None = None  # (step, time) of the phase's first step report
    last: tuple[int, float] | None = None
    total: int = 0


class PhaseClock:
    """Phases of the running jobs, and per model how long each phase took last time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._runs: dict[str, _Run] = {}
        self._took: dict[tuple[str, str], float] = {}  # (model, phase) -> seconds last time
        self._rate: dict[str, float] = {}  # model -> seconds per step last time

    def begin(self, job_id: str, model_id: str, phase: str) -> None:
        """``phase`` began now for the job (a repeated report changes nothing)."""
        now = self.clock()
        run = self._runs.get(job_id)
        if run is None:
            self._runs[job_id] = _Run(model_id, phase, now)
            return
        if run.phase == phase:
            return
        self._close(run, now)
        run.phase, run.since = phase, now
        run.first = run.last = None

    def step(self, job_id: str, step: int, total: int) -> None:
        run = self._runs.get(job_id)
        if run is None:
            return
        now = self.clock()
        if run.phase != "denoising":  # a step report means denoising, whatever came before
            self._close(run, now)
            run.phase, run.since = "denoising", now
            run.first = run.last = None
        run.total = total
        if run.first is None:
            run.first = (step, now)
        run.last = (step, now)

    def end(self, job_id: str, finished: bool = True) -> None:
        """The job ended; a finished job's last phase counts for the next estimate."""
        run = self._runs.pop(job_id, None)
        if run is not None and finished:
            self._close(run, self.clock())

    def status(self, job_id: str) -> PhaseStatus | None:
        run = self._runs.get(job_id)
        if run is None:
            return None
        now = self.clock()
        elapsed = now - run.since
        if run.phase == "denoising":
            step = run.last[0] if run.last else 0
            rate = self._measured_rate(run)
            if rate is None:
                rate = self._rate.get(run.model_id)
            left = None
            if rate is not None and run.last is not None:
                left = max(0.0, rate * max(run.total - step, 0) - (now - run.last[1]))
            return PhaseStatus("denoising", step, run.total, left, elapsed)
        took = self._took.get((run.model_id, run.phase))
        left = None if took is None else max(0.0, took - elapsed)
        return PhaseStatus(run.phase, 0, run.total, left, elapsed)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _measured_rate(run: _Run) -> float | None:
        if run.first is None or run.last is None or run.last[0] <= run.first[0]:
            return None
        (s0, t0), (s1, t1) = run.first, run.last
        return (t1 - t0) / (s1 - s0)

    def _close(self, run: _Run, now: float) -> None:
        if run.phase == "denoising":
            rate = self._measured_rate(run)
            if rate is not None:
                self._rate[run.model_id] = rate
        else:
            self._took[(run.model_id, run.phase)] = now - run.since
