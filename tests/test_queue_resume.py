"""A queue that survives (issue 18), without Qt: the project records its unfinished jobs in
order (takes, variations, "Retry in low memory" decodes), every save and recovery copy writes
them, reopening offers them (a deleted shot dropped), and re-queueing runs them again in order,
continuation chains kept. The file is the user's: hostile queue values are ignored with a note.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from sora_desktop.core import project as core_project
from sora_desktop.core.autosave import Autosaver
from sora_desktop.core.project import (
    INTERRUPTED_MESSAGE,
    PROJECT_VERSION,
    load_project,
    save_project,
)
from sora_desktop.core.project.queue_record import MAX_QUEUE_ENTRIES, QueuedJob
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.preflight import MemoryInfo
from sora_desktop.studio.media import last_frame_path
from sora_desktop.studio.queue import ShotQueue, TakeRun
from sora_desktop.studio.resume import decline, offer_text, pending_jobs, resume_pending

BIG_MACHINE = MemoryInfo("Big GPU", 40.0, 48.0, 64.0, 64.0)


class FakeRunner:
    def __init__(self) -> None:
        self.runs: list[TakeRun] = []

    def submit(self, run: TakeRun) -> None:
        self.runs.append(run)

    def cancel(self, job_id: str) -> None:
        pass


class Settings:
    policy_enabled = True
    device = "cpu"
    memory_mode = "balanced"


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))


def studio_for(project) -> ShotQueue:
    queue = ShotQueue(lambda: project, FakeRunner(), Settings())
    queue.memory_probe = lambda: BIG_MACHINE
    return queue


def req(prompt: str, **kw) -> GenerationRequest:
    return GenerationRequest(prompt, steps=2, **kw)


def write_clip(path) -> None:
    from sora_desktop.engine.export import export_video

    path.parent.mkdir(parents=True, exist_ok=True)
    export_video(np.zeros((6, 32, 32, 3), np.uint8), path, 8)


def finish(studio: ShotQueue, job) -> None:
    run = next(r for r in studio.runner.runs if r.job_id == job.id)
    studio.started(job.id)
    clip = run.out_dir / f"{run.stem}.mp4"
    write_clip(clip)
    last_frame_path(clip).write_bytes(b"png")
    studio.finished(job.id, str(clip))


def storyboard(tmp_path):
    """Four shots (the third continues from the second), saved; shot 1 has a finished take."""
    project = core_project.new_project("Film")
    project.path = tmp_path / "film.sdproj"
    shots = [project.add_shot(req(p, seed=i)) for i, p in enumerate("abcd")]
    project.set_continue_from_previous(shots[2].id, True)
    return project, shots


def queue_everything(tmp_path):
    """Shot 1 finished; then: shot 2, shot 3 (continues from 2), shot 4, a variation of shot 1
    and a "Retry in low memory" of shot 4's earlier take whose decode failed."""
    project, shots = storyboard(tmp_path)
    studio = studio_for(project)
    finish(studio, studio.generate_shot(shots[0].id))
    # shot 4 had a take whose decode failed (its latents kept)
    failed = studio.generate_shot(shots[3].id)
    latents = core_project.media_dir(project) / shots[3].id / f"{failed.take_id}.latents.npz"
    latents.parent.mkdir(parents=True, exist_ok=True)
    np.savez(latents, latents=np.zeros(2))
    studio.started(failed.id)
    studio.latents_saved(failed.id, str(latents))
    studio.failed(failed.id, "Out of memory while decoding.")
    assert shots[3].take(failed.take_id).status == "decode_failed"
    jobs = studio.generate_all(only_missing=True)  # shots 2, 3, 4
    jobs += [studio.generate_shot(shots[0].id, new_seed=True)]
    jobs += [studio.retry_decode(shots[3].id, failed.take_id)]
    studio.started(jobs[0].id)  # shot 2 is running when the app dies
    return project, shots, studio, jobs


