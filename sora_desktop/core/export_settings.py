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
    upscale: int = 1
    upscale_method: str = "nearest"
    quality: str = "high"
    crossfade_frames: int = 0
    watermark: bool = False
    fps: int | None = None  # the film's frame rate; None = the fastest shot's
    fit: str = "letterbox"
    # even out the film's loudness (ffmpeg's loudnorm to LOUDNESS_TARGET_LUFS) when it has sound
    normalize_loudness: bool = False

    def __post_init__(self) -> None:
        cf = self.crossfade_frames
        if _bad_int(cf) or not 0 <= cf <= MAX_CROSSFADE_FRAMES:
            raise FieldError(
                "crossfade_frames",
                f"{_short(cf)} is not allowed; allowed 0 to {MAX_CROSSFADE_FRAMES}",
            )
        if not isinstance(self.format, str) or self.format not in EXPORT_FORMATS:
            raise FieldError(
                "export_format", f"{_short(self.format)} is not allowed; allowed {EXPORT_FORMATS}"
            )
        up = self.upscale
        if _bad_int(up) or not 1 <= up <= MAX_UPSCALE:
            raise FieldError("upscale", f"{_short(up)} is not allowed; allowed 1 to {MAX_UPSCALE}")
        if not isinstance(self.upscale_method, str) or self.upscale_method not in UPSCALE_METHODS:
            raise FieldError(
                "upscale_method",
                f"{_short(self.upscale_method)} is not allowed; allowed {UPSCALE_METHODS}",
            )
        if not isinstance(self.quality, str) or self.quality not in QUALITIES:
            raise FieldError(
                "quality", f"{_short(self.quality)} is not allowed; allowed {QUALITIES}"
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
                "export_fit", f"{_short(self.fit)} is not allowed; allowed {FIT_MODES}"
            )
        if not isinstance(self.watermark, bool):
            raise FieldError("watermark", f"expected true or false, got {_short(self.watermark)}")
        if not isinstance(self.normalize_loudness, bool):
            raise FieldError(
                "normalize_loudness",
                f"expected true or false, got {_short(self.normalize_loudness)}",
            )

    @property
    def suffix(self) -> str:
        return FORMAT_SUFFIXES[self.format]

    @property
    def keeps_sound(self) -> bool:
        """Whether this format carries the film's soundtrack (GIF and PNG frames do not)."""
        return self.format not in SILENT_FORMATS

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


def _bad_int(value: Any) -> bool:
    return isinstance(value, bool) or not isinstance(value, int)


# what a new project remembers
DEFAULT_PROJECT_SETTINGS: dict[str, Any] = ExportSettings().project_settings()
