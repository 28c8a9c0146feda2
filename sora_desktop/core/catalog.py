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
from sora_desktop.core.fit import FitSpec, mode_figures, parse_fit
from sora_desktop.core.memory_modes import MEMORY_MODES
from sora_desktop.core.request import EMBEDDED_MODEL_ID

MANIFEST_NAME = ".sora-installed.json"
MANIFEST_VERSION = 1
BACKENDS = ("embedded", "diffusers", "transformers")
KINDS = ("video", "enhancer", "sound")
# what the model manager says a model that is not a video model does
KIND_LABELS = {"enhancer": "Prompt enhancer", "sound": "Music and sound (text to audio)"}
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
    # set on the entry ``extra_entry`` makes for one of ``extra_repos``: its index and the
    # folder inside the model folder its files land in ("." for the model folder itself)
    extra_index: int | None = None
    into: str | None = None
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
            extra={k: v for k, v in self.extra.items() if k != "extra_repos"},
        )

    @property
    def extra_repos(self) -> list[dict[str, Any]]:
        """Components from other repositories (checked by ``_check_extra``)."""
        return list(self.extra.get("extra_repos") or [])

    def extra_entry(self, index: int) -> CatalogEntry:
        """This entry as the download of one extra repository: same id, name and folder, the
        repo's files landing in ``<model folder>/<into>/``, with their own manifest."""
        r = self.extra_repos[index]
        return replace(
            self,
            repo_id=r["repo_id"],
            revision=r["revision"],
            files=tuple(r["files"]),
            download_bytes=0,
            variants={},
            variant=None,
            extra={k: v for k, v in self.extra.items() if k != "extra_repos"},
            extra_index=index,
            into=r["into"],
        )

    @property
    def manifest_name(self) -> str:
        """The manifest of this download unit (an extra repo's sits beside the main one)."""
        if self.extra_index is None:
            return MANIFEST_NAME
        return f".sora-installed.extra-{self.extra_index}.json"

    def dest(self, path: str) -> str:
        """Where a repo file lands, relative to ``folder``."""
        return path if self.into in (None, ".") else f"{self.into}/{path}"

    def units(self) -> list[CatalogEntry]:
        """What installing this entry downloads: the entry, each variant, each extra repo."""
        return [
            self,
            *(self.variant_entry(n) for n in self.variants),
            *(self.extra_entry(i) for i in range(len(self.extra_repos))),
        ]

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
        if data["kind"] == "sound" and data["backend"] != "diffusers":
            raise ValueError(f"{where}.backend: a sound model runs through diffusers")
        known = {f for f in cls.__dataclass_fields__} - {"variant", "extra_index", "into"}
        extra = {k: v for k, v in data.items() if k not in known}
        _check_extra(where, extra)
        entry = cls(
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
            fit=fit,
        )
        if entry.kind == "sound":
            from sora_desktop.core.capabilities import sound_limits

            sound_limits(entry)  # FieldError (a ValueError) names a bad limit
        return entry


# keys an entry may carry beyond the dataclass fields; anything else is a typo and refused
OPTIONAL_KEYS = (
    "rules",  # a PIPELINE_RULES key (core/capabilities.py)
    "window_frames",  # a long-shot window (checked by capabilities._window)
    "supports_end_image",  # false: this entry takes no end keyframe although its family does
    "supports_audio",  # false: no soundtrack although its family makes one
    "extra_repos",  # components from other repositories (FramePack)
)


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
    for key in ("supports_end_image", "supports_audio"):
        if key in extra and not isinstance(extra[key], bool):
            raise ValueError(f"{where}.{key}: must be true or false")
    repos = extra.get("extra_repos")
    if repos is None:
        return
    if not isinstance(repos, list) or not repos:
        raise ValueError(f"{where}.extra_repos: must be a non-empty list")
    for i, r in enumerate(repos):
        w = f"{where}.extra_repos[{i}]"
        if not isinstance(r, dict) or set(r) != {"repo_id", "revision", "files", "into"}:
            raise ValueError(f"{w}: must give repo_id, revision, files and into")
        _repo(w, r["repo_id"], _files(w, r["files"]))
        if not isinstance(r["revision"], str) or not r["revision"]:
            raise ValueError(f"{w}.revision: must be a non-empty string")
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
def read_manifest(folder: str | os.PathLike, name: str = MANIFEST_NAME) -> dict[str, Any] | None:
    """The manifest of a model folder if it is complete and consistent with the files, else None.

    Consistent means: every listed file exists with the listed size. (The downloader checked the
    SHA-256 of each file before writing the manifest; re-hashing gigabytes on every app start
    would be too slow, so sizes are what is re-checked here.)
    """
    folder = Path(folder)
    try:
        data = json.loads((folder / name).read_text(encoding="utf-8"))
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
    """Complete manifests for the entry, every variant (each in its own folder) and every
    extra repository (each with its own manifest in the model folder)."""
    if not entry.needs_download:
        return True
    manifest = read_manifest(entry.folder(models_dir), entry.manifest_name)
    if manifest is None or manifest.get("model_id") != entry.id:
        return False
    if manifest.get("variant") != entry.variant:  # None in the main folder's manifest
        return False
    repo = manifest.get("repo_id")
    if repo is not None and repo != entry.repo_id:
        # the catalog moved this id to other weights (Wan 2.1 1.3B: T2V -> VACE); the old
        # files cannot run the entry's pipeline, so the model is offered for download again
        return False
    if manifest.get("into") != entry.into:  # None in the main and variant manifests
        return False
    if entry.into is not None:
        return True
    return all(is_installed(u, models_dir) for u in entry.units()[1:])


def installed_size(entry: CatalogEntry, models_dir: str | os.PathLike) -> int:
    """Bytes the installed model takes on disk (0 when not installed or embedded)."""
    if not entry.needs_download or not is_installed(entry, models_dir):
        return 0
    total = 0
    for unit in entry.units():
        manifest = read_manifest(unit.folder(models_dir), unit.manifest_name) or {"files": []}
        total += sum(int(f["size"]) for f in manifest["files"])
    return total


def installed_models(
    models_dir: str | os.PathLike, entries: list[CatalogEntry] | None = None
) -> list[CatalogEntry]:
    """Catalog entries that can be used now: the embedded one and fully verified downloads."""
    entries = entries if entries is not None else load_catalog()
    return [e for e in entries if is_installed(e, models_dir)]


def installed_sound_models(
    models_dir: str | os.PathLike, entries: list[CatalogEntry] | None = None
) -> list[CatalogEntry]:
    """Installed models that make sound ("Make music for this film" offers these)."""
    return [e for e in installed_models(models_dir, entries) if e.kind == "sound"]
