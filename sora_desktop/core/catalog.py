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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sora_desktop.core.assets import model_dir
from sora_desktop.core.memory_modes import MEMORY_MODES
from sora_desktop.core.request import EMBEDDED_MODEL_ID

MANIFEST_NAME = ".sora-installed.json"
MANIFEST_VERSION = 1
BACKENDS = ("embedded", "diffusers", "transformers")
KINDS = ("video", "enhancer")
ENV_CATALOG = "SORA_DESKTOP_CATALOG"
# Weights that differ for one task live in a VARIANT folder ``<model folder>/<name>/`` with its
# own model_index.json, files and manifest (e.g. HunyuanVideo 1.5's image-to-video transformer)
VARIANT_I2V = "i2v"
VARIANT_NAMES = (VARIANT_I2V,)
_VARIANT_KEYS = ("repo_id", "revision", "files", "download_bytes")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9][A-Za-z0-9._-]{0,127})?$")


@dataclass(frozen=True)
class Variant:
    """A second repository installed into ``<model folder>/<name>/`` with the entry."""

    name: str
    repo_id: str
    revision: str
    files: tuple[str, ...]
    download_bytes: int


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
    variants: dict[str, Variant] = field(default_factory=dict)
    variant: str | None = None  # set on the entry ``variant_entry`` makes for one variant

    @property
    def needs_download(self) -> bool:
        return self.backend != "embedded"

    @property
    def folder_name(self) -> str:
        """The entry's folder under the models folder (ids may contain '/')."""
        return self.id.replace("/", "--")

    def folder(self, models_dir: str | os.PathLike) -> Path:
        base = Path(models_dir) / self.folder_name
        return base / self.variant if self.variant else base

    def variant_entry(self, name: str) -> CatalogEntry:
        """This entry as the download of one variant: same id and name, the variant's repo and
        files, and ``folder`` ``<model folder>/<name>``."""
        v = self.variants[name]
        return replace(
            self,
            repo_id=v.repo_id,
            revision=v.revision,
            files=v.files,
            download_bytes=v.download_bytes,
            variants={},
            variant=name,
        )

    def units(self) -> list[CatalogEntry]:
        """What installing this entry downloads: the entry, then each variant."""
        return [self, *(self.variant_entry(n) for n in self.variants)]

    @property
    def install_bytes(self) -> int:
        """The download of the entry and all its variants."""
        return self.download_bytes + sum(v.download_bytes for v in self.variants.values())

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
        files = _files(where, data.get("files", []))
        repo_id = data.get("repo_id")
        if data["backend"] != "embedded":
            _repo(where, repo_id, files)
        size = _size(where, data.get("download_bytes", 0))
        variants = _variants(where, data.get("variants"), data["backend"])
        vram = _mode_table(where, "min_vram_gb", data.get("min_vram_gb"))
        ram = _mode_table(where, "min_ram_gb", data.get("min_ram_gb"))
        defaults = data.get("defaults", {})
        if not isinstance(defaults, dict):
            raise ValueError(f"{where}.defaults: must be an object")
        known = {f for f in cls.__dataclass_fields__}
        extra = {k: v for k, v in data.items() if k not in known}
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
            variants=variants,
        )


def _files(where: str, files: Any) -> list[str]:
    if not isinstance(files, list) or not all(isinstance(f, str) and f for f in files):
        raise ValueError(f"{where}.files: must be a list of file names or patterns")
    return files


def _repo(where: str, repo_id: Any, files: list[str]) -> None:
    if not isinstance(repo_id, str) or repo_id.count("/") != 1:
        raise ValueError(f"{where}.repo_id: must be 'owner/name' for a downloadable model")
    if not files:
        raise ValueError(f"{where}.files: a downloadable model must list its files")


def _size(where: str, size: Any) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f"{where}.download_bytes: must be a whole number of bytes >= 0")
    return size


def _variants(where: str, value: Any, backend: str) -> dict[str, Variant]:
    """``"variants": {"i2v": {"repo_id", "revision", "files", "download_bytes"}}``, checked
    like the entry's own repo, files and size; nothing else is accepted."""
    if value is None:
        return {}
    if not isinstance(value, dict) or backend == "embedded":
        raise ValueError(f"{where}.variants: must be an object of a downloadable model")
    out: dict[str, Variant] = {}
    for name, data in value.items():
        at = f"{where}.variants.{name}"
        if name not in VARIANT_NAMES:
            raise ValueError(f"{at}: unknown variant; allowed {', '.join(VARIANT_NAMES)}")
        if not isinstance(data, dict):
            raise ValueError(f"{at}: must be an object")
        unknown = sorted(set(data) - set(_VARIANT_KEYS))
        if unknown:
            raise ValueError(f"{at}.{unknown[0]}: unknown key; allowed {', '.join(_VARIANT_KEYS)}")
        files = _files(at, data.get("files", []))
        _repo(at, data.get("repo_id"), files)
        revision = data.get("revision", "main")
        if not isinstance(revision, str) or not revision:
            raise ValueError(f"{at}.revision: must be a non-empty string")
        size = _size(at, data.get("download_bytes", 0))
        out[name] = Variant(name, data["repo_id"], revision, tuple(files), size)
    return out


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
    """Complete manifests for the entry and every variant (each in its own folder)."""
    if not entry.needs_download:
        return True
    manifest = read_manifest(entry.folder(models_dir))
    if manifest is None or manifest.get("model_id") != entry.id:
        return False
    if manifest.get("variant") != entry.variant:  # None in the main folder's manifest
        return False
    return all(is_installed(entry.variant_entry(n), models_dir) for n in entry.variants)


def installed_size(entry: CatalogEntry, models_dir: str | os.PathLike) -> int:
    """Bytes the installed model takes on disk (0 when not installed or embedded)."""
    if not entry.needs_download or not is_installed(entry, models_dir):
        return 0
    total = 0
    for unit in entry.units():
        manifest = read_manifest(unit.folder(models_dir)) or {"files": []}
        total += sum(int(f["size"]) for f in manifest["files"])
    return total


def installed_models(
    models_dir: str | os.PathLike, entries: list[CatalogEntry] | None = None
) -> list[CatalogEntry]:
    """Catalog entries that can be used now: the embedded one and fully verified downloads."""
    entries = entries if entries is not None else load_catalog()
    return [e for e in entries if is_installed(e, models_dir)]
