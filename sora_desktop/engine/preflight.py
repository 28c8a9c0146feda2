"""Will this job fit? Compare a request with the GPU's free memory and the system RAM.

The catalog gives each model's memory need per mode at its default size. The need at another
size is a rough estimate: 60 % of the figure is taken as fixed (weights, text encoder) and 40 %
as growing with pixels x frames (activations, VAE decode). That split is an approximation, so
the report says "about". The same advice is used when a job really runs out of memory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sora_desktop.core.catalog import MEMORY_MODES, CatalogEntry, find_entry
from sora_desktop.core.memory_modes import MODE_NAMES
from sora_desktop.core.request import GenerationRequest

FIXED_SHARE = 0.6
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
    avail, total = read_ram()
    name = free = gtotal = None
    try:
        import torch

        if torch.cuda.is_available():
            free_b, total_b = torch.cuda.mem_get_info()
            free, gtotal = free_b / GB, total_b / GB
            name = torch.cuda.get_device_name()
    except Exception:  # a broken driver must not stop the app: report "no GPU"
        pass
    return MemoryInfo(name, free, gtotal, avail, total)


def scaled_need(
    entry: CatalogEntry, request: GenerationRequest, table: dict[str, float], mode: str
) -> float:
    base = table[mode]
    d = entry.defaults
    ref = max(1, int(d.get("width", 1)) * int(d.get("height", 1)) * int(d.get("num_frames", 1)))
    ratio = request.width * request.height * request.num_frames / ref
    return base * (FIXED_SHARE + (1 - FIXED_SHARE) * ratio)


def _smaller_size(entry: CatalogEntry, request: GenerationRequest, mode: str, free: float) -> str:
    """A size/frame count that would fit ``free`` GB in ``mode``, as advice text."""
    base = entry.min_vram_gb[mode]
    fixed = base * FIXED_SHARE
    if free <= fixed:
        return ""
    d = entry.defaults
    ref = int(d["width"]) * int(d["height"]) * int(d["num_frames"])
    max_ratio = (free - fixed) / (base * (1 - FIXED_SHARE))
    cur = request.width * request.height * request.num_frames / ref
    if cur <= max_ratio:
        return ""
    scale = (max_ratio / cur) ** 0.5
    w = max(16, int(request.width * scale) // 32 * 32)
    h = max(16, int(request.height * scale) // 32 * 32)
    return f"Try {w}x{h} at {request.num_frames} frames, or about half the frames."


def preflight(
    entry: CatalogEntry,
    request: GenerationRequest,
    memory_mode: str,
    memory: MemoryInfo | None = None,
) -> PreflightReport:
    """Say plainly whether ``request`` fits this machine in ``memory_mode``, and what to change."""
    if memory_mode not in MEMORY_MODES:
        raise ValueError(f"memory_mode: {memory_mode!r}; allowed {', '.join(MEMORY_MODES)}")
    need_ram = entry.min_ram_gb[memory_mode]
    if not entry.needs_download:
        return PreflightReport(True, f"{entry.name} runs on any computer.", need_ram_gb=need_ram)
    mem = memory or probe_memory()  # after the embedded case: probing imports torch
    need = scaled_need(entry, request, entry.min_vram_gb, memory_mode)
    common = dict(
        need_vram_gb=need,
        free_vram_gb=mem.gpu_free_gb,
        need_ram_gb=need_ram,
        available_ram_gb=mem.ram_available_gb,
    )
    if mem.gpu_free_gb is None:
        if entry.kind == "enhancer":
            return PreflightReport(True, f"{entry.name} will run on the CPU.", **common)
        return PreflightReport(
            False,
            f"No NVIDIA GPU was found, so {entry.name} would run on the CPU and take hours "
            "per clip.",
            "Use the embedded model on this computer, or a computer with a GPU.",
            **common,
        )
    ram = mem.ram_available_gb
    if ram is not None and ram < need_ram:
        better = [m for m in MEMORY_MODES if entry.min_ram_gb[m] <= ram]
        hint = (
            f"Choose {MODE_NAMES[better[0]]} mode, which keeps weights on the GPU, or close "
            "other programs."
            if better
            else "Close other programs or add RAM; this model cannot run with so little memory."
        )
        return PreflightReport(
            False,
            f"{entry.name} in {MODE_NAMES[memory_mode]} mode needs about {need_ram:.0f} GB of "
            f"system RAM; {ram:.1f} GB is available.",
            hint,
            **common,
        )
    gpu = mem.gpu_name or "the GPU"
    if need <= mem.gpu_free_gb:
        return PreflightReport(
            True,
            f"Fits: about {need:.1f} GB of GPU memory needed in {MODE_NAMES[memory_mode]} mode, "
            f"{mem.gpu_free_gb:.1f} GB free on {gpu}.",
            **common,
        )
    fits = [
        m
        for m in MEMORY_MODES
        if scaled_need(entry, request, entry.min_vram_gb, m) <= mem.gpu_free_gb
        and (ram is None or entry.min_ram_gb[m] <= ram)
    ]
    message = (
        f"Will not fit: {entry.name} at {request.width}x{request.height}, {request.num_frames} "
        f"frames needs about {need:.1f} GB of GPU memory in {MODE_NAMES[memory_mode]} mode; "
        f"{mem.gpu_free_gb:.1f} GB is free on {gpu}."
    )
    if fits:
        m = fits[0]
        need_m = scaled_need(entry, request, entry.min_vram_gb, m)
        suggestion = f"Choose {MODE_NAMES[m]} mode (about {need_m:.1f} GB; slower)."
    else:
        suggestion = _smaller_size(entry, request, "low_vram", mem.gpu_free_gb) or (
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
    if mem.gpu_free_gb is not None:
        report = preflight(entry, request, memory_mode, mem)
        if not report.ok and report.suggestion:
            return f"{head} {report.suggestion}"
    order = list(MEMORY_MODES)
    later = order[order.index(memory_mode) + 1 :] if memory_mode in order else []
    if later:
        return f"{head} Choose {MODE_NAMES[later[0]]} mode, or a smaller size or fewer frames."
    return f"{head} Use a smaller size or fewer frames, or close other programs using the GPU."


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
