"""The soundtrack's data: audio items laid on the film's timeline (plain data, no Qt, no numpy).

An ``AudioItem`` is one clip on the storyboard's audio track: a sound file copied into the
project's media folder (``<stem>_media/audio/<id>.<ext>``), placed at ``start`` seconds on the
film's timeline, playing ``duration`` seconds of the file from ``trim_in``, at ``volume_db``,
with linear fades (the gain rises from 0 at ``start`` to 1 at ``start + fade_in`` and falls
from 1 at ``end - fade_out`` to 0 at ``end``; ``fade_gain`` is that law, defined once here and
used by the mixer, the player and the tests). Items may overlap (they are summed) and may run
past the film's end (the mix is cut to the film's length).

Items are frozen: a change is ``item.with_changes(...)`` (validated again) handed to
``Project.update_audio``, which returns the previous item, so undo can put it back.

Why these bounds: a hand-edited or hostile project file must not make the mixer allocate hours
of 48 kHz audio or read outside the project folder; ``MAX_AUDIO_SECONDS`` bounds every time
(a film is at most a few minutes; three hours is far past any real use).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sora_desktop.core.errors import FieldError
from sora_desktop.core.errors import short_repr as _short

AUDIO_KINDS: tuple[str, ...] = ("music", "generated")
MAX_AUDIO_ITEMS = 200
MAX_AUDIO_SECONDS = 3 * 3600.0  # a source file's length, an offset, a duration
MIN_VOLUME_DB, MAX_VOLUME_DB = -60.0, 12.0
MAX_NAME_CHARS = 500
MAX_MUSIC_PROMPT_CHARS = 2_000
# a trim or duration may exceed the probed length by this much (rounding of the probe)
SECONDS_TOLERANCE = 1e-3
# the sound files Sora Desktop imports: ffmpeg's name for the format -> the copy's suffix
IMPORT_FORMATS: dict[str, str] = {"wav": ".wav", "mp3": ".mp3", "flac": ".flac", "ogg": ".ogg"}
IMPORT_SUFFIXES: tuple[str, ...] = (".wav", ".mp3", ".flac", ".ogg", ".oga")  # file dialogs
IMPORT_LABEL = "WAV, MP3, FLAC or OGG"
MAX_AUDIO_BYTES = 1024**3  # an imported file (an hour of 48 kHz stereo WAV is 0.7 GB)
# the film's sound: every source is decoded to this before mixing; the export encodes it
MIX_SAMPLE_RATE = 48_000
MIX_CHANNELS = 2


def _number(name: str, value: Any, low: float, high: float, unit: str = "seconds") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FieldError(name, f"{_short(value)} is not a number")
    if not low <= value <= high:
        raise FieldError(name, f"{value:g} is not allowed; allowed {low:g} to {high:g} {unit}")
    return float(value)


def _text(name: str, value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise FieldError(name, f"expected text, got {type(value).__name__}")
    if len(value) > limit:
        raise FieldError(name, f"{len(value)} characters is too long; the limit is {limit}")
    if "\0" in value:
        raise FieldError(name, "the text contains a NUL character")
    return value


@dataclass(frozen=True)
class MusicRequest:
    """What a generated music item was made from (a catalog text-to-audio model), so it can be
    made again; ``extra`` holds model-specific settings (JSON values)."""

    prompt: str
    model_id: str
    seconds: float
    seed: int = 0
    steps: int = 50
    negative_prompt: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _text("prompt", self.prompt, MAX_MUSIC_PROMPT_CHARS)
        if not self.prompt.strip():
            raise FieldError("prompt", "describe the music to make")
        _text("negative_prompt", self.negative_prompt, MAX_MUSIC_PROMPT_CHARS)
        _text("model_id", self.model_id, 200)
        object.__setattr__(
            self, "seconds", _number("seconds", self.seconds, 0.1, MAX_AUDIO_SECONDS)
        )
        seed, steps = self.seed, self.steps
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
            raise FieldError("seed", f"{_short(seed)} is not allowed; allowed 0 to {2**32 - 1}")
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 1000:
            raise FieldError("steps", f"{_short(steps)} is not allowed; allowed 1 to 1000")
        if not isinstance(self.extra, dict) or not all(isinstance(k, str) for k in self.extra):
            raise FieldError("extra", "expected an object with text keys")

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "model_id": self.model_id,
            "seconds": self.seconds,
            "seed": self.seed,
            "steps": self.steps,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Any) -> MusicRequest:
        if not isinstance(data, dict):
            raise FieldError("request", "expected an object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FieldError("request", f"unknown setting {_short(unknown[0])}")
        if "prompt" not in data or "model_id" not in data or "seconds" not in data:
            raise FieldError("request", "needs prompt, model_id and seconds")
        return cls(**data)


@dataclass(frozen=True)
class AudioItem:
    """One clip on the audio track. Times are seconds; ``volume_db`` is a gain in decibels
    (0 = as recorded, ``MIN_VOLUME_DB`` to ``MAX_VOLUME_DB``)."""

    id: str
    # relative to the project folder, "/"-separated (e.g. "film_media/audio/<id>.wav")
    file: str
    # the imported file's original name, shown on the track
    name: str
    # the whole source file's length (probed at import): trims are checked against it
    source_seconds: float
    start: float = 0.0  # where it begins on the film's timeline
    trim_in: float = 0.0  # seconds of the file skipped at its start
    duration: float = 0.0  # seconds played; 0 = to the file's end (filled in when made)
    volume_db: float = 0.0
    fade_in: float = 0.0
    fade_out: float = 0.0
    kind: str = "music"
    request: MusicRequest | None = None  # what a "generated" item was made from

    def __post_init__(self) -> None:
        from sora_desktop.core.project.model import _ID_RE, ProjectError, _check_relpath

        if not isinstance(self.id, str) or not _ID_RE.match(self.id):
            raise FieldError("id", f"{_short(self.id)} is not valid (letters, digits, - and _)")
        try:
            _check_relpath(self.file, "file")
        except ProjectError as exc:
            raise FieldError("file", str(exc).removeprefix("file: ")) from exc
        _text("name", self.name, MAX_NAME_CHARS)
        src = _number("source_seconds", self.source_seconds, 0.0, MAX_AUDIO_SECONDS)
        if src <= 0:
            raise FieldError("source_seconds", "the sound file has no length")
        start = _number("start", self.start, 0.0, MAX_AUDIO_SECONDS)
        trim = _number("trim_in", self.trim_in, 0.0, src)
        if trim >= src:
            raise FieldError("trim_in", f"{trim:g} skips the whole file ({src:g} seconds)")
        left = src - trim
        dur = _number("duration", self.duration, 0.0, left + SECONDS_TOLERANCE)
        if dur == 0:
            dur = left
        dur = min(dur, left)
        vol = _number("volume_db", self.volume_db, MIN_VOLUME_DB, MAX_VOLUME_DB, "dB")
        fin = _number("fade_in", self.fade_in, 0.0, dur)
        fout = _number("fade_out", self.fade_out, 0.0, dur)
        if fin + fout > dur + 1e-9:
            raise FieldError(
                "fade_out",
                f"fade in ({fin:g} s) and fade out ({fout:g} s) together are longer than the "
                f"clip ({dur:g} s)",
            )
        if self.kind not in AUDIO_KINDS:
            raise FieldError("kind", f"{_short(self.kind)} is not allowed; allowed {AUDIO_KINDS}")
        if self.request is not None and not isinstance(self.request, MusicRequest):
            raise FieldError("request", "expected a MusicRequest")
        for name, value in (
            ("source_seconds", src),
            ("start", start),
            ("trim_in", trim),
            ("duration", dur),
            ("volume_db", vol),
            ("fade_in", fin),
            ("fade_out", fout),
        ):
            object.__setattr__(self, name, value)

    # ------------------------------------------------------------------ derived
    @property
    def end(self) -> float:
        """Where it stops on the film's timeline."""
        return self.start + self.duration

    @property
    def gain(self) -> float:
        """``volume_db`` as a linear amplitude factor."""
        return 10.0 ** (self.volume_db / 20.0)

    def fade_gain(self, t: float) -> float:
        """The fade envelope (0..1, without ``gain``) at film time ``t`` seconds."""
        return fade_gain(t - self.start, self.duration, self.fade_in, self.fade_out)

    def with_changes(self, **changes: Any) -> AudioItem:
        """A copy with ``changes`` applied, validated (``FieldError`` names the field)."""
        return replace(self, **changes)

    # ------------------------------------------------------------------ file data
    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "file": self.file,
            "name": self.name,
            "source_seconds": self.source_seconds,
            "start": self.start,
            "trim_in": self.trim_in,
            "duration": self.duration,
            "volume_db": self.volume_db,
            "fade_in": self.fade_in,
            "fade_out": self.fade_out,
            "kind": self.kind,
        }
        if self.request is not None:
            data["request"] = self.request.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Any) -> AudioItem:
        """``FieldError`` for anything wrong (the project loader words it as damage)."""
        if not isinstance(data, dict):
            raise FieldError("audio", "expected an object")
        kwargs = {k: data[k] for k in _ITEM_KEYS if k in data}
        for key in ("id", "file", "source_seconds"):
            if key not in kwargs:
                raise FieldError(key, "is missing")
        kwargs.setdefault("name", "")
        request = data.get("request")
        if request is not None:
            kwargs["request"] = MusicRequest.from_dict(request)
        return cls(**kwargs)


_ITEM_KEYS = (
    "id",
    "file",
    "name",
    "source_seconds",
    "start",
    "trim_in",
    "duration",
    "volume_db",
    "fade_in",
    "fade_out",
    "kind",
)


def fade_gain(t: float, duration: float, fade_in: float, fade_out: float) -> float:
    """The linear fade law at ``t`` seconds into a clip of ``duration`` seconds: 0 outside the
    clip, rising over ``fade_in``, falling over ``fade_out``, 1 between (amplitude, not dB)."""
    if t < 0 or t > duration:
        return 0.0
    g = 1.0
    if fade_in > 0:
        g = min(g, t / fade_in)
    if fade_out > 0:
        g = min(g, (duration - t) / fade_out)
    return max(0.0, g)
