"""A job's error in the user's words: what happened and what to try next.

One place for the wording, used wherever a take runs (the GUI's worker, the worker process, the
batch command, a render-farm node): the message travels to the GUI as text. The user is not a
programmer: no exception names, error numbers, code words (``num_frames``) or Python values;
settings are named by their label on screen (``core/labels.py``). The technical detail goes to
the log (the caller logs the exception), which Help → Open log folder shows.
"""

from __future__ import annotations

import errno

from sora_desktop.core.errors import FieldError, is_out_of_memory
from sora_desktop.core.labels import FIELD_LABELS, field_label, for_cli, in_words
from sora_desktop.core.memory_modes import MODE_NAMES
from sora_desktop.engine.preflight import OutOfMemory  # no torch at import

LOW = MODE_NAMES["low_vram"]
OUT_OF_MEMORY = (
    "Not enough memory for this shot (on the graphics card or in the computer).\n"
    f"Try: choose “{LOW}” in Settings, make the shot shorter or smaller, or close other "
    "programs, then generate again."
)
DEVICE_FAILED = (
    "The graphics card stopped with an error while making this shot.\n"
    "Try: generate again; if it keeps happening, restart Sora Desktop, update the graphics "
    "driver, or choose “Processor (CPU)” as the Device in Settings (slower)."
)
MODEL_FILES = (
    "The model's files are missing, damaged or not safe to load, so the model cannot be "
    "loaded.\n"
    "Try: open Models → Model manager and download the model again (or remove it), "
    "or pick another model."
)
DISK_FULL = (
    "The disk is full: the clip could not be saved.\n"
    "Try: free some disk space, then generate again."
)
NO_PERMISSION = (
    "Sora Desktop is not allowed to write to or read from the folder this shot uses.\n"
    "Try: save the project in a folder you own (File → Save As), or choose another "
    "Exports folder in Settings."
)
FILE_FAILED = (
    "A file this shot needs could not be written or read.\n"
    "Try: check that the disk is connected and has free space, then generate again."
)
UNKNOWN = (
    "Making this shot failed unexpectedly.\n"
    "Try: generate again; if it keeps failing, pick another model or make the shot shorter or "
    "smaller. Help → Open log folder has the details for a bug report."
)
CONTINUE_MISSING = (
    "This shot continues from the previous shot, but that shot has no finished clip "
    "to start from.\nTry: generate the previous shot first, or turn off "
    "“Continue from previous shot”."
)

# words in an exception that mean the graphics card (or its driver) failed, not the user's input
_DEVICE_WORDS = ("cuda", "cudnn", "cublas", "hip error", "mps backend", "metal", "device-side")
# words that mean a model's weight files could not be read
_MODEL_FILE_WORDS = (
    "safetensors",
    "checkpoint",
    "state_dict",
    "model_index",
    "header too large",
    "incomplete metadata",
    "deserializ",
)


