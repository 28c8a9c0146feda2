"""The one request object that carries everything needed to reproduce a clip."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from sora_desktop.core.capabilities import (  # noqa: F401 - MAX_* and the id are imported from here
    EMBEDDED_FPS,
    EMBEDDED_MODEL_ID,
    EMBEDDED_SIZE,
    EMBEDDED_WINDOW,
    MAX_FPS,
    MAX_FRAMES,
    SIZE_MULTIPLE,
)
from sora_desktop.core.errors import FieldError

MAX_PROMPT_CHARS = 2000
MAX_SEED = 2**32 - 1
REQUEST_VERSION = 1
MAX_EXTRA_DEPTH = 32
MAX_PATH_CHARS = 4096
MAX_TIMED_PROMPTS = 64
EMPTY_PROMPT = "must not be empty; describe the scene you want to see"


@dataclass(frozen=True)
class TimedPrompt:
    """A prompt that takes over ``at`` seconds into the shot (issue 17, long shots).

    The rule, read everywhere through ``GenerationRequest.prompt_for_frame``: the main
    ``prompt`` holds from 0 s; a timed prompt takes over at the frame nearest its time
    (``round(at * fps)``); a long shot's window uses the prompt in force at its first frame, so
    a time that falls inside a window takes effect from the next window on.
    """

    at: float
    prompt: str


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a backend needs to produce one clip, and nothing else.

    ``num_frames`` and ``fps`` fix the duration; ``width``/``height`` are the size the model
    generates at (upscaling for display is an export option, not part of the request).
    ``start_image`` is a path to an image the clip must start from (storyboard continuity);
    ``end_image`` one it must end on (a keyframe, e.g. the next shot's first frame).
    """

    prompt: str
    negative_prompt: str = ""
    seed: int = 0
    steps: int = 25
    guidance: float = 4.0
    # the defaults are the embedded model's (core/capabilities.py)
    num_frames: int = EMBEDDED_WINDOW
    fps: int = EMBEDDED_FPS
    width: int = EMBEDDED_SIZE
    height: int = EMBEDDED_SIZE
    model_id: str = EMBEDDED_MODEL_ID
    start_image: str | None = None
    # The user's words before prompt enhancement, kept so the edit history is reproducible.
    original_prompt: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    end_image: str | None = None
    # [{"at": seconds, "prompt": text}, ...], times ascending inside the clip (TimedPrompt)
    timed_prompts: tuple[TimedPrompt, ...] = ()

    def __post_init__(self) -> None:
        # saved JSON gives a list of {"at", "prompt"} objects: the same values as TimedPrompts
        object.__setattr__(self, "timed_prompts", _as_timed_prompts(self.timed_prompts))
        # A new shot's prompt is "" until the user writes it (the box shows a hint); such a
        # request is stored, never generated: ``validate`` (run before every take) refuses it.
        self.validate(unwritten_ok=self.prompt == "")

    # ------------------------------------------------------------------ validation
    def validate(self, unwritten_ok: bool = False) -> None:
        """Every rule; ``unwritten_ok``: all but "the prompt is written" (a new shot's)."""
        _check_text("prompt", self.prompt)
        _check_text("negative_prompt", self.negative_prompt)
        if not self.prompt.strip() and not (unwritten_ok and self.prompt == ""):
            raise FieldError("prompt", EMPTY_PROMPT)
        if len(self.prompt) > MAX_PROMPT_CHARS:
            raise FieldError(
                "prompt",
                f"{len(self.prompt)} characters is too long; "
                f"the limit is {MAX_PROMPT_CHARS} characters",
            )
        if len(self.negative_prompt) > MAX_PROMPT_CHARS:
            raise FieldError(
                "negative_prompt",
                f"{len(self.negative_prompt)} characters is too long; "
                f"the limit is {MAX_PROMPT_CHARS} characters",
            )
        _check_int_range("seed", self.seed, 0, MAX_SEED)
        _check_int_range("steps", self.steps, 1, 200)
        _check_type("guidance", self.guidance, (int, float))
        try:
            guidance = float(self.guidance)
        except OverflowError:  # an int too large for a float
            guidance = math.inf
        if not 0.0 <= guidance <= 30.0:  # also false for NaN
            raise FieldError(
                "guidance", f"{_show(self.guidance)} is out of range; allowed 0.0 to 30.0"
            )
        _check_int_range("num_frames", self.num_frames, 1, MAX_FRAMES)
        _check_int_range("fps", self.fps, 1, MAX_FPS)
        for name in ("width", "height"):
            value = getattr(self, name)
            _check_int_range(name, value, SIZE_MULTIPLE, 4096)
            if value % SIZE_MULTIPLE:
                m = SIZE_MULTIPLE
                raise FieldError(
                    name, f"{value} is not a multiple of {m}; use e.g. {value // m * m or m}"
                )
        _check_text("model_id", self.model_id, MAX_PATH_CHARS)
        if not self.model_id:
            raise FieldError("model_id", "must name a model")
        for name in ("start_image", "end_image"):
            value = getattr(self, name)
            if value is not None:
                _check_text(name, value, MAX_PATH_CHARS)
                if not value or "\0" in value:
                    raise FieldError(name, "must be the path of an image file")
        if self.original_prompt is not None:
            _check_text("original_prompt", self.original_prompt)
        _check_extra(self.extra)
        _check_timed_prompts(self.timed_prompts, self.num_frames, self.fps)

    # ------------------------------------------------------------------ helpers
    @property
    def seconds(self) -> float:
        return self.num_frames / self.fps

    def with_changes(self, **changes: Any) -> GenerationRequest:
        return replace(self, **changes)

    def prompt_for_frame(self, frame: int) -> str:
        """The prompt in force at ``frame`` (0-based): the last timed prompt that has taken
        over by then, else the main prompt (the rule is on ``TimedPrompt``)."""
        text = self.prompt
        for timed in self.timed_prompts:
            if round(timed.at * self.fps) > frame:
                break
            text = timed.prompt
        return text

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["timed_prompts"] = [asdict(t) for t in self.timed_prompts]
        data["version"] = REQUEST_VERSION
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationRequest:
        if not isinstance(data, dict):
            raise FieldError("request", "the saved settings are not a list of named values")
        version = data.get("version", REQUEST_VERSION)
        if not isinstance(version, int) or version > REQUEST_VERSION:
            raise FieldError(
                "request",
                f"version {_show(version)} is newer than this program understands "
                f"(up to {REQUEST_VERSION}); update Sora Desktop",
            )
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if "prompt" not in kwargs:
            raise FieldError("request", "the saved settings have no prompt")
        try:
            return cls(**kwargs)
        except TypeError as exc:  # wrong field types that the dataclass itself refuses
            raise FieldError(
                "request", "the saved settings hold a value of the wrong kind"
            ) from exc

    @classmethod
    def from_json(cls, text: str) -> GenerationRequest:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FieldError(
                "request", "the saved settings are damaged (not readable text)"
            ) from exc
        except RecursionError as exc:
            raise FieldError(
                "request", "the saved settings are damaged (nested too deeply)"
            ) from exc
        except (ValueError, TypeError) as exc:  # e.g. a number with more than 4300 digits
            raise FieldError(
                "request", "the saved settings are damaged (a value is unusable)"
            ) from exc
        return cls.from_dict(data)


