"""The music job's worker (a QObject on its own QThread) and its row in the queue panel.

Like the generation worker: past-tense signals, exactly one of finished / failed / cancelled
per job, cooperative cancel through a ``CancelToken``; it emits data and never touches widgets.
It runs the Qt-free use case ``studio.music.run_music`` and turns its events into signals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from sora_desktop.engine.backend import CancelToken
from sora_desktop.studio.messages import friendly_error
from sora_desktop.studio.music import MusicRun, run_music
from sora_desktop.studio.take_runner import (
    TakeCancelled,
    TakeEvent,
    TakeFailed,
    TakeFinished,
    TakePhase,
    TakeProgress,
    TakeStarted,
)
from sora_desktop.ui.queue_panel import ProgressRow

log = logging.getLogger(__name__)

PHASE_WORDS = {
    "loading": "Loading the music model…",
    "denoising": "Making the music",
    "decoding": "Decoding the sound…",
    "writing": "Writing the sound file…",
}


class MusicWorker(QObject):
    """Runs music jobs one after another on its thread."""

    started = Signal(str)  # job id
    phase = Signal(str, str)  # job id, phase
    progress = Signal(str, int, int)  # job id, step, total
    finished = Signal(str, str)  # job id, WAV path
    failed = Signal(str, str)  # job id, message
    cancelled = Signal(str)  # job id
    _submitted = Signal(object)

    def __init__(self, runner: Callable[..., TakeEvent] = run_music) -> None:
        super().__init__()
        self._runner = runner
        self._tokens: dict[str, CancelToken] = {}
        self._submitted.connect(self._run)  # queued: runs on the worker's thread

    def submit(self, run: MusicRun) -> None:
        self._tokens[run.job_id] = CancelToken()
        self._submitted.emit(run)

    def cancel(self, job_id: str) -> None:
        token = self._tokens.get(job_id)
        if token is not None:
            token.cancel()

    def cancel_all(self) -> None:
        for token in list(self._tokens.values()):
            token.cancel()

    @Slot(object)
    def _run(self, run: MusicRun) -> None:
        token = self._tokens.get(run.job_id) or CancelToken()
        try:
            self._runner(run, token, self._emit)
        except Exception as exc:  # noqa: BLE001 - run_music never raises; a bug must not hang
            log.exception("music job %s crashed", run.job_id)
            self.failed.emit(run.job_id, friendly_error(exc, job="music"))
        finally:
            self._tokens.pop(run.job_id, None)

    def _emit(self, event: TakeEvent) -> None:
        jid = event.job_id
        if isinstance(event, TakeStarted):
            self.started.emit(jid)
        elif isinstance(event, TakePhase):
            self.phase.emit(jid, event.phase)
        elif isinstance(event, TakeProgress):
            self.progress.emit(jid, event.step, event.total)
        elif isinstance(event, TakeFinished):
            self.finished.emit(jid, event.path)
        elif isinstance(event, TakeFailed):
            self.failed.emit(jid, event.message)
        elif isinstance(event, TakeCancelled):
            self.cancelled.emit(jid)


_LINGERING: list[MusicThread] = []  # closed while busy: kept alive until the process ends


class MusicThread:
    """The worker on its own QThread (started at once, stopped by ``close``)."""

    def __init__(self, runner: Callable[..., TakeEvent] = run_music) -> None:
        self.thread = QThread()
        self.thread.setObjectName("music-worker")
        self.worker = MusicWorker(runner)
        self.worker.moveToThread(self.thread)
        self.thread.start()

    def close(self, wait_ms: int = 10_000) -> None:
        self.worker.cancel_all()
        self.thread.quit()
        if not self.thread.wait(wait_ms):  # still loading the model: never destroy it running
            log.warning("the music worker is still busy; it stops after the current step")
            _LINGERING.append(self)


class MusicRow(ProgressRow):
    """One music job in the queue panel: title, progress, what it does now, Cancel."""

    def __init__(self, job_id: str, title: str, on_cancel: Callable[[str], None]) -> None:
        super().__init__(job_id, "Stop making this music")
        self.title.setText(title)
        self.detail.setText("Waiting…")
        self.cancel_btn.clicked.connect(lambda: self._cancel(on_cancel))
        self.active = True
        self.running = False  # started in the worker (Esc stops a running job, not a waiting one)
        self._phase = ""

    def _cancel(self, on_cancel: Callable[[str], None]) -> None:
        self.stopping()
        on_cancel(self.job_id)

    def stopping(self) -> None:
        """Cancel was asked (this row's button, Cancel all, Esc): the job ends at its next step."""
        self.detail.setText("Stopping…")
        self.cancel_btn.setVisible(False)

    def set_phase(self, phase: str) -> None:
        self._phase = phase
        if phase != "denoising":
            self.detail.setText(PHASE_WORDS.get(phase, phase))

    def set_progress(self, step: int, total: int) -> None:
        self.bar.setValue(int(1000 * step / total) if total > 0 else 0)
        self.detail.setText(f"{PHASE_WORDS['denoising']} · step {step} / {total}")

    def end(self, text: str, tip: str = "") -> None:
        self.active = False
        self.running = False
        self.detail.setText(text)
        self.detail.setToolTip(tip)
        self.bar.setVisible(False)
        self.cancel_btn.setVisible(False)
