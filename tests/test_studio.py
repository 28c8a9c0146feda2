"""The studio's use cases driven without Qt: generate a shot, variations, generate all,
continuation from the previous shot, the picked-take rule, clips after Save As, film export,
and the CLI's policy check going through the studio."""

from __future__ import annotations

import numpy as np
import pytest

from sora_desktop.core import project as core_project
from sora_desktop.core.project import Project
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.preflight import MemoryInfo
from sora_desktop.studio import PolicyBlocked, QueueError
from sora_desktop.studio.film import film_clips, film_request
from sora_desktop.studio.media import last_frame_path, thumbnail_path
from sora_desktop.studio.queue import QueueListener, ShotQueue, TakeRun

BIG_MACHINE = MemoryInfo("Big GPU", 40.0, 48.0, 64.0, 64.0)
WAN = "wan2.1-t2v-1.3b"


class FakeRunner:
    def __init__(self) -> None:
        self.runs: list[TakeRun] = []
        self.cancelled: list[str] = []

    def submit(self, run: TakeRun) -> None:
        self.runs.append(run)

    def cancel(self, job_id: str) -> None:
        self.cancelled.append(job_id)


class Recorder(QueueListener):
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def project_edited(self) -> None:
        self.events.append(("edited",))

    def shot_changed(self, shot_id: str) -> None:
        self.events.append(("shot", shot_id))

    def queue_changed(self) -> None:
        self.events.append(("queue",))

    def job_changed(self, job_id: str) -> None:
        self.events.append(("job", job_id))

    def job_skipped(self, job_id: str, note: str) -> None:
        self.events.append(("skipped", job_id, note))

    def job_finished(self, job_id: str, path: str) -> None:
        self.events.append(("finished", job_id))

    def job_failed(self, job_id: str, message: str) -> None:
        self.events.append(("failed", job_id, message))

    def busy_changed(self, busy: bool) -> None:
        self.events.append(("busy", busy))


class Settings:
    policy_enabled = True
    device = "cpu"
    memory_mode = "balanced"


@pytest.fixture
def studio(tmp_path):
    project = core_project.new_project()
    project.path = tmp_path / "film.sdproj"
    holder = {"project": project}
    queue = ShotQueue(lambda: holder["project"], FakeRunner(), Settings(), Recorder())
    queue.memory_probe = lambda: BIG_MACHINE
    queue.holder = holder  # type: ignore[attr-defined]
    return queue


def req(prompt: str = "a red ball", **kw) -> GenerationRequest:
    return GenerationRequest(prompt, steps=2, **kw)


def write_clip(path, frames: int = 6, value: int = 0) -> None:
    """A real little MP4 (the last frame is white so it can be told apart)."""
    from sora_desktop.engine.export import export_video

    video = np.full((frames, 32, 32, 3), value, np.uint8)
    video[-1] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    export_video(video, path, 8)


def finish(studio: ShotQueue, job, with_last_frame: bool = True) -> None:
    """What the runner reports for a take that ran: started, its files, finished."""
    run = next(r for r in studio.runner.runs if r.job_id == job.id)
    studio.started(job.id)
    clip = run.out_dir / f"{run.stem}.mp4"
    write_clip(clip)
    if with_last_frame:
        last_frame_path(clip).write_bytes(b"png")
    studio.finished(job.id, str(clip))


# ------------------------------------------------------------------ generate a shot


def test_generate_shot_records_a_take_and_hands_the_runner_its_files_place(studio):
    project = studio.project
    shot = project.add_shot(req(seed=7))
    job = studio.generate_shot(shot.id)
    (run,) = studio.runner.runs
    assert run.job_id == job.id and run.request == shot.request and run.device == "cpu"
    assert run.out_dir == core_project.media_dir(project) / shot.id and run.stem == job.take_id
    assert run.start_from is None
    assert [t.id for t in shot.takes] == [job.take_id] and shot.takes[0].status == "queued"
    assert job.total == 2  # steps x one 16-frame segment
    assert studio.titles[job.id] == "Shot 1"
    assert studio.listener.events == [("edited",), ("queue",), ("shot", shot.id), ("busy", True)]


def test_policy_refuses_before_anything_is_queued_unless_switched_off(studio):
    shot = studio.project.add_shot(req("a nude minor on a beach"))
    with pytest.raises(PolicyBlocked, match="sexual content involving minors"):
        studio.generate_shot(shot.id)
    assert shot.takes == [] and studio.jobs == [] and studio.runner.runs == []
    studio.settings.policy_enabled = False
    assert studio.generate_shot(shot.id).shot_id == shot.id


