"""``sora-desktop models``: list, download, delete and import models from a terminal.

    sora-desktop models list [--json]
    sora-desktop models download ID [--endpoint URL]
    sora-desktop models delete ID
    sora-desktop models import FOLDER [--id ID]

The same code as the model manager window: the catalog, ``ModelDownloader`` and the settings
(models folder, Settings → Models: mirror, offline, the access token in the keyring). A download
shows a progress bar on a terminal; Ctrl-C stops it within a moment and keeps what arrived, so
the same command resumes it. Exit codes as for the other commands: 0 done, 1 failed, 2 invalid
input, 130 cancelled.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sora_desktop.core.errors import FieldError

EXIT_FAILED = 1
EXIT_CANCELLED = 130


def add_parser(sub: Any) -> None:
    """Register ``models`` and its commands on the main parser's subparsers."""
    models = sub.add_parser("models", help="list, download, delete or import models")
    msub = models.add_subparsers(
        dest="models_command",
        metavar="list|download|delete|import",
        parser_class=type(models),
        required=True,
    )
    ls = msub.add_parser("list", help="the catalog and what is installed")
    ls.add_argument("--json", action="store_true", help="print a JSON list of objects")
    dl = msub.add_parser("download", help="download, verify and install a model (resumable)")
    dl.add_argument("id", help="model id, as in 'sora-desktop models list'")
    dl.add_argument("--endpoint", help="a Hugging Face mirror to use this time, e.g. https://...")
    rm = msub.add_parser("delete", help="delete an installed (or partly downloaded) model")
    rm.add_argument("id", help="model id")
    im = msub.add_parser("import", help="install a model from a folder copied from elsewhere")
    im.add_argument("folder", help="the model's folder (e.g. on a USB stick)")
    im.add_argument("--id", help="which model it is, when the folder does not say")


def run(args: argparse.Namespace) -> int:
    from sora_desktop.core.settings import load_settings

    settings = load_settings()
    for warning in settings.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    command = args.models_command
    if command == "list":
        return cmd_list(settings, args.json)
    if command == "download":
        return cmd_download(settings, args.id, args.endpoint)
    if command == "delete":
        return cmd_delete(settings, args.id)
    return cmd_import(settings, args.folder, args.id)


# ---------------------------------------------------------------------------- helpers
def _entries() -> list[Any]:
    from sora_desktop.core.catalog import load_catalog

    return load_catalog()


def _entry(model_id: str) -> Any:
    for entry in _entries():
        if entry.id == model_id:
            return entry
    raise ValueError(f"{model_id!r} is not a model id; 'sora-desktop models list' shows them")


def _downloader(settings: Any, endpoint: str | None = None) -> Any:
    from sora_desktop.engine.downloads import HubConfig, ModelDownloader

    if endpoint is not None:
        try:
            dataclasses.replace(settings, hf_endpoint=endpoint)  # the same check as Settings
        except FieldError as exc:
            raise FieldError("--endpoint", exc.message) from exc
    return ModelDownloader(settings.models_dir, HubConfig.from_settings(settings, endpoint))


def describe(entry: Any, models_dir: str | Path) -> dict[str, Any]:
    """One model as plain data (``models list --json``)."""
    from sora_desktop.core.catalog import installed_size, is_installed

    return {
        "id": entry.id,
        "name": entry.name,
        "kind": entry.kind,
        "backend": entry.backend,
        "pipeline": entry.pipeline,
        "installed": is_installed(entry, models_dir),
        "download_bytes": entry.download_bytes,
        "download_bytes_estimated": entry.is_estimate("download_bytes"),
        "size_on_disk": installed_size(entry, models_dir),
        "license": entry.license,
        "repo_id": entry.repo_id,
        "revision": entry.revision,
        "supports_start_image": entry.supports_start_image,
        "min_vram_gb": dict(entry.min_vram_gb),
        "folder": str(entry.folder(models_dir)) if entry.needs_download else None,
    }


