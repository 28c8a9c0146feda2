"""Generation in a worker process (issue 18), at the studio level: the real built-in model runs
in a spawned child; its events come back in order, one terminal event per take; the model stays
loaded between takes; cancel is cooperative first, then the child is killed after the grace; a
child killed mid-take (SIGKILL, SIGSEGV) fails that take plainly and the next take runs on a new
child."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from sora_desktop.core.request import GenerationRequest
from sora_desktop.studio.queue import TakeRun
from sora_desktop.studio.take_runner import (
    TakeCancelled,
    TakeFailed,
    TakeFinished,
    TakeLatents,
    TakePhase,
    TakePreview,
    TakeProgress,
    TakeStarted,
    is_terminal,
)
from sora_desktop.studio.worker_process import CRASH_MESSAGE, WorkerProcessRunner

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

QUICK = GenerationRequest("a red ball", steps=2, num_frames=8, seed=3)
LONG = QUICK.with_changes(steps=200)  # long enough to be stopped mid-denoise


class Recorder:
    """Every event the runner emits (from its thread), with the child's pid at that moment."""

    def __init__(self) -> None:
        self.events: list = []
        self.pids: dict[str, int | None] = {}
        self.runner: WorkerProcessRunner | None = None
        self._cond = threading.Condition()

    def __call__(self, event) -> None:
        with self._cond:
            self.events.append(event)
            if isinstance(event, TakeStarted) and self.runner is not None:
                self.pids[event.job_id] = self.runner.pid
            self._cond.notify_all()

    def of(self, job_id: str) -> list:
        with self._cond:
            return [e for e in self.events if e.job_id == job_id]

    def wait(self, pred, timeout: float = 180.0) -> None:
        end = time.monotonic() + timeout
        with self._cond:
            while not pred():
                left = end - time.monotonic()
                assert left > 0, f"timed out; events: {self.events[-5:]}"
                self._cond.wait(min(left, 0.5))

    def wait_terminal(self, job_id: str, timeout: float = 180.0):
        self.wait(lambda: any(is_terminal(e) for e in self.of(job_id)), timeout)
        return [e for e in self.of(job_id) if is_terminal(e)][-1]

    def wait_progress(self, job_id: str) -> None:
        self.wait(lambda: any(isinstance(e, TakeProgress) for e in self.of(job_id)))


@pytest.fixture(scope="module")
def shared():
    """One runner (one child at a time) for the tests that use the real backend."""
    rec = Recorder()
    # a generous grace: on a loaded machine one step can take seconds, and these tests check
    # the cooperative path (the grace kill has its own test)
    runner = WorkerProcessRunner(rec, cancel_grace_s=60.0)
    rec.runner = runner
    yield runner, rec
    runner.close()
    assert runner.pid is None


@pytest.fixture(scope="module")
def faked():
    """A runner whose child runs ``tests.worker_fakes.faked_generate`` (picked by prompt)."""
    from tests.worker_fakes import faked_generate

    rec = Recorder()
    runner = WorkerProcessRunner(rec, generate=faked_generate, cancel_grace_s=1.0)
    rec.runner = runner
    yield runner, rec
    runner.close()


def run(job_id: str, request: GenerationRequest, out: Path) -> TakeRun:
    return TakeRun(job_id, request, out, job_id)


def test_takes_run_in_order_and_the_model_stays_loaded(shared, tmp_path, caplog):
    from sora_desktop.engine.export import read_video

    runner, rec = shared
    caplog.set_level(logging.INFO, logger="sora_desktop")
    runner.submit(run("first", QUICK, tmp_path))
    runner.submit(run("second", QUICK.with_changes(seed=4), tmp_path))
    rec.wait_terminal("second")
    for jid in ("first", "second"):
        events = rec.of(jid)
        assert isinstance(events[0], TakeStarted)
        assert [type(e) for e in events if is_terminal(e)] == [TakeFinished]
        assert is_terminal(events[-1])
        phases = [e.phase for e in events if isinstance(e, TakePhase)]
        assert phases == ["loading", "denoising", "decoding", "writing"]
        steps = [e.step for e in events if isinstance(e, TakeProgress)]
        assert steps == [1, 2]
        assert any(isinstance(e, TakePreview) for e in events)  # frames cross the pipe
        assert any(isinstance(e, TakeLatents) for e in events)
        video, _fps = read_video(events[-1].path)
        assert video.shape[0] == 8
    # the first take's events all came before the second's: one take at a time, in order
    order = [e.job_id for e in rec.events if e.job_id in ("first", "second")]
    assert order == sorted(order, key=lambda j: j != "first")
    # the same child ran both, and loaded the model once (the log lines come from the child)
    assert rec.pids["first"] == rec.pids["second"] != os.getpid()
    loads = [r for r in caplog.records if r.getMessage().startswith("loaded model")]
    assert len(loads) == 1, [r.getMessage() for r in loads]

    # unloading frees the model in the child (its resident memory drops); the next take
    # loads it again
    before, after = runner.unload(wait_s=120)
    assert 0 < after < before, (before, after)
    runner.submit(run("third", QUICK, tmp_path))
    assert isinstance(rec.wait_terminal("third"), TakeFinished)
    loads = [r for r in caplog.records if r.getMessage().startswith("loaded model")]
    assert len(loads) == 2, [r.getMessage() for r in loads]


