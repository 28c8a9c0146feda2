"""Will this job fit? The documented fit method (``core/fit.py``, docs/models.md) applied to a
request on this machine, and what to change when it does not.

One method, one place: the model manager's badges, ``sora-desktop models list``, ``generate``
and the queue's check all read ``core.fit``; this module only probes the machine and words the
advice (also after a real out-of-memory error). A verdict is advice: the caller may run anyway.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from sora_desktop.core.capabilities import capabilities_for
from sora_desktop.core.catalog import MEMORY_MODES, CatalogEntry, find_entry
from sora_desktop.core.fit import Machine, Shape, fit_for
from sora_desktop.core.memory_modes import MODE_NAMES
from sora_desktop.core.request import GenerationRequest

GB = 1024**3

log = logging.getLogger(__name__)


class OutOfMemory(RuntimeError):
    """A job ran out of GPU or system memory; the message says what to change."""


@dataclass(frozen=True)
class PreflightReport:
    ok: bool
    message: str
    suggestion: str = ""
    need_vram_gb: float = 0.0
    free_vram_gb: float | None = None
    need_ram_gb: float = 0.0
    available_ram_gb: float | None = None
    verdict: str = ""  # core.fit's: "fits" | "tight" | "too_big" | "no_gpu"

    def __str__(self) -> str:
        return f"{self.message} {self.suggestion}".strip()


@dataclass(frozen=True)
class MemoryInfo:
    """What the machine has now. ``gpu_free_gb`` is None when there is no CUDA GPU."""

    gpu_name: str | None
    gpu_free_gb: float | None
    gpu_total_gb: float | None
    ram_available_gb: float | None
    ram_total_gb: float | None


def read_ram() -> tuple[float | None, float | None]:
    """(available, total) system RAM in GB on every platform; (None, None) where unknown."""
    try:
        import psutil

        mem = psutil.virtual_memory()
    except Exception:  # noqa: BLE001 - an unknown figure, never a failed start-up
        log.warning("system memory could not be read", exc_info=True)
        return None, None
    return mem.available / GB, mem.total / GB


def probe_memory() -> MemoryInfo:
    """What the machine has. Where torch is not imported yet (the GUI process, which never
    imports it: the model runs in the worker process) the GPU is asked through
    ``engine.gpu_query`` (nvidia-smi) instead of importing torch for it."""
    avail, total = read_ram()
    name = free = gtotal = None
    if "torch" not in sys.modules:
        from sora_desktop.engine.gpu_query import query_gpu

        name, free, gtotal = query_gpu()
        return MemoryInfo(name, free, gtotal, avail, total)
    try:
        import torch

        if torch.cuda.is_available():
            free_b, total_b = torch.cuda.mem_get_info()
            free, gtotal = free_b / GB, total_b / GB
            name = torch.cuda.get_device_name()
    except Exception:  # a broken driver must not stop the app: report "no GPU"
        pass
    return MemoryInfo(name, free, gtotal, avail, total)


def machine_from_memory(mem: MemoryInfo, now: bool = True) -> Machine:
    """The fit method's machine from a probe: ``now`` True (a job about to start) counts the
    GPU memory free now, False (a listing) the card's total. RAM is the total: the method's
    need counts the OS's and the app's share itself."""
    vram = (mem.gpu_free_gb if now else mem.gpu_total_gb) or mem.gpu_free_gb or mem.gpu_total_gb
    ram = mem.ram_total_gb if mem.ram_total_gb is not None else mem.ram_available_gb
    return Machine(mem.gpu_name, vram if mem.gpu_free_gb is not None else None, ram)


def probe_machine(now: bool = False) -> Machine:
    return machine_from_memory(probe_memory(), now=now)


def request_shape(request: GenerationRequest) -> Shape:
    """The shape memory is needed for: one pass. A long shot is made window by window
    (engine/long_shot.py), so it needs one window's memory, not the whole shot's."""
    frames = min(request.num_frames, capabilities_for(request.model_id).frames_per_pass)
    return Shape(request.width, request.height, frames, request.steps, request.guidance)


def _smaller_size(
    entry: CatalogEntry, request: GenerationRequest, mode: str, machine: Machine
) -> str:
    """A size that would fit ``machine`` in ``mode`` at the request's frame count, as advice."""
    shape = request_shape(request)
    for tenth in range(9, 1, -1):  # 90 %, 80 % ... 20 % of the width and height
        s = tenth / 10
        w = max(32, int(request.width * s) // 32 * 32)
        h = max(32, int(request.height * s) // 32 * 32)
        smaller = Shape(w, h, shape.num_frames, shape.steps, shape.guidance)
        if fit_for(entry, machine, smaller, request.start_image is not None)[mode].runs:
            return f"Try {w}x{h} at {request.num_frames} frames, or about half the frames."
    return ""


def preflight(
    entry: CatalogEntry,
    request: GenerationRequest,
    memory_mode: str,
    memory: MemoryInfo | None = None,
) -> PreflightReport:
    """Say plainly whether ``request`` fits this machine in ``memory_mode``, and what to change.

    ``ok`` False is advice: the caller may still run the job (the UI's "Run anyway",
    ``generate --force``)."""
    if memory_mode not in MEMORY_MODES:
        raise ValueError(f"memory_mode: {memory_mode!r}; allowed {', '.join(MEMORY_MODES)}")
    if not entry.needs_download:
        need_ram = entry.min_ram_gb[memory_mode]
        return PreflightReport(
            True, f"{entry.name} runs on any computer.", need_ram_gb=need_ram, verdict="fits"
        )
    mem = memory or probe_memory()  # after the embedded case: probing imports torch
    machine = machine_from_memory(mem, now=True)
    verdicts = fit_for(
        entry, machine, request_shape(request), start_image=request.start_image is not None
    )
    v = verdicts[memory_mode]
    common = dict(
        need_vram_gb=v.need_vram_gb,
        free_vram_gb=mem.gpu_free_gb,
        need_ram_gb=v.need_ram_gb,
        available_ram_gb=mem.ram_available_gb,
        verdict=v.verdict,
    )
    if v.verdict == "no_gpu" or mem.gpu_free_gb is None:
        if entry.kind == "enhancer":
            return PreflightReport(True, f"{entry.name} will run on the CPU.", **common)
        return PreflightReport(
            False,
            f"No NVIDIA GPU was found, so {entry.name} would run on the CPU and take hours "
            "per clip.",
            "Use the embedded model on this computer, or a computer with a GPU.",
            **common,
        )
    gpu = mem.gpu_name or "the GPU"
    mode = MODE_NAMES[memory_mode]
    if v.runs:
        head = "Fits" if v.verdict == "fits" else "Tight fit"
        return PreflightReport(
            True,
            f"{head}: about {v.need_vram_gb:.1f} GB of GPU memory needed in {mode} mode, "
            f"{mem.gpu_free_gb:.1f} GB free on {gpu}.",
            "" if v.verdict == "fits" else v.reason,
            **common,
        )
    ram = machine.ram_gb
    if v.need_vram_gb <= mem.gpu_free_gb:  # the GPU would do; system RAM is what is short
        return PreflightReport(
            False,
            f"{entry.name} in {mode} mode needs about {v.need_ram_gb:.0f} GB of system RAM; "
            f"this computer has {ram or 0:.1f} GB.",
            "Close other programs or add RAM; every memory mode keeps the whole model in "
            "system RAM.",
            **common,
        )
    message = (
        f"Will not fit: {entry.name} at {request.width}x{request.height}, {request.num_frames} "
        f"frames needs about {v.need_vram_gb:.1f} GB of GPU memory in {mode} mode; "
        f"{mem.gpu_free_gb:.1f} GB is free on {gpu}."
    )
    others = [m for m in MEMORY_MODES if verdicts[m].runs]
    if others:
        m = next((m for m in others if verdicts[m].verdict == "fits"), others[0])
        suggestion = f"Choose {MODE_NAMES[m]} mode (about {verdicts[m].need_vram_gb:.1f} GB"
        suggestion += (
            "; slower)." if MEMORY_MODES.index(m) > MEMORY_MODES.index(memory_mode) else ")."
        )
    else:
        suggestion = _smaller_size(entry, request, "low_vram", machine) or (
            f"This GPU has too little memory for this model even in {MODE_NAMES['low_vram']} "
            "mode; pick a smaller model."
        )
        if suggestion.startswith("Try"):
            suggestion = f"Choose {MODE_NAMES['low_vram']} mode and a smaller size. {suggestion}"
    return PreflightReport(False, message, suggestion, **common)


def oom_advice(
    entry: CatalogEntry,
    request: GenerationRequest,
    memory_mode: str,
    memory: MemoryInfo | None = None,
) -> str:
    """What to tell the user after a real out-of-memory error."""
    mem = memory or probe_memory()
    head = f"{entry.name} ran out of memory in {MODE_NAMES.get(memory_mode, memory_mode)} mode."
    if mem.gpu_free_gb is not None and memory_mode in MEMORY_MODES:
        report = preflight(entry, request, memory_mode, mem)
        if not report.ok and report.suggestion:
            return f"{head} {report.suggestion}"
    order = list(MEMORY_MODES)
    later = order[order.index(memory_mode) + 1 :] if memory_mode in order else []
    if later:
        return (
            f"{head} Try: choose “{MODE_NAMES[later[0]]}” as the Memory setting in Settings, "
            "or a smaller Size or a shorter Duration."
        )
    return (
        f"{head} Try: a smaller Size or a shorter Duration, or close other programs that use "
        "the graphics card."
    )


def preflight_request(
    request: GenerationRequest, settings: object, memory: MemoryInfo | None = None
) -> PreflightReport | None:
    """Preflight for a queued request with the user's memory mode; None for unknown models."""
    try:
        entry = find_entry(request.model_id)
    except ValueError:
        return None
    if entry is None:
        return None
    mode = getattr(settings, "memory_mode", "balanced")
    return preflight(entry, request, mode, memory)