def test_the_queue_is_saved_in_order_and_offered_after_reopening(tmp_path):
    project, shots, studio, jobs = queue_everything(tmp_path)
    kinds = [(j.shot_id, j.take_id, studio.job_kind(j.id)) for j in jobs]
    assert [k[2] for k in kinds] == ["take", "take", "take", "variation", "decode"]
    save_project(project)
    data = json.loads(project.path.read_text("utf-8"))
    assert data["version"] == PROJECT_VERSION  # an optional key, no new version
    saved = [(e["shot"], e["take"], e["kind"]) for e in data["queue"]]
    assert saved == kinds

    reopened = load_project(project.path)  # as after a crash: nothing runs any more
    entries = pending_jobs(reopened)
    assert [(e.shot_id, e.take_id, e.kind) for e in entries] == kinds
    take2 = reopened.shot(shots[1].id).take(jobs[0].take_id)
    assert take2.status == "failed" and take2.error == INTERRUPTED_MESSAGE
    assert offer_text(entries) == (
        "5 takes of 4 shots were still waiting to be generated when Sora Desktop closed."
    )


def test_resuming_reuses_the_takes_and_keeps_order_and_continuation(tmp_path):
    project, shots, studio, jobs = queue_everything(tmp_path)
    save_project(project)
    reopened = load_project(project.path)
    takes_before = {s.id: [t.id for t in s.takes] for s in reopened.shots}
    again = studio_for(reopened)
    result = resume_pending(again)
    assert result.problems == []
    assert [j.take_id for j in result.jobs] == [j.take_id for j in jobs]
    assert [again.job_kind(j.id) for j in result.jobs] == [
        "take",
        "take",
        "take",
        "variation",
        "decode",
    ]
    # the same take records, no new ones; each queued again with its own request and seed
    assert {s.id: [t.id for t in s.takes] for s in reopened.shots} == takes_before
    for old, new in zip(jobs, result.jobs, strict=True):
        take = reopened.shot(new.shot_id).take(new.take_id)
        assert take.status == ("decode_failed" if new.id in again.decode_jobs else "queued")
        assert take.request.seed == old.request.seed
    runs = again.runner.runs
    # shot 3 continues from shot 2's re-queued take: its last frame, after that job
    clip2 = core_project.resolve_media(
        reopened, core_project.clip_relpath(reopened, shots[1].id, jobs[0].take_id)
    )
    assert runs[1].request.start_image == str(last_frame_path(clip2))
    assert runs[1].after_job == result.jobs[0].id
    assert runs[4].decode_from is not None  # the decode retry decodes its saved latents
    assert reopened.queue == [
        QueuedJob(j.shot_id, j.take_id, again.job_kind(j.id)) for j in result.jobs
    ]
    for job in result.jobs[:4]:
        finish(again, job)
    again.failed(result.jobs[4].id, "Out of memory again.")
    assert reopened.queue == []  # nothing left to offer
    save_project(reopened)
    assert "queue" not in json.loads(reopened.path.read_text("utf-8"))
    assert pending_jobs(load_project(reopened.path)) == []


def test_a_deleted_shot_and_a_finished_take_are_dropped(tmp_path):
    project, shots, studio, jobs = queue_everything(tmp_path)
    save_project(project)
    reopened = load_project(project.path)
    reopened.remove_shot(shots[3].id)  # shot 4 (its take and its decode retry) is gone
    entries = pending_jobs(reopened)
    assert [e.take_id for e in entries] == [j.take_id for j in jobs[:2]] + [jobs[3].take_id]
    result = resume_pending(studio_for(reopened))
    assert len(result.jobs) == 3 and result.problems == []


def test_the_recovery_copy_carries_the_queue(tmp_path):
    project, shots, studio, jobs = queue_everything(tmp_path)
    recovery = tmp_path / "recovery"
    crashed = Autosaver(recovery)
    crashed.write(project)  # the app is killed: its lock goes, the copy stays
    crashed._marker_lock.release()
    with Autosaver(recovery) as app:
        (info,) = app.pending()
        restored = app.restore(info)
    assert [e.take_id for e in pending_jobs(restored)] == [j.take_id for j in jobs]


def test_not_now_forgets_the_queue_and_leaves_the_takes_interrupted(tmp_path):
    project, shots, studio, jobs = queue_everything(tmp_path)
    save_project(project)
    reopened = load_project(project.path)
    assert decline(reopened) == 5
    assert pending_jobs(reopened) == []
    take = reopened.shot(shots[1].id).take(jobs[0].take_id)
    assert take.status == "failed" and "Generate again" in take.error
    # a new job later does not bring the declined ones back
    again = studio_for(reopened)
    job = again.generate_shot(shots[1].id)
    assert reopened.queue == [QueuedJob(shots[1].id, job.take_id, "take")]
    again.cancel(job.id)
    save_project(reopened)
    assert pending_jobs(load_project(reopened.path)) == []


