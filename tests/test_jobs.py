"""The Qt-free job queue: FIFO order, cancelling, one ending per job, ETA from the step rate."""

from __future__ import annotations

import pytest

from sora_desktop.core.jobs import Job, JobError, JobQueue
from sora_desktop.core.request import GenerationRequest


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def req(steps: int = 10) -> GenerationRequest:
    return GenerationRequest(prompt="a red ball bounces", steps=steps)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(clock) -> JobQueue:
    return JobQueue(clock=clock)


def test_jobs_run_first_in_first_out(queue):
    a = queue.submit("shot-a", "take-a", req())
    b = queue.submit("shot-b", "take-b", req())
    c = queue.submit(Job("job-c", "shot-c", "take-c", req()))
    assert [j.id for j in queue.jobs] == [a.id, b.id, "job-c"]
    assert queue.next_job() is a
    assert queue.next_job() is a  # peeking changes nothing
    queue.mark_running(a.id)
    assert queue.running is a and queue.next_job() is b
    queue.mark_done(a.id, output="/out/a.mp4")
    assert a.status == "done" and a.output == "/out/a.mp4" and a.fraction == 1.0
    assert queue.next_job() is b
    queue.mark_running(b.id)
    queue.mark_failed(b.id, "out of memory")
    assert b.error == "out of memory"
    assert queue.next_job() is c
    queue.mark_running(c.id)
    queue.mark_done(c.id)
    assert queue.next_job() is None and not queue.busy


def test_submit_fills_in_total_and_rejects_duplicates(queue):
    job = queue.submit("s", "t", req(steps=30), job_id="j1")
    assert job.id == "j1" and job.total == 30 and job.status == "queued"
    with pytest.raises(JobError, match="already in the queue"):
        queue.submit("s", "t", req(), job_id="j1")
    with pytest.raises(JobError):
        queue.submit("s")  # type: ignore[call-arg]


def test_cancel_queued_job_is_immediate_and_skipped(queue):
    a = queue.submit("s", "a", req())
    b = queue.submit("s", "b", req())
    assert queue.cancel(a.id) is True
    assert a.status == "cancelled" and a.finished_at is not None
    assert queue.next_job() is b
    assert queue.cancel(a.id) is False  # already over


def test_cancel_running_job_asks_the_worker_to_stop(queue):
    a = queue.submit("s", "a", req())
    queue.mark_running(a.id)
    assert queue.cancel(a.id) is True
    assert a.status == "running" and a.cancel_requested
    assert queue.cancel(a.id) is False  # asking twice changes nothing
    queue.mark_cancelled(a.id)  # the worker confirms it stopped
    assert a.status == "cancelled" and not queue.busy


def test_each_job_ends_exactly_once(queue):
    a = queue.submit("s", "a", req())
    with pytest.raises(JobError, match="it is queued"):
        queue.mark_done(a.id)
    with pytest.raises(JobError):
        queue.mark_progress(a.id, 1)
    queue.mark_running(a.id)
    queue.mark_done(a.id)
    with pytest.raises(JobError, match="it is done"):
        queue.mark_failed(a.id, "late error")
    with pytest.raises(JobError, match="it is done"):
        queue.mark_cancelled(a.id)
    assert a.status == "done" and a.error is None
    with pytest.raises(JobError, match="it is done"):
        queue.mark_running(a.id)
    with pytest.raises(JobError, match="no job"):
        queue.get("missing")


def test_progress_is_validated(queue):
    a = queue.submit("s", "a", req(steps=10))
    queue.mark_running(a.id)
    queue.mark_progress(a.id, 5)
    assert a.fraction == 0.5
    with pytest.raises(JobError, match="step"):
        queue.mark_progress(a.id, 11)
    queue.mark_progress(a.id, 11, total=20)  # chained clips report a larger total
    assert a.total == 20


def test_eta_uses_the_step_rate_after_loading(queue, clock):
    a = queue.submit("s", "a", req(steps=10))
    b = queue.submit("s", "b", req(steps=5))
    assert queue.eta_seconds(a) is None  # nothing measured yet
    queue.mark_running(a.id)
    assert queue.eta_seconds(a) is None
    clock.t += 30.0  # model loading
    queue.mark_progress(a.id, 1)
    # one report: the rate still includes loading (30 s for one step)
    assert queue.eta_seconds(a) == pytest.approx(9 * 30.0)
    clock.t += 4.0
    queue.mark_progress(a.id, 3)  # 2 steps in 4 s: 2 s per step from here on
    assert queue.eta_seconds(a) == pytest.approx(7 * 2.0)
    clock.t += 1.0  # halfway through the next step
    assert queue.eta_seconds(a.id) == pytest.approx(7 * 2.0 - 1.0)
    # the queued job waits for a's remaining time plus its own 5 steps
    assert queue.eta_seconds(b) == pytest.approx(13.0 + 5 * 2.0)
    for step in range(4, 11):
        clock.t += 1.0
        queue.mark_progress(a.id, step)
    queue.mark_done(a.id)
    assert queue.eta_seconds(a) == 0.0
    # b is not started: a's measured rate (steps 1..10 took 1030 s..1042 s) estimates it
    assert queue.eta_seconds(b) == pytest.approx(5 * (1042.0 - 1030.0) / 9)


def test_listeners_hear_every_change_and_can_unsubscribe(queue):
    seen: list[tuple[str, str]] = []
    unsubscribe = queue.subscribe(lambda job: seen.append((job.id, job.status)))
    a = queue.submit("s", "a", req(), job_id="a")
    queue.mark_running(a.id)
    queue.mark_progress(a.id, 1)
    queue.mark_done(a.id)
    assert seen == [("a", "queued"), ("a", "running"), ("a", "running"), ("a", "done")]
    unsubscribe()
    queue.submit("s", "b", req())
    assert len(seen) == 4


def test_remove_and_clear_finished(queue):
    a = queue.submit("s1", "a", req(), job_id="a")
    b = queue.submit("s2", "b", req(), job_id="b")
    with pytest.raises(JobError, match="cancel it before"):
        queue.remove(a.id)
    queue.cancel(a.id)
    assert queue.clear_finished() == [a]
    assert queue.jobs == [b] and queue.jobs_for_shot("s2") == [b]
    assert queue.cancel_all() == 1 and not queue.busy
