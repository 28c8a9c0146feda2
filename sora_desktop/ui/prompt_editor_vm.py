"""The prompt editor's logic as plain functions (no Qt): presets, which field an error belongs to,
seconds to frames, building the request from the fields' values and checking each field alone.

``PromptEditor`` (``prompt_editor.py``) reads its widgets into ``EditorFields`` and forwards here;
the widget file only lays out widgets and shows what these return.
"""

from __future__ import annotations

from dataclasses import dataclass

from sora_desktop.core.errors import FieldError
from sora_desktop.core.labels import FIELD_LABELS, field_label
from sora_desktop.core.request import MAX_FPS, GenerationRequest
from sora_desktop.studio.model_rules import frame_rule_message
from sora_desktop.ui.model_choices import ModelChoice

# Presets change settings only (speed, quality, length); the prompt stays the user's. Each name
# says what it does.
PRESETS_TITLE = "Speed, quality and length"
PRESETS_HINT = "Set speed, quality or length in one click; your prompt is kept"
PRESETS: dict[str, dict] = {
    "Fastest, rough draft": {"steps": 10, "guidance": 3.0},
    "Balanced speed and quality": {"steps": 25, "guidance": 4.0},
    "Best quality, slowest": {"steps": 50, "guidance": 5.0},
    "2-second clip": {"seconds": 2.0},
    "8-second clip": {"seconds": 8.0},
    "Slow motion (4 frames a second)": {"fps": 4},
    "Follow the prompt more closely": {"guidance": 7.5},
}

# a request field (as FieldError names it) -> the editor input that shows its message
FIELD_NAMES = {
    "prompt": "prompt",
    "negative_prompt": "negative",
    "seed": "seed",
    "steps": "steps",
    "guidance": "guidance",
    "num_frames": "duration",
    "fps": "fps",
    "width": "size",
    "height": "size",
    "width/height": "size",
    "model_id": "model",
    "start_image": "prompt",
    "timed_prompts": "timed",
}


@dataclass(frozen=True)
class EditorFields:
    """What the editor's inputs hold right now (unchecked)."""

    prompt: str
    negative_prompt: str
    seed: int
    steps: int
    guidance: float
    fps: int
    seconds: float
    size: tuple[int, int] | None  # None: the size list has no entry chosen
    choice: ModelChoice
    timed_prompts: tuple[dict, ...] = ()  # {"at", "prompt"} rows of "Prompts over time"


def choice_for(choices: list[ModelChoice], model_id: object) -> ModelChoice:
    """The offered model with this id, else the first one."""
    return next((c for c in choices if c.id == model_id), choices[0])


def error_key(exc: ValueError) -> str:
    """The input a validation error belongs to: its field, or the prompt when unnamed."""
    return FIELD_NAMES.get(exc.field, "prompt") if isinstance(exc, FieldError) else "prompt"


def error_text(exc: ValueError) -> str:
    return exc.message if isinstance(exc, FieldError) else str(exc)


def frames_for(seconds: float, fps: int, choice: ModelChoice) -> int:
    """The number of frames a duration makes; raises FieldError("num_frames", ...) if the model
    cannot make that many (or that shape of count)."""
    frames = round(seconds * fps)
    if frames < 1:
        raise FieldError("num_frames", f"{seconds:g} s is too short; use at least one frame")
    if frames > choice.max_frames:
        raise FieldError(
            "num_frames",
            f"{seconds:g} s is {frames} frames, too long for {choice.name}; "
            f"allowed up to {choice.max_frames} frames "
            f"({choice.max_frames / fps:.1f} s at {fps} fps)",
        )
    rule = frame_rule_message(seconds, fps, frames, choice.caps)  # e.g. Wan: 4k+1 frames
    if rule:
        raise FieldError("num_frames", rule)
    return frames


