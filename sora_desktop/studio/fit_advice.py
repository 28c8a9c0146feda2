"""Will this shot fit this machine? At generate time the answer is advice, never a wall: the
user may run it anyway, or switch to a memory mode that fits (issue 23: common machines were
refused in every mode, with no way past).

The figures and the verdict come from the memory pre-flight (``engine/preflight.py``); this
module turns a refusal into a ``FitAdvice`` that names a memory mode that would fit, if any.
Qt-free and torch-free at import (the probe imports torch only when it runs).
"""

from __future__ import annotations

from typing import Any

from sora_desktop.core.catalog import MEMORY_MODES, find_entry
from sora_desktop.core.memory_modes import MODE_NAMES
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.preflight import MemoryInfo, preflight, preflight_request
from sora_desktop.studio.shots import QueueError


class FitAdvice(QueueError):
    """A shot may not fit this machine's memory; the user may run it anyway.

    ``better_mode``: a memory mode in which it fits ('' when none does); ``mode``: the user's.
    """

    def __init__(self, message: str, suggestion: str, mode: str, better_mode: str = "") -> None:
        super().__init__(f"{message}\n{suggestion}".strip())
        self.message = message
        self.suggestion = suggestion
        self.mode = mode
        self.better_mode = better_mode

    @property
    def better_mode_name(self) -> str:
        return MODE_NAMES.get(self.better_mode, self.better_mode)


def fit_advice(
    request: GenerationRequest, settings: Any = None, memory: MemoryInfo | None = None
) -> FitAdvice | None:
    """None when the request fits (or its model is unknown); else the advice. ``memory`` None
    probes the machine (once)."""
    try:
        entry = find_entry(request.model_id)
    except ValueError:
        return None
    if entry is None:
        return None
    if memory is None and entry.needs_download:
        from sora_desktop.engine.preflight import probe_memory

        memory = probe_memory()
    report = preflight_request(request, settings, memory)
    if report is None or report.ok:
        return None
    mode = getattr(settings, "memory_mode", "balanced")
    better = ""
    if memory is not None and memory.gpu_free_gb is not None:
        runs = {}
        for other in MEMORY_MODES:
            if other != mode:
                other_report = preflight(entry, request, other, memory)
                if other_report.ok:
                    runs[other] = getattr(other_report, "verdict", "fits")
        # a mode that fits beats one that is tight; the faster first (MEMORY_MODES' order)
        better = next((m for m, v in runs.items() if v == "fits"), next(iter(runs), ""))
    return FitAdvice(report.message, report.suggestion, mode, better)
