"""Background workers: generation and export, each a QObject living in its own QThread.

Workers only emit data (ids, numbers, paths, QImages); they never touch widgets. Every job gets
exactly one terminal signal: ``finished``, ``failed`` or ``cancelled``. Cancel is cooperative
(a ``CancelToken`` the backend checks every step); threads are never terminated.

``GenerationWorker`` runs the model in a worker process (``studio.worker_process``) unless a
``generate_fn`` / ``decode_fn`` is given (tests, benchmarks), which run in its thread as before:
the GUI process never imports torch, and a crash in the model fails the job, not the app.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtGui import QImage

from sora_desktop.core.film_joins import CrossfadeTooLong
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.backend import CancelToken, GenerationCancelled
from sora_desktop.studio.film import render_film
from sora_desktop.studio.media import save_take_files as save_take_files  # its old home
from sora_desktop.studio.messages import export_error
from sora_desktop.studio.messages import friendly_error as friendly_error  # its old home
from sora_desktop.studio.queue import TakeRun
from sora_desktop.studio.take_runner import (
    PREVIEW_INTERVAL_S as PREVIEW_INTERVAL_S,
)
from sora_desktop.studio.take_runner import (
    TakeCancelled,
    TakeEvent,
    TakeFailed,
    TakeFinished,
    TakeLatents,
    TakePhase,
    TakePreview,
    TakeProgress,
    TakeStarted,
    is_terminal,
    run_take,
)
from sora_desktop.studio.worker_process import WorkerProcessRunner
from sora_desktop.ui.images import frame_to_qimage
from sora_desktop.ui.job_worker import JobWorker

log = logging.getLogger(__name__)

GenerateFn = Callable[[GenerationRequest, CancelToken], Iterator[Any]]


@dataclass
class GenerationJob:
    """What the worker needs for one take: the request and where the clip goes."""

    job_id: str
    request: GenerationRequest
    out_dir: Path
    stem: str  # file name stem for the clip, its thumbnail and its last frame
    device: str = "auto"
    token: CancelToken = field(default_factory=CancelToken)
    # The finished clip whose last frame this take starts from, when that frame's file is
    # missing: it is made here, in the worker thread, not on the GUI thread.
    start_from: Path | None = None
    # The same for the next shot's clip whose first frame this take ends on.
    end_from: Path | None = None
    # "Retry in low memory": decode this saved latents file instead of generating.
    decode_from: Path | None = None

    def as_run(self) -> TakeRun:
        return TakeRun(
            self.job_id,
            self.request,
            self.out_dir,
            self.stem,
            self.device,
            self.start_from,
            self.end_from,
            self.decode_from,
        )


class GenerationWorker(QObject):
    """Runs generation jobs one at a time in the thread it was moved to."""

    started = Signal(str)
    progress = Signal(str, int, int)  # job id, step, total (over all chained segments)
    phase = Signal(str, str)  # job id, "loading" | "denoising" | "decoding" | "writing"
    preview = Signal(str, QImage)
    finished = Signal(str, str)  # job id, clip path
    failed = Signal(str, str)  # job id, readable message
    cancelled = Signal(str)
    model_ready = Signal(str)
    model_failed = Signal(str, str)
    latents_saved = Signal(str, str)  # job id, latents file (denoising done, before the decode)

    _submit = Signal(object)
    _warm = Signal(str, str)
    _unload = Signal()

    def __init__(
        self,
        generate_fn: Callable[..., Iterator[Any]] | None = None,
        decode_fn: Callable[..., Any] | None = None,
        *,
        in_process: bool = False,
    ) -> None:
        """``in_process``: run the registry's backend in this object's thread instead of the
        worker process (the old path: thread-level tests, the benchmark's baseline)."""
        super().__init__()
        self._generate = generate_fn  # None: the registry's backend for the job's model
        self._decode = decode_fn
        self._jobs: dict[str, GenerationJob] = {}
        self._lock = threading.Lock()
        # jobs of other kinds (music) run in the same worker process: their events go to the
        # caller of ``run_elsewhere``, not to this object's signals
        self._elsewhere: dict[str, Callable[[TakeEvent], None]] = {}
        # No injected model: jobs, warm-up and unloads go to the worker process, whose
        # thread turns its events into this object's signals.
        self.process: WorkerProcessRunner | None = None
        if generate_fn is None and decode_fn is None and not in_process:
            self.process = WorkerProcessRunner(self._emit, on_model=self._model_report)
        # Queued: the slot runs in this object's thread, in submission order, one at a time.
        self._submit.connect(self._run, Qt.ConnectionType.QueuedConnection)
        self._warm.connect(self._warm_up, Qt.ConnectionType.QueuedConnection)
        self._unload.connect(self._unload_models, Qt.ConnectionType.QueuedConnection)

    # ------------------------------------------------------------------ any thread
    def submit(self, job: GenerationJob) -> None:
        with self._lock:
            if job.job_id in self._jobs:
                raise ValueError(f"job_id: {job.job_id} was already submitted")
            self._jobs[job.job_id] = job
        if self.process is not None:
            self.process.submit(job.as_run())
        else:
            self._submit.emit(job)

    def cancel(self, job_id: str) -> bool:
        """Ask a queued or running job to stop; it ends with ``cancelled`` within one step
        (in the worker process: or when the process is stopped, a few seconds later)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            return False
        job.token.cancel()
        if self.process is not None:
            self.process.cancel(job_id)
        return True

    def cancel_all(self) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            self.cancel(job.job_id)

    def run_elsewhere(
        self, run: Any, token: CancelToken, emit: Callable[[TakeEvent], None]
    ) -> TakeEvent:
        """Run another kind of job (``studio.music.MusicRun``) in the worker process, after the
        takes already queued, and wait for it (call it from a worker thread, never the GUI
        thread): its events go to ``emit``, ``token`` cancels it. Without a worker process
        (tests with an injected model) it runs right here."""
        from sora_desktop.studio.music import run_music

        if self.process is None:
            return run_music(run, token, emit)
        done = threading.Event()
        ending: list[TakeEvent] = []

        def relay(event: TakeEvent) -> None:
            emit(event)
            if is_terminal(event):
                ending.append(event)
                done.set()

        with self._lock:
            self._elsewhere[run.job_id] = relay
        self.process.submit(run)
        asked = False
        while not done.wait(0.1):
            if token.cancelled and not asked:
                asked = True
                self.process.cancel(run.job_id)
        with self._lock:
            self._elsewhere.pop(run.job_id, None)
        return ending[0]

    def close(self) -> None:
        """Cancel what is left and stop the worker process (each job still ends once)."""
        if self.process is not None:
            self.process.close()

    def pending(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    def warm_up(self, model_id: str, device: str = "auto") -> None:
        """Load the model in the background so the first job starts quickly."""
        if self.process is not None:
            self.process.warm_up(model_id, device)
        else:
            self._warm.emit(model_id, device)

    def unload_models(self) -> None:
        """Free the loaded model after the jobs already queued (device or memory settings
        changed; the next job loads it again with the new settings)."""
        if self.process is not None:
            self.process.unload()
        else:
            self._unload.emit()

    def _model_report(self, model_id: str, message: str | None) -> None:
        if message is None:
            self.model_ready.emit(model_id)
        else:
            self.model_failed.emit(model_id, message)

    # ------------------------------------------------------------------ worker thread
    @Slot()
    def _unload_models(self) -> None:
        from sora_desktop.engine import registry

        registry.unload_all()

    @Slot(str, str)
    def _warm_up(self, model_id: str, device: str) -> None:
        try:
            from sora_desktop.engine import registry

            registry.load_backend(model_id, device)
        except Exception as exc:  # noqa: BLE001 - reported to the user, app keeps running
            # the user sees the message; the traceback goes to the log file only (INFO)
            log.info("loading model %s failed", model_id, exc_info=True)
            self.model_failed.emit(model_id, friendly_error(exc))
            return
        self.model_ready.emit(model_id)

    @Slot(object)
    def _run(self, job: GenerationJob) -> None:
        try:
            self._run_job(job)
        finally:
            with self._lock:
                self._jobs.pop(job.job_id, None)

    def _run_job(self, job: GenerationJob) -> None:
        # the use case (studio/take_runner.py) reports events; this thread turns them into
        # signals (a preview frame becomes a QImage here, off the GUI thread)
        run_take(job.as_run(), job.token, self._emit, self._generate, self._decode)

    def _emit(self, event: TakeEvent) -> None:
        jid = event.job_id
        with self._lock:
            elsewhere = self._elsewhere.get(jid)
        if elsewhere is not None:
            elsewhere(event)
            return
        if self.process is not None and is_terminal(event):
            with self._lock:
                self._jobs.pop(jid, None)
        if isinstance(event, TakeStarted):
            self.started.emit(jid)
        elif isinstance(event, TakePhase):
            self.phase.emit(jid, event.phase)
        elif isinstance(event, TakeProgress):
            self.progress.emit(jid, event.step, event.total)
        elif isinstance(event, TakePreview):
            self.preview.emit(jid, frame_to_qimage(event.frame))
        elif isinstance(event, TakeLatents):
            self.latents_saved.emit(jid, event.path)
        elif isinstance(event, TakeFinished):
            self.finished.emit(jid, event.path)
        elif isinstance(event, TakeFailed):
            self.failed.emit(jid, event.message)
        elif isinstance(event, TakeCancelled):
            self.cancelled.emit(jid)


# ---------------------------------------------------------------------------- export


@dataclass
class ExportJob:
    job_id: str
    clips: list[Path]
    path: Path
    fps: int
    fmt: str | None = None
    crossfade_frames: int = 0
    upscale: int = 1
    upscale_method: str = "nearest"
    quality: str = "high"
    watermark: bool = False
    request: GenerationRequest | None = None
    token: CancelToken = field(default_factory=CancelToken)
    fit: str = "letterbox"  # shots of another shape: "letterbox" or "crop" (ExportSettings)
    sound: Any = None  # the film's sound (studio.film_sound.FilmSound); None: silent
    sidecar: bool = False  # also write <file>.json beside the export
    provenance: Any = None  # ProvenanceOptions: sign the export (C2PA); None: not signed


class ExportWorker(JobWorker):
    """Writes exports off the GUI thread; one terminal signal per export."""

    started = Signal(str)
    progress = Signal(str, float)  # 0..1
    finished = Signal(str, str)
    failed = Signal(str, str)
    cancelled = Signal(str)
    warned = Signal(str, str)  # (job, message): e.g. the film is kept but was not signed

    def _run_job(self, job: ExportJob) -> None:
        jid = job.job_id
        if job.token.cancelled:
            self.cancelled.emit(jid)
            return
        self.started.emit(jid)
        try:
            out = render_film(
                job.clips,
                job.path,
                job.fps,
                fmt=job.fmt,
                fit=job.fit,
                crossfade_frames=job.crossfade_frames,
                upscale=job.upscale,
                upscale_method=job.upscale_method,
                quality=job.quality,
                watermark=job.watermark,
                request=job.request,
                progress=lambda fraction: self.progress.emit(jid, fraction),
                cancel=job.token,
                sound=job.sound,
                sidecar=job.sidecar,
                provenance=job.provenance,
                on_warning=lambda message: self.warned.emit(jid, message),
            )
        except GenerationCancelled:
            self.cancelled.emit(jid)
        except CrossfadeTooLong as exc:  # the user's setting: its own words say what to change
            log.info("export job %s refused: %s", jid, exc)
            self.failed.emit(jid, f"Export failed: {exc.message}")
        except Exception as exc:  # noqa: BLE001
            if job.token.cancelled:
                self.cancelled.emit(jid)
                return
            log.exception("export job %s failed (%s)", jid, job.path)
            self.failed.emit(jid, export_error(exc))
        else:
            log.info("export job %s finished: %s", jid, out)
            self.progress.emit(jid, 1.0)
            self.finished.emit(jid, str(out))


class WorkerHost(QObject):
    """Owns a worker and the QThread it lives in; ``stop()`` cancels and joins cleanly."""

    def __init__(self, worker: QObject, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.thread = QThread()
        self.thread.setObjectName(name)
        worker.moveToThread(self.thread)
        self.thread.start()

    def stop(self, timeout_ms: int = 30000) -> bool:
        cancel_all = getattr(self.worker, "cancel_all", None)
        if cancel_all is not None:
            cancel_all()
        for job_id in list(getattr(self.worker, "_jobs", {})):
            self.worker.cancel(job_id)
        close = getattr(self.worker, "close", None)
        if close is not None:
            close()  # a worker process: its jobs end, the process stops
        self.thread.quit()
        return self.thread.wait(timeout_ms)
