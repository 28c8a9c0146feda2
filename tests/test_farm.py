"""The render farm (issue 18): the studio queue's takes on a local Ray cluster on the CPU with
the built-in model. One cluster for the module (Ray starts in seconds, not milliseconds).

- a storyboard with a continuation chain and independent shots: every take done, clips and
  side files in the project's media folder, the continuing take started after its
  predecessor's clip and from its last frame, the machine recorded for each job;
- a farm worker process killed (SIGKILL) mid-shot: the shot is retried on a fresh worker and
  finishes; killed on both tries: that shot fails plainly, the others finish, the project
  saves and loads with every other clip;
- cancel reaches a running take on its node; a bad address or a missing Ray is a plain error.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the render farm's tests need sora-desktop[farm]")

from sora_desktop.core import project as core_project  # noqa: E402
from sora_desktop.core.request import GenerationRequest  # noqa: E402
from sora_desktop.engine.preflight import MemoryInfo  # noqa: E402
from sora_desktop.studio.farm import FarmError, make_farm_runner  # noqa: E402
from sora_desktop.studio.media import last_frame_path, thumbnail_path  # noqa: E402
from sora_desktop.studio.queue import QueueListener, ShotQueue  # noqa: E402
from sora_desktop.studio.take_runner import (  # noqa: E402
    TakeCancelled,
    TakeFinished,
    TakeProgress,
    TakeStarted,
    apply_event,
    is_terminal,
)

BIG_MACHINE = MemoryInfo("Big GPU", 40.0, 48.0, 64.0, 64.0)
DEADLINE_S = 180
LONG_STEPS = 16  # long enough to be killed or cancelled mid-shot


class Settings:
    policy_enabled = True
    device = "cpu"
    memory_mode = "balanced"


class Router:
    """The module's one runner reports here; the test running now receives them."""

    farm: Farm | None = None

    def emit(self, event) -> None:  # any thread
        if self.farm is not None:
            self.farm.emit(event)


@pytest.fixture(scope="module")
def farm_runner():
    """One local cluster and one warm runner (2 CPU workers) for the module."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    router = Router()
    runner = make_farm_runner("local", router.emit, workers=2)
    runner.router = router  # type: ignore[attr-defined]
    yield runner
    runner.close()
    ray.shutdown()


class Farm:
    """A project, its studio queue and the farm runner; ``pump`` applies the runner's events
    on this (the owning) thread, as the GUI's queued signal does."""

    def __init__(self, runner, tmp_path: Path, on_event=None) -> None:
        self.project = core_project.new_project()
        self.project.path = tmp_path / "film.sdproj"
        core_project.save_project(self.project, self.project.path)
        self.events: queue.Queue = queue.Queue()
        self.seen: list = []
        self.on_event = on_event
        self.runner = runner
        runner.router.farm = self
        self.queue = ShotQueue(lambda: self.project, runner, Settings(), QueueListener())
        self.queue.memory_probe = lambda: BIG_MACHINE

    def emit(self, event) -> None:  # any thread
        if self.on_event is not None:
            self.on_event(self, event)
        self.events.put(event)

    def shot(self, prompt: str, continues: bool = False, steps: int = 2) -> str:
        shot = self.project.add_shot(GenerationRequest(prompt, steps=steps, num_frames=8))
        if continues:
            self.project.set_continue_from_previous(shot.id, True)
        return shot.id

    def pump(self) -> None:
        end = time.monotonic() + DEADLINE_S
        while any(j.active for j in self.queue.jobs):
            assert time.monotonic() < end, f"farm jobs still running: {self.queue.jobs}"
            try:
                event = self.events.get(timeout=1)
            except queue.Empty:
                continue
            self.seen.append(event)
            apply_event(self.queue, event)

    def index(self, kind: type, job_id: str) -> int:
        return next(
            i for i, e in enumerate(self.seen) if isinstance(e, kind) and e.job_id == job_id
        )


def _take(project, shot_id):
    shot = project.shot(shot_id)
    return shot.selected or shot.takes[-1]


