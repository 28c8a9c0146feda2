"""Background workers: generation and export, each a QObject living in its own QThread.

Workers only emit data (ids, numbers, paths, QImages); they never touch widgets. Every job gets
exactly one terminal signal: ``finished``, ``failed`` or ``cancelled``. Cancel is cooperative
(a ``CancelToken`` the backend checks every step); threads are never terminated.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtGui import QImage

from sora_desktop.core.errors import FieldError, is_out_of_memory
from sora_desktop.core.memory_modes import MODE_NAMES
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.backend import (
    CancelToken,
    GenerationCancelled,
    GenerationResult,
    StepEvent,
)
from sora_desktop.engine.preflight import OutOfMemory  # no torch at import
from sora_desktop.studio import decode as take_decode
from sora_desktop.studio.film import render_film
from sora_desktop.studio.media import StartFrameError, ensure_first_frame, ensure_last_frame
from sora_desktop.studio.media import save_take_files as save_take_files  # its old home
from sora_desktop.ui.images import frame_to_qimage

log = logging.getLogger(__name__)

GenerateFn = Callable[[GenerationRequest, CancelToken], Iterator[Any]]

PREVIEW_INTERVAL_S = 0.05  # at most ~20 live previews a second; the GUI needs no more


def friendly_error(exc: BaseException) -> str:
    """A message a non-programmer can act on: what happened and what to try next."""
    text = str(exc).strip() or type(exc).__name__
    low = f"{type(exc).__name__} {text}".lower()
    if isinstance(exc, OutOfMemory):
        # The backend's advice names this model, mode and size; a generic text would lose it.
        return text
    if is_out_of_memory(exc):
        return (
            "The model ran out of memory.\n"
            "Try: a shorter duration, fewer steps or a smaller size; choose "
            f"'{MODE_NAMES['low_vram']}' in Settings; or close other programs and try again."
        )
    field = exc.field if isinstance(exc, FieldError) else None
    if field == "start_image":
        return (
            "This shot continues from the previous shot, but that shot has no finished clip "
            "to start from.\nTry: generate the previous shot first, or turn off "
            "'Continue from previous shot'."
        )
    if field == "model":
        # the model folder was refused (pickle weights, links leading out, a broken config):
        # no setting of the shot can fix that
        return (
            f"The model files cannot be used ({exc.message}).\n"
            "Try: open Models and re-download or remove the model, or pick another model."
        )
    if isinstance(exc, ValueError) and ":" in text.split("\n")[0]:
        return (
            f"This shot's settings cannot be used: {text}\n"
            "Change the setting it names and try again."
        )
    if isinstance(exc, FileNotFoundError) or "safetensors" in low or "checkpoint" in low:
        return (
            f"The model files could not be read ({text}).\n"
            "Try: open Models and re-download or remove the model, or pick another model."
        )
    if isinstance(exc, OSError):
        return (
            f"A file could not be written or read ({text}).\n"
            "Try: check free disk space and the output folder in Settings."
        )
    return (
        f"Generation failed: {text}\n"
        "Try again; if it keeps failing, pick another model or lower the settings."
    )


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


def _default_generate(request: GenerationRequest, cancel: CancelToken, device: str = "auto"):
    from sora_desktop.engine import registry  # lazy: pulls torch in the worker thread

    return registry.generate(request, cancel, device=device)


def _default_decode(request: GenerationRequest, latents: Path, device: str = "auto"):
    from sora_desktop.engine import registry  # lazy: pulls torch in the worker thread

    backend = registry.load_backend(request.model_id, device)
    return take_decode.decode_saved(backend, latents, request, low_memory=True)


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
    ) -> None:
        super().__init__()
        self._generate = generate_fn or _default_generate
        self._decode = decode_fn or _default_decode
        self._jobs: dict[str, GenerationJob] = {}
        self._lock = threading.Lock()
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
        self._submit.emit(job)

    def cancel(self, job_id: str) -> bool:
        """Ask a queued or running job to stop; it ends with ``cancelled`` within one step."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            return False
        job.token.cancel()
        return True

    def cancel_all(self) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.token.cancel()

    def pending(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    def warm_up(self, model_id: str, device: str = "auto") -> None:
        """Load the model in the worker thread so the first job starts quickly."""
        self._warm.emit(model_id, device)

    def unload_models(self) -> None:
        """Free the loaded model after the jobs already queued (device or memory settings
        changed; the next job loads it again with the new settings)."""
        self._unload.emit()

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
        jid = job.job_id
        if job.token.cancelled:  # cancelled while it waited in the queue
            self.cancelled.emit(jid)
            return
        req = job.request
        log.info(
            "generation job %s started: model %s, %dx%d, %d frames, %d steps, seed %d",
            jid,
            req.model_id,
            req.width,
            req.height,
            req.num_frames,
            req.steps,
            req.seed,
        )  # the prompt stays out of the log: it is the user's own text
        self.started.emit(jid)
        latents = take_decode.latents_path(job.out_dir / f"{job.stem}.mp4")
        try:
            if job.decode_from is not None:
                clip = self._decode_job(job)
            else:
                clip = self._generate_job(job, latents)
        except StartFrameError as exc:  # its message says what to do
            self.failed.emit(jid, str(exc))
        except take_decode.LatentsFileError as exc:
            self.failed.emit(jid, f"{exc}\nTry: generate the shot again.")
        except GenerationCancelled:
            log.info("generation job %s cancelled", jid)
            if job.decode_from is None:
                take_decode.discard_latents(latents)  # the user stopped it: nothing to keep
            self.cancelled.emit(jid)
        except take_decode.DecodeKept as exc:  # the latents file stays for a retry
            if job.token.cancelled:
                if job.decode_from is None:
                    take_decode.discard_latents(latents)
                self.cancelled.emit(jid)
            else:
                self.failed.emit(jid, take_decode.kept_message(exc))
        except Exception as exc:  # noqa: BLE001 - any job error becomes a message, never a crash
            log.exception("generation job %s failed (model %s)", jid, job.request.model_id)
            message = friendly_error(exc)
            if job.decode_from is None and latents.is_file():  # e.g. writing the clip failed
                message += (
                    "\nThe denoising is kept with the take: “Retry in low memory” makes the "
                    "clip without denoising again."
                )
            self.failed.emit(jid, message)
        else:
            log.info("generation job %s finished: %s", jid, clip)
            self.finished.emit(jid, str(clip))

    def _generate_job(self, job: GenerationJob, latents: Path) -> Path:
        jid = job.job_id
        if job.start_from is not None:
            ensure_last_frame(job.start_from)
        if job.end_from is not None:
            ensure_first_frame(job.end_from)
        last_preview = 0.0
        shown = [""]

        def phase(name: str) -> None:  # each phase once, as it begins (studio/eta.py)
            if shown[0] != name:
                shown[0] = name
                self.phase.emit(jid, name)

        phase("loading")

        def on_step(event: StepEvent) -> None:
            nonlocal last_preview
            phase("denoising")
            done = event.segment * event.total + event.step
            self.progress.emit(jid, done, event.segments * event.total)
            now = time.monotonic()
            final = done == event.segments * event.total
            if event.preview is not None and (now - last_preview >= PREVIEW_INTERVAL_S or final):
                last_preview = now
                self.preview.emit(jid, frame_to_qimage(event.preview))
            if final:  # after the last step's report: the backend decodes now
                phase("decoding")

        if self._generate is _default_generate:
            events = _default_generate(job.request, job.token, job.device)
        else:
            events = self._generate(job.request, job.token)
        result = take_decode.run_generation(
            events,
            latents,
            job.request,
            on_step=on_step,
            on_latents=lambda path: self.latents_saved.emit(jid, str(path)),
        )
        job.token.raise_if_cancelled()
        if not isinstance(result, GenerationResult):
            raise RuntimeError("the model finished without producing a clip")
        phase("writing")
        return take_decode.finish_take(result, job.out_dir, job.stem, latents)

    def _decode_job(self, job: GenerationJob) -> Path:
        """Retry in low memory: decode the saved latents, no denoising. Cancel is honoured
        before and after the decode (the decode itself is one call); the latents stay."""
        assert job.decode_from is not None
        job.token.raise_if_cancelled()
        self.phase.emit(job.job_id, "decoding")
        if self._decode is _default_decode:
            result = _default_decode(job.request, job.decode_from, job.device)
        else:
            result = self._decode(job.request, job.decode_from)
        job.token.raise_if_cancelled()
        self.phase.emit(job.job_id, "writing")
        return take_decode.finish_take(result, job.out_dir, job.stem, job.decode_from)


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


class ExportWorker(QObject):
    """Writes exports off the GUI thread; one terminal signal per export."""

    started = Signal(str)
    progress = Signal(str, float)  # 0..1
    finished = Signal(str, str)
    failed = Signal(str, str)
    cancelled = Signal(str)

    _submit = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self._jobs: dict[str, ExportJob] = {}
        self._lock = threading.Lock()
        self._submit.connect(self._run, Qt.ConnectionType.QueuedConnection)

    def submit(self, job: ExportJob) -> None:
        with self._lock:
            self._jobs[job.job_id] = job
        self._submit.emit(job)

    def cancel(self, job_id: str) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is not None:
            job.token.cancel()

    def cancel_all(self) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.token.cancel()

    @Slot(object)
    def _run(self, job: ExportJob) -> None:
        try:
            self._run_job(job)
        finally:
            with self._lock:
                self._jobs.pop(job.job_id, None)

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
            )
        except GenerationCancelled:
            self.cancelled.emit(jid)
        except Exception as exc:  # noqa: BLE001
            if job.token.cancelled:
                self.cancelled.emit(jid)
                return
            log.exception("export job %s failed (%s)", jid, job.path)
            self.failed.emit(jid, f"Export failed: {exc}\nTry another format or folder.")
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
        self.thread.quit()
        return self.thread.wait(timeout_ms)
