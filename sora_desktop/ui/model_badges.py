"""What the model manager shows about each model, as plain text (no Qt): its capability badges
(text to video, start image, end image, audio, longest clip, frame rate) and its fit on this
computer per memory mode (verdict + estimated time), as LM Studio does for its models.

The facts come from ``core/capabilities.py`` (what a model can do) and ``core/fit.py`` (the one
fit method, shared with the CLI's ``models list --json`` and the pre-flight); nothing here
decides a figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sora_desktop.core.capabilities import capabilities_from_entry, rules_for
from sora_desktop.core.catalog import CatalogEntry
from sora_desktop.core.fit import FitVerdict, Machine, best_mode, fit_for
from sora_desktop.core.memory_modes import MEMORY_MODES, mode_name
from sora_desktop.engine import preflight  # no torch at import

VERDICT_WORDS = {
    "fits": "Fits",
    "tight": "Tight",
    "too_big": "Too big",
    "no_gpu": "No GPU",
}
VERDICT_MARKS = {"fits": "✓", "tight": "≈", "too_big": "✗", "no_gpu": "✗"}


@dataclass(frozen=True)
class Capabilities:
    """A model's badges: what it can make and take."""

    text_to_video: bool
    start_image: bool
    end_image: bool
    audio: bool
    max_seconds: float
    fps: int

    def badges(self) -> list[str]:
        out = []
        if self.text_to_video:
            out.append("Text→video")
        if self.start_image:
            out.append("Start image")
        if self.end_image:
            out.append("End image")
        if self.audio:
            out.append("Audio")
        secs = self.max_seconds
        out.append(f"≤ {secs:.0f} s" if secs >= 10 else f"≤ {secs:.1f} s")
        out.append(f"{self.fps} fps")
        return out


def capabilities(entry: CatalogEntry) -> Capabilities | None:
    """The badges of a video model (None for a prompt enhancer)."""
    if entry.kind != "video":
        return None
    caps = capabilities_from_entry(entry)
    rules = rules_for(entry) if entry.needs_download else None
    fps = max(1, caps.default_fps)
    return Capabilities(
        text_to_video=rules.text_to_video if rules is not None else True,
        start_image=caps.supports_start_image,
        end_image=caps.supports_end_image or bool(rules is not None and rules.end_image),
        audio=caps.supports_audio or bool(rules is not None and rules.audio),
        max_seconds=caps.max_frames / fps,
        fps=fps,
    )


def machine_from_memory(memory: Any) -> Machine:
    """The fit method's machine from the memory probe (a ``MemoryInfo``): the GPU's total
    memory (the model manager advises for the computer, not for this minute's free memory)."""
    if memory is None:
        return Machine(None, None, None)
    return preflight.machine_from_memory(memory, now=False)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 5400:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def verdict_text(v: FitVerdict, with_time: bool = True) -> str:
    """'✓ Fits · about 17 min' (the estimate only where the model runs)."""
    text = f"{VERDICT_MARKS[v.verdict]} {VERDICT_WORDS[v.verdict]}"
    if with_time and v.runs and v.seconds is not None:
        text += f" · {format_seconds(v.seconds)}"
    return text


@dataclass(frozen=True)
class ModelFit:
    """One model on this computer: a verdict per memory mode and the user's mode."""

    entry: CatalogEntry
    verdicts: dict[str, FitVerdict]
    mode: str
    best: str | None

    @property
    def current(self) -> FitVerdict:
        return self.verdicts[self.mode]

    def cell(self) -> str:
        """The table cell: the user's mode's verdict and time."""
        if not self.entry.needs_download:
            return "✓ Runs on any computer"
        return verdict_text(self.current)

    def per_mode(self) -> str:
        """'Fast: ✗ Too big · Balanced: ≈ Tight · about 17 min · Low memory: ✓ Fits …'."""
        return "  ·  ".join(
            f"{mode_name(m)}: {verdict_text(self.verdicts[m])}" for m in MEMORY_MODES
        )

    def why_not(self) -> str:
        """'' when the user's mode runs; else one sentence on why, the mode that would run,
        and that the model can still be downloaded."""
        if self.current.runs:
            return ""
        text = self.current.reason
        if self.best is not None and self.best != self.mode:
            text += f" It runs in {mode_name(self.best)} mode (Settings → Memory mode)."
        return f"{text} You can still download it, for later or another computer."


def model_fit(entry: CatalogEntry, machine: Machine, mode: str) -> ModelFit:
    mode = mode if mode in MEMORY_MODES else "balanced"
    return ModelFit(entry, fit_for(entry, machine), mode, best_mode(entry, machine))


def machine_text(machine: Machine) -> str:
    """'This computer: NVIDIA RTX 4070 (12 GB), 32 GB of memory'."""
    ram = f"{machine.ram_gb:.0f} GB of memory" if machine.ram_gb else "unknown memory"
    if machine.vram_gb is None:
        return f"This computer: no NVIDIA GPU, {ram}"
    return f"This computer: {machine.gpu_name or 'a GPU'} ({machine.vram_gb:.0f} GB), {ram}"
