"""What ``sora-desktop generate`` and ``info`` take from the model catalog: the chosen model's
defaults (so its defaults are valid for it: Wan's 81 frames at 16 fps, not the built-in 16 at 8),
the memory check the app runs (``--force`` goes past it), and the installed models' fit.

The CLI prints its user-facing lines; everything it decides comes from ``core.capabilities``,
``core.fit`` (through ``engine.preflight``) and the settings.
"""

from __future__ import annotations

import sys
from typing import Any

from sora_desktop.core.request import EMBEDDED_MODEL_ID, GenerationRequest

DEFAULT_KEYS = ("width", "height", "num_frames", "fps", "steps", "guidance")


class FitRefused(RuntimeError):
    """The memory check says the job will not fit; ``--force`` runs it anyway (exit 1)."""


def _settings() -> Any:
    from sora_desktop.core.settings import load_settings

    try:
        return load_settings()
    except Exception:  # noqa: BLE001 - the defaults still say where models live
        from sora_desktop.core.settings import Settings

        return Settings()


def model_defaults(model_id: str) -> tuple[dict[str, Any], Any]:
    """(request fields from the model's defaults, its capability record). ValueError naming
    the catalog's and the installed ids for a model this computer does not know."""
    from sora_desktop.core.capabilities import capabilities_from_entry, embedded_capabilities
    from sora_desktop.core.catalog import find_entry

    if model_id == EMBEDDED_MODEL_ID:
        return {}, embedded_capabilities()
    entry = find_entry(model_id)
    if entry is None:
        from sora_desktop.cli_models import unknown_model_message
        from sora_desktop.core.capabilities import capabilities_for
        from sora_desktop.engine.registry import resolve_factory

        try:  # a backend registered in this process (a plug-in, a test) has no catalog entry
            resolve_factory(model_id)
        except ValueError:
            raise ValueError(unknown_model_message(model_id, _settings().models_dir)) from None
        return {}, capabilities_for(model_id)
    if entry.kind != "video":
        raise ValueError(f"model_id: {model_id} is a prompt enhancer, not a video model")
    caps = capabilities_from_entry(entry)
    fields = {k: entry.defaults[k] for k in DEFAULT_KEYS if k in entry.defaults}
    # the record's own defaults win where the entry's figures are missing or odd
    fields.setdefault("width", caps.default_size[0])
    fields.setdefault("height", caps.default_size[1])
    fields.setdefault("num_frames", caps.default_frames)
    fields.setdefault("fps", caps.default_fps)
    return fields, caps


def snap_seconds(caps: Any, seconds: float, fps: int, frames: int) -> int:
    """``--seconds`` to the nearest frame count the model takes (k*m+1), said on stderr; a count
    given with ``--frames`` is never changed (the model's check names the valid ones)."""
    m = getattr(caps, "frame_multiple", 1)
    if m <= 1 or (frames - 1) % m == 0:
        return frames
    k = max(1, round((frames - 1) / m))
    snapped = min(k * m + 1, max(1, (caps.max_frames - 1) // m * m + 1))
    print(
        f"note: {seconds:g} s at {fps} fps is {frames} frames; {caps.name} takes {m}k+1 frames, "
        f"so {snapped} frames ({snapped / fps:.2f} s) are made",
        file=sys.stderr,
    )
    return snapped


def check_fit(request: GenerationRequest, force: bool = False) -> None:
    """The app's memory check for ``request`` in the user's memory mode. ``FitRefused`` when it
    will not fit, unless ``force``; a tight fit or a forced run is said on stderr."""
    from sora_desktop.core.catalog import find_entry
    from sora_desktop.core.memory_modes import mode_name
    from sora_desktop.engine.preflight import preflight

    entry = find_entry(request.model_id)
    if entry is None or not entry.needs_download:
        return
    mode = getattr(_settings(), "memory_mode", "balanced")
    report = preflight(entry, request, mode)
    if report.ok:
        if report.verdict == "tight":
            print(f"note: {report.message} {report.suggestion}".strip(), file=sys.stderr)
        return
    if force:
        print(f"warning: {report} Running anyway (--force).", file=sys.stderr)
        return
    raise FitRefused(
        f"{report} (memory mode: {mode_name(mode)}; change it in Settings, or add --force to "
        "run anyway)"
    )


def print_installed() -> None:
    """``info``: this computer for the fit method, and each installed model's size and fit."""
    from sora_desktop.cli_models import fit_summary, probe_machine
    from sora_desktop.core.catalog import installed_models, installed_size, load_catalog
    from sora_desktop.core.memory_modes import mode_name
    from sora_desktop.engine.downloads import human_bytes

    settings = _settings()
    machine = probe_machine()
    gpu = (
        f"{machine.gpu_name or 'GPU'} ({machine.vram_gb:.1f} GB)"
        if machine.vram_gb is not None
        else "none (no NVIDIA GPU found)"
    )
    ram = f"{machine.ram_gb:.1f} GB" if machine.ram_gb is not None else "unknown"
    print(f"gpu: {gpu}")
    print(f"ram: {ram}")
    print(f"memory mode: {mode_name(getattr(settings, 'memory_mode', 'balanced'))}")
    print(f"models folder: {settings.models_dir}")
    try:
        entries = load_catalog()
    except ValueError as exc:
        print(f"installed models: unknown ({exc})")
        return
    installed = [e for e in installed_models(settings.models_dir, entries)]
    print(f"installed models: {len(installed)}")
    for e in installed:
        size = (
            "built in"
            if not e.needs_download
            else human_bytes(installed_size(e, settings.models_dir))
        )
        print(f"  {e.id}  {e.name}  {size}  {fit_summary(e, machine)}")


def check_music(path: str | None) -> tuple[str, float] | None:
    """``--music FILE`` checked before the generation (a hostile or unreadable file is a usage
    error now, not after minutes of work): ``(path, its length in seconds)`` or None."""
    if path is None:
        return None
    from sora_desktop.cli import UsageError
    from sora_desktop.core.errors import FieldError
    from sora_desktop.studio.soundtrack import check_sound_file

    try:
        _info, scan = check_sound_file(path)
    except FieldError as exc:
        raise UsageError(f"--music: {exc.message}") from exc
    return path, scan.seconds


def clip_sound(
    result: Any, music: tuple[str, float] | None, fmt: str, normalize: bool, cancel: Any
) -> tuple[Any, dict[str, Any] | None]:
    """The generated clip's sound for the export: the model's own (LTX-2) and ``--music``.
    GIF and PNG frames keep none, and say so on stderr (the one message, from core)."""
    from pathlib import Path

    from sora_desktop.core.export_settings import ExportSettings, sound_dropped_message
    from sora_desktop.studio.film_sound import clip_sound_mix

    own = getattr(result, "audio", None)
    if own is None and music is None:
        return None, None
    if not ExportSettings(format=fmt).keeps_sound:
        print(f"note: {sound_dropped_message(fmt)}", file=sys.stderr)
        return None, {"dropped": True, "own_sound": own is not None, "music": music is not None}
    return clip_sound_mix(
        len(result.frames),
        int(result.fps),
        own_audio=own,
        sample_rate=int(getattr(result, "sample_rate", 0) or 0),
        music=Path(music[0]) if music is not None else None,
        music_seconds=music[1] if music is not None else 0.0,
        normalize=normalize,
        cancel=cancel,
    )
