"""Verified, resumable model downloads from the Hugging Face Hub (or a mirror), import and delete.

How a download works, and why:
- ``plan`` (``download_plan.py``): one ``HfApi.model_info(files_metadata=True)`` call pins the
  revision to a commit and gives every file's size, git blob id and (for LFS files) SHA-256.
  Files are picked by the catalog entry's patterns; pickle formats (.bin/.pt/.ckpt/.pkl/...) and
  names that would leave the model folder are refused, so nothing executable can ever be loaded
  from a download.
- The disk-space check runs before the first byte, against what is still missing.
- Every string of the hub's answer that reaches a path is checked first (``hub_listing``): file
  names as strictly as a project's media paths, hashes as hex of the right length, sizes as
  whole numbers, no clashing names; every write and delete is checked to stay in the model folder.
- Each file streams into ``<model>/.partial/<hash>.part`` (``transfer.FileTransfer``: progress
  and cancel within 0.1 s at any link speed, the declared size enforced, a dropped connection
  resumed with a Range request). The part file is keyed by the expected hash, so a cancel, a
  dropped connection or an app restart resumes where it stopped, and a changed file upstream can
  never be glued onto stale bytes. (``hf_hub_download`` deletes its partial file when interrupted
  in huggingface_hub 2.x, so it cannot resume across runs; it is not used for that reason.)
- A finished file is hashed (SHA-256 for LFS files, git blob SHA-1 otherwise) before it is moved
  into place; a mismatch deletes it and downloads it again once, then fails with a plain message.
- ``.sora-installed.json`` is written atomically last; only then does the model count as
  installed (see ``sora_desktop.core.catalog``).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sora_desktop.core.atomic import atomic_write_text
from sora_desktop.core.catalog import (
    MANIFEST_NAME,
    MANIFEST_VERSION,
    CatalogEntry,
    installed_size,
    is_installed,
    read_manifest,
)
from sora_desktop.core.model_files import (  # noqa: F401 - kept importable from here
    PICKLE_SUFFIXES,
    is_pickle_name,
)
from sora_desktop.engine.download_errors import (
    DownloadCancelled,
    DownloadError,
    NotEnoughSpace,
    VerificationFailed,
)
from sora_desktop.engine.download_plan import (  # noqa: F401 - kept importable from here
    CALL_POLL_S,
    LISTING_TIMEOUT_S,
    DownloadPlan,
    HubConfig,
    T,
    call_cancellable,
    check_online,
    explain_hub_error,
    matches,
    plan_download,
)
from sora_desktop.engine.hub_listing import RemoteFile, check_file_name, check_no_clash

PARTIAL_DIR = ".partial"
SPACE_MARGIN_BYTES = 64 * 1024 * 1024  # keep a little room so the disk is never filled to 0
PROGRESS_INTERVAL_S = 0.1
HASH_CHUNK = 1024 * 1024


__all__ = [
    "DownloadCancelled",
    "DownloadError",
    "NotEnoughSpace",
    "RemoteFile",
    "VerificationFailed",
]


# ---------------------------------------------------------------------------- data
@dataclass
class DownloadProgress:
    model_id: str
    phase: str  # "plan" | "download" | "verify" | "done"
    file: str = ""
    file_index: int = 0
    file_count: int = 0
    done_bytes: int = 0
    total_bytes: int = 0
    speed_bps: float = 0.0
    eta_s: float | None = None

    @property
    def fraction(self) -> float:
        return self.done_bytes / self.total_bytes if self.total_bytes else 0.0


ProgressCallback = Callable[[DownloadProgress], None]


# ---------------------------------------------------------------------------- helpers
def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def sha256_file(path: Path, cancel: threading.Event | None = None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            if cancel is not None and cancel.is_set():
                raise DownloadCancelled("cancelled while verifying")
            h.update(chunk)
    return h.hexdigest()


def git_sha1_file(path: Path, cancel: threading.Event | None = None) -> str:
    h = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            if cancel is not None and cancel.is_set():
                raise DownloadCancelled("cancelled while verifying")
            h.update(chunk)
    return h.hexdigest()


def inside(folder: Path, path: Path) -> bool:
    """Whether ``path`` (links resolved) lies inside ``folder`` (links resolved)."""
    root = os.path.realpath(folder)
    target = os.path.realpath(path)
    return target != root and target.startswith(root.rstrip(os.sep) + os.sep)


def folder_bytes(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def free_bytes(folder: Path) -> int:
    """Free space on the disk that holds ``folder`` (or its nearest existing parent)."""
    probe = Path(folder)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


class _Speed:
    """Bytes per second over the last few seconds, for speed and ETA."""

    def __init__(self, window_s: float = 3.0) -> None:
        self.window = window_s
        self.samples: deque[tuple[float, int]] = deque()

    def add(self, t: float, total: int) -> float:
        self.samples.append((t, total))
        while len(self.samples) > 2 and t - self.samples[0][0] > self.window:
            self.samples.popleft()
        t0, b0 = self.samples[0]
        return (total - b0) / (t - t0) if t > t0 else 0.0


# ---------------------------------------------------------------------------- the manager
class ModelDownloader:
    """Downloads, verifies, imports and deletes catalog models under ``models_dir``.

    ``free_space`` is injectable so the disk-full path is testable without filling a disk.
    """

    def __init__(
        self,
        models_dir: str | os.PathLike,
        hub: HubConfig | None = None,
        free_space: Callable[[Path], int] = free_bytes,
        verify_retries: int = 1,
    ) -> None:
        self.models_dir = Path(models_dir)
        self.hub = hub or HubConfig()
        self.free_space = free_space
        self.verify_retries = verify_retries

    # ------------------------------------------------------------------ hub access
    # (the plan step lives in download_plan.py; these keep the methods callers know)
    def _check_online(self, what: str) -> None:
        check_online(self.hub, what)

    def _explain(self, exc: BaseException, entry: CatalogEntry, file: str | None = None) -> str:
        return explain_hub_error(self.hub, exc, entry, file)

    def plan(self, entry: CatalogEntry, cancel: threading.Event | None = None) -> DownloadPlan:
        """Ask the hub which files to fetch, with sizes and hashes; no data is downloaded.

        Everything the hub says that will reach a path is checked (``hub_listing``)."""
        return plan_download(self.hub, entry, cancel)

    # ------------------------------------------------------------------ download
    def partial_bytes(self, entry: CatalogEntry) -> int:
        """Bytes already downloaded towards an unfinished install (for 'resume' in the UI)."""
        folder = entry.folder(self.models_dir)
        if not folder.is_dir() or is_installed(entry, self.models_dir):
            return 0
        return folder_bytes(folder)

    def download(
        self,
        entry: CatalogEntry,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Path:
        """Download, verify and install ``entry``; returns its folder.

        Raises DownloadCancelled (partial data kept), NotEnoughSpace, VerificationFailed or
        DownloadError with a readable message. Never leaves a half model marked installed.
        """
        cancel = cancel or threading.Event()
        folder = entry.folder(self.models_dir)
        if is_installed(entry, self.models_dir):
            return folder
        report = progress or (lambda p: None)
        report(DownloadProgress(entry.id, "plan"))
        # The entry, then each variant (<folder>/<variant>), then each extra repository (into
        # <folder>/<into>): every listing is checked before the first byte, and progress, space
        # and resume count all of them together.
        units = [(unit, self.plan(unit, cancel)) for unit in entry.units()]
        check_no_clash(  # two repos must never write the same file of the model folder
            [_rel(unit, f.path) for unit, plan in units for f in plan.files],
            f"The repositories of {entry.name}",
        )
        for unit, _plan in units:
            self._check_folder(unit.folder(self.models_dir))
        for unit, _plan in units:  # a stale manifest must never survive
            if unit.folder(self.models_dir).is_dir():
                (unit.folder(self.models_dir) / unit.manifest_name).unlink(missing_ok=True)
        every = tuple(f for _unit, plan in units for f in plan.files)
        state = _Tracker(entry.id, DownloadPlan(entry, "", every), report)

        # What is already there: complete files (hash checked again below) and part files.
        todo: set[tuple[int, str]] = set()  # (unit index, path) still to fetch
        for n, (unit, plan) in enumerate(units):
            ufolder = unit.folder(self.models_dir)
            for f in plan.files:
                final = self._target(ufolder, unit.dest(f.path))
                if final.is_file() and final.stat().st_size == f.size:
                    state.done += f.size
                else:
                    part = self._target(ufolder, f"{PARTIAL_DIR}/{f.key}.part")
                    have = part.stat().st_size if part.is_file() else 0
                    state.done += min(have, f.size)
                    todo.add((n, f.path))
        missing = sum(f.size for f in every) - state.done
        self._check_space(entry, folder, missing)

        self.models_dir.mkdir(parents=True, exist_ok=True)
        index = 0
        for n, (unit, plan) in enumerate(units):
            ufolder = unit.folder(self.models_dir)
            partial = ufolder / PARTIAL_DIR
            partial.mkdir(parents=True, exist_ok=True)
            self._target(ufolder, PARTIAL_DIR)  # a .partial that is a link out is refused here
            for f in plan.files:
                index += 1
                if cancel.is_set():
                    raise DownloadCancelled(f"download of {entry.name} cancelled")
                state.file = _rel(unit, f.path)
                state.index = index
                final = self._target(ufolder, unit.dest(f.path))
                if (n, f.path) not in todo:
                    state.emit("verify", force=True)
                    if self._hash_ok(final, f, cancel):
                        continue
                    final.unlink()  # complete-looking but wrong: fetch again
                    state.done -= f.size
                self._fetch_verified(unit, plan, f, final, partial, state, cancel)
            # each folder's manifest is written last, once all its files are verified
            self._write_manifest(unit, ufolder, plan.commit, plan.files, source="download")
        for ufolder in {unit.folder(self.models_dir) for unit, _plan in units}:
            # only once every unit is done: the extra repos' part files share the main .partial
            shutil.rmtree(ufolder / PARTIAL_DIR, ignore_errors=True)
            shutil.rmtree(ufolder / ".cache", ignore_errors=True)

        report(
            DownloadProgress(
                entry.id,
                "verify",
                total_bytes=state.total,
                done_bytes=state.total,
                file_count=len(every),
            )
        )
        state.emit("done", force=True)
        return folder

    def _check_folder(self, folder: Path) -> None:
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise DownloadError(
                f"{folder} is not a plain folder (a link or a file); move it away and try again."
            )

    def _target(self, folder: Path, rel: str) -> Path:
        """``folder/rel``, refused unless it stays inside the model folder (links resolved)."""
        check_file_name(rel, "The download")
        path = folder / rel
        if not inside(folder, path):
            raise DownloadError(
                f"{path} would lead outside the model folder {folder} (through a link); "
                "nothing was written. Delete the model folder and download again."
            )
        return path

    def _check_space(self, entry: CatalogEntry, folder: Path, missing: int) -> None:
        free = self.free_space(folder)
        need = missing + SPACE_MARGIN_BYTES
        if free < need:
            raise NotEnoughSpace(
                f"Not enough disk space for {entry.name}: {human_bytes(missing)} still to "
                f"download, {human_bytes(free)} free in {self.models_dir}. Free "
                f"{human_bytes(need - free)} or choose another models folder in Settings."
            )

    def _hash_ok(self, path: Path, f: RemoteFile, cancel: threading.Event) -> bool:
        if f.sha256:
            return sha256_file(path, cancel) == f.sha256
        if f.git_sha1:
            return git_sha1_file(path, cancel) == f.git_sha1
        return path.stat().st_size == f.size

    def _fetch_verified(self, entry, plan, f, final, partial, state, cancel) -> None:
        folder = entry.folder(self.models_dir)
        part = self._target(folder, f"{PARTIAL_DIR}/{f.key}.part")
        for attempt in range(self.verify_retries + 1):
            self._fetch(entry, plan, f, part, state, cancel)
            state.emit("verify", force=True)
            if self._hash_ok(part, f, cancel):
                try:
                    final.parent.mkdir(parents=True, exist_ok=True)
                    self._target(folder, entry.dest(f.path))  # checked again: a folder may be new
                    os.replace(part, final)
                except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
                    raise DownloadError(
                        f"{f.path} of {entry.name} clashes with a file or folder already in "
                        f"{folder}; delete the model and download it again."
                    ) from exc
                return
            part.unlink(missing_ok=True)  # never keep, move or load a file that fails its hash
            state.done -= f.size
            if attempt == self.verify_retries:
                raise VerificationFailed(
                    f"{f.path} of {entry.name} failed its SHA-256 check "
                    f"{self.verify_retries + 1} times, so it was deleted and the model was not "
                    "installed. The network or the mirror is corrupting data; try again later "
                    "or use another mirror."
                )

    def _fetch(self, entry, plan, f: RemoteFile, part: Path, state, cancel) -> None:
        import httpx2
        from huggingface_hub import hf_hub_url
        from huggingface_hub.utils import build_hf_headers

        from sora_desktop.engine.transfer import FileTransfer

        url = hf_hub_url(entry.repo_id, f.path, revision=plan.commit, endpoint=self.hub.endpoint)
        # The token goes to the hub only: httpx drops it when a redirect leaves the hub's origin.
        headers = build_hf_headers(token=self.hub.token, library_name="sora-desktop")
        transfer = FileTransfer(url, part, f.size, f.path, headers, cancel, state.add, state.tick)
        try:
            transfer.run()
        except (DownloadCancelled, DownloadError):
            raise
        except OSError as exc:
            if getattr(exc, "errno", None) == errno.ENOSPC:
                raise NotEnoughSpace(
                    f"The disk filled up while downloading {entry.name}; free some space and "
                    "press Download again to resume."
                ) from exc
            if isinstance(exc, httpx2.TransportError) or type(exc).__module__.startswith(
                ("huggingface_hub", "httpx")
            ):
                raise DownloadError(self._explain(exc, entry, f.path)) from exc
            raise DownloadError(f"Could not write {part}: {exc}") from exc
        except Exception as exc:
            raise DownloadError(self._explain(exc, entry, f.path)) from exc

    def _write_manifest(self, entry, folder: Path, commit, files, source: str) -> None:
        items = []
        for f in files:
            rel = entry.dest(f.path)  # relative to the folder the manifest sits in
            sha = f.sha256 or sha256_file(folder / rel)
            items.append({"path": rel, "size": f.size, "sha256": sha})
        manifest = {
            "version": MANIFEST_VERSION,
            "model_id": entry.id,
            "repo_id": entry.repo_id,
            "revision": entry.revision,
            "commit": commit,
            **({"variant": entry.variant} if entry.variant else {}),
            **({"into": entry.into} if entry.into is not None else {}),
            "source": source,
            "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "complete": True,
            "files": items,
        }
        atomic_write_text(folder / entry.manifest_name, json.dumps(manifest, indent=1))

    # ------------------------------------------------------------------ import / delete / list
    def import_folder(
        self,
        entry: CatalogEntry,
        source: str | os.PathLike,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Path:
        """Install ``entry`` from a folder copied from elsewhere, verified (``model_import``)."""
        from sora_desktop.engine.model_import import import_folder

        return import_folder(self, entry, source, progress, cancel)

    def delete(self, entry: CatalogEntry) -> int:
        """Remove a model's folder (installed or partial); returns the bytes freed."""
        if not entry.needs_download:
            raise DownloadError(f"{entry.name} is built in and cannot be deleted.")
        folder = entry.folder(self.models_dir)
        if not folder.exists():
            return 0
        freed = folder_bytes(folder)
        # Drop the manifest first so a half-deleted folder never looks installed.
        (folder / MANIFEST_NAME).unlink(missing_ok=True)
        shutil.rmtree(folder)
        return freed

    def installed(self, entries: list[CatalogEntry]) -> list[tuple[CatalogEntry, int]]:
        """(entry, bytes on disk) for every installed downloadable model."""
        return [
            (e, installed_size(e, self.models_dir))
            for e in entries
            if e.needs_download and is_installed(e, self.models_dir)
        ]

    def verify_installed(self, entry: CatalogEntry, cancel: threading.Event | None = None) -> bool:
        """Re-hash an installed model against its manifest (slow: reads every byte)."""
        if not is_installed(entry, self.models_dir):
            return False
        for unit in entry.units():
            folder = unit.folder(self.models_dir)
            manifest = read_manifest(folder, unit.manifest_name) or {"files": []}
            for item in manifest["files"]:
                if sha256_file(folder / item["path"], cancel) != item.get("sha256"):
                    return False
        return True