def test_a_storyboard_renders_on_the_farm_with_its_continuation(farm_runner, tmp_path):
    farm = Farm(farm_runner, tmp_path)
    first = farm.shot("a red ball rolls")
    second = farm.shot("it keeps rolling", continues=True)
    third = farm.shot("a blue sky")
    fourth = farm.shot("a green field")
    jobs = farm.queue.generate_all()
    farm.pump()
    assert [j.status for j in jobs] == ["done"] * 4, [(j.status, j.error) for j in jobs]
    media = core_project.media_dir(farm.project)
    for shot_id in (first, second, third, fourth):
        take = _take(farm.project, shot_id)
        assert take.status == "done"
        clip = core_project.resolve_media(farm.project, take.clip)
        assert clip.is_file() and media in clip.parents  # landed in the project's media folder
        assert thumbnail_path(clip).is_file() and last_frame_path(clip).is_file()
    # the continuing take started only once its predecessor's clip had landed, from its frame
    j1, j2 = jobs[0].id, jobs[1].id
    assert farm.index(TakeFinished, j1) < farm.index(TakeStarted, j2)
    first_clip = core_project.resolve_media(farm.project, _take(farm.project, first).clip)
    assert _take(farm.project, second).request.start_image == str(last_frame_path(first_clip))
    # independent shots ran side by side: a third or fourth shot started before the first ended
    assert min(farm.index(TakeStarted, j.id) for j in jobs[2:]) < farm.index(TakeFinished, j1)
    # the queue knows which machine made each shot
    assert set(farm.queue.hosts) == {j.id for j in jobs}
    assert all(farm.queue.hosts.values())
    # the project saves and loads with its clips
    loaded = core_project.load_project(core_project.save_project(farm.project))
    assert all(_take(loaded, s).status == "done" for s in (first, second, third, fourth))


def test_cancel_reaches_a_take_running_on_the_farm(farm_runner, tmp_path):
    def cancel_at_first_step(farm: Farm, event) -> None:
        if isinstance(event, TakeProgress) and event.step == 1:
            farm.runner.cancel(event.job_id)  # from the runner's thread, as a GUI click may

    farm = Farm(farm_runner, tmp_path, cancel_at_first_step)
    shot = farm.shot("a shot to stop", steps=LONG_STEPS)
    job = farm.queue.generate_shot(shot)
    farm.pump()
    assert job.status == "cancelled"
    ends = [e for e in farm.seen if e.job_id == job.id and is_terminal(e)]
    assert [type(e) for e in ends] == [TakeCancelled]
    assert _take(farm.project, shot).status == "cancelled"


def _killer(plan: dict):
    """An emit hook: SIGKILL the farm process running a planned shot at its first progress
    report, as many times as planned (each try runs in a fresh process)."""
    kills: dict = plan.setdefault("kills", {})

    def on_event(farm: Farm, event) -> None:
        jid = event.job_id
        if not isinstance(event, TakeProgress) or event.step != 1:
            return
        if kills.get(jid, 0) >= plan.get(jid, 0):
            return
        pid = farm.runner.worker_pid(jid)
        if pid is not None:
            kills[jid] = kills.get(jid, 0) + 1
            os.kill(pid, signal.SIGKILL)

    return on_event


def test_a_farm_worker_killed_mid_shot_is_retried_once_then_the_shot_fails_plainly(
    farm_runner, tmp_path
):
    plan: dict = {}
    farm = Farm(farm_runner, tmp_path, _killer(plan))
    once = farm.shot("killed once", steps=LONG_STEPS)
    twice = farm.shot("killed twice", steps=LONG_STEPS)
    fine = farm.shot("left alone")
    job_once = farm.queue.generate_shot(once)
    job_twice = farm.queue.generate_shot(twice)
    plan[job_once.id], plan[job_twice.id] = 1, 2
    job_fine = farm.queue.generate_shot(fine)
    farm.pump()
    assert plan["kills"] == {job_once.id: 1, job_twice.id: 2}
    starts = {
        j.id: sum(isinstance(e, TakeStarted) and e.job_id == j.id for e in farm.seen)
        for j in (job_once, job_twice)
    }
    assert starts == {job_once.id: 2, job_twice.id: 2}  # one retry each, no more
    assert job_once.status == "done", job_once.error
    assert job_fine.status == "done", job_fine.error
    assert job_twice.status == "failed"
    assert "stopped twice" in job_twice.error and "Nothing in the project" in job_twice.error
    assert "Traceback" not in job_twice.error and "Actor" not in job_twice.error
    # the project keeps everything: both finished clips, the failed take marked failed
    loaded = core_project.load_project(core_project.save_project(farm.project))
    assert _take(loaded, twice).status == "failed"
    for shot_id in (once, fine):
        take = _take(loaded, shot_id)
        assert take.status == "done" and core_project.resolve_media(loaded, take.clip).is_file()
    # the farm still works afterwards, on fresh workers
    again = farm.queue.generate_shot(twice)
    farm.pump()
    assert again.status == "done", again.error