def test_cooperative_cancel_keeps_the_child(shared, tmp_path):
    runner, rec = shared
    runner.submit(run("stop-me", LONG, tmp_path))
    runner.submit(run("after-stop", QUICK, tmp_path))
    rec.wait_progress("stop-me")
    pid = runner.pid
    runner.cancel("stop-me")
    assert isinstance(rec.wait_terminal("stop-me"), TakeCancelled)
    assert isinstance(rec.wait_terminal("after-stop"), TakeFinished)
    assert rec.pids["after-stop"] == pid  # stopped at a step: the child (and model) stayed
    assert not list(tmp_path.glob("stop-me*"))  # nothing kept of a cancelled take


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV], ids=["kill-9", "segfault"])
def test_a_child_that_dies_mid_take_fails_it_plainly(shared, tmp_path, sig):
    runner, rec = shared
    victim, nxt = f"victim-{sig.name}", f"next-{sig.name}"
    runner.submit(run(victim, LONG, tmp_path))
    runner.submit(run(nxt, QUICK, tmp_path))  # queued behind it: runs on a new child
    rec.wait_progress(victim)
    pid = runner.pid
    os.kill(pid, sig)
    end = rec.wait_terminal(victim)
    assert isinstance(end, TakeFailed), end
    assert end.message == CRASH_MESSAGE
    assert "stopped unexpectedly" in end.message and "safe" in end.message
    assert "Try:" in end.message and "Traceback" not in end.message
    done = rec.wait_terminal(nxt)
    assert isinstance(done, TakeFinished), done
    assert Path(done.path).is_file()
    assert rec.pids[nxt] not in (None, pid)
    assert [type(e) for e in rec.of(victim) if is_terminal(e)] == [TakeFailed]


def test_retry_in_low_memory_decodes_in_the_child(faked, tmp_path):
    """A decode that runs out of memory keeps the denoised latents; "Retry in low memory"
    (a TakeRun with ``decode_from``) decodes them in the worker process, no denoising."""
    from sora_desktop.engine.export import read_video
    from tests.worker_fakes import DECODE_FAILS

    runner, rec = faked
    runner.submit(run("oom", QUICK.with_changes(prompt=f"a ball, {DECODE_FAILS}"), tmp_path))
    failed = rec.wait_terminal("oom")
    assert isinstance(failed, TakeFailed), failed
    (latents,) = [Path(e.path) for e in rec.of("oom") if isinstance(e, TakeLatents)]
    assert latents.is_file()
    retry = TakeRun("retry", QUICK, tmp_path, "oom", decode_from=latents)
    runner.submit(retry)
    done = rec.wait_terminal("retry")
    assert isinstance(done, TakeFinished), done
    assert not any(isinstance(e, TakeProgress) for e in rec.of("retry"))  # no denoising
    assert read_video(done.path)[0].shape[0] == QUICK.num_frames


def test_a_take_that_ignores_its_cancel_is_stopped_after_the_grace_and_close(faked, tmp_path):
    from tests.worker_fakes import STUBBORN

    runner, rec = faked
    try:
        stuck = QUICK.with_changes(prompt=f"a red ball, {STUBBORN}")
        runner.submit(run("stuck", stuck, tmp_path))
        runner.submit(run("then", QUICK, tmp_path))
        rec.wait_progress("stuck")
        pid = runner.pid
        asked = time.monotonic()
        runner.cancel("stuck")
        assert isinstance(rec.wait_terminal("stuck", 60), TakeCancelled)
        assert time.monotonic() - asked >= 1.0  # cooperative first: it had its grace
        with pytest.raises(ProcessLookupError):  # then the child was killed
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.1)
        assert isinstance(rec.wait_terminal("then"), TakeFinished)
        assert rec.pids["then"] not in (None, pid)
        assert [type(e) for e in rec.of("stuck") if is_terminal(e)] == [TakeCancelled]

        # closing: the running take and the waiting one each end once, and so does a take
        # submitted after close; the child is gone
        runner.submit(run("running", LONG, tmp_path))
        runner.submit(run("waiting", QUICK, tmp_path))
        rec.wait_progress("running")
        pid = runner.pid
        runner.close()
        runner.submit(run("late", QUICK, tmp_path))
        for jid in ("running", "waiting", "late"):
            assert [type(e) for e in rec.of(jid) if is_terminal(e)] == [TakeCancelled], jid
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    finally:
        runner.close()
