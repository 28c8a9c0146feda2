"""The plan step of a model download: where the hub is, and which files to fetch.

``plan_download`` makes one ``HfApi.model_info(files_metadata=True)`` call (cancellable, with a
time limit), which pins the revision to a commit and gives every file's size, git blob id and
(for LFS files) SHA-256. Files are picked by the catalog entry's patterns; pickle formats are
skipped and everything the hub says that will reach a path is checked (``hub_listing``). No data
is downloaded here; ``downloads.ModelDownloader`` fetches and verifies what the plan lists.
``explain_hub_error`` turns a huggingface_hub or network exception into a plain sentence.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sora_desktop.core.catalog import CatalogEntry
from sora_desktop.core.model_files import is_pickle_name
from sora_desktop.engine.download_errors import (
    UNEXPECTED_DOWNLOAD_ERROR,
    DownloadCancelled,
    DownloadError,
)
from sora_desktop.engine.hub_listing import (
    RemoteFile,
    check_commit,
    check_file_name,
    check_no_clash,
    checked_file,
)

T = TypeVar("T")
CALL_POLL_S = 0.1
LISTING_TIMEOUT_S = 30.0  # the file list: a hub that never answers is reported, not waited on


@dataclass(frozen=True)
class DownloadPlan:
    entry: CatalogEntry
    commit: str
    files: tuple[RemoteFile, ...]
    skipped: tuple[str, ...] = ()  # matched but refused (pickle formats)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


@dataclass
class HubConfig:
    """Where and how to reach the hub: endpoint (mirror), token (gated repos), offline switch."""

    endpoint: str | None = None
    token: str | None = None
    offline: bool = False

    @classmethod
    def from_settings(cls, settings: Any, endpoint: str | None = None) -> HubConfig:
        """Settings → Models: mirror, offline; the token from the keyring (an old settings.json
        token held in memory wins for this session). ``endpoint`` overrides the mirror."""
        from sora_desktop.core.hub_token import load_token

        return cls(
            endpoint=endpoint or getattr(settings, "hf_endpoint", None) or None,
            token=getattr(settings, "hf_token", None) or load_token() or None,
            offline=bool(getattr(settings, "offline", False)),
        )

    @property
    def endpoint_or_default(self) -> str:
        from huggingface_hub import constants

        return (self.endpoint or constants.ENDPOINT).rstrip("/")


def matches(path: str, patterns: tuple[str, ...] | list[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, p) for p in patterns)


def call_cancellable(fn: Callable[[], T], cancel: threading.Event) -> T:
    """Run a blocking hub call in a helper thread; a cancel returns at once (the call is left to
    time out on its own: it only talks to the network, it writes nothing)."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            box["error"] = exc
        done.set()

    threading.Thread(target=run, name="sora-hub-call", daemon=True).start()
    while not done.wait(CALL_POLL_S):
        if cancel.is_set():
            raise DownloadCancelled("cancelled")
    if "error" in box:
        raise box["error"]
    return box["value"]


def check_online(hub: HubConfig, what: str) -> None:
    """Refuse at once, in plain words, when offline mode (ours or huggingface_hub's) is on."""
    from huggingface_hub import constants

    if hub.offline:
        raise DownloadError(
            f"Offline mode is on, so {what} is not possible. Turn it off in Settings → "
            "Models, or import a model folder copied from another computer."
        )
    if constants.is_offline_mode():
        raise DownloadError(
            f"The HF_HUB_OFFLINE environment variable is set, so {what} is not possible. "
            "Unset it and start Sora Desktop again, or import a model folder."
        )