def is_device_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from the GPU or its driver (CUDA, ROCm, Metal)."""
    low = f"{type(exc).__name__} {exc}".lower()
    return any(word in low for word in _DEVICE_WORDS)


def friendly_error(exc: BaseException, job: str = "shot") -> str:
    """A message a non-programmer can act on: what happened and what to try next. ``job``
    names what was being made ("shot", or "music" for Make music…)."""
    text = _friendly(exc)
    if job == "shot":
        return text
    for shot, other in (("This shot's", f"The {job}'s"), ("this shot", f"this {job}")):
        text = text.replace(shot, other)
    return text.replace("the shot", f"the {job}")


def _friendly(exc: BaseException) -> str:
    if isinstance(exc, OutOfMemory):
        # The backend's advice names this model, mode and size; a generic text would lose it.
        return str(exc).strip() or OUT_OF_MEMORY
    if is_out_of_memory(exc):
        return OUT_OF_MEMORY
    if isinstance(exc, FieldError):
        return _field_message(exc.field, exc.message)
    if isinstance(exc, OSError):
        return _file_message(exc)
    low = f"{type(exc).__name__} {exc}".lower()
    if any(word in low for word in _MODEL_FILE_WORDS):
        return MODEL_FILES
    if is_device_error(exc):
        return DEVICE_FAILED
    if isinstance(exc, ValueError):  # an older "field: message" ValueError
        field, _, rest = str(exc).partition(":")
        if field.strip() in FIELD_LABELS and rest.strip():
            return _field_message(field.strip(), rest.strip())
    return UNKNOWN


def plain_cause(exc: BaseException) -> str:
    """A short cause (no advice) for a sentence like "Decode failed: <cause>."."""
    if is_out_of_memory(exc):
        return "not enough memory"
    if is_device_error(exc):
        return "the graphics card stopped with an error"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "the disk is full"
    if isinstance(exc, FieldError):
        return f"{field_label(exc.field)}: {exc.message}"
    return "an unexpected error (the details are in the log file)"


def _field_message(field: str, message: str) -> str:
    if field == "end_image":
        return (
            f"{message}.\nTry: pick another model, or turn off “{field_label(field)}” in the "
            "shot's menu."
        )
    if field == "start_image" and "from an image" in message:
        # the model's rule ("cannot start from an image"), not a missing file
        return f"{message}.\nTry: pick another model, or change “Continue from previous shot”."
    if field == "start_image":  # the previous shot's last frame is missing or unreadable
        return CONTINUE_MISSING
    if field == "model":
        # the model folder was refused (pickle weights, links leading out, a broken config):
        # no setting of the shot can fix that; the detail (paths, file names) is in the log
        return MODEL_FILES
    if field.startswith("speed"):
        return (
            f"{field_label(field)} in Settings cannot be used here: {message}\n"
            "Try: turn it off in Settings, then generate again."
        )
    return _setting(field, message)


def _setting(field: str, message: str) -> str:
    label = field_label(field)
    return (
        f"This shot's {label} cannot be used: {message}\n"
        f"Try: change {label} in the shot's settings, then generate again."
    )


def _file_message(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return DISK_FULL
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) or isinstance(exc, PermissionError):
        return NO_PERMISSION
    low = str(exc).lower()
    if isinstance(exc, FileNotFoundError) or any(w in low for w in _MODEL_FILE_WORDS):
        return MODEL_FILES if _is_model_file(exc) else FILE_FAILED
    return FILE_FAILED


def _is_model_file(exc: OSError) -> bool:
    name = str(exc.filename or exc).lower()
    return any(w in name for w in ("model", ".safetensors", ".json", ".bin", "weights"))


# ---------------------------------------------------------------------------- the command line
def file_problem(exc: OSError) -> str:
    """An operating-system error as one plain line naming the file (no error number)."""
    name = exc.filename or "a file"
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return "the disk is full; free some space and try again"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) or isinstance(exc, PermissionError):
        return f"not allowed to write or read {name}; choose a folder you own"
    if exc.errno == errno.ENOENT or isinstance(exc, FileNotFoundError):
        return f"{name} was not found"
    reason = (exc.strerror or "").strip().lower()
    return f"{name} could not be read or written" + (f" ({reason})" if reason else "")


def command_line_error(exc: BaseException) -> str:
    """The CLI's ``error:`` line: the option and the on-screen label for a bad value
    (``core.labels.for_cli``), plain words for the engine's failures, one line."""
    if isinstance(exc, FieldError):
        return for_cli(exc)
    if isinstance(exc, OutOfMemory):
        return " ".join(str(exc).split())
    if isinstance(exc, ValueError) and not isinstance(exc, OSError):  # an older "field: …"
        field, _, rest = str(exc).partition(":")
        if field.strip() in FIELD_LABELS and rest.strip():
            return for_cli(FieldError(field.strip(), rest.strip()))
    if is_out_of_memory(exc):
        return (
            "not enough memory for this clip (graphics card or computer); try a smaller --size "
            f"or a shorter --seconds, or choose “{LOW}” in the app's Settings"
        )
    if isinstance(exc, OSError):
        return file_problem(exc)
    low = f"{type(exc).__name__} {exc}".lower()
    if any(word in low for word in _MODEL_FILE_WORDS):
        return (
            "the model's files are missing or damaged; download the model again "
            "(sora-desktop models download MODEL) or pick another with --model"
        )
    if is_device_error(exc):
        return (
            "the graphics card stopped with an error; try again, update the graphics driver, "
            "or use --device cpu (slower)"
        )
    return " ".join(str(exc).split()) or "something went wrong (see the log file)"


# ---------------------------------------------------------------------------- exports
EXPORT_UNKNOWN = (
    "Export failed unexpectedly.\nTry: export again, or choose another Format or folder; "
    "Help → Open log folder has the details for a bug report."
)


def export_error(exc: BaseException) -> str:
    """The Export dialog's failure line: the cause and a next step ("Try: …"), no error
    numbers or class names (the caller logs the exception)."""
    from sora_desktop.engine.export_files import ExportError, disk_problem

    if isinstance(exc, ExportError):  # the engine's words: "export to clip.mp4 failed: …"
        text = str(exc).strip()
        return text[:1].upper() + text[1:] if text else EXPORT_UNKNOWN
    if isinstance(exc, OSError):
        cause, step = disk_problem(exc)
        return f"Export failed: {cause}.\nTry: {step}, then export again."
    if isinstance(exc, FieldError):
        return (
            f"Export failed: {in_words(exc)}\nTry: change {field_label(exc.field)} in the "
            "Export dialog, then export again."
        )
    if is_out_of_memory(exc):
        return (
            "Export failed: not enough memory.\nTry: choose a smaller Size, or close other "
            "programs, then export again."
        )
    return EXPORT_UNKNOWN
