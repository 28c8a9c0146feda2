"""Family adapters: one module per diffusers video family (see base.py for the interface).

``MODULES`` maps a ``PIPELINE_RULES`` key (core/capabilities.py) to the module whose
``ADAPTER`` class runs it. Modules are imported when a model of that family loads.
"""

from __future__ import annotations

import importlib

from sora_desktop.core.capabilities import rules_for
from sora_desktop.core.catalog import CatalogEntry
from sora_desktop.engine.families.base import Decoded, FamilyAdapter, Keyframes

__all__ = ["Decoded", "FamilyAdapter", "Keyframes", "MODULES", "adapter_for"]

MODULES: dict[str, str] = {
    "WanPipeline": "wan",
    "Wan2.2-TI2V": "wan",
    "WanVACEPipeline": "wan_vace",
    "LTXPipeline": "ltx",
    "LTX2Pipeline": "ltx2",
    "CogVideoXPipeline": "cogvideox",
    "HunyuanVideoPipeline": "hunyuan",
    "HunyuanVideo15Pipeline": "hunyuan15",
    "HunyuanVideoFramepackPipeline": "framepack",
    "Kandinsky5T2VPipeline": "kandinsky5",
    "SanaVideoPipeline": "sana",
}


def adapter_for(entry: CatalogEntry) -> FamilyAdapter:
    """The adapter that runs ``entry``; ValueError naming the pipeline when none can."""
    rules = rules_for(entry)
    key = entry.extra.get("rules") or entry.pipeline
    module = MODULES.get(key) if rules is not None else None
    if module is None:
        raise ValueError(f"pipeline: {entry.pipeline!r} has no diffusers backend in this version")
    try:
        mod = importlib.import_module(f"{__name__}.{module}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{module}":
            raise
        raise ValueError(
            f"pipeline: {entry.pipeline!r} has no diffusers backend in this version"
        ) from exc
    return mod.ADAPTER(entry, rules)