def explain_hub_error(
    hub: HubConfig, exc: BaseException, entry: CatalogEntry, file: str | None = None
) -> str:
    """Turn a huggingface_hub / network exception into one plain sentence or two."""
    import httpx2
    from huggingface_hub import errors

    repo = entry.repo_id
    where = hub.endpoint_or_default
    if isinstance(exc, errors.OfflineModeIsEnabled):
        return (
            "Offline mode is on (the HF_HUB_OFFLINE environment variable), so nothing can be "
            "downloaded. Unset it, or import a model folder instead."
        )
    if isinstance(exc, errors.GatedRepoError):
        return (
            f"{repo} is a gated model: accept its licence on its page at {where} with your "
            "account, then add an access token in Settings → Models → Access token."
            + (" The token that was sent was not accepted." if hub.token else "")
        )
    if isinstance(exc, errors.RepositoryNotFoundError):
        return (
            f"{repo} was not found at {where}. Check the mirror address in Settings → "
            "Models; if the model is private, add an access token."
        )
    if isinstance(exc, errors.RevisionNotFoundError):
        return f"Revision {entry.revision!r} of {repo} does not exist at {where}."
    if isinstance(exc, errors.RemoteEntryNotFoundError):
        return f"The file {file or '?'} is missing from {repo} at {where}."
    if isinstance(exc, errors.HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "?"
        if status == 401:
            return f"The access token was refused by {where}; check it in Settings → Models."
        return (
            f"The server {where} refused to send {repo} (it answered {status}). Try again "
            "later, or check the mirror address in Settings → Models."
        )
    if isinstance(exc, (KeyError, TypeError, AttributeError, ValueError)):
        return (
            f"The server {where} sent a broken list of files for {repo}, so nothing was "
            "downloaded from it. Try again later, or check the mirror address in Settings → "
            "Models."
        )
    if isinstance(exc, (httpx2.TransportError, ConnectionError, TimeoutError)):
        return (
            f"Could not reach {where}. Check the internet connection "
            "or the mirror address in Settings → Models; the download resumes where it "
            "stopped."
        )
    return UNEXPECTED_DOWNLOAD_ERROR


def plan_download(
    hub: HubConfig, entry: CatalogEntry, cancel: threading.Event | None = None
) -> DownloadPlan:
    """Ask the hub which files to fetch, with sizes and hashes; no data is downloaded.

    Everything the hub says that will reach a path is checked (``hub_listing``)."""
    if not entry.needs_download:
        raise DownloadError(f"{entry.name} is built in and needs no download.")
    check_online(hub, f"downloading {entry.name}")
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.endpoint, token=hub.token, library_name="sora-desktop")
    try:
        info = call_cancellable(
            lambda: api.model_info(
                entry.repo_id,
                revision=entry.revision,
                files_metadata=True,
                timeout=LISTING_TIMEOUT_S,
            ),
            cancel or threading.Event(),
        )
    except DownloadCancelled:
        raise
    except Exception as exc:
        raise DownloadError(explain_hub_error(hub, exc, entry)) from exc
    where = f"{hub.endpoint_or_default} ({entry.repo_id})"
    files: list[RemoteFile] = []
    skipped: list[str] = []
    siblings = getattr(info, "siblings", None) or []
    if not isinstance(siblings, list):
        raise DownloadError(f"{where} sent a malformed file list; refusing to download.")
    for sib in siblings:
        name = check_file_name(getattr(sib, "rfilename", None), where)
        if not matches(name, entry.files):
            continue
        if is_pickle_name(name):
            skipped.append(name)  # pickles can run code when loaded: never fetched
            continue
        files.append(checked_file(sib, where))
    check_no_clash([f.path for f in files], where)
    if not files:
        raise DownloadError(
            f"No files of {entry.repo_id} match the catalog entry; the repository layout "
            "may have changed. Update Sora Desktop."
        )
    required = {"diffusers": "model_index.json", "transformers": "config.json"}.get(entry.backend)
    if entry.into is not None:
        required = None  # an extra repository holds components, not a whole model
    if required and required not in {f.path for f in files}:
        raise DownloadError(f"{entry.repo_id} has no {required}; it is not a usable model.")
    commit = check_commit(getattr(info, "sha", None), where)
    return DownloadPlan(entry, commit, tuple(files), tuple(skipped))
