"""Running one take, the use case every runner calls: the GUI's worker thread, the worker
process, the batch command and a render-farm node.

``run_take`` makes one take's clip (or decodes its saved latents, "Retry in low memory") and
reports what happens as ``TakeEvent``s through ``emit``: ``TakeStarted``, then any number of
``TakePhase`` / ``TakeProgress`` / ``TakePreview`` / ``TakeLatents``, then exactly one terminal
event (``TakeFinished``, ``TakeFailed`` or ``TakeCancelled``), which it also returns. It never
raises for a job's error: every failure becomes a ``TakeFailed`` with a message in the user's
words (``studio.messages``). Events are small picklable dataclasses, so they cross a pipe or a
Ray object store as they are; ``apply_event`` hands one to the studio queue.

Qt-free, and torch-free at import: the default backend is imported when a take runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.backend import (
    CancelToken,
    GenerationCancelled,
    GenerationResult,
    StepEvent,
)
from sora_desktop.studio import decode as take_decode
from sora_desktop.studio.media import StartFrameError, ensure_first_frame, ensure_last_frame
from sora_desktop.studio.messages import friendly_error

if TYPE_CHECKING:
    from sora_desktop.studio.queue import ShotQueue, TakeRun

log = logging.getLogger(__name__)

PREVIEW_INTERVAL_S = 0.05  # at most ~20 live previews a second; no viewer needs more

GenerateFn = Callable[[GenerationRequest, CancelToken], Iterator[Any]]
DecodeFn = Callable[[GenerationRequest, Path], Any]


# ---------------------------------------------------------------------------- events
@dataclass(frozen=True)
class TakeEvent:
    job_id: str


@dataclass(frozen=True)
class TakeStarted(TakeEvent):
    host: str = ""  # the machine that runs it ("" = this computer)


@dataclass(frozen=True)
class TakePhase(TakeEvent):
    phase: str  # "loading" | "denoising" | "decoding" | "writing" (studio/eta.py)


@dataclass(frozen=True)
class TakeProgress(TakeEvent):
    step: int  # over all chained segments / windows
    total: int


@dataclass(frozen=True)
class TakePreview(TakeEvent):
    frame: Any  # HxWx3 uint8 numpy array


@dataclass(frozen=True)
class TakeLatents(TakeEvent):
    path: str  # denoising done, saved before the decode


@dataclass(frozen=True)
class TakeFinished(TakeEvent):
    path: str  # the clip


@dataclass(frozen=True)
class TakeFailed(TakeEvent):
    message: str  # in the user's words


@dataclass(frozen=True)
class TakeCancelled(TakeEvent):
    pass


TERMINAL_EVENTS = (TakeFinished, TakeFailed, TakeCancelled)


def is_terminal(event: TakeEvent) -> bool:
    return isinstance(event, TERMINAL_EVENTS)


# ---------------------------------------------------------------------------- running
def _default_generate(device: str) -> GenerateFn:
    def generate(request: GenerationRequest, cancel: CancelToken) -> Iterator[Any]:
        from sora_desktop.engine import registry  # lazy: pulls torch where the take runs

        return registry.generate(request, cancel, device=device)

    return generate


def _default_decode(device: str) -> DecodeFn:
    def decode(request: GenerationRequest, latents: Path) -> Any:
        from sora_desktop.engine import registry  # lazy: pulls torch where the take runs

        backend = registry.load_backend(request.model_id, device)
        return take_decode.decode_saved(backend, latents, request, low_memory=True)

    return decode


def run_take(
    run: TakeRun,
    token: CancelToken,
    emit: Callable[[TakeEvent], None],
    generate: GenerateFn | None = None,
    decode: DecodeFn | None = None,
    host: str = "",
) -> TakeEvent:
    """Run one take and report it through ``emit``; returns the terminal event (also emitted).

    ``generate`` / ``decode`` replace the registry's backend (tests, benchmarks); by default the
    model named by the request is loaded (and kept loaded) on ``run.device``.
    """
    jid = run.job_id
    if token.cancelled:  # cancelled while it waited
        return _end(emit, TakeCancelled(jid))
    req = run.request
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
    emit(TakeStarted(jid, host))
    latents = take_decode.latents_path(run.out_dir / f"{run.stem}.mp4")
    try:
        if run.decode_from is not None:
            clip = _decode_take(run, token, emit, decode or _default_decode(run.device))
        else:
            gen = generate or _default_generate(run.device)
            clip = _generate_take(run, token, emit, gen, latents)
    except StartFrameError as exc:  # its message says what to do
        return _end(emit, TakeFailed(jid, str(exc)))
    except take_decode.LatentsFileError as exc:
        return _end(emit, TakeFailed(jid, f"{exc}\nTry: generate the shot again."))
    except GenerationCancelled:
        log.info("generation job %s cancelled", jid)
        if run.decode_from is None:
            take_decode.discard_latents(latents)  # the user stopped it: nothing to keep
        return _end(emit, TakeCancelled(jid))
    except take_decode.DecodeKept as exc:  # the latents file stays for a retry
        if token.cancelled:
            if run.decode_from is None:
                take_decode.discard_latents(latents)
            return _end(emit, TakeCancelled(jid))
        return _end(emit, TakeFailed(jid, take_decode.kept_message(exc)))
    except Exception as exc:  # noqa: BLE001 - any job error becomes a message, never a crash
        log.exception("generation job %s failed (model %s)", jid, req.model_id)
        message = friendly_error(exc)
        if run.decode_from is None and latents.is_file():  # e.g. writing the clip failed
            message += (
                "\nThe denoising is kept with the take: “Retry in low memory” makes the "
                "clip without denoising again."
            )
        return _end(emit, TakeFailed(jid, message))
    log.info("generation job %s finished: %s", jid, clip)
    return _end(emit, TakeFinished(jid, str(clip)))


def _end(emit: Callable[[TakeEvent], None], event: TakeEvent) -> TakeEvent:
    emit(event)
    return event


def _generate_take(
    run: TakeRun,
    token: CancelToken,
    emit: Callable[[TakeEvent], None],
    generate: GenerateFn,
    latents: Path,
) -> Path:
    jid = run.job_id
    if run.start_from is not None:
        ensure_last_frame(run.start_from)
    if run.end_from is not None:
        ensure_first_frame(run.end_from)
    last_preview = 0.0
    shown = [""]

    def phase(name: str) -> None:  # each phase once, as it begins (studio/eta.py)
        if shown[0] != name:
            shown[0] = name
            emit(TakePhase(jid, name))

    phase("loading")

    def on_step(event: StepEvent) -> None:
        nonlocal last_preview
        phase("denoising")
        done = event.segment * event.total + event.step
        emit(TakeProgress(jid, done, event.segments * event.total))
        now = time.monotonic()
        final = done == event.segments * event.total
        if event.preview is not None and (now - last_preview >= PREVIEW_INTERVAL_S or final):
            last_preview = now
            emit(TakePreview(jid, event.preview))
        if final:  # after the last step's report: the backend decodes now
            phase("decoding")

    result = take_decode.run_generation(
        generate(run.request, token),
        latents,
        run.request,
        on_step=on_step,
        on_latents=lambda path: emit(TakeLatents(jid, str(path))),
    )
    token.raise_if_cancelled()
    if not isinstance(result, GenerationResult):
        raise RuntimeError("the model finished without producing a clip")
    phase("writing")
    return take_decode.finish_take(result, run.out_dir, run.stem, latents)


def _decode_take(
    run: TakeRun, token: CancelToken, emit: Callable[[TakeEvent], None], decode: DecodeFn
) -> Path:
    """Retry in low memory: decode the saved latents, no denoising. Cancel is honoured
    before and after the decode (the decode itself is one call); the latents stay."""
    assert run.decode_from is not None
    token.raise_if_cancelled()
    emit(TakePhase(run.job_id, "decoding"))
    result = decode(run.request, run.decode_from)
    token.raise_if_cancelled()
    emit(TakePhase(run.job_id, "writing"))
    return take_decode.finish_take(result, run.out_dir, run.stem, run.decode_from)


# ---------------------------------------------------------------------------- reporting
def apply_event(queue: ShotQueue, event: TakeEvent) -> None:
    """Hand one runner report to the studio queue (call on the thread that owns the queue).
    Previews are the viewer's business and are ignored here."""
    jid = event.job_id
    if isinstance(event, TakeStarted):
        queue.started(jid)
        if event.host:
            queue.hosts[jid] = event.host
    elif isinstance(event, TakePhase):
        queue.phase(jid, event.phase)
    elif isinstance(event, TakeProgress):
        queue.progress(jid, event.step, event.total)
    elif isinstance(event, TakeLatents):
        queue.latents_saved(jid, event.path)
    elif isinstance(event, TakeFinished):
        queue.finished(jid, event.path)
    elif isinstance(event, TakeFailed):
        queue.failed(jid, event.message)
    elif isinstance(event, TakeCancelled):
        queue.cancelled(jid)