def frames_for_seconds(seconds: Any, fps: Any) -> int:
    """Frames for a duration at a frame rate, with the same limits as a request.

    ``ValueError`` (never ``OverflowError``) for NaN, infinity, a non-positive or absurd
    duration (``1e308`` seconds overflows ``seconds * fps``), or a frame rate out of range.
    """
    _check_int_range("fps", fps, 1, MAX_FPS)
    _check_type("seconds", seconds, (int, float))
    try:
        value = float(seconds)
    except OverflowError:  # an int too large for a float
        value = math.inf
    if not math.isfinite(value) or value <= 0:
        raise FieldError("seconds", f"{_show(seconds)} is not a length; give more than 0 seconds")
    limit = MAX_FRAMES / fps
    if value > limit:
        raise FieldError(
            "seconds",
            f"{value:g} s is too long; the longest is {limit:g} s at {fps} frames a second",
        )
    frames = round(value * fps)
    if frames < 1:
        raise FieldError(
            "seconds", f"{value:g} s is shorter than one frame at {fps} frames a second"
        )
    return frames


_KIND_WORDS = {int: "a whole number", float: "a number", str: "text"}


def kind_of(value: Any) -> str:
    """A value's kind in words ("text", "a whole number", "nothing"), for "must be …, got …"."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "yes or no"
    if isinstance(value, float):
        return "a number with a fraction" if math.isfinite(value) else "not a number"
    for kind, words in _KIND_WORDS.items():
        if isinstance(value, kind):
            return words
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a group of named values"
    return "something else"


def _check_type(name: str, value: Any, types: type | tuple[type, ...]) -> None:
    if isinstance(value, bool) or not isinstance(value, types):
        kinds = (types,) if isinstance(types, type) else types
        want = "a number" if float in kinds else " or ".join(_KIND_WORDS[t] for t in kinds)
        raise FieldError(name, f"must be {want}, got {kind_of(value)}")


def _check_int_range(name: str, value: Any, lo: int, hi: int) -> None:
    _check_type(name, value, int)
    if not lo <= value <= hi:
        raise FieldError(name, f"{_show(value)} is out of range; allowed {lo} to {hi}")


def _show(value: Any) -> str:
    """A value for a message; a huge int is not printed (str() of one can itself fail)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return "a number too large to use"
    return repr(value) if isinstance(value, str) else str(value)


