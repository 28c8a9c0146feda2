"""A job's error in the user's words: what happened and what to try next.

One place for the wording, used wherever a take runs (the GUI's worker, the worker process, the
batch command, a render-farm node): the message travels to the GUI as text.
"""

from __future__ import annotations

from sora_desktop.core.errors import FieldError, is_out_of_memory
from sora_desktop.core.memory_modes import MODE_NAMES
from sora_desktop.engine.preflight import OutOfMemory  # no torch at import


def friendly_error(exc: BaseException) -> str:
    """A message a non-programmer can act on: what happened and what to try next."""
    text = str(exc).strip() or type(exc).__name__
    low = f"{type(exc).__name__} {text}".lower()
    if isinstance(exc, OutOfMemory):
        # The backend's advice names this model, mode and size; a generic text would lose it.
        return text
    if is_out_of_memory(exc):
        return (
            "The model ran out of memory.\n"
            "Try: a shorter duration, fewer steps or a smaller size; choose "
            f"'{MODE_NAMES['low_vram']}' in Settings; or close other programs and try again."
        )
    field = exc.field if isinstance(exc, FieldError) else None
    if field == "start_image":
        return (
            "This shot continues from the previous shot, but that shot has no finished clip "
            "to start from.\nTry: generate the previous shot first, or turn off "
            "'Continue from previous shot'."
        )
    if field == "model":
        # the model folder was refused (pickle weights, links leading out, a broken config):
        # no setting of the shot can fix that
        return (
            f"The model files cannot be used ({exc.message}).\n"
            "Try: open Models and re-download or remove the model, or pick another model."
        )
    if isinstance(exc, ValueError) and ":" in text.split("\n")[0]:
        return (
            f"This shot's settings cannot be used: {text}\n"
            "Change the setting it names and try again."
        )
    if isinstance(exc, FileNotFoundError) or "safetensors" in low or "checkpoint" in low:
        return (
            f"The model files could not be read ({text}).\n"
            "Try: open Models and re-download or remove the model, or pick another model."
        )
    if isinstance(exc, OSError):
        return (
            f"A file could not be written or read ({text}).\n"
            "Try: check free disk space and the output folder in Settings."
        )
    return (
        f"Generation failed: {text}\n"
        "Try again; if it keeps failing, pick another model or lower the settings."
    )
