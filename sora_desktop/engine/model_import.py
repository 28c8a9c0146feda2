"""Installing a model from a folder copied from elsewhere (a USB stick, another computer).

The files are checked against the folder's own ``.sora-installed.json`` (written by another Sora
Desktop) or, when online, against the hub's listing. Pickle files, links, pipes and devices, and
names leaving the folder are refused before anything is read; every file is opened so that a
pipe swapped in after the check cannot block the copy. Nothing is installed unless every file
passes: the copy goes to a staging folder that replaces the model folder at the end.
"""

from __future__ import annotations

import errno
import json
import os
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
    for name, variant in entry.variants.items():
        if not (src / name).is_dir():
            raise DownloadError(
                f"{src} has no {name}/ folder: {entry.name} needs the weights of "
                f"{variant.repo_id} there too. Copy them in and import again."
            )
    present = _scan_source(src)
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
        try:
            plan = downloader.plan(entry, cancel)
        except DownloadError as exc:
            raise DownloadError(
                f"{src} has no {MANIFEST_NAME} to check it against, and the hub could not be "
                f"asked either: {exc}"
            ) from exc
        files, commit = list(plan.files), plan.commit
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
            _copy_with_progress(src / f.path, dst, state, cancel)
            state.emit("verify", force=True)
            ok = dst.stat().st_size == f.size and (
                downloader._hash_ok(dst, f, cancel) if (f.sha256 or f.git_sha1) else False
            )
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


def _scan_source(src: Path) -> set[str]:
    """Relative posix paths of regular files under ``src``; links and odd names are refused."""
    out: set[str] = set()
    for root, dirs, files in os.walk(src, followlinks=False):
        for name in dirs + files:
            full = Path(root) / name
            if full.is_symlink():
                raise DownloadError(
                    f"{full} is a link; copy the real files into the folder and import again."
                )
        for name in files:
            mode = os.lstat(Path(root) / name).st_mode
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
            out.add(rel)
    return out


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


def _copy_with_progress(src: Path, dst: Path, state: _Tracker, cancel: threading.Event) -> None:
    with _open_regular(src) as fin, open(dst, "wb") as fout:
        while chunk := fin.read(HASH_CHUNK):
            if cancel.is_set():
                raise DownloadCancelled("import cancelled")
            try:
                fout.write(chunk)
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    raise NotEnoughSpace("The disk filled up while importing.") from exc
                raise
            state.add(len(chunk))
