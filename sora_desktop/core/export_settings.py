"""Export options as plain data: the formats, the upscale range, and one validated settings record.

These facts used to be written three times (the exporter, the project loader, the export
dialog) and disagreed: the dialog offered 16x upscale that the loader then refused, so a
project exported at 16x and saved would no longer open. The exporter (engine), the project file
(core) and the dialog (ui) all read them from here. No Qt, no torch, no OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sora_desktop.core.capabilities import MAX_FPS
from sora_desktop.core.errors import FieldError
from sora_desktop.core.errors import short_repr as _short

# format -> the suffix an export of it gets ("" for PNG frames: a folder)
FORMAT_SUFFIXES: dict[str, str] = {"mp4": ".mp4", "webm": ".webm", "gif": ".gif", "png": ""}
EXPORT_FORMATS: tuple[str, ...] = tuple(FORMAT_SUFFIXES)
# an output file's suffix -> the format it means
SUFFIX_FORMATS: dict[str, str] = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".webm": "webm",
    ".gif": "gif",
    ".png": "png",
}
UPSCALE_METHODS: tuple[str, ...] = ("nearest", "lanczos")
MAX_UPSCALE = 16
# the factors the export dialog offers: powers of two up to MAX_UPSCALE (the CLI takes any)
UPSCALE_CHOICES: tuple[int, ...] = tuple(
    2**i for i in range(MAX_UPSCALE.bit_length()) if 2**i <= MAX_UPSCALE
)
QUALITIES: tuple[str, ...] = ("high", "medium", "low")
MAX_CROSSFADE_FRAMES = 120
# an export is at least this many pixels on its short side unless the user picks a size: the
# built-in model's 64x64 clip is enlarged 8x (smoothly) instead of landing as a thumbnail
MIN_EXPORT_SIDE = 512
DEFAULT_UPSCALE_METHOD = "lanczos"
# how a shot whose shape differs from the film's frame is placed: the whole picture with bars,
# or the frame filled and the overflow cut off (core/film_layout.fit_rect does the arithmetic)
FIT_MODES: tuple[str, ...] = ("letterbox", "crop")
# the film's frame rate: None = "Auto" (the fastest shot's, core/film_layout.default_film_fps)
MAX_EXPORT_FPS = MAX_FPS

# field -> its key in a project file's "settings" object (what a project remembers between
# exports; quality and the watermark are chosen per export and not stored)
PROJECT_KEYS: dict[str, str] = {
    "crossfade_frames": "crossfade_frames",
    "format": "export_format",
    "upscale": "upscale",
    "upscale_method": "upscale_method",
    "fps": "export_fps",
    "fit": "export_fit",
    "normalize_loudness": "normalize_loudness",
}
# the loudness target of "Normalise loudness" (ffmpeg's loudnorm: integrated LUFS, true peak dB)
LOUDNESS_TARGET_LUFS, LOUDNESS_TRUE_PEAK_DB = -16.0, -1.5
# formats whose files carry no sound: the export says so (one message: SOUND_DROPPED_MESSAGE)
SILENT_FORMATS: tuple[str, ...] = ("gif", "png")
SOUND_DROPPED_MESSAGE = (
    "{label} cannot hold sound, so the sound is left out; export MP4 or WebM to keep it."
)
FORMAT_LABELS: dict[str, str] = {
    "mp4": "MP4",
    "webm": "WebM",
    "gif": "A GIF",
    "png": "A folder of PNG frames",
}


@dataclass(frozen=True)
class ExportSettings:
    """How to export: validated when made, so an invalid one never exists."""

    format: str = "mp4"
    upscale: int | None = None  # None = Auto: the film reaches MIN_EXPORT_SIDE (default_upscale)
    upscale_method: str = DEFAULT_UPSCALE_METHOD
    quality: str = "high"
    crossfade_frames: int = 0
    watermark: bool = False
    fps: int | None = None  # the film's frame rate; None = the fastest shot's
    fit: str = "letterbox"
    # even out the film's loudness (ffmpeg's loudnorm to LOUDNESS_TARGET_LUFS) when it has sound
    normalize_loudness: bool = False
    # also write the metadata beside the file as <file>.json (it is inside the file anyway)
    sidecar: bool = False

    def __post_init__(self) -> None:
        cf = self.crossfade_frames
        if _bad_int(cf) or not 0 <= cf <= MAX_CROSSFADE_FRAMES:
            raise FieldError(
                "crossfade_frames",
                f"{_short(cf)} frames is not allowed; use 0 (none) to {MAX_CROSSFADE_FRAMES} "
                "frames",
            )
        if not isinstance(self.format, str) or self.format not in EXPORT_FORMATS:
            raise FieldError(
                "export_format",
                f"{_short(self.format)} is not allowed; choose {_choices(EXPORT_FORMATS)}",
            )
        up = self.upscale
        if up is not None and (_bad_int(up) or not 1 <= up <= MAX_UPSCALE):
            raise FieldError(
                "upscale", f"{_short(up)} times is not allowed; use 1 to {MAX_UPSCALE} times"
            )
        if not isinstance(self.upscale_method, str) or self.upscale_method not in UPSCALE_METHODS:
            raise FieldError(
                "upscale_method",
                f"{_short(self.upscale_method)} is not allowed; choose {_choices(UPSCALE_METHODS)}",
            )
        if not isinstance(self.quality, str) or self.quality not in QUALITIES:
            raise FieldError(
                "quality", f"{_short(self.quality)} is not allowed; choose {_choices(QUALITIES)}"
            )
        fps = self.fps
        if fps is not None and (_bad_int(fps) or not 1 <= fps <= MAX_EXPORT_FPS):
            raise FieldError(
                "export_fps",
                f"{_short(fps)} is not allowed; allowed 1 to {MAX_EXPORT_FPS} frames per "
                "second, or Auto",
            )
        if not isinstance(self.fit, str) or self.fit not in FIT_MODES:
            raise FieldError(
                "export_fit", f"{_short(self.fit)} is not allowed; choose {_choices(FIT_MODES)}"
            )
        if not isinstance(self.watermark, bool):
            raise FieldError("watermark", f"must be on or off, got {_short(self.watermark)}")
        if not isinstance(self.sidecar, bool):
            raise FieldError("sidecar", f"must be on or off, got {_short(self.sidecar)}")
        if not isinstance(self.normalize_loudness, bool):
            raise FieldError(
                "normalize_loudness",
                f"must be on or off, got {_short(self.normalize_loudness)}",
            )

    @property
    def suffix(self) -> str:
        return FORMAT_SUFFIXES[self.format]

    @property
    def keeps_sound(self) -> bool:
        """Whether this format carries the film's soundtrack (GIF and PNG frames do not)."""
        return self.format not in SILENT_FORMATS

    def upscale_for(self, width: int, height: int) -> int:
        """The factor this export enlarges a ``width`` x ``height`` film by (Auto resolved)."""
        return self.upscale if self.upscale is not None else default_upscale(width, height)

    def with_changes(self, **changes: Any) -> ExportSettings:
        return replace(self, **changes)

    @classmethod
    def from_project(cls, settings: dict[str, Any], **others: Any) -> ExportSettings:
        """The settings a project's "settings" object holds (missing keys: the defaults);
        ``others`` gives the per-export fields (quality, watermark)."""
        kwargs = {f: settings[k] for f, k in PROJECT_KEYS.items() if k in settings}
        return cls(**kwargs, **others)

    def project_settings(self) -> dict[str, Any]:
        """The keys a project file stores for these settings."""
        return {k: getattr(self, f) for f, k in PROJECT_KEYS.items()}


