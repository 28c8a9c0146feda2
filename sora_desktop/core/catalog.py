"""The model catalog (``model/catalog.json``) as plain data, and which models are installed.

A downloaded model counts as installed only when its folder holds a complete manifest
(``.sora-installed.json``) written last by the downloader after every file was verified; a
folder with missing or wrongly sized files is not installed. The embedded model needs no
download and is always installed. This module imports neither Qt nor torch nor the engine.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sora_desktop.core.assets import model_dir
from sora_desktop.core.fit import FitSpec, mode_figures, parse_fit
from sora_desktop.core.memory_modes import MEMORY_MODES
from sora_desktop.core.request import EMBEDDED_MODEL_ID

MANIFEST_NAME = ".sora-installed.json"
MANIFEST_VERSION = 1
BACKENDS = ("embedded", "diffusers", "transformers")
KINDS = ("video", "enhancer")
ENV_CATALOG = "SORA_DESKTOP_CATALOG"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9][A-Za-z0-9._-]{0,127})?$")


@dataclass(frozen=True)
class CatalogEntry:
    """One model the app knows how to download and run."""

    id: str
    name: str
    backend: str
    kind: str
    repo_id: str | None
    revision: str | None
    files: tuple[str, ...]
    download_bytes: int
    license: str
    min_vram_gb: dict[str, float]
    min_ram_gb: dict[str, float]
    defaults: dict[str, Any]
    pipeline: str
    supports_start_image: bool
    description: str
    start_image_pipeline: str | None = None
    estimated: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    # per-component sizes for the fit method (core/fit.py); None: min_*_gb given by hand
    fit: FitSpec | None = None

    @property
    def needs_download(self) -> bool:
        return self.backend != "embedded"

    @property
    def folder_name(self) -> str:
        """The entry's folder under the models folder (ids may contain '/')."""
        return self.id.replace("/", "--")

    def folder(self, models_dir: str | os.PathLike) -> Path:
        return Path(models_dir) / self.folder_name

    def is_estimate(self, name: str) -> bool:
        """Whether a figure (e.g. 'download_bytes', 'min_vram_gb.fast') is an estimate."""
        return any(name == e or name.startswith(e + ".") for e in self.estimated)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CatalogEntry:
        if not isinstance(data, dict):
            raise ValueError("catalog: each model must be a JSON object")
        where = f"catalog[{data.get('id', '?')}]"
        for key in ("id", "name", "backend", "kind", "license", "pipeline", "description"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise ValueError(f"{where}.{key}: must be a non-empty string")
        if data["backend"] not in BACKENDS:
            raise ValueError(f"{where}.backend: {data['backend']!r}; allowed {', '.join(BACKENDS)}")
        if data["kind"] not in KINDS:
            raise ValueError(f"{where}.kind: {data['kind']!r}; allowed {', '.join(KINDS)}")
        if not _ID_RE.match(data["id"]):
            # the id names the model's folder, which Delete removes: '..' would be the parent
            raise ValueError(
                f"{where}.id: must be 'name' or 'owner/name' of letters, digits, '.', '_' and "
                "'-', each part starting with a letter or digit"
            )
        files = data.get("files", [])
        if not isinstance(files, list) or not all(isinstance(f, str) and f for f in files):
            raise ValueError(f"{where}.files: must be a list of file names or patterns")
        repo_id = data.get("repo_id")
        if data["backend"] != "embedded":
            if not isinstance(repo_id, str) or repo_id.count("/") != 1:
                raise ValueError(f"{where}.repo_id: must be 'owner/name' for a downloadable model")
            if not files:
                raise ValueError(f"{where}.files: a downloadable model must list its files")
        size = data.get("download_bytes", 0)
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"{where}.download_bytes: must be a whole number of bytes >= 0")
        defaults = data.get("defaults", {})
        if not isinstance(defaults, dict):
            raise ValueError(f"{where}.defaults: must be an object")
        fit = None
        if "fit" in data:
            # one method: the per-mode figures follow from the fit block, never given twice
            for key in ("min_vram_gb", "min_ram_gb"):
                if key in data:
                    raise ValueError(f"{where}.{key}: comes from 'fit'; remove it")
            if data["kind"] != "video":
                raise ValueError(f"{where}.fit: only video models have a fit block")
            fit = parse_fit(where, data["fit"])
            _check_shape(where, defaults)
            vram, ram = mode_figures(fit, defaults)
        else:
            vram = _mode_table(where, "min_vram_gb", data.get("min_vram_gb"))
            ram = _mode_table(where, "min_ram_gb", data.get("min_ram_gb"))
        known = {f for f in cls.__dataclass_fields__}
        extra = {k: v for k, v in data.items() if k not in known}
        _check_extra(where, extra)
        return cls(
            id=data["id"],
            name=data["name"],
            backend=data["backend"],
            kind=data["kind"],
            repo_id=repo_id,
            revision=data.get("revision") or ("main" if repo_id else None),
            files=tuple(files),
            download_bytes=size,
            license=data["license"],
            min_vram_gb=vram,
            min_ram_gb=ram,
            defaults=dict(defaults),
            pipeline=data["pipeline"],
            supports_start_image=bool(data.get("supports_start_image", False)),
            description=data["description"],
            start_image_pipeline=data.get("start_image_pipeline"),
            estimated=tuple(data.get("estimated", ())),
            sources=tuple(data.get("sources", ())),
            extra=extra,
            fit=fit,
        )


