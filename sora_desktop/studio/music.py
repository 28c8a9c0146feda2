"""Make music for the film: the use case (Qt-free, torch-free at import).

``run_music`` makes one piece of music from a ``MusicRequest`` with a catalog sound model
(``engine/music.py``) and reports it with the SAME events as a take (``studio/take_runner``):
``TakeStarted``, ``TakePhase`` ("loading", "denoising", "decoding", "writing"), ``TakeProgress``
per step, then exactly one of ``TakeFinished(path of the WAV)`` / ``TakeFailed(message)`` /
``TakeCancelled``, which it also returns. It never raises for a job's error. ``MusicRun`` is a
small frozen dataclass, so a worker process or a farm node can run it as it runs a ``TakeRun``.

The WAV is written atomically into the project's ``<stem>_media/audio/`` folder (where imported
sound goes), so a crash or a cancel leaves no half-written file. ``music_item`` turns the
finished file into a "generated" ``AudioItem`` carrying its request (to make it again), laid
from the film's start for the film's length with the ``--music`` fades; the caller adds it
(the app through an undo command, ``add_music`` for scripts).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sora_desktop.core import project as core_project
from sora_desktop.core.errors import FieldError
from sora_desktop.core.project import AudioItem, MusicRequest, Project, new_id
from sora_desktop.core.project.audio import MAX_NAME_CHARS
from sora_desktop.engine.backend import CancelToken, GenerationCancelled
from sora_desktop.studio.messages import friendly_error
from sora_desktop.studio.take_runner import (
    TakeCancelled,
    TakeEvent,
    TakeFailed,
    TakeFinished,
    TakePhase,
    TakeProgress,
    TakeStarted,
)

log = logging.getLogger(__name__)

# (run, cancel token, on_load(), on_step(done, total)) -> (samples (n, channels) float, rate)
MusicFn = Callable[..., Any]


@dataclass(frozen=True)
class MusicRun:
    """One music job: what to make and where the WAV goes (picklable)."""

    job_id: str
    request: MusicRequest
    out_path: Path  # the WAV, inside the project's audio media folder
    item_id: str
    file: str  # ``out_path`` relative to the project folder (the item's ``file``)
    models_dir: str = ""
    device: str = "auto"
    memory_mode: str = "balanced"


def music_run(
    project: Project,
    request: MusicRequest,
    models_dir: str | Path,
    device: str = "auto",
    memory_mode: str = "balanced",
) -> MusicRun:
    """A run for ``request`` whose WAV lands at ``<stem>_media/audio/<new id>.wav``."""
    item_id = new_id()
    rel = core_project.audio_relpath(project, item_id, ".wav")
    out = core_project.resolve_media(project, rel)
    return MusicRun(
        job_id=f"music-{item_id}",
        request=request,
        out_path=out,
        item_id=item_id,
        file=rel,
        models_dir=str(models_dir),
        device=device,
        memory_mode=memory_mode,
    )


def _default_music(run: MusicRun, token: CancelToken, on_load, on_step) -> tuple[Any, int]:
    from sora_desktop.engine.music import generate_music  # lazy: torch where the job runs

    result = generate_music(
        run.request,
        token,
        run.models_dir,
        run.device,
        run.memory_mode,
        on_load=on_load,
        on_step=on_step,
    )
    return result.samples, result.sample_rate


def _message(exc: BaseException) -> str:
    if isinstance(exc, FieldError) and exc.field in ("model", "seconds"):
        return exc.message  # already in plain words, with what to do
    return friendly_error(exc, job="music")


def run_music(
    run: MusicRun,
    token: CancelToken,
    emit: Callable[[TakeEvent], None],
    generate: MusicFn | None = None,
    host: str = "",
) -> TakeEvent:
    """Make the music of ``run`` and report it through ``emit``; returns the terminal event
    (also emitted). ``generate`` replaces the engine (tests)."""
    jid = run.job_id
    if token.cancelled:  # cancelled while it waited
        return _end(emit, TakeCancelled(jid))
    req = run.request
    log.info(
        "music job %s started: model %s, %.2f s, %d steps, seed %d",
        jid,
        req.model_id,
        req.seconds,
        req.steps,
        req.seed,
    )  # the prompt stays out of the log: it is the user's own text
    emit(TakeStarted(jid, host))
    shown = [""]

    def phase(name: str) -> None:
        if shown[0] != name:
            shown[0] = name
            emit(TakePhase(jid, name))

    def on_step(done: int, total: int) -> None:
        phase("denoising")
        emit(TakeProgress(jid, int(done), int(total)))
        if done >= total:
            phase("decoding")

    phase("loading")
    try:
        samples, rate = (generate or _default_music)(run, token, lambda: None, on_step)
        token.raise_if_cancelled()
        phase("writing")
        path = _write(run, samples, rate)
    except GenerationCancelled:
        log.info("music job %s cancelled", jid)
        return _end(emit, TakeCancelled(jid))
    except Exception as exc:  # noqa: BLE001 - any job error becomes a message, never a crash
        log.exception("music job %s failed (model %s)", jid, req.model_id)
        return _end(emit, TakeFailed(jid, _message(exc)))
    if token.cancelled:  # asked to stop while the file was written: leave nothing behind
        Path(path).unlink(missing_ok=True)
        return _end(emit, TakeCancelled(jid))
    log.info("music job %s finished: %s", jid, path)
    return _end(emit, TakeFinished(jid, str(path)))


def _end(emit: Callable[[TakeEvent], None], event: TakeEvent) -> TakeEvent:
    emit(event)
    return event


def _write(run: MusicRun, samples: Any, rate: int) -> Path:
    import numpy as np

    from sora_desktop.studio.audio import write_wav

    arr = np.asarray(samples, dtype=np.float32)
    want = int(run.request.seconds * rate)
    if arr.ndim != 2 or arr.shape[0] != want:
        raise RuntimeError(
            f"the music model made {arr.shape[0] if arr.ndim else 0} samples, not {want}"
        )
    run.out_path.parent.mkdir(parents=True, exist_ok=True)
    return write_wav(run.out_path, arr, rate)  # atomic: never a half-written WAV


# ---------------------------------------------------------------------------- the track
def _name(request: MusicRequest) -> str:
    text = " ".join(request.prompt.split())
    name = f"Music: {text}"
    return name if len(name) <= 80 else name[:79] + "…"


def music_item(project: Project, run: MusicRun, path: str | Path | None = None) -> AudioItem:
    """The finished WAV as a "generated" item carrying its request: from the film's start, for
    the film's length (or all of the music when there is no film yet), faded in and out."""
    import wave

    from sora_desktop.core.safe_paths import check_regular_file
    from sora_desktop.studio.soundtrack import film_seconds, music_fades

    wav = Path(path) if path is not None else run.out_path
    if wav != run.out_path:
        raise FieldError("audio", "the music file is not where this job writes it")
    check_regular_file(wav, "audio")
    with wave.open(str(wav), "rb") as w:  # our own 16-bit WAV: its exact length
        seconds = min(w.getnframes() / w.getframerate(), core_project.MAX_AUDIO_SECONDS)
    try:
        length = min(seconds, film_seconds(project))
    except FieldError:  # no film yet: all of the music
        length = seconds
    fade_in, fade_out = music_fades(length)
    return AudioItem(
        id=run.item_id,
        file=run.file,
        name=_name(run.request)[:MAX_NAME_CHARS],
        source_seconds=seconds,
        start=0.0,
        duration=length,
        fade_in=fade_in,
        fade_out=fade_out,
        kind="generated",
        request=run.request,
    )


def add_music(project: Project, run: MusicRun, path: str | Path | None = None) -> AudioItem:
    """``music_item`` added to the project (scripts and the command line)."""
    item = music_item(project, run, path)
    project.add_audio(item)
    return item