def sound_dropped_message(fmt: str) -> str:
    """What the export dialog and the CLI say when a film with sound goes to GIF or PNG."""
    return SOUND_DROPPED_MESSAGE.format(label=FORMAT_LABELS.get(fmt, fmt))


def default_upscale(width: int, height: int) -> int:
    """The smallest offered factor that makes the film's short side at least MIN_EXPORT_SIDE
    pixels (1 for a film that is already that large; the largest factor for a tiny one)."""
    short = max(1, min(int(width), int(height)))
    for factor in UPSCALE_CHOICES:
        if short * factor >= MIN_EXPORT_SIDE:
            return factor
    return MAX_UPSCALE


def crossfade_seconds(frames: int, fps: float) -> float:
    """A cross-fade stored in frames, as the seconds the export dialog shows at ``fps``."""
    return round(frames / fps, 2) if fps > 0 else 0.0


def crossfade_frames_for(seconds: float, fps: float) -> int:
    """Seconds the user typed → the frames stored (nearest whole frame, within the limit)."""
    return max(0, min(MAX_CROSSFADE_FRAMES, round(seconds * fps))) if fps > 0 else 0


def _choices(values: Any) -> str:
    """Allowed values for a message: "mp4, webm, gif or png" (no Python tuple)."""
    items = [str(v) for v in values]
    return ", ".join(items[:-1]) + f" or {items[-1]}" if len(items) > 1 else "".join(items)


def _bad_int(value: Any) -> bool:
    return isinstance(value, bool) or not isinstance(value, int)


# what a new project remembers
DEFAULT_PROJECT_SETTINGS: dict[str, Any] = ExportSettings().project_settings()
