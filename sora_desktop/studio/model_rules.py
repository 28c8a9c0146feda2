"""A model's rules in the words the user works in: durations in seconds, not frame counts, and
whether a shot can continue from the previous one. Read by the prompt editor (before anything is
queued) and by the queue (a shot committed elsewhere, e.g. trimmed on the storyboard or loaded
from a file). Qt-free and torch-free; the rules themselves live in ``core/capabilities.py``."""

from __future__ import annotations

from sora_desktop.core.capabilities import ModelCapabilities


def valid_frames_near(frames: int, caps: ModelCapabilities) -> list[int]:
    """The frame counts the model accepts around ``frames`` (below, above), within its limit.
    ``[frames]`` when the count already fits the model's k*m+1 rule."""
    m = caps.frame_multiple
    if m <= 1 or (frames - 1) % m == 0:
        return [frames]
    below = (frames - 1) // m * m + 1
    above = below + m
    return [n for n in (below, above) if 1 <= n <= caps.max_frames]


def frame_rule_message(seconds: float, fps: int, frames: int, caps: ModelCapabilities) -> str:
    """'' when ``frames`` fits the model; else one sentence naming the nearest valid durations
    in seconds (with their frame counts), e.g. Wan at 2.00 s and 16 fps: 1.81 s or 2.06 s."""
    options = valid_frames_near(frames, caps)
    if options == [frames]:
        return ""
    name = caps.name or caps.model_id or "This model"
    uses = " or ".join(f"{n / fps:.2f} s ({n} frames)" for n in options)
    return (
        f"{seconds:.2f} s at {fps} fps is {frames} frames; {name} needs "
        f"{caps.frame_rule_words}: use {uses}"
    )


def nearest_valid_seconds(frames: int, fps: int, caps: ModelCapabilities) -> float | None:
    """The valid duration closest to ``frames`` (ties: the longer one); None when it fits."""
    options = valid_frames_near(frames, caps)
    if options == [frames] or not options:
        return None
    best = min(options, key=lambda n: (abs(n - frames), -n))
    return best / fps


def continue_block_reason(caps: ModelCapabilities) -> str:
    """'' when the model can continue a shot; else why not, as one sentence for the user."""
    if caps.supports_start_image:
        return ""
    name = caps.name or caps.model_id or "This model"
    return f"{name} cannot start from an image, so it cannot continue from the previous shot."
