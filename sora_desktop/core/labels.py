"""What each setting is called where the user sees it, defined once.

A ``FieldError`` names its field in code words (``num_frames``, ``guidance``, ``crossfade_frames``)
so a form can point at the right control; the user must read the label on screen instead
("Duration", "Guidance", "Cross-fade"). The prompt editor, Settings, the export dialog, the job
messages (``studio/messages.py``) and the CLI all read the labels from here; the CLI names its
option too (``--frames (Duration): …``).
"""

from __future__ import annotations

from sora_desktop.core.errors import FieldError

# field (as FieldError names it) -> the label on screen
FIELD_LABELS: dict[str, str] = {
    # a shot (the prompt editor)
    "prompt": "Prompt",
    "negative_prompt": "Negative prompt",
    "timed_prompts": "Prompts over time",
    "seed": "Seed",
    "steps": "Steps",
    "guidance": "Guidance",
    "num_frames": "Duration",
    "seconds": "Duration",
    "fps": "Frame rate",
    "width": "Size",
    "height": "Size",
    "width/height": "Size",
    "model_id": "Model",
    "model": "Model",
    "start_image": "Start image",
    "end_image": "End on the next shot",
    "original_prompt": "Prompt",
    "extra": "Model options",
    "request": "Shot settings",
    "continue_from_previous": "Continue from previous shot",
    "end_on_next_shot": "End on the next shot",
    "mute": "Mute shot's sound",
    # the export dialog
    "crossfade_frames": "Cross-fade",
    "upscale": "Size",
    "upscale_method": "Enlarge with",
    "quality": "Quality",
    "export_format": "Format",
    "export_fps": "Frame rate",
    "export_fit": "Other shapes",
    "watermark": "Watermark",
    "sidecar": "Settings file beside the export",
    "normalize_loudness": "Even out loudness",
    "clips": "Clips",
    "path": "Save to",
    # Settings
    "output_dir": "Exports",
    "models_dir": "Models",
    "hf_endpoint": "Mirror",
    "hf_token": "Access token",
    "ray_address": "Ray cluster",
    "memory_mode": "Memory",
    "device": "Device",
    "precision": "Precision",
    "autosave_seconds": "Autosave every",
    "ui_zoom": "Zoom",
    "speed": "Speed",
    "speed.cache": "Faster",
    "speed.attention": "Attention",
    "speed.fp8": "Store model weights in fp8",
    "speed.compile": "Compile the model",
    "provenance_cert": "Signing certificate",
    "provenance_key": "Signing key",
    # the soundtrack
    "audio": "Sound",
    "start": "Starts at",
    "trim_in": "Skip from the file's start",
    "duration": "Length",
    "volume_db": "Volume",
    "fade_in": "Fade in",
    "fade_out": "Fade out",
}

# field -> the CLI option that sets it (sora-desktop generate / batch)
CLI_OPTIONS: dict[str, str] = {
    "prompt": "PROMPT",
    "negative_prompt": "--negative",
    "timed_prompts": "--prompt-at",
    "seed": "--seed",
    "steps": "--steps",
    "guidance": "--guidance",
    "num_frames": "--frames",
    "seconds": "--seconds",
    "fps": "--fps",
    "width": "--size",
    "height": "--size",
    "width/height": "--size",
    "model_id": "--model",
    "model": "--model",
    "start_image": "--start-image",
    "crossfade_frames": "--crossfade",
    "upscale": "--upscale",
    "upscale_method": "--upscale-method",
    "quality": "--quality",
    "export_format": "--format",
    "path": "--output",
    "device": "--device",
}


def field_label(field: str) -> str:
    """The label on screen for ``field``; an unlisted one in words ("speed_x" -> "Speed x")."""
    label = FIELD_LABELS.get(field)
    if label:
        return label
    words = field.replace("_", " ").replace(".", ": ").strip()
    return words[:1].upper() + words[1:] if words else "This setting"


def in_words(exc: BaseException) -> str:
    """A validation error as the user reads it: "Duration: 2.3 s is too long …"."""
    if isinstance(exc, FieldError):
        return f"{field_label(exc.field)}: {exc.message}"
    return " ".join(str(exc).split())


def for_cli(exc: BaseException) -> str:
    """A validation error on the command line: the option and the label, then the message
    ("--frames (Duration): …"); a field with no option reads as in the app."""
    if isinstance(exc, FieldError) and not exc.field.startswith("-"):
        option = CLI_OPTIONS.get(exc.field)
        if option and option == option.upper():  # the positional PROMPT says it already
            return f"{option}: {exc.message}"
        if option:
            return f"{option} ({field_label(exc.field)}): {exc.message}"
        if exc.field in FIELD_LABELS:
            return in_words(exc)
        # a key of a file the user edits by hand (a checkpoint's config.json): its own name
    return " ".join(str(exc).split())


# A take's or shot's status as the storyboard card and the takes grid show it (one list, so
# the two never disagree). "generating" on a card shows its percentage instead.
STATUS_WORDS: dict[str, str] = {
    "empty": "Not generated",
    "queued": "Queued",
    "generating": "Generating",
    "done": "Done",
    "outdated": "Out of date",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "decode_failed": "Decode failed",
}


def status_words(status: str) -> str:
    """The on-screen word for a status (an unknown one as itself)."""
    return STATUS_WORDS.get(status, status)
