"""Generating takes: one shot, its variations, or every shot, through a queue that continuity
chains through. Qt-free: the UI's view-model forwards its worker's reports here and turns the
listener calls into signals; a worker process or a render farm can drive it the same way.

A shot's path down the layers: ``ShotQueue.generate_shot`` checks the policy and the memory
(``studio.shots``), picks the start frame (``studio.shots.continuation``), records the take in
the project (core), queues the job (``core.jobs``) and hands a ``TakeRun`` to the runner, which
runs it on the backend (engine). Reports come back through ``started`` ... ``cancelled``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sora_desktop.core import project as core_project
from sora_desktop.core.capabilities import capabilities_for, segments_for
from sora_desktop.core.jobs import Job, JobError, JobQueue
from sora_desktop.core.project import Project, Take
from sora_desktop.core.project.queue_record import QueuedJob
from sora_desktop.core.request import MAX_SEED, GenerationRequest
from sora_desktop.engine.preflight import MemoryInfo
from sora_desktop.studio.eta import PhaseClock, PhaseStatus
from sora_desktop.studio.fit_advice import fit_advice
from sora_desktop.studio.model_rules import continue_block_reason, frame_rule_message
from sora_desktop.studio.resume import record_queue
from sora_desktop.studio.shots import (
    QueueError,
    check_policy,
    continuation,
    end_keyframe,
    take_request,
)
from sora_desktop.studio.speed import record_speed
from sora_desktop.studio.takes import adopt_clip, has_done_selection, is_current

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TakeRun:
    """What the runner needs for one take: the request and where its files go."""

    job_id: str
    request: GenerationRequest
    out_dir: Path
    stem: str  # file name stem for the clip, its thumbnail and its last frame
    device: str = "auto"
    # Make the start frame from this finished clip first (its last-frame file is missing).
    start_from: Path | None = None
    # Make the end keyframe from this finished clip first (its first-frame file is missing).
    end_from: Path | None = None
    # "Retry in low memory": decode these saved latents instead of generating (studio/decode).
    decode_from: Path | None = None
    # The queued job whose clip ``start_from`` is (continuation): a runner that runs takes in
    # parallel (the render farm) starts this one only after that one finished.
    after_job: str | None = None


class Runner(Protocol):
    def submit(self, run: TakeRun) -> None: ...

    def cancel(self, job_id: str) -> None: ...


class QueueListener:
    """What the queue tells its owner, in order. The defaults do nothing."""

    def project_edited(self) -> None:
        """The project changed outside an undoable edit (a take was added or updated)."""

    def shot_changed(self, shot_id: str) -> None: ...

    def queue_changed(self) -> None: ...

    def job_changed(self, job_id: str) -> None: ...

    def job_skipped(self, job_id: str, note: str) -> None: ...

    def job_finished(self, job_id: str, path: str) -> None: ...

    def job_failed(self, job_id: str, message: str) -> None: ...

    def busy_changed(self, busy: bool) -> None: ...


class ShotQueue:
    """The generation queue of one open project (the project is read through ``project``, so
    a newly opened one is seen at once; jobs of a closed one end without touching it)."""

    def __init__(
        self,
        project: Callable[[], Project],
        runner: Runner,
        settings: Any = None,
        listener: QueueListener | None = None,
    ) -> None:
        self._project = project
        self.runner = runner
        self.settings = settings
        self.listener = listener or QueueListener()
        self.queue = JobQueue()
        self.titles: dict[str, str] = {}
        self.notes: dict[str, str] = {}  # why a job was skipped, shown in its queue row
        self.hosts: dict[str, str] = {}  # the machine a job runs on (render farm); "" = here
        self._variation: dict[str, bool] = {}
        self._chained_from: dict[str, str] = {}  # job id -> the job whose last frame it starts on
        self._keep_pick: dict[str, bool] = {}  # variations keep the user's chosen take
        self._project_of: dict[str, Project] = {}
        self._take_of: dict[str, Take] = {}
        self._latents: dict[str, Path] = {}  # job id -> its saved latents (denoising done)
        self.decode_jobs: set[str] = set()  # "Retry in low memory" jobs (no denoising)
        # What the machine has (a MemoryInfo); None probes it. Tests put a fake machine here.
        self.memory_probe: Callable[[], MemoryInfo] | None = None
        self.phases = PhaseClock()  # loading / denoising / decoding / writing, each its ETA

    # ------------------------------------------------------------------ queries
    @property
    def project(self) -> Project:
        return self._project()

    @property
    def jobs(self) -> list[Job]:
        return self.queue.jobs

    def job(self, job_id: str) -> Job | None:
        try:
            return self.queue.get(job_id)
        except (KeyError, JobError):
            return None

    def job_for_shot(self, shot_id: str) -> Job | None:
        """What the shot's card shows: its running job, else its newest waiting one."""
        active = [j for j in self.queue.jobs if j.shot_id == shot_id and j.active]
        running = [j for j in active if j.status == "running"]
        return (running or active[-1:] or [None])[0]

    @property
    def busy(self) -> bool:
        return self.queue.busy

    def phase_status(self, job_id: str) -> PhaseStatus | None:
        """The running job's phase and that phase's estimate, counted from now."""
        return self.phases.status(job_id)

    # ------------------------------------------------------------------ use cases
    def generate_shot(self, shot_id: str, new_seed: bool = False, force: bool = False) -> Job:
        """Queue one take of a shot (``new_seed``: a variation). Raises ``PolicyBlocked`` or
        ``QueueError`` with a message for the user; nothing is queued then. A memory-fit
        problem is advice (``FitAdvice``, a ``QueueError``): ``force`` runs it anyway."""
        project = self.project
        shot = project.shot(shot_id)
        seed = random.randint(0, MAX_SEED) if new_seed else None
        checked = shot.request if seed is None else shot.request.with_changes(seed=seed)
        check_policy(checked, self.settings)
        self._check_model_rules(checked, shot.continue_from_previous)
        if not force:
            memory = self.memory_probe() if self.memory_probe is not None else None
            advice = fit_advice(checked, self.settings, memory)
            if advice is not None:
                raise advice
        start = continuation(project, shot_id, self._pending_take)
        end = end_keyframe(project, shot_id)
        request = record_speed(take_request(project, shot_id, seed, start, end), self.settings)

        take = Take.create(request)
        had_pick = has_done_selection(shot)
        project.add_take(shot_id, take)
        keep = new_seed and had_pick
        return self._submit_take(shot_id, take, take.id, new_seed, keep, start, end)

    def requeue_take(self, shot_id: str, take_id: str, variation: bool = False) -> Job:
        """Queue an unfinished take again (``studio/resume.py``, after a restart or a crash).

        The same take record, run with its own request (seed and settings as they were queued,
        not the shot's current ones), its start and end frames worked out again from the
        storyboard as it is now (a continuation chains to the previous shot's queued take).
        ``PolicyBlocked`` / ``QueueError`` as ``generate_shot``; the memory advice was given
        when it was first queued."""
        project = self.project
        shot = project.shot(shot_id)
        take = shot.take(take_id)
        if any(j.take_id == take_id and j.active for j in self.queue.jobs):
            raise QueueError("This take is already being made.")
        check_policy(take.request, self.settings)
        self._check_model_rules(take.request, shot.continue_from_previous)
        start = continuation(project, shot_id, self._pending_take)
        end = end_keyframe(project, shot_id)
        request = take_request(project, shot_id, None, start, end, base=take.request)
        take.request, take.error, take.latents = request, None, None  # a fresh attempt
        project.update_take(shot_id, take_id, status="queued")
        job_id = f"{take_id}-resume-{core_project.new_id()[:8]}"
        keep = variation and has_done_selection(shot)
        return self._submit_take(shot_id, take, job_id, variation, keep, start, end)

    def _submit_take(
        self,
        shot_id: str,
        take: Take,
        job_id: str,
        variation: bool,
        keep_pick: bool,
        start: Any,
        end: Any,
    ) -> Job:
        """Queue a take recorded in the project and hand it to the runner."""
        project, request = self.project, take.request
        parent_job = self.job_for_shot(start.previous_shot) if start is not None else None
        clip = core_project.resolve_media(
            project, core_project.clip_relpath(project, shot_id, take.id)
        )
        job = Job(job_id, shot_id, take.id, request)
        job.total = request.steps * segments_for(request)
        self._variation[job.id] = variation
        self._project_of[job.id] = project
        self.titles[job.id] = self._title(job)
        if parent_job is not None:
            self._chained_from[job.id] = parent_job.id
        self._keep_pick[job.id] = keep_pick
        self._take_of[job.id] = take
        self.queue.submit(job)
        device = getattr(self.settings, "device", "auto") if self.settings is not None else "auto"
        source = start.source_clip if start is not None else None
        end_from = end.source_clip if end is not None else None
        after = parent_job.id if parent_job is not None and parent_job.active else None
        self.runner.submit(
            TakeRun(job.id, request, clip.parent, take.id, device, source, end_from, None, after)
        )
        self.record_queue()
        self.listener.project_edited()
        self.listener.queue_changed()
        self.listener.shot_changed(shot_id)
        self.listener.busy_changed(True)
        return job

    def retry_decode(self, shot_id: str, take_id: str) -> Job:
        """Queue "Retry in low memory" for a take whose decode failed: its saved latents are
        decoded again, without denoising. ``QueueError`` (for the user) when it cannot be."""
        from sora_desktop.studio.decode import retry_source

        project = self.project
        take = project.shot(shot_id).take(take_id)
        latents = retry_source(project, take)
        if any(j.take_id == take_id and j.active for j in self.queue.jobs):
            raise QueueError("This take is already being made.")
        job = Job(f"{take_id}-decode-{core_project.new_id()[:8]}", shot_id, take_id, take.request)
        rel = core_project.clip_relpath(project, shot_id, take_id)
        clip = core_project.resolve_media(project, rel)
        self.decode_jobs.add(job.id)
        self._project_of[job.id] = project
        self._take_of[job.id] = take
        self._latents[job.id] = latents
        self.titles[job.id] = self._title(job) + "  ·  decode"
        self.queue.submit(job)
        device = getattr(self.settings, "device", "auto") if self.settings is not None else "auto"
        run = TakeRun(job.id, take.request, clip.parent, take_id, device, decode_from=latents)
        self.runner.submit(run)
        self.record_queue()
        self.listener.queue_changed()
        self.listener.shot_changed(shot_id)
        self.listener.busy_changed(True)
        return job

    def latents_saved(self, job_id: str, path: str) -> None:
        """The runner saved the take's latents before its decode: remember them with the take
        (a decode that fails, or an app closed meanwhile, then costs no denoising)."""
        job = self.job(job_id)
        project = self._project_of.get(job_id)
        if job is None or project is None:
            return
        self._latents[job_id] = Path(path)
        if project is not self.project:
            return
        try:
            rel = core_project.relative_media(project, path)
            project.update_take(job.shot_id, job.take_id, latents=rel)
        except (KeyError, ValueError):
            return  # a Save As moved the project meanwhile: failed() adopts the file
        self.listener.project_edited()

    def generate_variations(self, shot_id: str, count: int = 3, force: bool = False) -> list[Job]:
        return [self.generate_shot(shot_id, True, force) for _ in range(count)]

    def generate_all(self, only_missing: bool = False, force: bool = False) -> list[Job]:
        """Queue, in storyboard order, every shot that needs a clip (continuity chains through
        queued takes). A shot already done with its current settings is skipped, since a new
        take would be identical; ``only_missing`` also skips out-of-date finished shots."""
        queued = []
        for shot in list(self.project.shots):
            if is_current(shot) or (only_missing and has_done_selection(shot)):
                continue
            if self.job_for_shot(shot.id) is not None:
                continue
            queued.append(self.generate_shot(shot.id, force=force))
        return queued

    def cancel(self, job_id: str, note: str | None = None) -> None:
        job = self.job(job_id)
        if job is None or not job.active:
            return
        if note is not None:
            self.notes[job_id] = note
        self.runner.cancel(job_id)
        self.queue.cancel(job_id)
        if job.status == "cancelled":  # it was waiting: it ends now
            self._finish_take(job, "cancelled")
            self.record_queue()
        self.listener.job_changed(job_id)
        self._skip_dependents(job, "was cancelled")

    def cancel_running(self) -> bool:
        running = self.queue.running
        if running is None:
            return False
        self.cancel(running.id)
        return True

    def cancel_all(self) -> None:
        for job in self.queue.jobs:
            if job.active:
                self.cancel(job.id)

    def clear_finished(self) -> None:
        for job in self.queue.clear_finished():
            tables = (self.titles, self._keep_pick, self._project_of, self._take_of)
            for table in (*tables, self.notes, self.hosts, self._variation, self._chained_from):
                table.pop(job.id, None)
            self._latents.pop(job.id, None)
            self.decode_jobs.discard(job.id)

    def refresh_titles(self) -> None:
        for job in self.queue.jobs:
            title = self._title(job)
            if self.titles.get(job.id) != title:
                self.titles[job.id] = title
                self.listener.job_changed(job.id)

    def job_kind(self, job_id: str) -> str:
        """What the project's saved queue calls the job (core/project/queue_record.py)."""
        if job_id in self.decode_jobs:
            return "decode"
        return "variation" if self._variation.get(job_id) else "take"

    def record_queue(self) -> None:
        """Keep the open project's saved queue in step with its unfinished jobs, in order."""
        project = self.project
        mine = [j for j in self.queue.jobs if self._project_of.get(j.id) is project]
        active = [QueuedJob(j.shot_id, j.take_id, self.job_kind(j.id)) for j in mine if j.active]
        record_queue(project, active, {j.take_id for j in mine})

    # ------------------------------------------------------------------ runner reports
    def started(self, job_id: str) -> None:
        job = self.job(job_id)
        if job is None or job.status != "queued":
            return
        self.queue.mark_running(job_id)
        self._finish_take(job, "generating")
        self.listener.job_changed(job_id)

    def progress(self, job_id: str, step: int, total: int) -> bool:
        """Record progress; False when the job is not running (the report is stale)."""
        job = self.job(job_id)
        if job is None or job.status != "running":
            return False
        self.queue.mark_progress(job_id, min(step, total), total)
        self.phases.step(job_id, min(step, total), total)
        self.listener.job_changed(job_id)
        return True

    def phase(self, job_id: str, phase: str) -> None:
        """The running job began ``phase`` (loading, denoising, decoding, writing)."""
        job = self.job(job_id)
        if job is None or job.status != "running":
            return
        self.phases.begin(job_id, job.request.model_id, phase)
        self.listener.job_changed(job_id)

    def finished(self, job_id: str, path: str) -> None:
        job = self.job(job_id)
        if job is None:
            return
        if job.status == "running":
            self.queue.mark_done(job_id, path)
        self.phases.end(job_id)
        project = self._project_of.get(job_id)
        clip = None
        if project is not None:
            clip = adopt_clip(project, job.shot_id, job.take_id, Path(path))
        self._finish_take(job, "done", clip=clip)
        self._after_terminal(job_id)
        self.listener.job_finished(job_id, path)

    def failed(self, job_id: str, message: str) -> None:
        job = self.job(job_id)
        if job is None:
            return
        if job.status == "cancelled":  # skipped or cancelled meanwhile: not an error
            self.cancelled(job_id)
            return
        if job.active:
            self.queue.mark_failed(job_id, message)
        self.phases.end(job_id, finished=False)
        latents = self._latents.get(job_id)
        if latents is not None and latents.is_file():  # denoised: "Retry in low memory"
            from sora_desktop.studio.decode import adopt_latents

            rel = adopt_latents(self._project_of.get(job_id), job.shot_id, job.take_id, latents)
            self._finish_take(job, "decode_failed", error=message, latents=rel)
        else:
            self._finish_take(job, "failed", error=message)
        self._after_terminal(job_id)
        self.listener.job_failed(job_id, message)
        self._skip_dependents(job, "could not be generated")

    def cancelled(self, job_id: str) -> None:
        job = self.job(job_id)
        if job is None:
            return
        if job.active:
            self.queue.mark_cancelled(job_id)
        self.phases.end(job_id, finished=False)
        # a cancelled retry leaves the take as it was: decode failed, latents kept
        self._finish_take(job, "decode_failed" if job_id in self.decode_jobs else "cancelled")
        self._after_terminal(job_id)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _check_model_rules(request: GenerationRequest, continues: bool) -> None:
        """``QueueError`` before anything is queued when the model cannot make the shot as it
        is (a shot trimmed on the storyboard or loaded from a file skips the editor)."""
        caps = capabilities_for(request.model_id)
        seconds = request.num_frames / request.fps
        rule = frame_rule_message(seconds, request.fps, request.num_frames, caps)
        if rule:
            raise QueueError(f"{rule}.\nChange the duration in the shot's settings.")
        if continues and continue_block_reason(caps):
            raise QueueError(
                f"{continue_block_reason(caps)}\nTurn off 'Continue from previous shot' or "
                "choose a model that can start from an image."
            )

    def _pending_take(self, shot_id: str) -> str | None:
        job = self.job_for_shot(shot_id)
        return job.take_id if job is not None else None

    def _title(self, job: Job) -> str:
        """A queue row's name: the shot's current number (and title), so it follows reorders."""
        project = self.project
        shot = None
        if self._project_of.get(job.id) is project:
            try:
                shot = project.shot(job.shot_id)
            except KeyError:
                shot = None
        if shot is None:
            base = self.titles.get(job.id, "Shot").split("  ·  ")[0]  # deleted: keep the old
        else:
            number = project.index_of(shot.id) + 1
            base = f"Shot {number}" + (f" — {shot.title}" if shot.title else "")
        return base + ("  ·  variation" if self._variation.get(job.id) else "")

    def _skip_dependents(self, job: Job, why: str) -> None:
        """Waiting jobs that continue from ``job``'s take can never start: skip them with a note
        (not an error box), and the ones that continue from those, and so on."""
        for other_id, parent_id in list(self._chained_from.items()):
            other = self.job(other_id)
            if parent_id != job.id or other is None or other.status != "queued":
                continue
            title = self.titles.get(job.id, "The previous shot")
            note = (
                f"Skipped: {title} {why}, so there is no last frame to continue from. "
                "Generate it again, then this shot."
            )
            self.cancel(other_id, note)
            self.listener.job_skipped(other_id, note)

    def _finish_take(
        self,
        job: Job,
        status: str,
        clip: str | None = None,
        error: str | None = None,
        latents: str | None = None,
    ) -> None:
        """Record the take's new state; a finished variation keeps the user's pick."""
        project = self._project_of.get(job.id)
        if project is None or project is not self.project:
            return  # the project was closed meanwhile; its file keeps the take as interrupted
        try:
            shot = project.shot(job.shot_id)
        except KeyError:
            # the shot was deleted while generating; keep its take right for an undo of that
            take = self._take_of.get(job.id)
            if take is not None:
                take.status = status  # type: ignore[assignment]
                take.clip = clip if clip is not None else take.clip
                take.error = error if error is not None else take.error
                take.latents = latents if latents is not None else take.latents
                if status in ("done", "cancelled", "failed"):
                    take.latents = None
            return
        previous_pick = shot.selected_take
        try:
            project.update_take(
                job.shot_id,
                job.take_id,
                status=status,  # type: ignore[arg-type]
                clip=clip,
                error=error,
                latents=latents,
            )
        except (KeyError, ValueError):
            return
        if status in ("cancelled", "failed"):  # its latents were deleted (or never saved)
            shot.take(job.take_id).latents = None
        if status == "done" and self._keep_pick.get(job.id) and previous_pick is not None:
            project.select_take(job.shot_id, previous_pick)
        self.listener.project_edited()
        self.listener.shot_changed(job.shot_id)

    def _after_terminal(self, job_id: str) -> None:
        self.record_queue()
        self.listener.job_changed(job_id)
        if not self.busy:
            self.listener.busy_changed(False)
