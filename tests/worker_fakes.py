"""Picklable stand-ins for the worker process's backend (``WorkerProcessRunner(generate=...)``):
a module-level function travels to the spawned child by reference. The prompt picks what the
fake does; any other prompt runs the real registry backend."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

STUBBORN = "ignore the cancel"  # reports one step, then never looks at its cancel token
DECODE_FAILS = "decode runs out of memory"  # denoises for real, then the decode fails


def faked_generate(request: Any, cancel: Any) -> Iterator[Any]:
    from sora_desktop.engine import registry
    from sora_desktop.engine.backend import LatentsReady, StepEvent

    if STUBBORN in request.prompt:  # a model stuck in a long kernel
        yield StepEvent(1, request.steps)
        while True:
            time.sleep(1.0)
    for event in registry.generate(request, cancel):
        yield event
        if DECODE_FAILS in request.prompt and isinstance(event, LatentsReady):
            raise MemoryError("CPU out of memory in the VAE decode (test)")
