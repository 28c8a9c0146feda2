"""The memory modes and the words for them, in one table.

Error messages said "Low VRAM mode" while Settings said "Low memory — slower": a user told to
choose a mode could not find it. Settings, the first-run guide, the model manager, the
pre-flight check and the backends' advice all take the names from here.
"""

from __future__ import annotations

# fast = everything on the GPU; balanced = model CPU offload; low_vram = sequential offload
MEMORY_MODES: tuple[str, ...] = ("fast", "balanced", "low_vram")
MODE_NAMES: dict[str, str] = {"fast": "Fast", "balanced": "Balanced", "low_vram": "Low memory"}
# what Settings adds after the name: one line each, in plain words
MODE_HINTS: dict[str, str] = {
    "fast": "the whole model on the graphics card: quickest, needs the most video memory",
    "balanced": "parts move to the graphics card as needed: a little slower, less video memory",
    "low_vram": "small pieces at a time: much slower, for cards with little video memory",
}


def mode_name(mode: str) -> str:
    """The mode's name as Settings shows it (e.g. "Low memory")."""
    return MODE_NAMES.get(mode, mode)


def mode_label(mode: str) -> str:
    """The mode's entry in Settings' list (e.g. "Low memory — slower")."""
    hint = MODE_HINTS.get(mode)
    return f"{mode_name(mode)} — {hint}" if hint else mode_name(mode)


def next_lighter_mode(mode: str) -> str | None:
    """The mode that uses less GPU memory than ``mode`` (None for the lightest)."""
    i = MEMORY_MODES.index(mode) if mode in MEMORY_MODES else len(MEMORY_MODES)
    return MEMORY_MODES[i + 1] if i + 1 < len(MEMORY_MODES) else None
