"""The film's sound for an export (Qt-free; the engine is imported when a mix runs).

``film_sound`` says what goes into the mix: the project's audio items (whole-film exports) and
each exported shot's own sound (its picked take's ``_audio.wav``) unless the shot is muted. The
render places each shot's sound where the shot plays in the film (``core/film_layout`` timing,
as the pictures: cross-faded shots cross-fade their sound over the same frames), mixes
everything to exactly the film's length and hands the mix to the encoder. ``None``: the film
has no sound, and the export is exactly what it was before sound existed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sora_desktop.core import project as core_project
from sora_desktop.core.errors import FieldError
from sora_desktop.core.export_settings import ExportSettings, sound_dropped_message
from sora_desktop.core.project import AudioItem, Project
from sora_desktop.core.safe_paths import UnsafePathError, check_regular_file
from sora_desktop.studio.soundtrack import shot_sound
from sora_desktop.studio.takes import take_clip

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FilmSound:
    """What an export mixes. ``shot_sounds`` runs parallel to the exported clips
    (``film.film_clips``): each shot's own sound file, or None."""

    items: tuple[tuple[Path, AudioItem], ...] = ()
    shot_sounds: tuple[Path | None, ...] = ()
    normalize_loudness: bool = False
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.items and not any(self.shot_sounds)


def film_sound(
    project: Project, shot_id: str | None, settings: ExportSettings | None = None
) -> FilmSound | None:
    """The sound an export of the film (``shot_id`` None) or of one shot gets; None when there
    is none. The soundtrack's items belong to the film, so a one-shot export gets only that
    shot's own sound. ``FieldError`` ("audio") names a sound clip whose file is missing or
    unusable: the export must not silently lose the music."""
    settings = settings or project.export_settings
    shots = [project.shot(shot_id)] if shot_id is not None else project.shots
    shots = [s for s in shots if take_clip(project, s.selected) is not None]
    if not shots:
        return None
    items: list[tuple[Path, AudioItem]] = []
    if shot_id is None:
        for item in project.audio:
            try:
                path = core_project.resolve_media(project, item.file)
                check_regular_file(path, "audio")
            except (core_project.ProjectError, UnsafePathError) as exc:
                why = exc.message if isinstance(exc, UnsafePathError) else str(exc)
                raise FieldError(
                    "audio",
                    f"the sound clip {item.name or item.id} cannot be used ({why}); remove it "
                    "from the track or import it again",
                ) from exc
            items.append((path, item))
    sounds = tuple(shot_sound(project, s) for s in shots)
    record = {
        "items": [item.to_dict() for _, item in items],
        "shot_sound": [s.id for s, p in zip(shots, sounds, strict=True) if p is not None],
        "muted_shots": [s.id for s in shots if s.mute],
        "normalize_loudness": settings.normalize_loudness,
    }
    sound = FilmSound(tuple(items), sounds, settings.normalize_loudness, record)
    return None if sound.empty else sound


def dropped_message(sound: FilmSound | None, fmt: str) -> str | None:
    """The one sentence a GIF or PNG export of a film with sound shows; None otherwise."""
    if sound is None or ExportSettings(format=fmt).keeps_sound:
        return None
    return sound_dropped_message(fmt)


def shot_starts(
    clips: Sequence[tuple[int, float]], film_fps: int, crossfade_frames: int
) -> list[tuple[int, int] | None]:
    """Where each decoded shot ``(frames, fps)`` plays in the assembled film, in film frames
    ``(first, count)`` (None: a shot too short to show one frame, left out as the pictures
    are): core/film_joins' rule, the one the pictures (and the player) follow."""
    from sora_desktop.core.film_joins import film_cut

    cut = film_cut(list(clips), film_fps, crossfade_frames)
    return [None if p is None else (p.first, p.count) for p in cut.places]