def test_memory_preflight_refuses_a_job_that_cannot_fit(studio):
    shot = studio.project.add_shot(
        GenerationRequest("a boat", model_id=WAN, width=832, height=480, num_frames=81, fps=16)
    )
    studio.memory_probe = lambda: MemoryInfo(None, None, None, 64.0, 64.0)  # no GPU
    with pytest.raises(QueueError, match="No NVIDIA GPU was found"):
        studio.generate_shot(shot.id)
    assert shot.takes == [] and studio.runner.runs == []
    studio.memory_probe = lambda: BIG_MACHINE
    assert studio.generate_shot(shot.id).request.model_id == WAN


# ------------------------------------------------------------------ the picked take


def test_a_new_take_is_picked_but_a_variation_keeps_the_users_pick(studio):
    shot = studio.project.add_shot(req())
    first = studio.generate_shot(shot.id)
    finish(studio, first)
    assert shot.selected_take == first.take_id and shot.selected.clip.endswith(".mp4")
    variations = studio.generate_variations(shot.id, 2)
    assert len({j.request.seed for j in variations}) == 2
    assert all(studio.titles[j.id] == "Shot 1  ·  variation" for j in variations)
    for job in variations:
        finish(studio, job)
    assert shot.selected_take == first.take_id  # the user's pick stays
    again = studio.generate_shot(shot.id)
    finish(studio, again)
    assert shot.selected_take == again.take_id  # what the user just asked for


def test_generate_all_skips_current_and_queued_shots(studio):
    project = studio.project
    done, waiting, empty = (project.add_shot(req(f"shot {i}")) for i in range(3))
    finish(studio, studio.generate_shot(done.id))
    pending = studio.generate_shot(waiting.id)
    queued = studio.generate_all()
    assert [j.shot_id for j in queued] == [empty.id]
    assert studio.job_for_shot(waiting.id) is pending
    project.set_shot_request(done.id, done.request.with_changes(steps=3))  # now out of date
    assert [j.shot_id for j in studio.generate_all()] == [done.id]


# ------------------------------------------------------------------ continuation


def test_continuation_errors_name_the_shot_and_what_to_do(studio):
    project = studio.project
    first, second = project.add_shot(req()), project.add_shot(req("b"))
    project.set_continue_from_previous(first.id, True)
    with pytest.raises(QueueError, match="Shot 1 is the first shot"):
        studio.generate_shot(first.id)
    project.set_continue_from_previous(second.id, True)
    with pytest.raises(QueueError, match="continues from shot 1, which has no finished take"):
        studio.generate_shot(second.id)
    assert second.takes == [] and studio.runner.runs == []


def test_continuing_from_a_queued_take_chains_and_is_skipped_when_it_is_cancelled(studio):
    project = studio.project
    first, second = project.add_shot(req()), project.add_shot(req("b"))
    project.set_continue_from_previous(second.id, True)
    parent, child = studio.generate_all()
    expected = last_frame_path(
        core_project.resolve_media(project, core_project.clip_relpath(project, first.id, parent.id))
    )
    assert child.request.start_image == str(expected)
    assert studio.runner.runs[1].start_from is None  # the worker writes that frame itself
    studio.cancel(parent.id)
    assert child.status == "cancelled" and second.takes[0].status == "cancelled"
    note = studio.notes[child.id]
    assert note.startswith("Skipped: Shot 1 was cancelled") and "Generate it again" in note
    assert ("skipped", child.id, note) in studio.listener.events
    assert set(studio.runner.cancelled) == {parent.id, child.id}


def test_continuing_from_a_finished_clip_starts_on_its_last_frame(studio):
    project = studio.project
    first, second = project.add_shot(req()), project.add_shot(req("b"))
    finish(studio, studio.generate_shot(first.id))
    project.set_continue_from_previous(second.id, True)
    job = studio.generate_shot(second.id)
    clip = core_project.resolve_media(project, first.selected.clip)
    assert job.request.start_image == str(last_frame_path(clip))
    assert studio.runner.runs[-1].start_from is None  # the frame file is there already


def test_a_clip_without_its_last_frame_is_decoded_by_the_runner_not_when_queueing(studio):
    project = studio.project
    first, second = project.add_shot(req()), project.add_shot(req("b"))
    finish(studio, studio.generate_shot(first.id), with_last_frame=False)
    clip = core_project.resolve_media(project, first.selected.clip)
    project.set_continue_from_previous(second.id, True)
    job = studio.generate_shot(second.id)
    assert job.request.start_image == str(last_frame_path(clip))
    assert studio.runner.runs[-1].start_from == clip
    assert not last_frame_path(clip).exists()  # nothing was decoded while queueing


