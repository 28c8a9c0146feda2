"""Picklable stand-ins for the worker process's backend (``WorkerProcessRunner(generate=...)``):
a module-level function travels to the spawned child by reference."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

STUBBORN = "ignore the cancel"  # a prompt with these words never stops by itself


def stubborn_or_real(request: Any, cancel: Any) -> Iterator[Any]:
    """A take that reports one step and then never looks at its cancel token again (a model
    stuck in a long kernel); any other prompt runs the real registry backend."""
    from sora_desktop.engine import registry
    from sora_desktop.engine.backend import StepEvent

    if STUBBORN not in request.prompt:
        yield from registry.generate(request, cancel)
        return
    yield StepEvent(1, request.steps)
    while True:
        time.sleep(1.0)
