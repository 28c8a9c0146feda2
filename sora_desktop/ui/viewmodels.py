"""View-models: QObjects between the Qt-free core and the widgets.

``ProjectViewModel`` owns the project, the selection and the undo stack; ``QueueViewModel`` owns
the generation queue and talks to the worker. Widgets read from them and listen to their
``<name>_changed`` signals; every edit goes through an undoable command.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage, QUndoStack

from sora_desktop.core import project as core_project
from sora_desktop.core.capabilities import segments_for  # noqa: F401 - the model's own window
from sora_desktop.core.export_settings import ExportSettings
from sora_desktop.core.jobs import Job, JobError, JobQueue
from sora_desktop.core.project import Project, Shot, Take
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.preflight import MemoryInfo
from sora_desktop.studio.eta import PhaseStatus
from sora_desktop.studio.fit_advice import FitAdvice
from sora_desktop.studio.queue import QueueListener, ShotQueue, TakeRun
from sora_desktop.studio.shots import PolicyBlocked, QueueError
from sora_desktop.studio.takes import (
    CLIP_FIELDS,
    changed_settings,
    is_current,
    is_out_of_date,
    take_clip,
)
from sora_desktop.ui import commands as cmd
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
        return take_clip(self.project, take)

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

    def set_end_on_next(self, shot_id: str, value: bool) -> None:
        if self.project.shot(shot_id).end_on_next_shot != value:
            text = "End on the next shot" if value else "Stop ending on the next shot"
            self.undo_stack.push(
                cmd.SetShotFieldCommand(self, shot_id, "end_on_next_shot", value, text)
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

UI_STATE = {"running": "generating"}  # core job status -> the words the storyboard uses


class _WorkerRunner:
    """Hands the studio's takes to the generation worker thread."""

    def __init__(self, worker: GenerationWorker) -> None:
        self.worker = worker

    def submit(self, run: TakeRun) -> None:
        self.worker.submit(
            GenerationJob(
                run.job_id,
                run.request,
                run.out_dir,
                run.stem,
                device=run.device,
                start_from=run.start_from,
                decode_from=run.decode_from,
                end_from=run.end_from,
            )
        )

    def cancel(self, job_id: str) -> None:
        self.worker.cancel(job_id)


class _SignalRelay(QueueListener):
    """The studio queue's reports, as the view-models' signals."""

    def __init__(self, vm: QueueViewModel) -> None:
        self.vm = vm

    def project_edited(self) -> None:
        self.vm.project_vm.mark_dirty()

    def shot_changed(self, shot_id: str) -> None:
        self.vm.project_vm._shot_changed(shot_id)

    def queue_changed(self) -> None:
        self.vm.queue_changed.emit()

    def job_changed(self, job_id: str) -> None:
        self.vm.job_changed.emit(job_id)

    def job_skipped(self, job_id: str, note: str) -> None:
        self.vm.job_skipped.emit(job_id, note)

    def job_finished(self, job_id: str, path: str) -> None:
        self.vm.job_finished.emit(job_id, path)

    def job_failed(self, job_id: str, message: str) -> None:
        self.vm.job_failed.emit(job_id, message)

    def busy_changed(self, busy: bool) -> None:
        self.vm.busy_changed.emit(busy)