def request_from_fields(
    base: GenerationRequest, f: EditorFields, user_words: str | None
) -> GenerationRequest:
    """The request the fields describe; raises FieldError("field", "...") if one is invalid."""
    fps = f.fps
    if fps < 1:
        raise FieldError("fps", f"{fps} is out of range; allowed 1 to {MAX_FPS}")
    frames = frames_for(f.seconds, fps, f.choice)
    size = f.size or f.choice.caps.default_size
    original = user_words if user_words and user_words != f.prompt else None
    request = base.with_changes(
        prompt=f.prompt,
        negative_prompt=f.negative_prompt,
        seed=f.seed,
        steps=f.steps,
        guidance=round(f.guidance, 2),
        num_frames=frames,
        fps=fps,
        width=size[0],
        height=size[1],
        model_id=f.choice.id,
        original_prompt=original,
        timed_prompts=f.timed_prompts,
    )
    f.choice.caps.check_timed_prompts(request)  # each one must start some window
    return request


def field_errors(base: GenerationRequest, f: EditorFields) -> list[ValueError]:
    """Every invalid field, each checked alone against the shot's valid settings, so the user
    sees all problems at once rather than one after another."""
    size = f.size or (base.width, base.height)
    singles = [
        {"prompt": f.prompt},
        {"negative_prompt": f.negative_prompt},
        {"seed": f.seed},
        {"steps": f.steps},
        {"guidance": round(f.guidance, 2)},
        {"fps": f.fps},
        {"width": size[0], "height": size[1]},
    ]
    errors: list[ValueError] = []
    for changes in singles:
        try:
            base.with_changes(**changes)
        except ValueError as exc:
            errors.append(exc)
    if f.fps >= 1:
        try:
            frames = frames_for(f.seconds, f.fps, f.choice)
        except ValueError as exc:
            errors.append(exc)
        else:  # timed prompts against the clip's new length
            try:
                timed = base.with_changes(
                    timed_prompts=f.timed_prompts, num_frames=frames, fps=f.fps
                )
                f.choice.caps.check_timed_prompts(timed)
            except FieldError as exc:
                if exc.field == "timed_prompts":
                    errors.append(exc)
    return errors


def commit_label(key: str) -> str:
    """The undo-menu label of a change to one field, by the field's label on screen
    ("Change frame rate", not "Change fps")."""
    if key in ("prompt", "negative_prompt"):
        return f"Edit {field_label(key).lower()}"
    field = {"duration": "num_frames", "size": "width"}.get(key, key)
    return f"Change {field_label(field).lower()}" if field in FIELD_LABELS else f"Change {key}"


def enhanced(words: str) -> str:
    """The prompt rewritten by the enhancer; FieldError("prompt", ...) says why it could not."""
    if not words.strip():
        raise FieldError("prompt", "write a few words first, then Enhance")
    try:
        from sora_desktop.engine.enhance import get_enhancer

        return get_enhancer().enhance(words)
    except Exception as exc:  # noqa: BLE001 - enhancement is optional; say why it failed
        raise FieldError("prompt", f"Enhance did not work ({exc})") from exc


def enhance_note(user_words: str | None, prompt: str) -> str | None:
    """The note under an enhanced prompt (None: the prompt is the user's own words)."""
    if not (bool(user_words) and user_words != prompt):
        return None
    short = user_words if len(user_words) < 80 else user_words[:77] + "…"
    return f"Enhanced — edit freely. Your words: “{short}”"


def model_defaults(choice: ModelChoice) -> tuple[tuple[int, int], dict[str, float]]:
    """What choosing a model puts in the fields: its size, and the fps, steps and guidance it
    recommends (only those it names; the others keep the user's values)."""
    d = choice.defaults
    w, h = choice.caps.default_size
    numbers: dict[str, float] = {}
    if "fps" in d:
        numbers["fps"] = int(d["fps"])
    if "steps" in d:
        numbers["steps"] = int(d["steps"])
    if "guidance" in d:
        numbers["guidance"] = float(d["guidance"])
    return (int(d.get("width", w)), int(d.get("height", h))), numbers
