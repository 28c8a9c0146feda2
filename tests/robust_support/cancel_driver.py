"""Start/cancel cycles against the real generation worker, shared by the cancel-stress test
(tests/test_robust_cancel.py, driven by pytest-qt) and bench/bench_cancel_stress.py (RSS)."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sora_desktop.core.request import GenerationRequest

TERMINAL = ("finished", "failed", "cancelled")
# How a cycle cancels: while queued (right after submit), on the started signal, or after
# 1 to 3 sampler steps. 200 steps, so no cancelled job can finish on its own first.
MODES = ("queued", "started", "step1", "step2", "step3")
LONG = GenerationRequest("a red ball bouncing on green grass", steps=200, seed=1)


@dataclass
class Log:
    events: dict[str, list[tuple[str, tuple]]] = field(default_factory=lambda: defaultdict(list))

    def terminals(self, job_id: str) -> list[str]:
        return [name for name, _ in self.events[job_id] if name in TERMINAL]


def record(worker) -> Log:
    log = Log()
    for name in ("started", "progress", "finished", "failed", "cancelled"):
        getattr(worker, name).connect(
            lambda job_id, *rest, n=name: log.events[job_id].append((n, rest))
        )
    return log


def cancel_cycles(
    worker,
    log: Log,
    out_dir: Path,
    cycles: int,
    wait_until: Callable[[Callable[[], bool], int], None],
    seed: int = 0,
    prefix: str = "cycle",
) -> dict[str, str]:
    """Run ``cycles`` jobs one after another, each cancelled at a random moment; returns
    job id → mode. ``wait_until(predicate, timeout_ms)`` pumps the Qt event loop."""
    from sora_desktop.ui.worker import GenerationJob

    rng = random.Random(seed)
    modes: dict[str, str] = {}
    pending: dict[str, str] = {}

    def on_started(job_id: str) -> None:
        if pending.get(job_id) == "started":
            worker.cancel(job_id)

    def on_progress(job_id: str, step: int, total: int) -> None:
        mode = pending.get(job_id, "")
        if mode.startswith("step") and step >= int(mode[4:]):
            worker.cancel(job_id)

    worker.started.connect(on_started)
    worker.progress.connect(on_progress)
    try:
        for i in range(cycles):
            job_id = f"{prefix}-{i}"
            mode = rng.choice(MODES)
            modes[job_id] = pending[job_id] = mode
            worker.submit(GenerationJob(job_id, LONG.with_changes(seed=i), out_dir, job_id))
            if mode == "queued":
                worker.cancel(job_id)
            wait_until(lambda j=job_id: bool(log.terminals(j)), 120_000)
            pending.pop(job_id)
    finally:
        worker.started.disconnect(on_started)
        worker.progress.disconnect(on_progress)
    return modes