# ---------------------------------------------------------------------------- internals
def _rel(unit: CatalogEntry, path: str) -> str:
    """A unit's file relative to the model folder (variants sit in <folder>/<variant>)."""
    rel = unit.dest(path)
    return f"{unit.variant}/{rel}" if unit.variant else rel


class _Tracker:
    """Aggregates byte counts into throttled DownloadProgress reports."""

    def __init__(self, model_id: str, plan: DownloadPlan, report: ProgressCallback) -> None:
        self.model_id = model_id
        self.total = plan.total_bytes
        self.count = len(plan.files)
        self.report = report
        self.done = 0
        self.file = ""
        self.index = 0
        self.speed = _Speed()
        self.bps = 0.0
        self._last = 0.0

    def add(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        self.bps = self.speed.add(now, self.done)
        self.emit("download")

    def emit(self, phase: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_INTERVAL_S:
            return
        self._last = now
        left = max(0, self.total - self.done)
        eta = left / self.bps if self.bps > 0 else None
        self.report(
            DownloadProgress(
                self.model_id,
                phase,
                self.file,
                self.index,
                self.count,
                self.done,
                self.total,
                self.bps,
                eta,
            )
        )

    def tick(self) -> None:
        """Nothing arrived for a moment: let the speed fall so a stall shows."""
        self.add(0)