def test_a_take_whose_node_code_raises_fails_in_plain_words(farm_runner, tmp_path, monkeypatch):
    """The farm node's own code raises (here: it is handed an input it does not know), so Ray
    reports a task error: the shot fails with a plain message and a next step, not the
    exception's text or class name (issue 20)."""
    from sora_desktop.studio import farm as studio_farm
    from tests.test_plain_errors import assert_plain

    monkeypatch.setattr(studio_farm, "pack_inputs", lambda run: {"bogus": ("x.png", b"")})
    farm = Farm(farm_runner, tmp_path)
    job = farm.queue.generate_shot(farm.shot("a node that raises"))
    farm.pump()
    assert job.status == "failed"
    assert "bogus" not in job.error and "x.png" not in job.error
    host = job.error.split("\n")[0].removeprefix("The take failed on ").rstrip(".")
    assert host and "\nTry: " in job.error
    assert_plain(job.error.replace(host, "the machine"))


def test_a_result_refused_here_still_ends_the_take_once(farm_runner, tmp_path, monkeypatch):
    """Landing the node's files on this computer raises something other than a disk error
    (a node sent a file name we refuse): the take still gets its one terminal event, failed,
    and the next take runs."""
    from sora_desktop.studio import farm as studio_farm

    def refuse(self, run, result):
        raise ValueError("a farm node sent a file named '../x'")

    monkeypatch.setattr(studio_farm.FarmRunner, "_land", refuse)
    farm = Farm(farm_runner, tmp_path)
    job = farm.queue.generate_shot(farm.shot("a result refused here"))
    farm.pump()
    assert job.status == "failed" and job.error
    assert sum(1 for e in farm.seen if is_terminal(e) and e.job_id == job.id) == 1
    monkeypatch.undo()
    second = farm.queue.generate_shot(farm.shot("the next one"))
    farm.pump()
    assert second.status == "done"


def test_an_address_with_no_cluster_is_a_plain_error():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(FarmError) as err:
        make_farm_runner(f"127.0.0.1:{port}", lambda e: None)
    assert time.monotonic() - start < 30
    message = str(err.value)
    assert f"127.0.0.1:{port}" in message and "ray start --head" in message
    with pytest.raises(FarmError, match="port"):
        make_farm_runner("127.0.0.1:99999", lambda e: None)


def test_without_ray_the_farm_says_what_to_install(tmp_path):
    """The extra missing: the module still imports and the message names it."""
    import subprocess

    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from sora_desktop.studio.farm import FarmError, make_farm_runner\n"
        "try:\n    make_farm_runner('local', print)\n"
        "except FarmError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "sora-desktop[farm]" in out.stdout, out.stderr


def test_the_apps_local_farm_started_off_the_main_thread_keeps_running(tmp_path):
    """The GUI connects on a background thread (LazyFarmRunner). Ray ties a local cluster's
    processes to the thread that started them: that thread must outlive the connection, or
    the cluster dies under the first take. A fresh process, as the app is."""
    import subprocess

    code = f"""
import queue
from pathlib import Path
from sora_desktop.core.request import GenerationRequest
from sora_desktop.studio.farm import LazyFarmRunner
from sora_desktop.studio.queue import TakeRun
from sora_desktop.studio.take_runner import is_terminal
events = queue.Queue()
lazy = LazyFarmRunner("local", events.put, workers=1)
for i in range(2):
    run = TakeRun(f"t{{i}}", GenerationRequest("a ball", steps=2, num_frames=8),
                  Path({str(tmp_path)!r}), f"s{{i}}", "cpu")
    lazy.submit(run)
    while not is_terminal(event := events.get(timeout=240)):
        pass
    print(type(event).__name__, flush=True)
lazy.close()
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=400)
    assert out.stdout.split() == ["TakeFinished", "TakeFinished"], out.stderr[-2000:]
    assert (tmp_path / "s1.mp4").is_file()
