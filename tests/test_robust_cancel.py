"""Cancel stress (issue #5): 50 start/cancel cycles in the generation worker with the micro
checkpoint, each cancelled at a random moment (queued, on start, after 1-3 steps), then a full
generation succeeds. Every job ends with exactly one terminal signal, nothing is written for a
cancelled job, and no thread or job object is left behind. (The memory figure, RSS before and
after the cycles, comes from bench/bench_cancel_stress.py, not from a timed assert here.)
"""

from __future__ import annotations

import gc
import threading

import pytest

from sora_desktop.core.request import GenerationRequest
from tests.robust_support.cancel_driver import cancel_cycles, record
from tests.ui_support import (
    unload_models_after_module,  # noqa: F401
    use_micro_model,
)

CYCLES = 50


def python_threads() -> list[threading.Thread]:
    """Threads started from Python. (A QThread that ran Python code leaves a ``_DummyThread``
    entry in ``threading`` for good, even after it ended, so those are not counted; the
    QThreads themselves are checked with ``isFinished``.)"""
    return [t for t in threading.enumerate() if not isinstance(t, threading._DummyThread)]


def live(cls: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is cls)


@pytest.fixture
def micro(monkeypatch, micro_model_dir, tmp_path):
    use_micro_model(monkeypatch, micro_model_dir, tmp_path / "home")


def test_fifty_cancel_cycles_then_a_full_generation(qtbot, micro, tmp_path):
    from sora_desktop.engine.backend import CancelToken
    from sora_desktop.engine.export import read_video
    from sora_desktop.ui.worker import GenerationJob, GenerationWorker, WorkerHost

    threads_before = len(python_threads())
    jobs_before, tokens_before = live(GenerationJob), live(CancelToken)
    worker = GenerationWorker(in_process=True)  # thread mechanics: the old in-thread path
    host = WorkerHost(worker, "robust-cancel")
    log = record(worker)
    out = tmp_path / "media"

    def wait_until(predicate, timeout_ms: int) -> None:
        qtbot.waitUntil(predicate, timeout=timeout_ms)

    try:
        modes = cancel_cycles(worker, log, out, CYCLES, wait_until, seed=7)
        worker.submit(GenerationJob("full", GenerationRequest("a red ball", steps=2), out, "full"))
        wait_until(lambda: bool(log.terminals("full")), 120_000)
        qtbot.wait(300)  # room for any (wrong) second terminal signal to arrive
        assert worker.pending() == []
    finally:
        assert host.stop(30_000)
    assert host.thread.isFinished()

    assert len(modes) == CYCLES and set(modes.values()) >= {"queued", "started", "step1"}
    for job_id, mode in modes.items():
        assert log.terminals(job_id) == ["cancelled"], (job_id, mode, log.events[job_id])
        steps = [rest[0] for name, rest in log.events[job_id] if name == "progress"]
        if mode.startswith("step"):  # stopped within one step of the request
            assert steps and max(steps) <= int(mode[4:]) + 1, (job_id, steps)
    assert log.terminals("full") == ["finished"], log.events["full"]
    (clip,) = [rest[0] for name, rest in log.events["full"] if name == "finished"]
    video, _fps = read_video(clip)
    assert video.shape == (16, 64, 64, 3)
    # nothing written for the cancelled jobs: only the full job's clip, thumbnail, first and
    # last frames (keyframes for the storyboard), and no latents left once the clip exists
    names = {p.name for p in out.iterdir()}
    # a take's clip carries its request inside the file: no .json beside it any more
    expected = {"full.mp4", "full_thumb.png", "full_first.png", "full_last.png"}
    assert names == expected, names

    # nothing left behind: the worker thread ended, no Python thread leaked, no job kept alive
    worker = log = None  # drop our references before counting live objects
    host.deleteLater()
    qtbot.wait(50)
    assert len(python_threads()) <= threads_before, python_threads()
    assert live(GenerationJob) <= jobs_before
    assert live(CancelToken) <= tokens_before + 1  # generous: one may sit in a Qt queue


def test_stopping_the_worker_mid_generation_five_times(qtbot, micro, tmp_path):
    """Closing the app while a clip generates: stop() cancels it, joins the thread, and the
    job still gets its one terminal signal. Five hosts in a row leave no thread behind."""
    from sora_desktop.ui.worker import GenerationJob, GenerationWorker, WorkerHost

    threads_before = len(python_threads())
    long = GenerationRequest("a blue square sliding", steps=200)
    for i in range(5):
        worker = GenerationWorker(in_process=True)  # a thread stopped mid-generation
        host = WorkerHost(worker, f"robust-stop-{i}")
        log = record(worker)
        worker.submit(GenerationJob("job", long, tmp_path / "media", f"job{i}"))
        qtbot.waitUntil(
            lambda lg=log: any(n == "progress" for n, _ in lg.events["job"]), timeout=120_000
        )
        assert host.stop(30_000)  # returns only when the thread has ended
        assert host.thread.isFinished()
        qtbot.wait(50)  # deliver the queued terminal signal
        assert log.terminals("job") == ["cancelled"], log.events["job"]
        host.deleteLater()
    qtbot.wait(50)
    assert len(python_threads()) <= threads_before, python_threads()
    assert not any(p.suffix == ".mp4" for p in (tmp_path / "media").glob("*"))