def _check_text(name: str, value: Any, limit: int | None = None) -> None:
    """Text that can be stored: a str that encodes as UTF-8 (no unpaired surrogates)."""
    _check_type(name, value, str)
    if limit is not None and len(value) > limit:
        raise FieldError(name, f"{len(value)} characters is too long; the limit is {limit}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise FieldError(
            name, f"contains characters that are not valid text (at position {exc.start})"
        ) from exc


def _as_timed_prompts(value: Any) -> tuple[TimedPrompt, ...]:
    """TimedPrompts from TimedPrompts or {"at", "prompt"} objects; anything else is refused."""
    if isinstance(value, (str, bytes, dict)) or not isinstance(value, (list, tuple)):
        raise FieldError(
            "timed_prompts",
            f"must be a list of times and texts, got {kind_of(value)}",
        )
    if len(value) > MAX_TIMED_PROMPTS:
        raise FieldError(
            "timed_prompts", f"{len(value)} prompts is too many; the limit is {MAX_TIMED_PROMPTS}"
        )
    items = []
    for n, item in enumerate(value, 1):
        if isinstance(item, TimedPrompt):
            items.append(item)
            continue
        if not isinstance(item, dict) or set(item) != {"at", "prompt"}:
            raise FieldError(
                "timed_prompts",
                f"prompt {n} must have a time in seconds and a text",
            )
        items.append(TimedPrompt(item["at"], item["prompt"]))
    return tuple(items)


def _check_timed_prompts(timed: tuple[TimedPrompt, ...], num_frames: int, fps: int) -> None:
    """Times ascending and inside the clip (after 0 s, where the main prompt holds, and before
    its end); each text follows the prompt's rules."""
    seconds = num_frames / fps
    previous = 0.0
    for n, item in enumerate(timed, 1):
        where = f"prompt {n}"
        if isinstance(item.at, bool) or not isinstance(item.at, (int, float)):
            raise FieldError(
                "timed_prompts", f"{where}: time must be a number of seconds, got {_show(item.at)}"
            )
        try:
            at = float(item.at)
        except OverflowError:
            at = math.inf
        if not math.isfinite(at):
            raise FieldError(
                "timed_prompts", f"{where}: {_show(item.at)} is not a usable time in seconds"
            )
        if not 0 < at < seconds:
            raise FieldError(
                "timed_prompts",
                f"{where}: {at:g} s is outside the clip; use a time after 0 s and "
                f"before its end ({seconds:g} s)",
            )
        if at <= previous and n > 1:
            raise FieldError(
                "timed_prompts",
                f"{where}: {at:g} s is not after the prompt before it ({previous:g} s); "
                "list the times in order",
            )
        previous = at
        _check_text("timed_prompts", item.prompt)
        if not item.prompt.strip():
            raise FieldError("timed_prompts", f"{where} at {at:g} s: the text must not be empty")
        if len(item.prompt) > MAX_PROMPT_CHARS:
            raise FieldError(
                "timed_prompts",
                f"{where} at {at:g} s: {len(item.prompt)} characters is too long; "
                f"the limit is {MAX_PROMPT_CHARS} characters",
            )


def _check_extra(extra: Any) -> None:
    """``extra`` is saved in project files and export metadata: plain, finite JSON only."""
    if not isinstance(extra, dict):
        raise FieldError("extra", f"must be a group of named values, got {kind_of(extra)}")
    stack: list[tuple[Any, int]] = [(extra, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_EXTRA_DEPTH:
            raise FieldError("extra", f"nested more than {MAX_EXTRA_DEPTH} levels deep")
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise FieldError("extra", f"names must be text, got {kind_of(key)}")
                _check_text("extra", key)
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            _check_text("extra", value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise FieldError("extra", "holds a number that is not a real number")
        elif value is not None and not isinstance(value, (bool, int)):
            raise FieldError("extra", f"holds {kind_of(value)}, which cannot be saved")
