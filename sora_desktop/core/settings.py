"""User settings: one small JSON file in the user's config folder.

Why this shape:
- Settings are a plain dataclass so the UI can bind to fields and tests can build one directly.
- Every value is checked (``validate``) with a ``ValueError`` that names the field, because a
  settings dialog must tell the user *which* value is wrong instead of silently changing it.
- A damaged settings file must never stop the app from starting: ``load_settings`` returns
  defaults for what it cannot read, keeps the damaged file as ``settings.json.corrupt`` so nothing
  is lost, and reports what happened in ``Settings.warnings`` (returned, never raised).
- ``SORA_DESKTOP_HOME`` moves every folder (config, data, cache, models, output) under one root,
  so tests and portable installs never touch the real user folders.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs

from sora_desktop.core.atomic import atomic_write_with
from sora_desktop.core.errors import FieldError
from sora_desktop.core.farm_address import RENDER_ON, parse_ray_address
from sora_desktop.core.memory_modes import MEMORY_MODES
from sora_desktop.core.safe_paths import UnsafePathError, open_regular_file
from sora_desktop.core.speed import SPEED_KEY, SpeedOptions

APP_NAME = "sora-desktop"
ENV_HOME = "SORA_DESKTOP_HOME"
SETTINGS_FILE = "settings.json"
SETTINGS_VERSION = 1
MAX_RECENT_FILES = 10
MAX_SETTINGS_BYTES = 4 * 1024 * 1024  # a real settings file is a few KB

DEVICES = ("auto", "cuda", "mps", "cpu")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
THEMES = ("dark", "light", "system")
# 0 turns autosave off; otherwise between 5 seconds and one hour.
AUTOSAVE_MIN_SECONDS = 5
AUTOSAVE_MAX_SECONDS = 3600
# UI zoom (Ctrl+plus / Ctrl+minus): a factor on the system's text size.
UI_ZOOM_MIN = 0.5
UI_ZOOM_MAX = 3.0


@dataclass(frozen=True)
class AppPaths:
    """The folders Sora Desktop uses. Nothing here is created until something is written."""

    config: Path
    data: Path
    cache: Path
    models: Path
    output: Path

    @property
    def settings_file(self) -> Path:
        return self.config / SETTINGS_FILE

    @property
    def recovery(self) -> Path:
        return self.data / "recovery"

    def __getitem__(self, name: str) -> Path:
        # Lets callers write ``default_paths()["config"]`` as well as ``.config``.
        if name not in {f.name for f in fields(self)}:
            raise KeyError(f"no folder named {name!r}; have config, data, cache, models, output")
        return getattr(self, name)


def default_paths() -> AppPaths:
    """Where settings, data, caches, models and exported videos live by default.

    With ``SORA_DESKTOP_HOME`` set, everything lives under that one folder.
    """
    home = os.environ.get(ENV_HOME)
    if home:
        root = Path(home).expanduser()
        return AppPaths(
            config=root / "config",
            data=root / "data",
            cache=root / "cache",
            models=root / "models",
            output=root / "output",
        )
    data = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    return AppPaths(
        config=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        data=data,
        cache=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        models=data / "models",
        output=Path(platformdirs.user_videos_dir()) / "Sora Desktop",
    )


def _default_output_dir() -> str:
    return str(default_paths().output)


def _default_models_dir() -> str:
    return str(default_paths().models)


@dataclass
class Settings:
    """Everything the user can change in Preferences, plus small bits of remembered state."""

    output_dir: str = field(default_factory=_default_output_dir)
    models_dir: str = field(default_factory=_default_models_dir)
    device: str = "auto"
    precision: str = "auto"
    memory_mode: str = "balanced"
    # "Faster": the speed switches for downloaded models (core/speed.py), recorded in each
    # clip's request; empty = all off
    speed: dict[str, Any] = field(default_factory=dict)
    theme: str = "system"
    ui_zoom: float = 1.0  # text size, x the system's (View → Zoom in / out)
    advanced_open: bool = False  # the prompt editor's Advanced section (steps, guidance, seed)
    # Visible watermark on exported videos; on by default so shared clips are recognisable.
    watermark: bool = True
    # "AI-generated" label in exported files' metadata.
    ai_label: bool = True
    # Proof of origin (engine/export/provenance.py): the prompt goes into each export's signed
    # C2PA manifest unless turned off; the user's own certificate chain + key (PEM paths), or
    # None for the per-install certificate made on first use.
    provenance_prompt: bool = True
    provenance_cert: str | None = None
    provenance_key: str | None = None
    policy_enabled: bool = True
    autosave_seconds: int = 60
    recent_files: list[str] = field(default_factory=list)
    # Models (Settings → Models): the hub mirror address, and offline mode (no download at all;
    # the embedded model never uses the network either way).
    hf_endpoint: str | None = None
    # Never saved: the access token lives in the keyring (core.hub_token). Only a token found in
    # an old settings.json is held here, for this session, until Settings → Models moves it.
    hf_token: str | None = None
    offline: bool = False
    first_run_done: bool = False
    # Render on this computer, or on a Ray cluster at ``ray_address`` (core/farm_address.py).
    render_on: str = "this computer"
    ray_address: str = ""
    # Keys written by a newer Sora Desktop; kept so saving here does not delete them.
    unknown: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # What load_settings had to fix or could not read; shown to the user, never saved.
    warnings: list[str] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.validate()

    def speed_options(self) -> SpeedOptions:
        return SpeedOptions.from_extra({SPEED_KEY: self.speed})

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise ``ValueError("<field>: ...")`` for the first invalid value."""
        for name in ("output_dir", "models_dir"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise FieldError(name, "choose a folder")
        _check_choice("device", self.device, DEVICES)
        _check_choice("precision", self.precision, PRECISIONS)
        _check_choice("memory_mode", self.memory_mode, MEMORY_MODES)
        _check_choice("theme", self.theme, THEMES)
        _check_choice("render_on", self.render_on, RENDER_ON)
        if not isinstance(self.ray_address, str):
            raise FieldError("ray_address", "expected an address like 192.168.1.20:6379")
        if self.render_on == "ray" or self.ray_address.strip():
            parse_ray_address(self.ray_address, "ray_address")
        if not isinstance(self.speed, dict):
            raise FieldError("speed", "the saved speed options are damaged; set them again")
        self.speed_options()  # FieldError naming the option
        bools = ("watermark", "ai_label", "policy_enabled", "offline", "first_run_done")
        for name in (*bools, "provenance_prompt", "advanced_open"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise FieldError(name, "must be on or off")
        for name in ("provenance_cert", "provenance_key"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise FieldError(name, "must be a file path, or empty for the app's own")
        zoom = self.ui_zoom
        if isinstance(zoom, bool) or not isinstance(zoom, (int, float)):
            raise FieldError("ui_zoom", "must be a number")
        if not UI_ZOOM_MIN <= zoom <= UI_ZOOM_MAX:
            raise FieldError("ui_zoom", f"{zoom} is out of range {UI_ZOOM_MIN} to {UI_ZOOM_MAX}")
        value = self.autosave_seconds
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldError("autosave_seconds", "must be a whole number of seconds")
        if value != 0 and not AUTOSAVE_MIN_SECONDS <= value <= AUTOSAVE_MAX_SECONDS:
            raise FieldError(
                "autosave_seconds",
                f"{value} is out of range; allowed 0 (off) or "
                f"{AUTOSAVE_MIN_SECONDS} to {AUTOSAVE_MAX_SECONDS}",
            )
        if not isinstance(self.recent_files, list) or not all(
            isinstance(p, str) and p for p in self.recent_files
        ):
            raise FieldError("recent_files", "the list of recent projects is damaged")
        if len(self.recent_files) > MAX_RECENT_FILES:
            raise FieldError(
                "recent_files", f"{len(self.recent_files)} entries; at most {MAX_RECENT_FILES}"
            )
        if self.hf_endpoint is not None:
            if (
                not isinstance(self.hf_endpoint, str)
                or not self.hf_endpoint.startswith(("http://", "https://"))
                or not _has_host(self.hf_endpoint)
            ):
                raise FieldError(
                    "hf_endpoint",
                    f"“{str(self.hf_endpoint)[:80]}” is not a web address; "
                    "use e.g. https://hf-mirror.com, or leave it empty",
                )
        if self.hf_token is not None and (
            not isinstance(self.hf_token, str) or not self.hf_token.strip()
        ):
            raise FieldError("hf_token", "paste the token, or leave it empty for none")

    # ------------------------------------------------------------------ helpers
    def add_recent(self, path: str | os.PathLike) -> None:
        """Put ``path`` first in the recent-files list (no duplicates, at most 10)."""
        text = str(Path(path))
        rest = [p for p in self.recent_files if p != text]
        self.recent_files = [text, *rest][:MAX_RECENT_FILES]

    def remove_recent(self, path: str | os.PathLike) -> None:
        text = str(Path(path))
        self.recent_files = [p for p in self.recent_files if p != text]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.unknown)
        for f in fields(self):
            if f.name in ("unknown", "warnings", "hf_token"):  # the token: keyring, never JSON
                continue
            value = getattr(self, f.name)
            data[f.name] = list(value) if isinstance(value, list) else value
        data["version"] = SETTINGS_VERSION
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        """Strict: raise ``ValueError`` naming the first bad field (for import/tests)."""
        if not isinstance(data, dict):
            raise FieldError("settings", "expected a JSON object")
        known = _field_names()
        kwargs = {k: v for k, v in data.items() if k in known}
        unknown = {k: v for k, v in data.items() if k not in known and k != "version"}
        settings = cls(**kwargs)
        settings.unknown = unknown
        return settings


def _field_names() -> set[str]:
    return {f.name for f in fields(Settings)} - {"unknown", "warnings"}


def _has_host(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return False
    return bool(parts.hostname) and not any(c.isspace() for c in url)


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise FieldError(name, f"“{str(value)[:40]}” is not one of {', '.join(allowed)}")


def settings_path() -> Path:
    return default_paths().settings_file


def load_settings(path: str | os.PathLike | None = None) -> Settings:
    """Read settings; never raises for a bad file.

    - missing file: defaults, no warning (first run);
    - unreadable or not JSON: defaults, the file is kept as ``<file>.corrupt``, one warning;
    - readable but some values invalid: those fields get their defaults, the others are kept,
      the file is kept as ``<file>.corrupt``, and one warning per field names it.
    """
    target = Path(path) if path is not None else settings_path()
    try:
        # O_NONBLOCK + fstat: a FIFO or device here must not hang the start-up
        with open_regular_file(target, "settings", MAX_SETTINGS_BYTES) as fh:
            raw = fh.read(MAX_SETTINGS_BYTES + 1)
        if len(raw) > MAX_SETTINGS_BYTES:
            raise UnsafePathError("settings", f"larger than {MAX_SETTINGS_BYTES} bytes")
    except FileNotFoundError:
        return Settings()
    except (OSError, UnsafePathError) as exc:
        settings = Settings()
        settings.warnings.append(
            f"Could not read the settings file {target} ({exc}); using defaults."
        )
        return settings

    try:
        data = json.loads(raw.decode("utf-8-sig"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError too
        kept = _keep_corrupt(target, raw)
        settings = Settings()
        settings.warnings.append(
            f"The settings file {target} was damaged ({_short(exc)}); defaults are used. {kept}"
        )
        return settings

    settings = Settings()
    problems: list[str] = []
    # Field by field, so one bad value does not throw away the user's other choices.
    for name in sorted(_field_names()):
        if name not in data:
            continue
        old = getattr(settings, name)
        setattr(settings, name, data[name])
        try:
            settings.validate()
        except ValueError as exc:
            setattr(settings, name, old)
            problems.append(str(exc))
    settings.unknown = {k: v for k, v in data.items() if k not in _field_names() and k != "version"}
    if problems:
        kept = _keep_corrupt(target, raw)
        for problem in problems:
            settings.warnings.append(f"Settings: {problem}; the default is used instead. {kept}")
    return settings


def save_settings(settings: Settings, path: str | os.PathLike | None = None) -> Path:
    """Validate, then write atomically (0600: it names folders and a mirror). The access token
    is never written here; it lives in the keyring (``sora_desktop.core.hub_token``)."""
    settings.validate()
    target = Path(path) if path is not None else settings_path()
    text = json.dumps(settings.to_dict(), indent=2, sort_keys=True) + "\n"
    data = text.encode("utf-8")
    return atomic_write_with(target, lambda tmp: tmp.write_bytes(data), mode=0o600)


def _keep_corrupt(target: Path, raw: bytes) -> str:
    """Copy the damaged bytes beside the file so the user's values are not lost."""
    corrupt = target.with_name(target.name + ".corrupt")
    try:
        atomic_write_with(corrupt, lambda tmp: tmp.write_bytes(raw), mode=0o600)
    except OSError as exc:
        return f"(The damaged file could not be copied: {exc}.)"
    return f"The damaged file was kept as {corrupt}."


def _short(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON at line {exc.lineno}, column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc) or type(exc).__name__
