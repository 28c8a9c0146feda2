"""Torch code, no Qt: backends, sampling, prompt enhancement, export.

Heavy modules (torch, the model) load only when a function that needs them is called, so
``import sora_desktop.engine`` stays cheap for the UI's start-up.
"""

from sora_desktop.engine.backend import (
    Backend,
    BackendCapabilities,
    CancelToken,
    GenerationCancelled,
    GenerationResult,
    StepEvent,
)

__all__ = [
    "Backend",
    "BackendCapabilities",
    "CancelToken",
    "GenerationCancelled",
    "GenerationResult",
    "StepEvent",
    "generate",
    "load_backend",
]


def generate(*args, **kwargs):
    from sora_desktop.engine.registry import generate as _generate

    return _generate(*args, **kwargs)


def load_backend(*args, **kwargs):
    from sora_desktop.engine.registry import load_backend as _load

    return _load(*args, **kwargs)
