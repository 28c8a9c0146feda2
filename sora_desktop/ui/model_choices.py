"""The prompt editor's model list as plain data (no Qt): which models to offer, the sizes each
takes and its frame limit, all read from the model's capability record
(``core/capabilities.py``) instead of tables inside the widget."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sora_desktop.core.capabilities import (
    EMBEDDED_MODEL_ID,
    ModelCapabilities,
    capabilities_for,
    capabilities_from_entry,
    embedded_capabilities,
)
from sora_desktop.core.memory_modes import MODE_NAMES
from sora_desktop.core.request import GenerationRequest

log = logging.getLogger(__name__)
_REQUEST_FIELDS = GenerationRequest.__dataclass_fields__


@dataclass(frozen=True)
class ModelChoice:
    id: str
    name: str
    note: str
    defaults: dict
    caps: ModelCapabilities = field(default_factory=ModelCapabilities)

    @property
    def max_frames(self) -> int:
        return self.caps.max_frames


def embedded_choice() -> ModelChoice:
    caps = embedded_capabilities()
    w, h = caps.default_size
    defaults: dict[str, Any] = {
        "width": w,
        "height": h,
        "fps": caps.default_fps,
        "steps": _REQUEST_FIELDS["steps"].default,
        "guidance": _REQUEST_FIELDS["guidance"].default,
    }
    note = f"Built in · {w}×{h} · shapes, colours and motions only · no download"
    return ModelChoice(EMBEDDED_MODEL_ID, "Built-in tiny model", note, defaults, caps)


def unknown_choice(model_id: str) -> ModelChoice:
    """A model a project names that is not installed here (deleted, or made elsewhere): its
    catalog name when the catalog knows it, never only a raw id."""
    caps = capabilities_for(model_id)
    name = caps.name or model_id
    label = f"{name} (not installed)"
    return ModelChoice(model_id, label, f"{name} is not installed on this computer", {}, caps)


def model_choices(models_dir: str | None, memory_mode: str = "balanced") -> list[ModelChoice]:
    """Installed video models; just the embedded one when the catalog is unavailable. Each
    note gives the GPU memory the model needs in the user's ``memory_mode``."""
    embedded = embedded_choice()
    try:
        from sora_desktop.core.catalog import installed_models

        entries = installed_models(models_dir or "")
    except Exception as exc:  # noqa: BLE001 - a broken catalog must not stop the editor
        log.warning("model catalog unusable, offering the built-in model only: %s", exc)
        return [embedded]
    choices = []
    for e in entries:
        if e.kind != "video":
            continue
        if e.id == EMBEDDED_MODEL_ID:
            choices.append(embedded)
            continue
        note = f"{memory_note(e, memory_mode)} · {e.license}"
        caps = capabilities_from_entry(e)
        choices.append(ModelChoice(e.id, e.name, note, dict(e.defaults), caps))
    if not any(c.id == EMBEDDED_MODEL_ID for c in choices):
        choices.insert(0, embedded)
    return choices


def memory_note(entry: Any, memory_mode: str) -> str:
    """'Needs about 8.2 GB of GPU memory in Low VRAM mode' for the mode the user runs in."""
    mode = memory_mode if memory_mode in entry.min_vram_gb else "balanced"
    vram = entry.min_vram_gb.get(mode) or min(entry.min_vram_gb.values(), default=0)
    return f"Needs about {vram:g} GB of GPU memory in {MODE_NAMES.get(mode, mode)} mode"


def sizes_for(choice: ModelChoice) -> list[tuple[int, int, str]]:
    """(width, height, label) for the size list: the model's fixed sizes, or its default size,
    turned, and a square."""
    w = int(choice.defaults.get("width", choice.caps.default_size[0]))
    h = int(choice.defaults.get("height", choice.caps.default_size[1]))
    return [(a, b, f"{a} × {b}  ({shape})") for a, b, shape in choice.caps.size_options(w, h)]
