"""Which backend serves which model id, and a cache so a model stays loaded between jobs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from sora_desktop.core.request import EMBEDDED_MODEL_ID, GenerationRequest
from sora_desktop.engine.backend import Backend, CancelToken, GenerationEvent, GenerationResult

log = logging.getLogger(__name__)

BackendFactory = Callable[[str, str], Backend]  # (model_id, device) -> Backend

_factories: dict[str, BackendFactory] = {}
_loaded: dict[tuple[str, str], Backend] = {}
_lock = threading.Lock()


def register_backend(model_id: str, factory: BackendFactory) -> None:
    """Serve ``model_id`` with ``factory``; the open-weight catalog registers its entries here."""
    _factories[model_id] = factory


def _embedded_factory(model_id: str, device: str) -> Backend:
    from sora_desktop.engine.embedded.pipeline import EmbeddedBackend

    return EmbeddedBackend(device=device)


register_backend(EMBEDDED_MODEL_ID, _embedded_factory)


def resolve_factory(model_id: str) -> BackendFactory:
    if model_id in _factories:
        return _factories[model_id]
    try:  # open-weight models are looked up in the catalog lazily (issue: open-weight models)
        from sora_desktop.engine.diffusers_backend import factory_for
    except ImportError:
        factory_for = None
    if factory_for is not None:
        factory = factory_for(model_id)
        if factory is not None:
            return factory
    known = ", ".join(sorted(_factories))
    raise ValueError(f"model_id: {model_id!r} is not a known or installed model; known: {known}")


def load_backend(model_id: str = EMBEDDED_MODEL_ID, device: str = "auto") -> Backend:
    """Load (or reuse) the backend for ``model_id``; only one model is kept loaded at a time."""
    key = (model_id, device)
    with _lock:
        if key in _loaded:
            return _loaded[key]
        factory = resolve_factory(model_id)
        from sora_desktop.engine.music import unload_music  # one model in memory at a time

        unload_music()
        for other in list(_loaded):
            log.info("unloading model %s (%s)", *other)
            _loaded.pop(other).unload()
        start = time.monotonic()
        backend = factory(model_id, device)
        log.info("loaded model %s (%s) in %.1f s", model_id, device, time.monotonic() - start)
        _loaded[key] = backend
        return backend


def loaded_models() -> list[tuple[str, str]]:
    """The (model id, device) pairs loaded now."""
    with _lock:
        return list(_loaded)


def unload_all() -> None:
    with _lock:
        for key in list(_loaded):
            _loaded.pop(key).unload()


def generate(
    request: GenerationRequest,
    cancel: CancelToken | None = None,
    backend: Backend | None = None,
    device: str = "auto",
) -> Iterator[GenerationEvent]:
    """Step events, then one GenerationResult. Raises GenerationCancelled on cancel.

    A clip longer than the model's window is a long shot, made in overlapping windows
    (engine/long_shot.py); the embedded model chains its own segments."""
    backend = backend or load_backend(request.model_id, device)
    from sora_desktop.engine import long_shot

    if long_shot.is_long_shot(backend, request):
        yield from long_shot.generate_long_shot(backend, request, cancel)
    else:
        yield from backend.generate(request, cancel)


def decode_latents(
    request: GenerationRequest,
    latents: dict[str, np.ndarray],
    info: dict[str, Any],
    backend: Backend | None = None,
    low_memory: bool = True,
    device: str = "auto",
) -> GenerationResult:
    """Decode latents saved from ``generate``'s ``LatentsReady`` events again ("Retry in low
    memory"); a long shot's (``w<k>.<name>``) window by window."""
    backend = backend or load_backend(request.model_id, device)
    from sora_desktop.engine import long_shot

    if long_shot.is_long_shot(backend, request):
        return long_shot.decode_long_shot(backend, request, latents, info, low_memory)
    return backend.decode_latents(request, latents, info, low_memory)