# keys an entry may carry beyond the dataclass fields; anything else is a typo and refused
OPTIONAL_KEYS = ("rules", "start_image_repo_id", "extra_repos")


def _check_extra(where: str, extra: dict[str, Any]) -> None:
    unknown = sorted(set(extra) - set(OPTIONAL_KEYS))
    if unknown:
        raise ValueError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed besides the standard "
            f"fields: {', '.join(OPTIONAL_KEYS)}"
        )
    rules = extra.get("rules")
    if rules is not None and (not isinstance(rules, str) or not rules):
        raise ValueError(f"{where}.rules: must name a pipeline rule set")
    repo = extra.get("start_image_repo_id")
    if repo is not None and (not isinstance(repo, str) or repo.count("/") != 1):
        raise ValueError(f"{where}.start_image_repo_id: must be 'owner/name'")
    repos = extra.get("extra_repos")
    if repos is None:
        return
    if not isinstance(repos, list) or not repos:
        raise ValueError(f"{where}.extra_repos: must be a non-empty list")
    for i, r in enumerate(repos):
        w = f"{where}.extra_repos[{i}]"
        if not isinstance(r, dict) or set(r) != {"repo_id", "revision", "files", "into"}:
            raise ValueError(f"{w}: must give repo_id, revision, files and into")
        if not isinstance(r["repo_id"], str) or r["repo_id"].count("/") != 1:
            raise ValueError(f"{w}.repo_id: must be 'owner/name'")
        if not isinstance(r["revision"], str) or not r["revision"]:
            raise ValueError(f"{w}.revision: must be a non-empty string")
        files = r["files"]
        if (
            not isinstance(files, list)
            or not files
            or not all(isinstance(f, str) and f for f in files)
        ):
            raise ValueError(f"{w}.files: must be a list of file names or patterns")
        into = r["into"]
        if not isinstance(into, str) or not (into == "." or is_safe_relative_path(into)):
            raise ValueError(f"{w}.into: must be a folder inside the model's folder")


def _check_shape(where: str, defaults: dict[str, Any]) -> None:
    """A video entry with a fit block needs a default clip to measure it at."""
    for key in ("width", "height", "num_frames", "steps"):
        value = defaults.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{where}.defaults.{key}: must be a whole number >= 1")
    g = defaults.get("guidance")
    if isinstance(g, bool) or not isinstance(g, (int, float)) or g < 0:
        raise ValueError(f"{where}.defaults.guidance: must be a number >= 0")


