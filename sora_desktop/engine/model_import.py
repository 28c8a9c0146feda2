"""Installing a model from a folder copied from elsewhere (a USB stick, another computer).

The files are checked against the folder's own ``.sora-installed.json`` (written by another Sora
Desktop), else, when online, against the hub's listing, else as a plain Hugging Face / diffusers
snapshot (issue 23: a folder ``huggingface-cli download`` or another tool made): its
``model_index.json`` must name the entry's pipeline, every component the index names must be
there with the files the catalog entry's patterns ask for, and each file is hashed while it is
copied; the hashes go into our manifest. The ``huggingface-cli`` cache layout
(``models--owner--name/snapshots/<commit>/`` whose files link into ``blobs/``) is accepted: links
are followed only into that cache's ``blobs`` folder, and a blob named by its SHA-256 is checked
against it. Pickle files, links, pipes and devices, and
names leaving the folder are refused before anything is read; every file is opened so that a
pipe swapped in after the check cannot block the copy. Nothing is installed unless every file
passes: the copy goes to a staging folder that replaces the model folder at the end.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import threading
from pathlib import Path
from typing import Any

from sora_desktop.core.catalog import MANIFEST_NAME, CatalogEntry, is_safe_relative_path
from sora_desktop.engine.download_errors import (
    DownloadCancelled,
    DownloadError,
    NotEnoughSpace,
    VerificationFailed,
)
from sora_desktop.engine.downloads import (
    HASH_CHUNK,
    PARTIAL_DIR,
    DownloadPlan,
    ModelDownloader,
    ProgressCallback,
    _Tracker,
    is_pickle_name,
    matches,
)
from sora_desktop.engine.hub_listing import SHA256_RE, RemoteFile

log = logging.getLogger(__name__)
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


def import_folder(
    downloader: ModelDownloader,
    entry: CatalogEntry,
    source: str | os.PathLike,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    _into: Path | None = None,
) -> Path:
    """Install ``entry`` from a folder copied from elsewhere (e.g. a USB stick), verified.

    The files are checked against the folder's own ``.sora-installed.json`` (written by
    another Sora Desktop) or, when online, against the hub's metadata. Pickle files, links
    and names leaving the folder are refused. Nothing is installed unless every file passes.
    Each variant of the entry comes from the subfolder of its name (``<source>/i2v``),
    verified the same way into the staging folder (``_into``) before anything is installed.
    """
    cancel = cancel or threading.Event()
    src = Path(source)
    if not src.is_dir():
        raise DownloadError(f"{src} is not a folder.")
    if not entry.needs_download:
        raise DownloadError(f"{entry.name} is built in and cannot be imported.")
    if entry.extra_repos and entry.extra_index is None:
        # its files come from several repositories, each checked against its own listing or
        # manifest; a copied folder cannot yet be split back into them
        raise DownloadError(
            f"{entry.name} is put together from {len(entry.extra_repos) + 1} repositories and "
            "cannot be imported from a folder in this version; download it in the model "
            "manager instead (an interrupted download resumes)."
        )
    src, blobs = resolve_snapshot(src)
    for name, variant in entry.variants.items():
        if not (src / name).is_dir():
            raise DownloadError(
                f"{src} has no {name}/ folder: {entry.name} needs the weights of "
                f"{variant.repo_id} there too. Copy them in and import again."
            )
    present = _scan_source(src, blobs)
    bad = sorted(p for p in present if is_pickle_name(p))
    if bad:
        raise DownloadError(
            f"{src} contains pickle files ({', '.join(bad[:5])}), which can run code when "
            "loaded. Sora Desktop only loads .safetensors weights; remove them and try again."
        )
    wanted = {p for p in present if matches(p, entry.files)}
    manifest = _read_source_manifest(src)
    if manifest is not None:
        if (
            manifest.get("model_id") not in (entry.id, None)
            and manifest.get("repo_id") != entry.repo_id
        ):
            raise DownloadError(
                f"{src} holds {manifest.get('model_id')!r}, not {entry.name}; pick the right "
                "model in the list before importing."
            )
        files = []
        for item in manifest["files"]:
            if not isinstance(item, dict):
                raise DownloadError(f"{src}: its manifest has an entry that is not a file.")
            rel, size, sha = item.get("path"), item.get("size"), item.get("sha256")
            if not isinstance(rel, str) or not is_safe_relative_path(rel):
                raise DownloadError(f"{src}: its manifest names an unsafe path {rel!r}.")
            if is_pickle_name(rel):
                raise DownloadError(f"{src}: its manifest lists a pickle file {rel!r}.")
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise DownloadError(f"{src}: its manifest gives no valid size for {rel!r}.")
            if sha is not None and not (isinstance(sha, str) and SHA256_RE.match(sha)):
                raise DownloadError(f"{src}: its manifest gives no valid hash for {rel!r}.")
            files.append(RemoteFile(rel, size, sha, None))
        commit = manifest.get("commit") or "imported"
    else:
        plan = None
        if not downloader.hub.offline:
            try:
                plan = downloader.plan(entry, cancel)
            except DownloadCancelled:
                raise
            except DownloadError as exc:  # blocked or unknown to the hub: a plain snapshot
                log.info("hub not asked about %s (%s); checking it as a snapshot", src, exc)
        if plan is not None:
            files, commit = list(plan.files), plan.commit
        else:
            files = snapshot_files(entry, src, present)
            commit = src.name if blobs is not None and _COMMIT_RE.match(src.name) else "imported"
    missing = sorted(f.path for f in files if f.path not in present)
    if missing:
        raise DownloadError(
            f"{src} is incomplete: {len(missing)} file(s) missing, e.g. {missing[0]}."
        )
    extra = sorted(wanted - {f.path for f in files})
    if extra and manifest is None:
        pass  # files the hub does not list are simply not copied
    total = sum(f.size for f in files)
    folder = _into or entry.folder(downloader.models_dir)
    if folder.exists() and folder.resolve() == src.resolve():
        raise DownloadError("The folder to import is already the model's folder.")
    downloader._check_space(entry, folder, total)
    staging = downloader.models_dir / f".import-{entry.folder_name}"
    if _into is not None:  # a variant, staged inside the entry's staging folder
        staging = _into.with_name(f".import-{_into.name}")
    shutil.rmtree(staging, ignore_errors=True)
    plan = DownloadPlan(entry, commit, tuple(files))
    state = _Tracker(entry.id, plan, progress or (lambda p: None))
    try:
        for index, f in enumerate(files, 1):
            if cancel.is_set():
                raise DownloadCancelled("import cancelled")
            state.file, state.index = f.path, index
            dst = staging / f.path
            dst.parent.mkdir(parents=True, exist_ok=True)
            digest = _copy_with_progress(present[f.path], dst, state, cancel)
            state.emit("verify", force=True)
            if f.sha256:
                ok = digest == f.sha256 and dst.stat().st_size == f.size
            elif f.git_sha1:
                ok = dst.stat().st_size == f.size and downloader._hash_ok(dst, f, cancel)
            else:  # a plain snapshot: nothing to check against; the hash of the copy is kept
                ok = dst.stat().st_size == f.size
                files[index - 1] = f = RemoteFile(f.path, f.size, digest, None)
            if not ok:
                raise VerificationFailed(
                    f"{f.path} in {src} does not match its expected SHA-256; the copy is "
                    "damaged. Nothing was installed."
                )
        downloader._write_manifest(entry, staging, commit, files, source="import")
        for name in entry.variants:
            unit = entry.variant_entry(name)
            import_folder(downloader, unit, src / name, progress, cancel, _into=staging / name)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    state.emit("done", force=True)
    return folder


def _scan_source(src: Path, blobs: Path | None = None) -> dict[str, Path]:
    """Relative posix path -> the file to read, for the regular files under ``src``; links and
    odd names are refused, except (``blobs`` given: a hub cache snapshot) file links into that
    cache's ``blobs`` folder."""
    out: dict[str, Path] = {}
    for root, dirs, files in os.walk(src, followlinks=False):
        for name in dirs:
            if (Path(root) / name).is_symlink():
                raise DownloadError(
                    f"{Path(root) / name} is a link; copy the real files into the folder and "
                    "import again."
                )
        for name in files:
            full = Path(root) / name
            target = full
            if full.is_symlink():
                target = _blob_target(full, blobs)
            mode = os.lstat(target).st_mode
            if not stat.S_ISREG(mode):  # a pipe or a device would hang or never end a copy
                raise DownloadError(
                    f"{Path(root) / name} is not a regular file (a pipe, socket or device); "
                    "remove it from the folder and import again."
                )
            rel = (Path(root) / name).relative_to(src).as_posix()
            if rel == MANIFEST_NAME or rel.startswith((PARTIAL_DIR + "/", ".cache/")):
                continue
            if not is_safe_relative_path(rel):
                raise DownloadError(f"{src} contains an unusable file name {rel!r}.")
            out[rel] = target
    return out