@contextmanager
def _ctrl_c_sets(cancel: threading.Event) -> Iterator[None]:
    """First Ctrl-C asks the download to stop (bytes kept); a second one stops at once."""

    def handler(signum: int, frame: Any) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\nstopping... (Ctrl-C again to stop at once)", file=sys.stderr)

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Bar:
    """A tqdm bar on a terminal (nothing when stderr is not one), fed DownloadProgress."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=None,
            unit="B",
            unit_scale=True,
            unit_divisor=1000,
            file=sys.stderr,
            dynamic_ncols=True,
            leave=False,
            disable=not sys.stderr.isatty(),
        )

    def __call__(self, p: Any) -> None:
        if p.phase not in ("download", "verify") or not p.total_bytes:
            return
        self.bar.total = p.total_bytes
        what = "checking" if p.phase == "verify" else f"file {p.file_index}/{p.file_count}"
        self.bar.set_description(what, refresh=False)
        self.bar.update(p.done_bytes - self.bar.n)  # update() keeps tqdm's rate and ETA

    def close(self) -> None:
        self.bar.close()


# ---------------------------------------------------------------------------- commands
def cmd_list(settings: Any, as_json: bool) -> int:
    from sora_desktop.engine.downloads import human_bytes

    rows = [describe(e, settings.models_dir) for e in _entries()]
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["id"]) for r in rows)
    for r in rows:
        if r["backend"] == "embedded":
            state = "built in"
        elif r["installed"]:
            state = f"installed ({human_bytes(r['size_on_disk'])})"
        else:
            approx = "~" if r["download_bytes_estimated"] else ""
            state = f"not installed ({approx}{human_bytes(r['download_bytes'])} download)"
        print(f"{r['id']:<{width}}  {r['kind']:<8}  {state}  {r['license']}")
    print(f"\nmodels folder: {settings.models_dir}")
    return 0


def _run_job(job: Any, what: str) -> tuple[int, Any]:
    """Run ``job(progress, cancel)`` with a bar and Ctrl-C; (exit code, result)."""
    from sora_desktop.engine.downloads import DownloadCancelled

    cancel = threading.Event()
    bar = _Bar()
    try:
        with _ctrl_c_sets(cancel):
            try:
                return 0, job(bar, cancel)
            except (DownloadCancelled, KeyboardInterrupt):
                bar.close()
                print(f"cancelled; {what}", file=sys.stderr)
                return EXIT_CANCELLED, None
    finally:
        bar.close()


def cmd_download(settings: Any, model_id: str, endpoint: str | None) -> int:
    from sora_desktop.core.catalog import is_installed
    from sora_desktop.engine.downloads import human_bytes

    entry = _entry(model_id)
    if not entry.needs_download:
        print(f"{entry.name} is built in; nothing to download.")
        return 0
    downloader = _downloader(settings, endpoint)
    if is_installed(entry, downloader.models_dir):
        print(f"{entry.name} is already installed in {entry.folder(downloader.models_dir)}")
        return 0
    print(f"downloading {entry.name} ({entry.repo_id}) to {downloader.models_dir}", file=sys.stderr)
    code, folder = _run_job(
        lambda bar, cancel: downloader.download(entry, bar, cancel),
        "what arrived is kept; run the same command to resume",
    )
    if code == EXIT_CANCELLED:
        kept = downloader.partial_bytes(entry)
        print(f"{human_bytes(kept)} kept in {entry.folder(downloader.models_dir)}", file=sys.stderr)
        return code
    print(f"installed: {entry.name} in {folder}")
    return 0


def cmd_delete(settings: Any, model_id: str) -> int:
    from sora_desktop.engine.downloads import human_bytes

    entry = _entry(model_id)
    downloader = _downloader(settings)
    if entry.needs_download and not entry.folder(downloader.models_dir).exists():
        print(f"error: {entry.name} is not installed; nothing was deleted", file=sys.stderr)
        return EXIT_FAILED
    freed = downloader.delete(entry)  # DownloadError (built in) -> one line, exit 1
    print(f"deleted: {entry.name}; freed {human_bytes(freed)}")
    return 0


def _identify(folder: Path) -> Any:
    """The catalog entry a copied model folder holds: its manifest, its folder name (also a
    hub cache's ``models--owner--name``), else the pipeline its model_index.json names."""
    from sora_desktop.core.catalog import MANIFEST_NAME
    from sora_desktop.engine.model_import import (
        model_index_class,
        pipeline_classes,
        resolve_snapshot,
    )

    entries = [e for e in _entries() if e.needs_download]
    manifest = folder / MANIFEST_NAME
    if manifest.is_file():  # never a pipe: is_file() is False for one
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            data = None
        if isinstance(data, dict):
            for e in entries:
                if data.get("model_id") == e.id or data.get("repo_id") == e.repo_id:
                    return e
    snapshot, blobs = resolve_snapshot(folder)
    names = {folder.name}
    cache = folder.resolve() if blobs is None else blobs.parent
    if cache.name.startswith("models--"):  # huggingface-cli's cache: models--owner--name
        names.add(cache.name[len("models--") :].replace("--", "/", 1))
    for e in entries:
        if names & {e.folder_name, e.id, e.repo_id or "", (e.repo_id or "").split("/")[-1]}:
            return e
    cls, _ = model_index_class(snapshot)
    if cls is None:
        raise ValueError(
            f"{folder} has no model_index.json or {MANIFEST_NAME}, so it is not a model folder "
            "Sora Desktop can import"
        )
    candidates = [e for e in entries if cls in pipeline_classes(e)]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ValueError(
            f"{folder} holds a {cls} model, which no model in the catalog uses; "
            "'sora-desktop models list' shows the models Sora Desktop can run"
        )
    ids = ", ".join(e.id for e in candidates)
    raise ValueError(f"{folder} holds a {cls} model: one of {ids}; add --id ID to say which")


def cmd_import(settings: Any, folder_arg: str, model_id: str | None) -> int:
    folder = Path(folder_arg)
    if not folder.is_dir():
        raise ValueError(f"{folder_arg}: is not a folder")
    entry = _entry(model_id) if model_id else _identify(folder)
    downloader = _downloader(settings)
    print(f"importing {entry.name} from {folder}", file=sys.stderr)
    code, installed = _run_job(
        lambda bar, cancel: downloader.import_folder(entry, folder, bar, cancel),
        "nothing was installed",
    )
    if code:
        return code
    print(f"installed: {entry.name} in {installed}")
    return 0