def _mode_table(where: str, name: str, value: Any) -> dict[str, float]:
    if not isinstance(value, dict) or set(value) != set(MEMORY_MODES):
        raise ValueError(
            f"{where}.{name}: must give a figure for each of {', '.join(MEMORY_MODES)}"
        )
    out: dict[str, float] = {}
    for mode, gb in value.items():
        if isinstance(gb, bool) or not isinstance(gb, (int, float)) or gb < 0:
            raise ValueError(f"{where}.{name}.{mode}: must be a number of GB >= 0")
        out[mode] = float(gb)
    return out


def default_catalog_path() -> Path:
    """``SORA_DESKTOP_CATALOG``, the PyInstaller bundle, or ``model/catalog.json`` in the repo."""
    override = os.environ.get(ENV_CATALOG)
    if override:
        return Path(override)
    return model_dir() / "catalog.json"


def load_catalog(path: str | os.PathLike | None = None) -> list[CatalogEntry]:
    """All catalog entries, the embedded model first. Raises ValueError on a malformed file."""
    path = Path(path) if path is not None else default_catalog_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ValueError(f"catalog: {path} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"catalog: {path} is not valid JSON ({exc.msg}, line {exc.lineno})"
        ) from exc
    except (ValueError, RecursionError) as exc:  # not UTF-8, or nested too deeply
        raise ValueError(f"catalog: {path} is not a usable catalog ({exc})") from exc
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, list) or not models:
        raise ValueError(f"catalog: {path} must hold a non-empty 'models' list")
    entries = [CatalogEntry.from_dict(m) for m in models]
    ids = [e.id for e in entries]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"catalog: duplicate model ids {', '.join(dupes)}")
    if entries[0].id != EMBEDDED_MODEL_ID:
        raise ValueError(f"catalog: the first entry must be the embedded model {EMBEDDED_MODEL_ID}")
    return entries


def find_entry(model_id: str, entries: list[CatalogEntry] | None = None) -> CatalogEntry | None:
    for entry in entries if entries is not None else load_catalog():
        if entry.id == model_id:
            return entry
    return None


# ---------------------------------------------------------------------------- installed state
def read_manifest(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The manifest of a model folder if it is complete and consistent with the files, else None.

    Consistent means: every listed file exists with the listed size. (The downloader checked the
    SHA-256 of each file before writing the manifest; re-hashing gigabytes on every app start
    would be too slow, so sizes are what is re-checked here.)
    """
    folder = Path(folder)
    try:
        data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # ValueError: also a manifest that is not UTF-8
        return None
    if not isinstance(data, dict) or data.get("complete") is not True:
        return None
    files = data.get("files")
    if not isinstance(files, list) or not files:
        return None
    for item in files:
        if not isinstance(item, dict):
            return None
        rel, size = item.get("path"), item.get("size")
        if not isinstance(rel, str) or not is_safe_relative_path(rel) or not isinstance(size, int):
            return None
        try:
            if (folder / rel).stat().st_size != size:
                return None
        except OSError:
            return None
    return data


def is_safe_relative_path(name: str) -> bool:
    """A repo file name that stays inside its folder: relative, no '..', no drive, no NUL."""
    if not name or "\x00" in name or "\\" in name or name.startswith("/"):
        return False
    if len(name) > 1 and name[1] == ":":
        return False
    parts = name.split("/")
    return all(p not in ("", ".", "..") for p in parts)


def is_installed(entry: CatalogEntry, models_dir: str | os.PathLike) -> bool:
    if not entry.needs_download:
        return True
    manifest = read_manifest(entry.folder(models_dir))
    return manifest is not None and manifest.get("model_id") == entry.id


def installed_size(entry: CatalogEntry, models_dir: str | os.PathLike) -> int:
    """Bytes the installed model takes on disk (0 when not installed or embedded)."""
    if not entry.needs_download:
        return 0
    manifest = read_manifest(entry.folder(models_dir))
    if manifest is None:
        return 0
    return sum(int(f["size"]) for f in manifest["files"])


def installed_models(
    models_dir: str | os.PathLike, entries: list[CatalogEntry] | None = None
) -> list[CatalogEntry]:
    """Catalog entries that can be used now: the embedded one and fully verified downloads."""
    entries = entries if entries is not None else load_catalog()
    return [e for e in entries if is_installed(e, models_dir)]
