"""What each model can do, as one record: sizes, frame rule, window, maximum frames, fps, start
image, end image, audio, negative prompt.

Before issue 16 these facts were spread over the prompt editor (a 121-frame limit), the ETA (a
16-frame window applied to every model, so a Wan job's estimate was 6x too long), the backends
and the CLI. Now the embedded model's record comes from its checkpoint's ``config.json`` and a
downloaded model's from its catalog entry plus the rules of its diffusers pipeline; the editor,
the validators, the ETA, the CLI and the backends all read the record. Plain data: no Qt, no
torch; the catalog is imported lazily (it imports ``core.request``, which imports this module).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sora_desktop.core.assets import model_dir
from sora_desktop.core.errors import FieldError

if TYPE_CHECKING:
    from sora_desktop.core.catalog import CatalogEntry
    from sora_desktop.core.request import GenerationRequest

log = logging.getLogger(__name__)

EMBEDDED_MODEL_ID = "sora-desktop/embedded-tiny"
ENV_EMBEDDED_MODEL = "SORA_DESKTOP_EMBEDDED_MODEL"
# The shipped embedded model as its checkpoint states it (model/embedded/config.json "size",
# "frames", "fps"; the training world renders clips of this shape). Used when no checkpoint
# config can be read and for the request's defaults; tests/test_capabilities.py checks that the
# shipped config says the same.
EMBEDDED_SIZE = 64
EMBEDDED_WINDOW = 16
EMBEDDED_FPS = 8
# Longer clips chain windows, each starting from the last frame of the one before.
EMBEDDED_MAX_SEGMENTS = 8
# Requests accept any frame count and rate up to these (core/request.py); a model may allow less.
MAX_FRAMES = 1024
# A long shot (engine/long_shot.py): windows chained by their shared frame. Each window after
# the first starts from the previous one's last frame, so consecutive windows overlap by that
# one frame: it is all an image-to-video pipeline is conditioned on, and with a k*m+1 frame
# rule, windows of k*m+1 frames that share one frame add up to a valid k'*m+1 clip.
WINDOW_OVERLAP = 1
LONG_SHOT_MAX_WINDOWS = 8  # a diffusers model's longest shot, in windows
MAX_FPS = 60
SIZE_MULTIPLE = 16  # every request's width and height; a model may need a larger multiple


@dataclass(frozen=True)
class PipelineRules:
    """What one diffusers pipeline family accepts (from the diffusers source, docs and model
    cards). Keyed by the catalog entry's ``pipeline`` (or its ``rules`` key when one pipeline
    class serves models with different rules, e.g. Wan 2.2 TI2V-5B's 32-pixel grid).

    ``window``: frames one pass makes well; a longer shot is made in overlapping windows
    (0 = ``max_frames`` in one pass). ``text_to_video`` False: the family needs a start image
    (FramePack). ``condition_pipeline``: takes keyframes / video context at frame positions.
    """

    frame_multiple: int  # num_frames must be k * frame_multiple + 1
    size_multiple: int  # width and height must be multiples of it
    max_frames: int = 257
    negative_prompt: bool = True
    start_image_pipeline: str | None = None
    end_image: bool = False  # takes a last-frame keyframe
    audio: bool = False  # makes a soundtrack with the video
    window: int = 0
    condition_pipeline: str | None = None
    text_to_video: bool = True


PIPELINE_RULES: dict[str, PipelineRules] = {
    "WanPipeline": PipelineRules(
        4, 16, window=81, start_image_pipeline="WanImageToVideoPipeline", end_image=True
    ),
    # Wan 2.1 VACE: text-to-video and frames pinned anywhere (start, end, context) in one model
    "WanVACEPipeline": PipelineRules(
        4, 16, window=81, start_image_pipeline="WanVACEPipeline", end_image=True
    ),
    # Wan 2.2 TI2V-5B: one checkpoint for text and image to video, 16x VAE (32-pixel grid)
    "Wan2.2-TI2V": PipelineRules(4, 32, window=121, start_image_pipeline="WanImageToVideoPipeline"),
    "LTXPipeline": PipelineRules(
        8,
        32,
        window=161,
        start_image_pipeline="LTXImageToVideoPipeline",
        condition_pipeline="LTXConditionPipeline",
        end_image=True,
    ),
    "LTX2Pipeline": PipelineRules(
        8,
        32,
        window=121,
        start_image_pipeline="LTX2ImageToVideoPipeline",
        condition_pipeline="LTX2ConditionPipeline",
        end_image=True,
        audio=True,
    ),
    "CogVideoXPipeline": PipelineRules(
        4, 16, max_frames=81, start_image_pipeline="CogVideoXImageToVideoPipeline"
    ),
    "HunyuanVideoPipeline": PipelineRules(4, 16, max_frames=129, negative_prompt=False),
    "HunyuanVideo15Pipeline": PipelineRules(
        4, 16, window=121, start_image_pipeline="HunyuanVideo15ImageToVideoPipeline"
    ),
    "Kandinsky5T2VPipeline": PipelineRules(
        4, 16, window=121, start_image_pipeline="Kandinsky5I2VPipeline"
    ),
    "SanaVideoPipeline": PipelineRules(
        4, 32, window=81, start_image_pipeline="SanaImageToVideoPipeline"
    ),
    # FramePack: sections of 9 latent frames; clips are 36k+1 frames (engine/families/framepack)
    "HunyuanVideoFramepackPipeline": PipelineRules(
        36,
        16,
        max_frames=36 * 28 + 1,
        negative_prompt=False,
        start_image_pipeline="HunyuanVideoFramepackPipeline",
        end_image=True,
        text_to_video=False,
    ),
}


@dataclass(frozen=True)
class ModelCapabilities:
    """What one model accepts. The first fields keep the old ``BackendCapabilities`` order.

    ``sizes``: the allowed (width, height) pairs; empty = any multiple of ``size_multiple``.
    ``frame_multiple``: num_frames must be ``k * frame_multiple + 1`` (1 = any count).
    ``window``: frames made in one pass; longer clips are chained segments of that many frames
    overlapping by WINDOW_OVERLAP (0 = the whole clip in one pass). ``fps_choices`` empty = any
    1..MAX_FPS.
    """

    sizes: tuple[tuple[int, int], ...] = ()
    max_frames: int = MAX_FRAMES
    supports_start_image: bool = False
    supports_negative_prompt: bool = True
    supports_end_image: bool = False
    supports_audio: bool = False
    model_id: str = ""
    name: str = ""
    size_multiple: int = SIZE_MULTIPLE
    frame_multiple: int = 1
    window: int = 0
    fps_choices: tuple[int, ...] = ()
    default_fps: int = EMBEDDED_FPS
    default_size: tuple[int, int] = (EMBEDDED_SIZE, EMBEDDED_SIZE)
    default_frames: int = EMBEDDED_WINDOW
    text_to_video: bool = True  # False: every clip needs a start image (FramePack)

    # ------------------------------------------------------------------ facts
    @property
    def frame_rule(self) -> str:
        """ "any", or e.g. "4k+1"."""
        return "any" if self.frame_multiple <= 1 else f"{self.frame_multiple}k+1"

    @property
    def frame_rule_words(self) -> str:
        """The frame rule in plain words, for messages: "any length", or e.g. "a length in
        steps of 4 frames (1, 5, 9, 13 … frames)"."""
        m = self.frame_multiple
        if m <= 1:
            return "any length"
        return f"a length in steps of {m} frames (1, {1 + m}, {1 + 2 * m}, {1 + 3 * m} … frames)"

    @property
    def frames_per_pass(self) -> int:
        return self.window if self.window > 0 else self.max_frames

    def segments(self, num_frames: int) -> int:
        """How many chained passes a clip of ``num_frames`` takes (1 for one-pass models)."""
        window = self.frames_per_pass
        step = window - WINDOW_OVERLAP
        if num_frames <= window or step < 1:
            return 1
        return 1 + -(-(num_frames - window) // step)

    def window_starts(self, num_frames: int) -> list[int]:
        """The first frame of each pass of a clip (windows share WINDOW_OVERLAP frames)."""
        step = self.frames_per_pass - WINDOW_OVERLAP
        return [k * step for k in range(self.segments(num_frames))]

    def check_timed_prompts(self, request: GenerationRequest) -> None:
        """Raise FieldError("timed_prompts", ...) for a timed prompt no window would use: each
        window uses the prompt in force at its first frame (``TimedPrompt``)."""
        if not request.timed_prompts:
            return
        name = self.name or self.model_id or request.model_id
        starts = self.window_starts(request.num_frames)
        fps = request.fps
        if len(starts) == 1:
            longest = self.frames_per_pass / fps
            raise FieldError(
                "timed_prompts",
                f"{name} makes this shot in one pass (up to {longest:.1f} s), so "
                f"prompts over time would not be used; make the shot longer than {longest:.1f} s "
                "or remove them",
            )
        frames = [round(t.at * fps) for t in request.timed_prompts] + [request.num_frames]
        for n, timed in enumerate(request.timed_prompts):
            if not any(frames[n] <= s < frames[n + 1] for s in starts):
                at_starts = ", ".join(f"{s / fps:g} s" for s in starts)
                raise FieldError(
                    "timed_prompts",
                    f"prompt {n + 1} at {timed.at:g} s would not be used: {name} makes this shot "
                    f"in windows starting at {at_starts}, each with the prompt in force at its "
                    "start; move it to a window's start or remove it",
                )

    def size_options(self, width: int | None = None, height: int | None = None):
        """The sizes to offer: [(w, h, shape)], shape "1:1", "landscape", "portrait", "square".

        A model with fixed sizes offers those; otherwise its default size, turned, and a square.
        """
        if self.sizes:
            return [(w, h, _shape(w, h)) for w, h in self.sizes]
        w, h = (width, height) if width and height else self.default_size
        if w == h:
            return [(w, h, "1:1")]
        s = max(self.size_multiple, min(w, h) // self.size_multiple * self.size_multiple)
        return [
            (w, h, "landscape" if w > h else "portrait"),
            (h, w, "portrait" if w > h else "landscape"),
            (s, s, "square"),
        ]

    # ------------------------------------------------------------------ validation
    def check(self, request: GenerationRequest) -> None:
        """Raise ValueError naming the field when this model cannot honour ``request``."""
        name = self.name or self.model_id or request.model_id
        if self.sizes and (request.width, request.height) not in self.sizes:
            allowed = ", ".join(f"{w}x{h}" for w, h in self.sizes)
            raise FieldError(
                "width/height",
                f"{request.width}x{request.height} is not a size {name} makes; "
                f"choose one of {allowed}",
            )
        if request.num_frames > self.max_frames:
            fps = request.fps
            raise FieldError(
                "num_frames",
                f"{request.num_frames / fps:.1f} s ({request.num_frames} frames) is too long for "
                f"{name}; the longest is {self.max_frames / fps:.1f} s ({self.max_frames} frames) "
                f"at {fps} frames a second",
            )
        if request.start_image is not None and not self.supports_start_image:
            raise FieldError("start_image", f"{name} cannot start from an image")
        if request.start_image is None and not self.text_to_video:
            raise FieldError("start_image", f"{name} makes clips from a start image only; give one")
        m = self.size_multiple
        if m > SIZE_MULTIPLE:  # the request's own rule is checked by the request
            for field in ("width", "height"):
                value = getattr(request, field)
                if value % m:
                    raise FieldError(
                        field,
                        f"{value} is not a multiple of {m} for {name}; "
                        f"use e.g. {max(m, value // m * m)}",
                    )
        self.check_frame_rule(request.num_frames)
        self.check_timed_prompts(request)
        if request.negative_prompt and not self.supports_negative_prompt:
            raise FieldError("negative_prompt", f"{name} does not use a negative prompt")
        if self.fps_choices and request.fps not in self.fps_choices:
            allowed = ", ".join(str(x) for x in self.fps_choices)
            raise FieldError(
                "fps", f"{request.fps} frames a second is not offered by {name}; choose {allowed}"
            )

    def check_frame_rule(self, num_frames: int) -> None:
        """Raise ValueError("num_frames: ...") when the count breaks the model's k*m+1 rule."""
        f = self.frame_multiple
        if f > 1 and (num_frames - 1) % f:
            k = (num_frames - 1) // f
            raise FieldError(
                "num_frames",
                f"{num_frames} frames does not fit {self.name or self.model_id}, which "
                f"needs {self.frame_rule_words}; use {k * f + 1} or {(k + 1) * f + 1} frames",
            )


def _shape(w: int, h: int) -> str:
    return "1:1" if w == h else ("landscape" if w > h else "portrait")


# ---------------------------------------------------------------------------- producers
def embedded_model_dir() -> Path:
    """Where the embedded checkpoint lives: env override, PyInstaller bundle, or the repo."""
    override = os.environ.get(ENV_EMBEDDED_MODEL)
    if override:
        return Path(override)
    return model_dir() / "embedded"


def embedded_capabilities(config: Mapping[str, Any] | None = None) -> ModelCapabilities:
    """The embedded model's record from its checkpoint config (``size``, ``frames``, ``fps``).

    Without ``config`` the checkpoint's ``config.json`` is read (the engine passes the config it
    loaded); an unreadable one gives the shipped model's figures (loading it fails later, with
    its own message)."""
    if config is None:
        config = _read_embedded_config()
    size = _int(config, "size", EMBEDDED_SIZE)
    window = _int(config, "frames", EMBEDDED_WINDOW)
    fps = _int(config, "fps", EMBEDDED_FPS)
    return ModelCapabilities(
        sizes=((size, size),),
        max_frames=window + (window - 1) * (EMBEDDED_MAX_SEGMENTS - 1),
        supports_start_image=True,
        model_id=EMBEDDED_MODEL_ID,
        name="Built-in tiny model",
        window=window,
        default_fps=fps,
        default_size=(size, size),
        default_frames=window,
    )


def _read_embedded_config() -> Mapping[str, Any]:
    path = embedded_model_dir() / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        log.debug(
            "embedded model config %s not readable (%s); using the shipped figures", path, exc
        )
        return {}
    return data if isinstance(data, dict) else {}


def _int(config: Mapping[str, Any], key: str, default: int) -> int:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return default
    return value


def rules_for(entry: CatalogEntry) -> PipelineRules | None:
    """The pipeline rules of a catalog entry (its ``rules`` key, else its pipeline's)."""
    key = entry.extra.get("rules") or entry.pipeline
    return PIPELINE_RULES.get(key) if isinstance(key, str) else None


def capabilities_from_entry(entry: CatalogEntry) -> ModelCapabilities:
    """A catalog entry's record: the embedded model's from its config; a diffusers model's from
    the entry (defaults, start image) and the rules of its pipeline."""
    if entry.backend == "embedded":
        return replace(embedded_capabilities(), name=entry.name)
    d = entry.defaults
    rules = rules_for(entry)
    size = (_int(d, "width", EMBEDDED_SIZE), _int(d, "height", EMBEDDED_SIZE))
    base = ModelCapabilities(
        model_id=entry.id,
        name=entry.name,
        default_fps=_int(d, "fps", EMBEDDED_FPS),
        default_size=size,
        default_frames=_int(d, "num_frames", EMBEDDED_WINDOW),
    )
    if rules is None:  # a pipeline this version cannot run: the backend refuses it on load
        return replace(base, supports_start_image=entry.supports_start_image)
    start_image = entry.supports_start_image and rules.start_image_pipeline is not None
    window = _window(entry, rules) if start_image else 0
    longest = long_shot_max_frames(window, rules.frame_multiple) if window else rules.max_frames
    # what the family can do comes from its rules (one table); an entry may only turn a
    # capability off (``supports_start_image`` / ``supports_end_image`` / ``supports_audio``
    # false: e.g. a checkpoint whose image-to-video weights are not published)
    return replace(
        base,
        max_frames=longest,
        supports_start_image=start_image,
        supports_end_image=start_image
        and rules.end_image
        and entry.extra.get("supports_end_image", True) is not False,
        supports_audio=rules.audio and entry.extra.get("supports_audio", True) is not False,
        supports_negative_prompt=rules.negative_prompt,
        size_multiple=rules.size_multiple,
        frame_multiple=rules.frame_multiple,
        window=window,
        text_to_video=rules.text_to_video,
    )


def long_shot_max_frames(window: int, frame_multiple: int) -> int:
    """The longest shot of a windowed model: LONG_SHOT_MAX_WINDOWS windows sharing one frame
    each, at most MAX_FRAMES, and still on the model's k*m+1 frame rule."""
    frames = window + (LONG_SHOT_MAX_WINDOWS - 1) * (window - WINDOW_OVERLAP)
    if frames <= MAX_FRAMES:
        return frames
    m = max(1, frame_multiple)
    return (MAX_FRAMES - 1) // m * m + 1


def _window(entry: CatalogEntry, rules: PipelineRules) -> int:
    """Frames per window of a model that can chain windows (it starts from an image): the
    entry's ``window_frames`` (a distilled or tiny model may differ from its family), else its
    pipeline's. 0: no long shots, the clip is one pass up to ``rules.max_frames``."""
    value = entry.extra.get("window_frames")
    if value is None:
        return rules.window
    m = max(1, rules.frame_multiple)
    usable = (
        isinstance(value, int)
        and not isinstance(value, bool)
        and 2 <= value <= rules.max_frames
        and (value - 1) % m == 0
    )
    if not usable:
        log.warning(
            "catalog[%s].window_frames: %r is not a %dk+1 frame count from 2 to %d; using the "
            "pipeline's window (%d)",
            entry.id,
            value,
            m,
            rules.max_frames,
            rules.window,
        )
        return rules.window
    return value


def capabilities_for(model_id: str, entries: list[CatalogEntry] | None = None) -> ModelCapabilities:
    """The record for a model id: the embedded model's, a catalog entry's, or (a model this
    computer does not know) a permissive one-pass record, so the backend has the last word."""
    if model_id == EMBEDDED_MODEL_ID:
        return embedded_capabilities()
    if entries is None:
        from sora_desktop.core.catalog import load_catalog

        try:
            entries = load_catalog()
        except ValueError as exc:
            log.warning("model catalog unusable (%s); %s gets no capability limits", exc, model_id)
            entries = []
    for entry in entries:
        if entry.id == model_id:
            return capabilities_from_entry(entry)
    return ModelCapabilities(model_id=model_id, name=model_id)


def segments_for(request: GenerationRequest, window: int | None = None) -> int:
    """Chained passes a request takes: by its model's own window unless ``window`` is given.

    (It used to apply the embedded model's 16-frame window to every model: an 81-frame Wan job
    counted 6 passes and its ETA was 6x too long.)"""
    if window is not None:
        return ModelCapabilities(window=window).segments(request.num_frames)
    return capabilities_for(request.model_id).segments(request.num_frames)


# ---------------------------------------------------------------------------- sound models
# The text-to-audio pipelines engine/music.py runs ("Make music for this film"); a catalog
# entry of kind "sound" must name one of them.
SOUND_PIPELINES: tuple[str, ...] = ("StableAudioPipeline",)
MAX_MUSIC_STEPS = 500


@dataclass(frozen=True)
class SoundLimits:
    """What a sound model makes: at most ``max_seconds`` of sound at ``sample_rate`` Hz, in
    ``steps`` denoising steps at ``guidance`` by default."""

    max_seconds: float
    sample_rate: int
    steps: int
    guidance: float


def sound_limits(entry: CatalogEntry) -> SoundLimits:
    """A sound model's limits from its catalog entry's ``defaults`` (``max_seconds``,
    ``sample_rate``, ``steps``, ``guidance``); ``FieldError`` names a bad or missing one."""
    where = f"catalog[{entry.id}]"
    if entry.kind != "sound":
        raise FieldError("model", f"{entry.name} does not make sound")
    if entry.pipeline not in SOUND_PIPELINES:
        raise FieldError(
            f"{where}.pipeline",
            f"{entry.pipeline!r} is not a sound pipeline; allowed {', '.join(SOUND_PIPELINES)}",
        )
    d = entry.defaults

    def number(key: str, low: float, high: float, whole: bool = False) -> Any:
        v = d.get(key)
        ok = not isinstance(v, bool) and isinstance(v, int if whole else (int, float))
        if not ok or not low <= v <= high:
            raise FieldError(
                f"{where}.defaults.{key}", f"must be a number from {low:g} to {high:g}"
            )
        return v

    return SoundLimits(
        max_seconds=float(number("max_seconds", 0.1, 3600.0)),
        sample_rate=int(number("sample_rate", 1, 384_000, whole=True)),
        steps=int(number("steps", 1, MAX_MUSIC_STEPS, whole=True)),
        guidance=float(number("guidance", 0.0, 100.0)),
    )