def _blob_target(link: Path, blobs: Path | None) -> Path:
    """The blob a cache snapshot's link points to; a link anywhere else is refused."""
    where = "; copy the real files into the folder and import again."
    if blobs is None:
        raise DownloadError(f"{link} is a link{where}")
    try:
        target = Path(os.path.realpath(link, strict=True))
    except (OSError, RuntimeError) as exc:  # a dangling link or a loop
        raise DownloadError(f"{link} is a broken link{where}") from exc
    if target.parent != blobs:
        raise DownloadError(
            f"{link} is a link to {target}, outside this download's blobs folder; refusing it"
            f"{where[1:]}"
        )
    return target


def resolve_snapshot(src: Path) -> tuple[Path, Path | None]:
    """(the folder holding the model's files, the cache's ``blobs`` folder or None).

    A ``huggingface-cli`` cache repo folder (``models--owner--name`` with ``snapshots/`` and
    ``refs/``) gives the snapshot ``refs/main`` names, or its only one; a snapshot folder
    inside such a cache is used as it is."""
    root = src.resolve()
    if (root / "snapshots").is_dir() and (root / "blobs").is_dir():
        snaps = sorted(p.name for p in (root / "snapshots").iterdir() if p.is_dir())
        ref = root / "refs" / "main"
        wanted = ref.read_text(encoding="utf-8").strip() if ref.is_file() else ""
        if wanted and wanted in snaps:
            return root / "snapshots" / wanted, root / "blobs"
        if len(snaps) == 1:
            return root / "snapshots" / snaps[0], root / "blobs"
        raise DownloadError(
            f"{src} holds {len(snaps)} downloaded revisions ({', '.join(snaps[:3]) or 'none'}); "
            "import one of its snapshots/<revision> folders."
        )
    if root.parent.name == "snapshots" and (root.parent.parent / "blobs").is_dir():
        return root, root.parent.parent / "blobs"
    return src, None


