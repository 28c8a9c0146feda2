"""Checks on what a hub (or any mirror the user typed in) says about a repository.

Nothing a server sends is trusted to name a path: a file name must pass the same checks as a
project's media paths (and a few more: control characters, lone surrogates, over-long parts);
a hash must be lowercase hex of the right length before it becomes the name of a part file; a
size must be a whole number of bytes >= 0; the commit must be 40 hex digits before it goes into a
URL; and two listed names must never clash (a file that is also a folder, or names that differ
only in case, which are one file on Windows and macOS). Every refusal is a ``DownloadError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sora_desktop.core.catalog import is_safe_relative_path
from sora_desktop.engine.download_errors import DownloadError

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
SHA1_RE = re.compile(r"^[0-9a-f]{40}$")
WINDOWS_FORBIDDEN = frozenset('<>:"|?*\x7f')  # ':' would also name an NTFS stream
MAX_PART_BYTES = 255  # one path component, as most file systems allow
MAX_FILE_BYTES = 2**50  # 1 PiB: anything bigger is not a model file but a lie


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    sha256: str | None  # LFS files
    git_sha1: str | None  # every file (blob id)

    @property
    def key(self) -> str:
        """The part file's name; only ever a checked hex digest (see ``checked_file``)."""
        key = self.sha256 or self.git_sha1
        if key is None or not (SHA256_RE.match(key) or SHA1_RE.match(key)):
            raise DownloadError(f"{self.path!r} has no valid hash to verify it by.")
        return key


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_file_name(name: Any, where: str) -> str:
    """A repo-relative file name that stays inside the model folder on every system."""
    from sora_desktop.core.project import ProjectError, _check_relpath

    if not isinstance(name, str):
        raise DownloadError(f"{where} lists a file name that is not text: {_short(name)}.")
    try:
        _check_relpath(name, "file name")  # the same checks as a project's media paths
        name.encode("utf-8")
    except (ProjectError, UnicodeEncodeError) as exc:
        raise DownloadError(
            f"{where} lists a file named {_short(name)} that would be written outside the model "
            "folder or cannot be a file name; refusing to download it."
        ) from exc
    parts = name.split("/")
    if (
        not is_safe_relative_path(name)
        or any(ord(c) < 32 or c in WINDOWS_FORBIDDEN for c in name)
        or any(p.endswith((".", " ")) for p in parts)  # Windows drops these: a hidden clash
    ):
        raise DownloadError(
            f"{where} lists a file named {_short(name)} that would be written outside the model "
            "folder or cannot be a file name; refusing to download it."
        )
    if any(len(part.encode("utf-8")) > MAX_PART_BYTES for part in name.split("/")):
        raise DownloadError(f"{where} lists a file name that is too long: {_short(name)}.")
    return name


def check_size(value: Any, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_FILE_BYTES:
        raise DownloadError(
            f"{where} gives {_short(value)} as the size of {name}, which is not a number of "
            "bytes; refusing to download from it."
        )
    return value


def check_hash(value: Any, pattern: re.Pattern[str], what: str, name: str, where: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise DownloadError(
            f"{where} gives {_short(value)} as the {what} of {name}, which is not a {what}; "
            "refusing to download from it."
        )
    return value


def check_commit(value: Any, where: str) -> str:
    if not value:
        raise DownloadError(f"{where} did not say which commit the model is at.")
    return check_hash(value, SHA1_RE, "commit id", "the repository", where)


def checked_file(sib: Any, where: str) -> RemoteFile:
    """One ``RepoSibling`` (as parsed by huggingface_hub) checked field by field."""
    name = check_file_name(getattr(sib, "rfilename", None), where)
    lfs = getattr(sib, "lfs", None)
    size = getattr(sib, "size", None)
    if size is None and lfs is not None:
        size = getattr(lfs, "size", None)
    if size is None:
        raise DownloadError(f"{where} gave no size for {name}.")
    size = check_size(size, name, where)
    sha256 = None
    if lfs is not None:
        sha256 = check_hash(getattr(lfs, "sha256", None), SHA256_RE, "SHA-256", name, where)
        lfs_size = getattr(lfs, "size", None)
        if lfs_size is not None and check_size(lfs_size, name, where) != size:
            raise DownloadError(f"{where} gives two different sizes for {name}.")
    blob = getattr(sib, "blob_id", None)
    git_sha1 = None if blob is None else check_hash(blob, SHA1_RE, "git blob id", name, where)
    if sha256 is None and git_sha1 is None:
        raise DownloadError(f"{where} gave no hash for {name}, so it could not be verified.")
    return RemoteFile(name, size, sha256, git_sha1)


def check_no_clash(names: list[str], where: str) -> None:
    """No duplicates, no names equal but for case, no file that is also a listed folder."""
    seen: dict[str, str] = {}
    for name in names:
        key = name.casefold()
        if key in seen:
            raise DownloadError(
                f"{where} lists both {seen[key]!r} and {name!r}, which are the same file on "
                "some systems; refusing to download it."
            )
        seen[key] = name
    folders = set()
    for key in seen:
        parts = key.split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
    for key, name in seen.items():
        if key in folders:
            raise DownloadError(
                f"{where} lists {name!r} both as a file and as a folder; refusing to download it."
            )
