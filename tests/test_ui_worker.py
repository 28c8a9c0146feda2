"""The generation worker: exactly one terminal signal per job, cancel within a step, readable
errors, files written for every finished take."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.backend import GenerationResult, StepEvent
from tests.ui_support import (
    unload_models_after_module,  # noqa: F401
    use_micro_model,
)


@pytest.fixture
def host(qtbot, monkeypatch, micro_model_dir, tmp_path):
    use_micro_model(monkeypatch, micro_model_dir, tmp_path / "home")
    from sora_desktop.ui.worker import GenerationWorker, WorkerHost

    worker = GenerationWorker()
    h = WorkerHost(worker, "test-generation")
    yield h
    assert h.stop(30000)


def record(worker):
    log = defaultdict(list)
    for name in ("started", "progress", "preview", "finished", "failed", "cancelled"):
        getattr(worker, name).connect(lambda *args, n=name: log[args[0]].append((n, args[1:])))
    return log


TERMINAL = {"finished", "failed", "cancelled"}


def terminals(events):
    return [e for e, _ in events if e in TERMINAL]


def test_mix_of_jobs_each_ends_exactly_once(qtbot, host, tmp_path):
    from sora_desktop.engine.export import read_video
    from sora_desktop.ui.worker import GenerationJob

    worker = host.worker
    log = record(worker)
    ok = GenerationRequest("a red ball bouncing on green grass", steps=2, seed=1)
    too_long = ok.with_changes(num_frames=500)  # the embedded model allows at most 121 frames
    slow = ok.with_changes(steps=200)
    jobs = {
        "ok1": ok,
        "bad": too_long,
        "waiting": ok,
        "running": slow,
        "ok2": ok.with_changes(seed=2, num_frames=20),
    }
    # cancel the slow one as soon as it reports its first step
    worker.progress.connect(
        lambda jid, step, total: worker.cancel(jid) if jid == "running" else None
    )
    for jid, req in jobs.items():
        worker.submit(GenerationJob(jid, req, tmp_path / "media", jid))
    worker.cancel("waiting")  # still in the queue: must end without starting
    qtbot.waitUntil(lambda: all(terminals(log[j]) for j in jobs), timeout=120_000)
    qtbot.wait(200)  # let any (wrong) extra signal arrive before counting

    for jid in jobs:
        assert len(terminals(log[jid])) == 1, (jid, log[jid])
    assert terminals(log["ok1"]) == ["finished"]
    assert terminals(log["ok2"]) == ["finished"]
    assert terminals(log["bad"]) == ["failed"]
    assert terminals(log["waiting"]) == ["cancelled"]
    assert terminals(log["running"]) == ["cancelled"]
    assert ("started", ()) not in log["waiting"]
    # cancelled within one step of the request: a step or two, nowhere near all 200
    steps = [args[0] for name, args in log["running"] if name == "progress"]
    assert steps and max(steps) <= 3
    # the failure names the setting by its label on screen and says what to do
    (message,) = [args[0] for name, args in log["bad"] if name == "failed"]
    assert "Duration" in message and "change Duration" in message
    assert "num_frames" not in message
    # every finished take has its clip, thumbnail and last frame; the clip plays back
    for jid, frames in (("ok1", 16), ("ok2", 20)):
        (path,) = [args[0] for name, args in log[jid] if name == "finished"]
        video, fps = read_video(path)
        assert video.shape == (frames, 64, 64, 3) and round(fps) == 8
        assert (tmp_path / "media" / f"{jid}_thumb.png").is_file()
        assert (tmp_path / "media" / f"{jid}_last.png").is_file()
        assert any(name == "preview" for name, _ in log[jid])
    assert not (tmp_path / "media" / "running.mp4").exists()


def test_errors_become_readable_messages_and_the_worker_goes_on(qtbot, tmp_path):
    from sora_desktop.ui.worker import GenerationJob, GenerationWorker, WorkerHost

    def fake_generate(request, cancel):
        if request.prompt == "oom":
            yield StepEvent(1, 2, None)
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        if request.prompt == "broken model":
            raise FileNotFoundError("dit.safetensors is missing")
        for i in range(1, 3):
            cancel.raise_if_cancelled()
            yield StepEvent(i, 2, np.zeros((8, 8, 3), np.uint8))
        yield GenerationResult(np.full((4, 16, 16, 3), 100, np.uint8), 8, request)

    worker = GenerationWorker(fake_generate)
    host = WorkerHost(worker, "test-errors")
    log = record(worker)
    try:
        for jid in ("oom", "broken model", "fine"):
            worker.submit(
                GenerationJob(jid, GenerationRequest(jid), tmp_path, jid.replace(" ", "_"))
            )
        qtbot.waitUntil(lambda: all(terminals(log[j]) for j in ("oom", "broken model", "fine")))
    finally:
        assert host.stop(10000)
    oom = [a[0] for n, a in log["oom"] if n == "failed"][0]
    assert "Not enough memory" in oom and "Try" in oom and "CUDA" not in oom
    broken = [a[0] for n, a in log["broken model"] if n == "failed"][0]
    assert "model's files" in broken and "Models" in broken
    assert terminals(log["fine"]) == ["finished"]


def test_submitting_the_same_job_id_twice_is_refused(tmp_path):
    from sora_desktop.ui.worker import GenerationJob, GenerationWorker

    worker = GenerationWorker(lambda r, c: iter(()))
    # no event loop runs here, so the first job is still waiting when the second arrives
    worker.submit(GenerationJob("a", GenerationRequest("x"), tmp_path, "a"))
    with pytest.raises(ValueError, match="job_id"):
        worker.submit(GenerationJob("a", GenerationRequest("x"), tmp_path, "a"))