def model_index_class(src: Path) -> tuple[str | None, dict[str, Any]]:
    """(``_class_name``, the index) of a diffusers folder's ``model_index.json``; (None, {})
    when there is none or it is unreadable."""
    path = src / "model_index.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, ValueError, RecursionError):
        return None, {}
    if not isinstance(data, dict):
        return None, {}
    name = data.get("_class_name")
    return (name if isinstance(name, str) else None), data


def pipeline_classes(entry: CatalogEntry) -> set[str]:
    """The pipeline classes a snapshot of ``entry`` may name in its model_index.json."""
    from sora_desktop.core.capabilities import rules_for

    names = {entry.pipeline}
    if entry.start_image_pipeline:
        names.add(entry.start_image_pipeline)
    rules = rules_for(entry)
    if rules is not None:
        names |= {n for n in (rules.start_image_pipeline, rules.condition_pipeline) if n}
    return names


def snapshot_files(entry: CatalogEntry, src: Path, present: dict[str, Path]) -> list[RemoteFile]:
    """The files of a plain snapshot that ``entry`` needs, checked for completeness."""
    cls, index = model_index_class(src)
    if cls is None:
        raise DownloadError(
            f"{src} has no readable model_index.json, so it is not a diffusers model folder; "
            f"download {entry.name} with the model manager or copy its whole folder."
        )
    if cls not in pipeline_classes(entry):
        raise DownloadError(
            f"{src} holds a {cls} model, not {entry.name} ({entry.pipeline}); choose the "
            "matching model, or use a folder of this one."
        )
    wanted = sorted(p for p in present if matches(p, entry.files))
    problems = []
    for comp, value in index.items():
        if comp.startswith("_") or not isinstance(value, list) or value[-1] is None:
            continue
        in_comp = [p for p in wanted if p.startswith(comp + "/")]
        if not in_comp and any(pat.startswith(comp + "/") for pat in entry.files):
            problems.append(f"{comp}/ is missing")
        elif f"{comp}/*.safetensors" in entry.files and not any(
            p.endswith(".safetensors") for p in in_comp
        ):
            problems.append(f"{comp}/ has no .safetensors weights")
        for shard_index in (p for p in in_comp if p.endswith(".safetensors.index.json")):
            problems += [f"{s} is missing" for s in _shards(src, shard_index) if s not in present]
    if problems:
        raise DownloadError(f"{src} is incomplete: {'; '.join(problems[:3])}.")
    return [RemoteFile(p, os.stat(present[p]).st_size, _blob_sha(present[p]), None) for p in wanted]


def _shards(src: Path, index_path: str) -> list[str]:
    folder = index_path.rsplit("/", 1)[0]
    try:
        data = json.loads((src / index_path).read_text(encoding="utf-8"))
        names = set(data["weight_map"].values())
    except (OSError, ValueError, RecursionError, KeyError, TypeError, AttributeError):
        return []
    return sorted(f"{folder}/{n}" for n in names if isinstance(n, str))


def _blob_sha(path: Path) -> str | None:
    """A cache blob named by its SHA-256 (large files) is checked against that name."""
    name = path.name
    return name if path.parent.name == "blobs" and SHA256_RE.match(name) else None


def _read_source_manifest(src: Path) -> dict[str, Any] | None:
    path = src / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: also not UTF-8
        raise DownloadError(
            f"{path} is damaged ({exc}); delete it to check against the hub."
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise DownloadError(f"{path} is not a Sora Desktop manifest.")
    return data


def _open_regular(path: Path):
    """Open a file for reading without ever blocking on a pipe swapped in after the scan."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise DownloadError(f"{path} is not a regular file; nothing was imported.")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _copy_with_progress(src: Path, dst: Path, state: _Tracker, cancel: threading.Event) -> str:
    """Copy ``src`` to ``dst``; the SHA-256 of the bytes copied."""
    digest = hashlib.sha256()
    with _open_regular(src) as fin, open(dst, "wb") as fout:
        while chunk := fin.read(HASH_CHUNK):
            digest.update(chunk)
            if cancel.is_set():
                raise DownloadCancelled("import cancelled")
            try:
                fout.write(chunk)
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    raise NotEnoughSpace("The disk filled up while importing.") from exc
                raise
            state.add(len(chunk))
    return digest.hexdigest()
