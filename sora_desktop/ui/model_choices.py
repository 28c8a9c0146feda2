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
    note = f"Built in · {w}×{h} · runs on any computer, no download"
    return ModelChoice(EMBEDDED_MODEL_ID, "Built-in tiny model", note, defaults, caps)


def unknown_choice(model_id: str) -> ModelChoice:
    """A model a project names that is not installed here."""
    return ModelChoice(model_id, model_id, "Not installed", {}, capabilities_for(model_id))


def model_choices(models_dir: str | None) -> list[ModelChoice]:
    """Installed video models; just the embedded one when the catalog is unavailable."""
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
        vram = e.min_vram_gb.get("balanced") or min(e.min_vram_gb.values(), default=0)
        note = f"Needs about {vram:g} GB of GPU memory (balanced) · {e.license}"
        caps = capabilities_from_entry(e)
        choices.append(ModelChoice(e.id, e.name, note, dict(e.defaults), caps))
    if not any(c.id == EMBEDDED_MODEL_ID for c in choices):
        choices.insert(0, embedded)
    return choices


def sizes_for(choice: ModelChoice) -> list[tuple[int, int, str]]:
    """(width, height, label) for the size list: the model's fixed sizes, or its default size,
    turned, and a square."""
    w = int(choice.defaults.get("width", choice.caps.default_size[0]))
    h = int(choice.defaults.get("height", choice.caps.default_size[1]))
    return [(a, b, f"{a} × {b}  ({shape})") for a, b, shape in choice.caps.size_options(w, h)]