def test_continuation_follows_the_picked_take_not_the_newest(studio):
    """One continuation rule (``Project.continuation_take``): the previous shot's picked
    finished take, even when a newer take failed."""
    project = studio.project
    first, second = project.add_shot(req()), project.add_shot(req("b"))
    good = studio.generate_shot(first.id)
    finish(studio, good)
    bad = studio.generate_shot(first.id)
    studio.started(bad.id)
    studio.failed(bad.id, "it broke")
    assert first.selected_take == good.take_id
    project.set_continue_from_previous(second.id, True)
    assert project.continuation_take(second.id) is first.selected
    job = studio.generate_shot(second.id)
    clip = core_project.resolve_media(project, first.selected.clip)
    assert job.request.start_image == str(last_frame_path(clip))


def test_a_stale_start_image_is_dropped_when_not_continuing(studio, tmp_path):
    shot = studio.project.add_shot(req(start_image=str(tmp_path / "gone_last.png")))
    assert studio.generate_shot(shot.id).request.start_image is None


# ------------------------------------------------------------------ the project moves or closes


def test_a_clip_finished_after_save_as_is_copied_into_the_new_media_folder(studio, tmp_path):
    project = studio.project
    shot = project.add_shot(req())
    job = studio.generate_shot(shot.id)
    run = studio.runner.runs[0]
    old_clip = run.out_dir / f"{run.stem}.mp4"
    write_clip(old_clip)
    thumbnail_path(old_clip).write_bytes(b"thumb")
    last_frame_path(old_clip).write_bytes(b"last")
    project.path = tmp_path / "moved" / "copy.sdproj"  # Save As while the take ran
    studio.started(job.id)
    studio.finished(job.id, str(old_clip))
    assert shot.selected.clip == f"copy_media/{shot.id}/{job.take_id}.mp4"
    new_clip = core_project.resolve_media(project, shot.selected.clip)
    assert new_clip.read_bytes() == old_clip.read_bytes()
    assert last_frame_path(new_clip).read_bytes() == b"last"
    assert thumbnail_path(new_clip).read_bytes() == b"thumb"


def test_a_take_that_ends_after_its_project_was_closed_leaves_the_new_one_alone(studio):
    old = studio.project
    shot = old.add_shot(req())
    job = studio.generate_shot(shot.id)
    studio.holder["project"] = core_project.new_project()  # another project is open now
    studio.listener.events.clear()
    studio.failed(job.id, "it broke")
    assert shot.takes[0].status == "queued"  # the closed project's file keeps it interrupted
    assert ("edited",) not in studio.listener.events
    assert ("failed", job.id, "it broke") in studio.listener.events


# ------------------------------------------------------------------ film export


def test_film_export_takes_picked_clips_in_order_and_labels_every_shot(studio):
    project: Project = studio.project
    a, empty, b = (project.add_shot(req(f"shot {i}")) for i in range(3))
    for shot in (b, a):
        finish(studio, studio.generate_shot(shot.id))
    clips = film_clips(project)
    assert clips == [core_project.resolve_media(project, s.selected.clip) for s in (a, b)]
    assert film_clips(project, empty.id) == []
    request = film_request(project)
    assert [d["prompt"] for d in request.extra["storyboard"]] == ["shot 0", "shot 2"]
    assert film_request(project, b.id).prompt == "shot 2"
    with pytest.raises(ValueError, match="nothing to export"):
        film_request(project, empty.id)


def test_render_film_joins_the_clips(studio, tmp_path):
    from sora_desktop.engine.export import read_video
    from sora_desktop.studio.film import render_film

    one, two = tmp_path / "one.mp4", tmp_path / "two.mp4"
    write_clip(one, 4)
    write_clip(two, 5)
    seen: list[float] = []
    out = render_film([one, two], tmp_path / "film.mp4", 8, fmt="mp4", progress=seen.append)
    frames, _fps = read_video(out)
    assert frames.shape[0] == 9 and seen[-1] == pytest.approx(1.0)
    assert seen == sorted(seen)


# ------------------------------------------------------------------ the CLI


def test_the_cli_asks_the_studio_for_the_policy(capsys, tmp_path, monkeypatch):
    from sora_desktop import cli, studio

    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    asked = []

    def refuse(request, settings=None):
        asked.append(request.prompt)
        raise PolicyBlocked("prompt: the studio says no")

    monkeypatch.setattr(studio, "check_policy", refuse)
    code = cli.main(["generate", "a red ball", "-o", str(tmp_path / "c.mp4")])
    assert code == 2 and asked == ["a red ball"]
    assert "the studio says no" in capsys.readouterr().err
    assert not (tmp_path / "c.mp4").exists()


def test_the_cli_refuses_a_blocked_prompt(capsys, tmp_path, monkeypatch):
    from sora_desktop import cli

    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    code = cli.main(["generate", "a nude minor on a beach", "-o", str(tmp_path / "c.mp4")])
    assert code == 2
    assert "sexual content involving minors" in capsys.readouterr().err