def test_a_take_that_cannot_be_queued_again_is_reported_and_not_offered_again(tmp_path):
    project, shots, studio, jobs = queue_everything(tmp_path)
    save_project(project)
    reopened = load_project(project.path)
    shot2 = reopened.shot(shots[1].id)
    shot2.takes[-1].request = shot2.takes[-1].request.with_changes(prompt="a nude minor")
    result = resume_pending(studio_for(reopened))
    assert len(result.jobs) == 3
    blocked, orphan = result.problems  # shot 3 continued from it: it cannot start either
    assert blocked.startswith("Shot 2: ") and "sexual content involving minors" in blocked
    assert orphan.startswith("Shot 3: Shot 3 continues from shot 2")
    assert jobs[0].take_id not in [e.take_id for e in reopened.queue]


HOSTILE = [
    ("not a list", "damaged, so it was ignored", 0),
    ([{"shot": "s1", "take": "t1"}, 42], "entry 2)", 1),
    ({"shot": "x"}, "damaged, so it was ignored", 0),
    ([{"shot": "../../etc", "take": "t", "kind": "take"}], "entry 1", 0),
    ([{"shot": "s", "take": "t", "kind": "rm -rf /"}], "entry 1", 0),
    ([{"shot": ["s"], "take": {"t": 1}, "kind": "take"}], "entry 1", 0),
    ([42, None, "x"], "3 entries", 0),
]


@pytest.mark.parametrize(("queue", "note", "kept"), HOSTILE)
def test_hostile_queue_values_are_ignored_with_a_note(tmp_path, queue, note, kept):
    project, shots = storyboard(tmp_path)
    save_project(project)
    data = json.loads(project.path.read_text("utf-8"))
    data["queue"] = queue
    project.path.write_text(json.dumps(data), "utf-8")
    reopened = load_project(project.path)  # the storyboard still opens
    assert len(reopened.shots) == 4 and len(reopened.queue) == kept
    assert any(note in w for w in reopened.warnings), reopened.warnings


def test_a_repeated_take_and_an_absurd_queue_are_ignored(tmp_path):
    project, shots, studio, jobs = queue_everything(tmp_path)
    save_project(project)
    data = json.loads(project.path.read_text("utf-8"))
    data["queue"] = data["queue"] + data["queue"][:1] + [{"shot": "nope", "take": "gone"}]
    project.path.write_text(json.dumps(data), "utf-8")
    reopened = load_project(project.path)
    assert any("entry 6" in w for w in reopened.warnings)
    assert len(reopened.queue) == 6  # the unknown shot is kept in the file's list ...
    assert len(pending_jobs(reopened)) == 5  # ... but never offered
    data["queue"] = [{"shot": "s", "take": f"t{i}"} for i in range(MAX_QUEUE_ENTRIES + 1)]
    project.path.write_text(json.dumps(data), "utf-8")
    reopened = load_project(project.path)
    assert reopened.queue == [] and any("at most" in w for w in reopened.warnings)


def test_a_project_without_a_queue_is_written_as_before(tmp_path):
    project, shots = storyboard(tmp_path)
    save_project(project)
    assert "queue" not in json.loads(project.path.read_text("utf-8"))


def test_a_take_cut_off_in_its_decode_is_decoded_again_or_remade_if_its_latents_are_gone(
    tmp_path,
):
    project, shots = storyboard(tmp_path)
    studio = studio_for(project)
    jobs = [studio.generate_shot(shots[0].id), studio.generate_shot(shots[1].id)]
    for job in jobs:  # both denoised, latents saved, then the app died in the decode
        latents = core_project.media_dir(project) / job.shot_id / f"{job.take_id}.latents.npz"
        latents.parent.mkdir(parents=True, exist_ok=True)
        np.savez(latents, latents=np.zeros(2))
        studio.started(job.id)
        studio.latents_saved(job.id, str(latents))
    save_project(project)
    reopened = load_project(project.path)
    assert [t.status for s in reopened.shots[:2] for t in s.takes] == ["decode_failed"] * 2
    gone = core_project.resolve_media(reopened, reopened.shots[1].takes[0].latents)
    gone.unlink()
    again = studio_for(reopened)
    result = resume_pending(again)
    assert result.problems == [] and [j.take_id for j in result.jobs] == [j.take_id for j in jobs]
    first, second = again.runner.runs
    assert first.decode_from is not None  # only the decode runs again
    assert second.decode_from is None  # made again from the start, same take
    assert reopened.shots[1].takes[0].status == "queued"
