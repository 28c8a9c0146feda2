"""Long shots (issue 17): a clip longer than a model's window, made in windows that overlap.

The plan (``plan_windows``): windows of ``capabilities().window`` frames; each window after the
first starts from the previous window's last frame (its start image), so two windows share
``WINDOW_OVERLAP`` = 1 frame (core/capabilities.py says why); the last window takes what is
left. The stitched clip drops each later window's copy of the shared frame, so it has exactly
``request.num_frames`` frames. Per window:

- the prompt in force at its first frame (``GenerationRequest.prompt_for_frame``: the main
  prompt, or the timed prompt that has taken over by then);
- its own seed, derived from the request's (``window_seed``; window 0 keeps the request's), so
  the same request gives the same frames;
- ``end_image`` only for the last window (Wan2GP #913: the end frame was ignored after the
  first window; passing it to every window would pull each of them towards the last frame);
- its colours matched to the first window's (engine/colour_match.py), measured on the shared
  frame, so nothing jumps where windows join and the next window starts from the matched frame.

Events: every ``StepEvent`` carries ``segment``/``segments`` so progress and ETA count all
windows; a ``LatentsReady`` is passed on with its window's index and its latents named
``w<k>.<name>`` (``decode_long_shot`` decodes such a set again). Cancel is honoured inside a
window (the backend checks it every step, and it is checked here after each event) and between
windows. The context frame is written as a PNG in a temporary folder removed afterwards.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sora_desktop.core.capabilities import WINDOW_OVERLAP, ModelCapabilities
from sora_desktop.core.errors import FieldError
from sora_desktop.core.request import EMBEDDED_MODEL_ID, MAX_SEED, GenerationRequest
from sora_desktop.engine.backend import (
    Backend,
    CancelToken,
    GenerationEvent,
    GenerationResult,
    LatentsReady,
    StepEvent,
)
from sora_desktop.engine.colour_match import ColourTransfer, match_window

log = logging.getLogger(__name__)

SEED_STRIDE = 1_000_003  # the embedded model's segments use the same stride
_WINDOW_KEY = re.compile(r"^w(\d+)\.(.+)$")


@dataclass(frozen=True)
class Window:
    """One pass of a long shot: frames ``start .. start + frames - 1`` of the clip."""

    index: int
    start: int
    frames: int
    seed: int
    prompt: str
    last: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "frames": self.frames,
            "seed": self.seed,
            "prompt": self.prompt,
        }


def window_seed(seed: int, index: int) -> int:
    """Window ``index``'s seed: the request's for window 0, a fixed stride on for the others."""
    return (seed + SEED_STRIDE * index) % (MAX_SEED + 1)


def plan_windows(request: GenerationRequest, window: int) -> list[Window]:
    """The windows of ``request`` for a model making ``window`` frames per pass (where they
    start is ``ModelCapabilities.window_starts``, the rule the request checks also read).

    With a k*m+1 window and a k*m+1 clip every window (the last one included) is k*m+1 too."""
    if window < WINDOW_OVERLAP + 1:
        raise ValueError(f"window: {window} frames cannot be chained (need at least 2)")
    starts = ModelCapabilities(window=window).window_starts(request.num_frames)
    plan = []
    for index, start in enumerate(starts):
        frames = min(window, request.num_frames - start)
        seed = window_seed(request.seed, index)
        prompt = request.prompt_for_frame(start)
        plan.append(Window(index, start, frames, seed, prompt, index == len(starts) - 1))
    return plan


def chains_itself(backend: Backend) -> bool:
    """A backend that makes long clips itself: the embedded model chains its own segments
    (a backend may say so with a ``chains_windows`` attribute)."""
    default = getattr(backend, "model_id", "") == EMBEDDED_MODEL_ID
    return bool(getattr(backend, "chains_windows", default))


def is_long_shot(backend: Backend, request: GenerationRequest) -> bool:
    """``request`` is longer than ``backend``'s window and the backend does not chain itself,
    or it carries timed prompts (a backend's own chaining knows only one prompt)."""
    caps = backend.capabilities()
    longer = caps.window > 0 and request.num_frames > caps.window
    return longer and (not chains_itself(backend) or bool(request.timed_prompts))


def context_changes(previous: np.ndarray, folder: Path, index: int) -> dict[str, Any]:
    """The request changes that condition window ``index`` on the window before it, whose
    matched frames are ``previous`` (T, H, W, 3) uint8: today its last frame as the start image
    (a backend that takes several context frames would get them here)."""
    import cv2

    frame = previous[-WINDOW_OVERLAP:][-1]
    path = folder / f"window-{index:03d}-start.png"
    ok, data = cv2.imencode(".png", np.ascontiguousarray(frame[..., ::-1]))  # RGB -> BGR
    if not ok:
        raise RuntimeError(f"could not encode the start frame of window {index + 1}")
    path.write_bytes(data.tobytes())  # not cv2.imwrite: it fails on non-ASCII paths on Windows
    return {"start_image": str(path)}


def window_request(
    request: GenerationRequest, win: Window, context: dict[str, Any]
) -> GenerationRequest:
    """The single-pass request of one window."""
    changes: dict[str, Any] = dict(
        num_frames=win.frames,
        seed=win.seed,
        prompt=win.prompt,
        timed_prompts=(),
        end_image=request.end_image if win.last else None,
        **context,
    )
    if win.prompt != request.prompt:  # the user's words before enhancement were the main prompt's
        changes["original_prompt"] = None
    return request.with_changes(**changes)


def _check_backend(backend: Backend, request: GenerationRequest) -> ModelCapabilities:
    caps = backend.capabilities()
    backend.check_request(request)  # the whole shot: its frame rule, size, longest shot
    if not caps.supports_start_image:
        name = caps.name or getattr(backend, "model_id", "this model")
        raise FieldError(
            "num_frames",
            f"{name} makes {caps.window} frames at a time and cannot continue from an image, "
            "so it cannot make a longer shot",
        )
    return caps


def generate_long_shot(
    backend: Backend,
    request: GenerationRequest,
    cancel: CancelToken | None = None,
    match_colours: bool = True,
) -> Iterator[GenerationEvent]:
    """Step events of every window, each window's ``LatentsReady``, then one
    ``GenerationResult`` with the stitched clip. Raises ``GenerationCancelled`` on cancel."""
    cancel = cancel or CancelToken()
    caps = _check_backend(backend, request)
    plan = plan_windows(request, caps.window)
    n = len(plan)
    log.info(
        "long shot: %d frames in %d windows of up to %d frames", request.num_frames, n, caps.window
    )
    folder = Path(tempfile.mkdtemp(prefix="sora-long-shot-"))
    pieces: list[np.ndarray] = []
    changes: list[ColourTransfer | None] = []
    audio: list[tuple[np.ndarray, int]] = []
    previous: np.ndarray | None = None
    result: GenerationResult | None = None
    try:
        for win in plan:
            cancel.raise_if_cancelled()
            context = {} if previous is None else context_changes(previous, folder, win.index)
            sub = window_request(request, win, context)
            result = yield from _run_window(backend, sub, cancel, win.index, n)
            frames = _exact_frames(result.frames, win)
            change = None
            if previous is not None and match_colours:
                frames, change = match_window(
                    frames, frames[:WINDOW_OVERLAP], previous[-WINDOW_OVERLAP:]
                )
            changes.append(change)
            pieces.append(frames if previous is None else frames[WINDOW_OVERLAP:])
            if result.audio is not None:
                audio.append((result.audio, result.sample_rate))
            previous = frames
        cancel.raise_if_cancelled()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert result is not None  # the plan has at least one window
    video = np.concatenate(pieces)
    info = dict(result.info)
    info["long_shot"] = {
        "windows": [w.to_json() for w in plan],
        "window_frames": caps.window,
        "overlap": WINDOW_OVERLAP,
        "colour_match": [c.to_json() if c is not None else None for c in changes],
    }
    sound, rate = _join_audio(audio, n, request.fps)
    yield GenerationResult(video, request.fps, request, info, sound, rate)


def _run_window(
    backend: Backend, request: GenerationRequest, cancel: CancelToken, index: int, n: int
):
    """Run one window, re-labelling its events; returns its GenerationResult."""
    events = backend.generate(request, cancel)
    result = None
    try:
        for event in events:
            if isinstance(event, StepEvent):
                yield replace(event, segment=index, segments=n)
            elif isinstance(event, LatentsReady):
                yield LatentsReady(
                    {f"w{index}.{k}": v for k, v in event.latents.items()},
                    {f"w{index}": event.info, "long_shot": {"windows": n}},
                    index,
                    n,
                )
            elif isinstance(event, GenerationResult):
                result = event
            cancel.raise_if_cancelled()  # a cancel while the consumer handled the event
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()  # stops the backend's own worker (it joins its thread)
    if result is None:
        raise RuntimeError(f"the model finished window {index + 1} of {n} without a clip")
    return result


def _exact_frames(frames: np.ndarray, win: Window) -> np.ndarray:
    if len(frames) < win.frames:
        raise RuntimeError(
            f"window {win.index + 1} came back with {len(frames)} frames instead of {win.frames}"
        )
    if len(frames) > win.frames:
        log.warning(
            "window %d came back with %d frames; using the first %d",
            win.index + 1,
            len(frames),
            win.frames,
        )
    return frames[: win.frames]


def _join_audio(
    audio: list[tuple[np.ndarray, int]], windows: int, fps: int
) -> tuple[np.ndarray | None, int]:
    """Each window's sound, without the shared frame's worth at the start of later windows."""
    if len(audio) != windows or len({rate for _, rate in audio}) != 1:
        if audio:
            log.warning("some windows of the long shot came without sound; the clip has none")
        return None, 0
    rate = audio[0][1]
    skip = round(rate * WINDOW_OVERLAP / fps)
    parts = [a if i == 0 else a[skip:] for i, (a, _) in enumerate(audio)]
    return np.concatenate(parts), rate


def decode_long_shot(
    backend: Backend,
    request: GenerationRequest,
    latents: dict[str, np.ndarray],
    info: dict[str, Any],
    low_memory: bool = True,
    match_colours: bool = True,
) -> GenerationResult:
    """Decode a long shot's saved latents (``w<k>.<name>``, from its ``LatentsReady`` events)
    again, window by window, and stitch and match them as ``generate_long_shot`` does."""
    caps = backend.capabilities()
    plan = plan_windows(request, caps.window)
    grouped: dict[int, dict[str, np.ndarray]] = {}
    for key, value in latents.items():
        m = _WINDOW_KEY.match(key)
        if m is None:
            raise ValueError(f"latents: {key!r} is not a long shot's window latent (w<k>.<name>)")
        grouped.setdefault(int(m.group(1)), {})[m.group(2)] = value
    if sorted(grouped) != list(range(len(plan))):
        raise ValueError(
            f"latents: saved windows {sorted(grouped)} do not match the shot's {len(plan)} windows"
        )
    pieces: list[np.ndarray] = []
    previous: np.ndarray | None = None
    result = None
    for win in plan:
        sub = window_request(request, win, {"start_image": None} if win.index else {})
        result = backend.decode_latents(
            sub, grouped[win.index], info.get(f"w{win.index}", {}), low_memory
        )
        frames = _exact_frames(result.frames, win)
        if previous is not None and match_colours:
            frames, _ = match_window(frames, frames[:WINDOW_OVERLAP], previous[-WINDOW_OVERLAP:])
        pieces.append(frames if previous is None else frames[WINDOW_OVERLAP:])
        previous = frames
    assert result is not None
    return GenerationResult(np.concatenate(pieces), request.fps, request, dict(result.info))