def mix_sources_for(
    sound: FilmSound,
    clips: Sequence[tuple[int, float]],
    film_fps: int,
    crossfade_frames: int,
) -> list[Any]:
    """The ``MixSource`` list for a film: each shot's sound at its place (cut to its span,
    cross-faded over the joins), then the soundtrack's items at their own times."""
    from sora_desktop.engine.export.audio_mix import MixSource

    sources = []
    places = shot_starts(clips, film_fps, crossfade_frames)
    kept = [i for i, place in enumerate(places) if place is not None]
    fade = crossfade_frames / film_fps
    for i, (path, place) in enumerate(zip(sound.shot_sounds, places, strict=True)):
        if path is None or place is None:
            continue
        first, count = place
        order = kept.index(i)
        sources.append(
            MixSource(
                path=path,
                start=first / film_fps,
                trim_in=0.0,
                duration=count / film_fps,
                fade_in=fade if order > 0 else 0.0,
                fade_out=fade if order < len(kept) - 1 else 0.0,
                label=f"shot {i + 1}'s sound",
            )
        )
    for path, item in sound.items:
        sources.append(
            MixSource(
                path=path,
                start=item.start,
                trim_in=item.trim_in,
                duration=item.duration,
                gain=item.gain,
                fade_in=item.fade_in,
                fade_out=item.fade_out,
                label=f"sound clip {item.name or item.id}",
            )
        )
    return sources


def render_mix(
    sources: Sequence[Any], frames: int, fps: int, normalize: bool, cancel: Any = None
) -> Path:
    """Mix ``sources`` to exactly ``frames / fps`` seconds (loudness-normalised when asked) into
    a temporary raw file for ``export_video(audio=...)``; the caller removes it
    (``engine.export.audio_mix.remove_mix``)."""
    from sora_desktop.engine.export.audio_mix import (
        film_samples,
        mix_sources,
        normalize_loudness,
        write_mix,
    )

    pcm = mix_sources(sources, film_samples(frames, fps), cancel)
    if normalize:
        pcm = normalize_loudness(pcm)
    if cancel is not None:
        cancel.raise_if_cancelled()
    return write_mix(pcm)


def clip_sound_mix(
    frames: int,
    fps: int,
    *,
    own_audio: Any = None,
    sample_rate: int = 0,
    music: Path | None = None,
    music_seconds: float = 0.0,
    normalize: bool = False,
    cancel: Any = None,
) -> tuple[Path | None, dict[str, Any] | None]:
    """The sound of one generated clip (``sora-desktop generate``): the model's own sound
    (``own_audio``, (samples, channels) float at ``sample_rate``; LTX-2 makes one) and
    ``music`` (a checked sound file ``music_seconds`` long) laid under it from the start, cut to
    the clip's length and faded (``soundtrack.music_fades``). ``(raw mix, metadata record)``;
    ``(None, None)`` when there is no sound. The caller removes the mix (``remove_mix``)."""
    import tempfile

    from sora_desktop.engine.export.audio_mix import MixSource
    from sora_desktop.studio.audio import write_wav
    from sora_desktop.studio.soundtrack import music_fades

    if own_audio is None and music is None:
        return None, None
    seconds = frames / fps
    sources = []
    record: dict[str, Any] = {"items": [], "own_sound": own_audio is not None}
    record["normalize_loudness"] = normalize
    with tempfile.TemporaryDirectory(prefix="sora-sound.") as tmp:
        if own_audio is not None:
            own = write_wav(Path(tmp) / "own.wav", own_audio, sample_rate)
            sources.append(MixSource(own, 0.0, 0.0, seconds, label="the clip's own sound"))
        if music is not None:
            duration = min(music_seconds, seconds)
            fade_in, fade_out = music_fades(duration)
            sources.append(
                MixSource(Path(music), 0.0, 0.0, duration, 1.0, fade_in, fade_out, "--music")
            )
            record["items"].append(
                {
                    "name": Path(music).name,
                    "kind": "music",
                    "source_seconds": music_seconds,
                    "start": 0.0,
                    "trim_in": 0.0,
                    "duration": duration,
                    "volume_db": 0.0,
                    "fade_in": fade_in,
                    "fade_out": fade_out,
                }
            )
        mix = render_mix(sources, frames, fps, normalize, cancel)
    return mix, record
