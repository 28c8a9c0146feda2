"""View-models: QObjects between the Qt-free core and the widgets.

``ProjectViewModel`` owns the project, the selection and the undo stack; ``QueueViewModel`` owns
the generation queue and talks to the worker. Widgets read from them and listen to their
``<name>_changed`` signals; every edit goes through an undoable command.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage, QUndoStack

from sora_desktop.core import project as core_project
from sora_desktop.core.capabilities import segments_for  # noqa: F401 - the model's own window
from sora_desktop.core.export_settings import ExportSettings
from sora_desktop.core.jobs import Job, JobError, JobQueue
from sora_desktop.core.project import Project, Shot, Take
from sora_desktop.core.request import MAX_SEED, GenerationRequest
from sora_desktop.engine.preflight import MemoryInfo, preflight_request
from sora_desktop.ui import commands as cmd
from sora_desktop.ui.images import last_frame_path, thumbnail_path
from sora_desktop.ui.worker import GenerationJob, GenerationWorker


class ProjectViewModel(QObject):
    project_changed = Signal()  # a different project (new / open / restore)
    shots_changed = Signal()  # shots added, removed or reordered
    shot_changed = Signal(str)  # one shot's settings, takes or status
    selection_changed = Signal(str)  # selected shot id ("" for none)
    dirty_changed = Signal(bool)
    path_changed = Signal(str)
    edited = Signal()  # any change to the project's content (the recovery copy follows it)

    def __init__(self, project: Project | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self.project: Project = project or core_project.new_project()
        self.selected_id: str = ""
        self._extra_dirty = False  # changes outside the undo stack (finished takes)
        self._last_dirty = False
        self.revision = 0  # bumps on every change; autosave compares it

    # ------------------------------------------------------------------ project lifecycle
    def set_project(self, project: Project, dirty: bool = False) -> None:
        self.revision += 1
        self.project = project
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self._extra_dirty = dirty
        self.selected_id = project.shots[0].id if project.shots else ""
        self.project_changed.emit()
        self.shots_changed.emit()
        self.selection_changed.emit(self.selected_id)
        self.path_changed.emit(str(project.path or ""))
        self._emit_dirty()

    def mark_saved(self) -> None:
        self.undo_stack.setClean()
        self._extra_dirty = False
        self.path_changed.emit(str(self.project.path or ""))
        self._emit_dirty()

    def mark_dirty(self) -> None:
        self.revision += 1
        self._extra_dirty = True
        self._emit_dirty()
        self.edited.emit()

    @property
    def dirty(self) -> bool:
        return self._extra_dirty or not self.undo_stack.isClean()

    def _on_clean_changed(self, _clean: bool) -> None:
        self._emit_dirty()

    def _emit_dirty(self) -> None:
        self._last_dirty = self.dirty
        self.dirty_changed.emit(self.dirty)

    # ------------------------------------------------------------------ queries
    @property
    def shots(self) -> list[Shot]:
        return list(self.project.shots)

    def shot(self, shot_id: str) -> Shot | None:
        try:
            return self.project.shot(shot_id)
        except (KeyError, ValueError, LookupError):
            return None

    @property
    def selected(self) -> Shot | None:
        return self.shot(self.selected_id) if self.selected_id else None

    def shot_number(self, shot_id: str) -> int:
        return self.project.index_of(shot_id) + 1

    def clip_path(self, take: Take | None) -> Path | None:
        if take is None or not take.clip or take.status != "done":
            return None
        try:
            path = Path(core_project.resolve_media(self.project, take.clip))
        except core_project.ProjectError:  # a link loop, or a path leading out: noted on open
            return None
        return path if path.is_file() else None

    def selected_clip(self, shot_id: str) -> Path | None:
        shot = self.shot(shot_id)
        return self.clip_path(shot.selected) if shot is not None else None

    # ------------------------------------------------------------------ selection
    def select(self, shot_id: str) -> None:
        if shot_id != self.selected_id:
            self.selected_id = shot_id
            self.selection_changed.emit(shot_id)

    # ------------------------------------------------------------------ edits (undoable)
    def add_shot(self, request: GenerationRequest, index: int | None = None) -> Shot:
        command = cmd.AddShotCommand(self, request, index)
        self.undo_stack.push(command)
        return command.shot

    def duplicate_shot(self, shot_id: str) -> Shot:
        command = cmd.DuplicateShotCommand(self, shot_id)
        self.undo_stack.push(command)
        return command.shot

    def delete_shot(self, shot_id: str) -> None:
        self.undo_stack.push(cmd.DeleteShotCommand(self, shot_id))

    def move_shot(self, shot_id: str, new_index: int) -> None:
        new_index = max(0, min(new_index, len(self.project.shots) - 1))
        if new_index != self.project.index_of(shot_id):
            self.undo_stack.push(cmd.MoveShotCommand(self, shot_id, new_index))

    def set_request(
        self, shot_id: str, request: GenerationRequest, text: str = "Edit shot", key: str = ""
    ) -> None:
        shot = self.shot(shot_id)
        if shot is None or shot.request == request:
            return
        self.undo_stack.push(cmd.SetRequestCommand(self, shot_id, request, text, key or text))

    def set_duration(self, shot_id: str, num_frames: int) -> None:
        shot = self.project.shot(shot_id)
        self.set_request(shot_id, shot.request.with_changes(num_frames=num_frames), "Trim shot")

    def select_take(self, shot_id: str, take_id: str) -> None:
        if self.project.shot(shot_id).selected_take != take_id:
            self.undo_stack.push(cmd.SelectTakeCommand(self, shot_id, take_id))

    def set_continue(self, shot_id: str, value: bool) -> None:
        if self.project.shot(shot_id).continue_from_previous != value:
            text = "Continue from previous shot" if value else "Stop continuing from previous shot"
            self.undo_stack.push(
                cmd.SetShotFieldCommand(self, shot_id, "continue_from_previous", value, text)
            )

    def set_title(self, shot_id: str, title: str) -> None:
        if self.project.shot(shot_id).title != title:
            self.undo_stack.push(
                cmd.SetShotFieldCommand(self, shot_id, "title", title, "Rename shot")
            )

    def set_export_settings(self, settings: ExportSettings) -> None:
        """Remember export options in the project (undoable; nothing pushed when unchanged)."""
        if settings.project_settings() != self.project.export_settings.project_settings():
            self.undo_stack.push(cmd.SetExportSettingsCommand(self, settings))

    # ------------------------------------------------------------------ called by commands
    def _settings_changed(self) -> None:
        self.revision += 1
        self.edited.emit()

    def _structure_changed(self, select: str | None = None) -> None:
        self.revision += 1
        self.edited.emit()
        self.shots_changed.emit()
        if select is not None:
            self.selected_id = ""  # force the signal so widgets re-read the shot
            self.select(select)
        elif self.selected_id and self.shot(self.selected_id) is None:
            self.selected_id = ""
            shots = self.project.shots
            self.select(shots[-1].id if shots else "")

    def _shot_changed(self, shot_id: str) -> None:
        self.revision += 1
        self.edited.emit()
        self.shot_changed.emit(shot_id)


# ---------------------------------------------------------------------------- queue


class PolicyBlocked(Exception):
    """The prompt policy refused a request; the message is for the user."""


class QueueError(Exception):
    """A shot cannot be queued as it is; the message says what to do."""


UI_STATE = {"running": "generating"}  # core job status -> the words the storyboard uses


class QueueViewModel(QObject):
    """The generation queue (core ``JobQueue``) bound to the worker thread.

    Jobs go to the worker as they are queued; the worker runs them one at a time in order, so
    the queue needs no dispatcher. Worker signals update the queue and the shot's take.
    """

    queue_changed = Signal()  # jobs added or removed
    job_changed = Signal(str)  # one job's state / progress
    preview_changed = Signal(str, QImage)  # live frame of a running job
    job_finished = Signal(str, str)  # job id, clip path
    job_failed = Signal(str, str)  # job id, message
    job_skipped = Signal(str, str)  # job id, why (it continued from a cancelled/failed take)
    busy_changed = Signal(bool)

    def __init__(
        self,
        project_vm: ProjectViewModel,
        worker: GenerationWorker,
        settings=None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.project_vm = project_vm
        self.worker = worker
        self.settings = settings
        self.queue = JobQueue()
        self.titles: dict[str, str] = {}
        self.notes: dict[str, str] = {}  # why a job was skipped, shown in its queue row
        self._variation: dict[str, bool] = {}
        self._chained_from: dict[str, str] = {}  # job id -> the job whose last frame it starts on
        self._keep_pick: dict[str, bool] = {}  # variations keep the user's chosen take
        self._project_of: dict[str, Project] = {}
        self._take_of: dict[str, Take] = {}
        # What the machine has (a MemoryInfo); None probes it. Tests put a fake machine here.
        self.memory_probe: Callable[[], MemoryInfo] | None = None
        worker.started.connect(self._on_started)
        worker.progress.connect(self._on_progress)
        worker.preview.connect(self._on_preview)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        project_vm.project_changed.connect(self._on_project_changed)
        project_vm.shots_changed.connect(self.refresh_titles)
        project_vm.shot_changed.connect(lambda _sid: self.refresh_titles())

    # ------------------------------------------------------------------ queries
    @property
    def jobs(self) -> list[Job]:
        return self.queue.jobs

    def job(self, job_id: str) -> Job | None:
        try:
            return self.queue.get(job_id)
        except (KeyError, JobError):
            return None

    def state(self, job: Job) -> str:
        return UI_STATE.get(job.status, job.status)

    def job_for_shot(self, shot_id: str) -> Job | None:
        """What the shot's card shows: its running job, else its newest waiting one."""
        active = [j for j in self.queue.jobs if j.shot_id == shot_id and j.active]
        running = [j for j in active if j.status == "running"]
        return (running or active[-1:] or [None])[0]

    def running(self) -> Job | None:
        return self.queue.running

    @property
    def busy(self) -> bool:
        return self.queue.busy

    def eta_seconds(self, job_id: str) -> float | None:
        try:
            return self.queue.eta_seconds(job_id)
        except (KeyError, JobError):
            return None

    # ------------------------------------------------------------------ actions
    def generate_shot(self, shot_id: str, new_seed: bool = False) -> Job:
        """Queue one take of a shot. Raises PolicyBlocked or QueueError with a user message."""
        pvm = self.project_vm
        project = pvm.project
        shot = project.shot(shot_id)
        request = shot.request
        if new_seed:
            request = request.with_changes(seed=random.randint(0, MAX_SEED))
        self._check_policy(request)
        self._check_fits(request)
        parent_job = None
        if shot.continue_from_previous:
            request = request.with_changes(start_image=str(self._previous_last_frame(shot_id)))
            prev = project.previous_shot(shot_id)
            parent_job = self.job_for_shot(prev.id) if prev is not None else None
        elif request.start_image is not None and not Path(request.start_image).is_file():
            request = request.with_changes(start_image=None)
        take = Take.create(request)
        had_pick = _has_done_selection(shot)
        project.add_take(shot_id, take)
        clip = core_project.resolve_media(
            project, core_project.clip_relpath(project, shot_id, take.id)
        )
        job = Job(take.id, shot_id, take.id, request)
        job.total = request.steps * segments_for(request)
        self._variation[job.id] = new_seed
        self.titles[job.id] = self._title(job)
        if parent_job is not None:
            self._chained_from[job.id] = parent_job.id
        self._keep_pick[job.id] = new_seed and had_pick
        self._project_of[job.id] = project
        self._take_of[job.id] = take
        self.queue.submit(job)
        device = getattr(self.settings, "device", "auto") if self.settings is not None else "auto"
        self.worker.submit(GenerationJob(job.id, request, clip.parent, take.id, device=device))
        pvm.mark_dirty()
        self.queue_changed.emit()
        pvm._shot_changed(shot_id)
        self.busy_changed.emit(True)
        return job

    def generate_variations(self, shot_id: str, count: int = 3) -> list[Job]:
        return [self.generate_shot(shot_id, new_seed=True) for _ in range(count)]

    def generate_all(self, only_missing: bool = False) -> list[Job]:
        """Queue, in storyboard order, every shot that needs a clip (continuity chains through
        queued takes). A shot already done with its current settings is skipped, since a new
        take would be identical; ``only_missing`` also skips out-of-date finished shots."""
        queued = []
        for shot in self.project_vm.shots:
            if is_current(shot) or (only_missing and _has_done_selection(shot)):
                continue
            if self.job_for_shot(shot.id) is not None:
                continue
            queued.append(self.generate_shot(shot.id))
        return queued

    def cancel(self, job_id: str, note: str | None = None) -> None:
        job = self.job(job_id)
        if job is None or not job.active:
            return
        if note is not None:
            self.notes[job_id] = note
        self.worker.cancel(job_id)
        self.queue.cancel(job_id)
        if job.status == "cancelled":  # it was waiting: it ends now
            self._finish_take(job, "cancelled")
        self.job_changed.emit(job_id)
        self._skip_dependents(job, "was cancelled")

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
            self.job_skipped.emit(other_id, note)

    def cancel_running(self) -> bool:
        running = self.running()
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
            for table in (*tables, self.notes, self._variation, self._chained_from):
                table.pop(job.id, None)
        self.queue_changed.emit()

    def _title(self, job: Job) -> str:
        """A queue row's name: the shot's current number (and title), so it follows reorders."""
        pvm = self.project_vm
        shot = pvm.shot(job.shot_id) if self._project_of.get(job.id) is pvm.project else None
        if shot is None:
            base = self.titles.get(job.id, "Shot").split("  ·  ")[0]  # deleted: keep the old
        else:
            base = f"Shot {pvm.shot_number(shot.id)}" + (f" — {shot.title}" if shot.title else "")
        return base + ("  ·  variation" if self._variation.get(job.id) else "")

    def refresh_titles(self) -> None:
        for job in self.queue.jobs:
            title = self._title(job)
            if self.titles.get(job.id) != title:
                self.titles[job.id] = title
                self.job_changed.emit(job.id)

    # ------------------------------------------------------------------ helpers
    def _check_policy(self, request: GenerationRequest) -> None:
        if self.settings is not None and not getattr(self.settings, "policy_enabled", True):
            return
        from sora_desktop.core.policy import check_request

        result = check_request(request)
        if not result.allowed:
            raise PolicyBlocked(result.message)

    def _check_fits(self, request: GenerationRequest) -> None:
        """Refuse a job that cannot fit this machine's memory before it starts (and fails)."""
        memory = self.memory_probe() if self.memory_probe is not None else None
        report = preflight_request(request, self.settings, memory)
        if report is not None and not report.ok:
            raise QueueError(f"{report.message}\n{report.suggestion}".strip())

    def _previous_last_frame(self, shot_id: str) -> Path:
        pvm = self.project_vm
        project = pvm.project
        prev = project.previous_shot(shot_id)
        number = pvm.shot_number(shot_id)
        if prev is None:
            raise QueueError(
                f"Shot {number} is the first shot, so there is no previous shot to continue "
                "from. Turn off 'Continue from previous shot'."
            )
        pending = self.job_for_shot(prev.id)
        if pending is not None:  # the previous shot is in the queue: chain to its new take
            rel = core_project.clip_relpath(project, prev.id, pending.take_id)
            return last_frame_path(core_project.resolve_media(project, rel))
        clip = pvm.clip_path(prev.selected)
        if clip is None:
            raise QueueError(
                f"Shot {number} continues from shot {number - 1}, which has no finished take "
                "yet. Generate that shot first, or turn off 'Continue from previous shot'."
            )
        last = last_frame_path(clip)
        if not last.is_file():  # e.g. a clip imported without its side files
            from sora_desktop.ui.images import make_side_files

            make_side_files(clip)  # streamed and scaled: bounded memory for any clip
        return last

    def _finish_take(
        self, job: Job, status: str, clip: str | None = None, error: str | None = None
    ):
        project = self._project_of.get(job.id)
        if project is None or project is not self.project_vm.project:
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
            return
        previous_pick = shot.selected_take
        try:
            project.update_take(job.shot_id, job.take_id, status=status, clip=clip, error=error)
        except (KeyError, ValueError):
            return
        if status == "done" and self._keep_pick.get(job.id) and previous_pick is not None:
            project.select_take(job.shot_id, previous_pick)
        self.project_vm.mark_dirty()
        self.project_vm._shot_changed(job.shot_id)

    def _adopt_clip(self, project: Project, job: Job, path: Path) -> str | None:
        """The clip's path relative to the project. If the project moved while the job ran
        (Save As, also under a new name in the same folder), the clip and its side files are
        copied into the new media folder first."""
        try:
            rel = core_project.relative_media(project, path)
            if rel.split("/")[0] == core_project.media_dir(project).name:
                return rel
        except ValueError:
            pass
        rel = core_project.clip_relpath(project, job.shot_id, job.take_id, path.suffix or ".mp4")
        target = core_project.resolve_media(project, rel)
        try:
            import shutil

            from sora_desktop.core.atomic import atomic_write_with

            for src, dst in (
                (path, target),
                (thumbnail_path(path), thumbnail_path(target)),
                (last_frame_path(path), last_frame_path(target)),
            ):
                if src.is_file():
                    atomic_write_with(dst, lambda tmp, s=src: shutil.copyfile(s, tmp))
        except OSError:
            return None
        return rel

    def _after_terminal(self, job_id: str) -> None:
        self.job_changed.emit(job_id)
        if not self.busy:
            self.busy_changed.emit(False)

    # ------------------------------------------------------------------ worker signals
    def _on_started(self, job_id: str) -> None:
        job = self.job(job_id)
        if job is None or job.status != "queued":
            return
        self.queue.mark_running(job_id)
        self._finish_take(job, "generating")
        self.job_changed.emit(job_id)

    def _on_progress(self, job_id: str, step: int, total: int) -> None:
        job = self.job(job_id)
        if job is None or job.status != "running":
            return
        self.queue.mark_progress(job_id, min(step, total), total)
        self.job_changed.emit(job_id)

    def _on_preview(self, job_id: str, image: QImage) -> None:
        job = self.job(job_id)
        if job is not None and job.status == "running":
            self.preview_changed.emit(job_id, image)

    def _on_finished(self, job_id: str, path: str) -> None:
        job = self.job(job_id)
        if job is None:
            return
        if job.status == "running":
            self.queue.mark_done(job_id, path)
        project = self._project_of.get(job_id)
        clip = None
        if project is not None:
            clip = self._adopt_clip(project, job, Path(path))
        self._finish_take(job, "done", clip=clip)
        self._after_terminal(job_id)
        self.job_finished.emit(job_id, path)

    def _on_failed(self, job_id: str, message: str) -> None:
        job = self.job(job_id)
        if job is None:
            return
        if job.status == "cancelled":  # skipped or cancelled meanwhile: not an error
            self._on_cancelled(job_id)
            return
        if job.active:
            self.queue.mark_failed(job_id, message)
        self._finish_take(job, "failed", error=message)
        self._after_terminal(job_id)
        self.job_failed.emit(job_id, message)
        self._skip_dependents(job, "could not be generated")

    def _on_cancelled(self, job_id: str) -> None:
        job = self.job(job_id)
        if job is None:
            return
        if job.active:
            self.queue.mark_cancelled(job_id)
        self._finish_take(job, "cancelled")
        self._after_terminal(job_id)

    def _on_project_changed(self) -> None:
        self.cancel_all()
        self.queue_changed.emit()


def _has_done_selection(shot: Shot | None) -> bool:
    return shot is not None and shot.selected is not None and shot.selected.status == "done"


# What makes a clip: the fields compared to tell whether a finished take still matches its
# shot. Not the seed (variations and a picked variation differ from the shot's seed on purpose;
# the card shows the picked take's seed), not start_image (continuity fills it in per take),
# not original_prompt (a note, not a setting).
CLIP_FIELDS = (
    "prompt",
    "negative_prompt",
    "steps",
    "guidance",
    "num_frames",
    "fps",
    "width",
    "height",
    "model_id",
)


def changed_settings(shot: Shot | None) -> list[str]:
    """The settings of the shot that differ from its picked finished take (empty: current)."""
    if not _has_done_selection(shot):
        return []
    made, now = shot.selected.request, shot.request
    return [f for f in CLIP_FIELDS if getattr(made, f) != getattr(now, f)]


def is_out_of_date(shot: Shot | None) -> bool:
    """A finished clip whose shot's settings changed after it was made."""
    return bool(changed_settings(shot))


def is_current(shot: Shot | None) -> bool:
    """Done with its current settings: Generate all leaves it alone."""
    return _has_done_selection(shot) and not is_out_of_date(shot)