class QueueViewModel(QObject):
    """The studio's generation queue (``studio.queue.ShotQueue``) bound to the worker thread.

    The rules (policy, memory, continuation, picked take) live in the studio; this class
    forwards the worker's signals to it and turns its reports into signals. Jobs go to the
    worker as they are queued; the worker runs them one at a time in order.
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
        self.studio = ShotQueue(
            lambda: project_vm.project, _WorkerRunner(worker), settings, _SignalRelay(self)
        )
        # Slots of this QObject, so the studio is called on the GUI thread (a plain callable
        # would run in the worker's thread).
        worker.started.connect(self._on_started)
        worker.progress.connect(self._on_progress)
        if hasattr(worker, "phase"):  # a worker without phases keeps the step text
            worker.phase.connect(self._on_phase)
        worker.preview.connect(self._on_preview)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        worker.latents_saved.connect(self.studio.latents_saved)
        project_vm.project_changed.connect(self._on_project_changed)
        project_vm.shots_changed.connect(self.refresh_titles)
        project_vm.shot_changed.connect(lambda _sid: self.refresh_titles())

    # ------------------------------------------------------------------ queries
    @property
    def settings(self):
        """The user's settings (policy, memory mode, device); the studio reads them."""
        return self.studio.settings

    @settings.setter
    def settings(self, settings) -> None:
        self.studio.settings = settings

    @property
    def queue(self) -> JobQueue:
        return self.studio.queue

    @property
    def titles(self) -> dict[str, str]:
        return self.studio.titles

    @property
    def notes(self) -> dict[str, str]:
        return self.studio.notes

    @property
    def memory_probe(self) -> Callable[[], MemoryInfo] | None:
        """What the machine has (a MemoryInfo); None probes it. Tests put a fake machine."""
        return self.studio.memory_probe

    @memory_probe.setter
    def memory_probe(self, probe: Callable[[], MemoryInfo] | None) -> None:
        self.studio.memory_probe = probe

    @property
    def jobs(self) -> list[Job]:
        return self.studio.jobs

    def job(self, job_id: str) -> Job | None:
        return self.studio.job(job_id)

    def state(self, job: Job) -> str:
        return UI_STATE.get(job.status, job.status)

    def job_for_shot(self, shot_id: str) -> Job | None:
        """What the shot's card shows: its running job, else its newest waiting one."""
        return self.studio.job_for_shot(shot_id)

    @property
    def decode_jobs(self) -> set[str]:
        return self.studio.decode_jobs

    def decode_failed(self, job: Job) -> bool:
        """The job's take waits for "Retry in low memory" (its decode failed)."""
        try:
            take = self.project_vm.project.shot(job.shot_id).take(job.take_id)
        except KeyError:
            return False
        return take.status == "decode_failed"

    def running(self) -> Job | None:
        return self.studio.queue.running

    @property
    def busy(self) -> bool:
        return self.studio.busy

    def phase_status(self, job_id: str) -> PhaseStatus | None:
        """The running job's phase (loading, denoising, decoding, writing) and its estimate."""
        return self.studio.phase_status(job_id)

    def eta_seconds(self, job_id: str) -> float | None:
        try:
            return self.studio.queue.eta_seconds(job_id)
        except (KeyError, JobError):
            return None

    # ------------------------------------------------------------------ actions (studio)
    def generate_shot(self, shot_id: str, new_seed: bool = False, force: bool = False) -> Job:
        """Queue one take of a shot. Raises PolicyBlocked or QueueError with a user message
        (FitAdvice when it may not fit memory; ``force`` runs it anyway)."""
        return self.studio.generate_shot(shot_id, new_seed, force)

    def generate_variations(self, shot_id: str, count: int = 3, force: bool = False) -> list[Job]:
        return self.studio.generate_variations(shot_id, count, force)

    def retry_decode(self, shot_id: str, take_id: str) -> Job:
        """Retry in low memory: a take whose decode failed. Raises QueueError."""
        return self.studio.retry_decode(shot_id, take_id)

    def generate_all(self, only_missing: bool = False, force: bool = False) -> list[Job]:
        return self.studio.generate_all(only_missing, force)

    def cancel(self, job_id: str, note: str | None = None) -> None:
        self.studio.cancel(job_id, note)

    def cancel_running(self) -> bool:
        return self.studio.cancel_running()

    def cancel_all(self) -> None:
        self.studio.cancel_all()

    def clear_finished(self) -> None:
        self.studio.clear_finished()
        self.queue_changed.emit()

    def refresh_titles(self) -> None:
        self.studio.refresh_titles()

    # ------------------------------------------------------------------ worker signals
    def _on_started(self, job_id: str) -> None:
        self.studio.started(job_id)

    def _on_progress(self, job_id: str, step: int, total: int) -> None:
        self.studio.progress(job_id, step, total)

    def _on_phase(self, job_id: str, phase: str) -> None:
        self.studio.phase(job_id, phase)

    def _on_finished(self, job_id: str, path: str) -> None:
        self.studio.finished(job_id, path)

    def _on_failed(self, job_id: str, message: str) -> None:
        self.studio.failed(job_id, message)

    def _on_cancelled(self, job_id: str) -> None:
        self.studio.cancelled(job_id)

    def _on_preview(self, job_id: str, image: QImage) -> None:
        job = self.job(job_id)
        if job is not None and job.status == "running":
            self.preview_changed.emit(job_id, image)

    def _on_project_changed(self) -> None:
        self.cancel_all()
        self.queue_changed.emit()


# The take rules' old home: the storyboard reads them from here.
__all__ = [
    "CLIP_FIELDS",
    "FitAdvice",
    "PolicyBlocked",
    "ProjectViewModel",
    "QueueError",
    "QueueViewModel",
    "changed_settings",
    "is_current",
    "is_out_of_date",
    "segments_for",
]
