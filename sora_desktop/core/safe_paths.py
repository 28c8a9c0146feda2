"""Checks for paths the user (or a file) hands us, before anything opens them.

Plain data: no Qt, no torch. Every problem is a ``UnsafePathError`` (a ``ValueError``) whose
text is one plain sentence, so loaders can show it as it is.

Why these checks:
- A path with a NUL or an unpaired surrogate (from a damaged settings file, a hand-edited
  project, or a program calling us) makes ``os`` functions raise raw ``ValueError`` /
  ``UnicodeEncodeError`` deep inside a loader.
- Opening a FIFO for reading blocks until someone writes to it; a character device such as
  ``/dev/zero`` never ends. So files are opened with ``O_NONBLOCK`` and checked with ``fstat``
  on the open descriptor (no race between the check and the read) before one byte is read.
- A symlink loop makes ``Path.resolve()`` raise ``RuntimeError`` on Python 3.11.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sora_desktop.core.errors import FieldError

# Up to 4096 characters, like a request's path fields.
MAX_PATH_CHARS = 4096


class UnsafePathError(FieldError):
    """A path that cannot or must not be opened; ``field`` says which path (``"project"``,
    ``"model"``...), ``message`` is the user's message."""


def _name(path: str | os.PathLike) -> str:
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    # shown in a message: no control characters, no unpaired surrogates, not endless
    shown = "".join(
        "?" if (ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF) else c for c in Path(text).name
    )
    return shown[:120] or text[:120] or "(empty path)"


def check_path_text(path: str | os.PathLike, what: str = "path") -> Path:
    """A ``Path`` for text that the operating system can take; ``UnsafePathError`` if not."""
    try:
        text = os.fspath(path)
    except TypeError as exc:
        raise UnsafePathError(what, f"expected a file path, got {type(path).__name__}") from exc
    if isinstance(text, bytes):
        try:
            text = os.fsdecode(text)
        except UnicodeDecodeError as exc:
            raise UnsafePathError(what, "the path is not valid text") from exc
    if not text:
        raise UnsafePathError(what, "the path is empty")
    if "\0" in text:
        raise UnsafePathError(
            what, "the path contains a NUL character, which no file name can hold"
        )
    if len(text) > MAX_PATH_CHARS:
        raise UnsafePathError(
            what, f"the path is {len(text)} characters long; the limit is {MAX_PATH_CHARS}"
        )
    try:
        os.fsencode(text)
    except UnicodeEncodeError as exc:
        raise UnsafePathError(
            what,
            f"the path contains characters that are not valid text "
            f"(at position {exc.start}); no file can have this name",
        ) from exc
    return Path(text)


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _os_message(exc: OSError) -> str:
    import errno

    if exc.errno == errno.ELOOP:
        return "it is a symbolic link that points to itself (a link loop)"
    if isinstance(exc, FileNotFoundError):
        return "it does not exist"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, NotADirectoryError):
        return "a part of its path is not a folder"
    return exc.strerror or str(exc)


def check_regular_file(path: str | os.PathLike, what: str = "file") -> os.stat_result:
    """``stat`` (following links) and refuse anything but a regular file, never opening it."""
    p = check_path_text(path, what)
    try:
        st = os.stat(p)
    except OSError as exc:
        raise UnsafePathError(what, f"{_name(p)} cannot be used: {_os_message(exc)}") from exc
    kind = _kind(st.st_mode)
    if kind is not None:
        raise UnsafePathError(what, f"{_name(p)} is {kind}, not a file")
    return st


def open_regular_file(path: str | os.PathLike, what: str = "file", max_bytes: int = 0):
    """Open a regular file for binary reading without ever blocking on a FIFO or device.

    ``UnsafePathError`` for a bad name, a non-regular file, or one over ``max_bytes`` (> 0);
    a plain ``OSError`` (not found, permission) for the caller to word as it likes.
    """
    p = check_path_text(path, what)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(p, flags)
    try:
        st = os.fstat(fd)  # the file we opened, not whatever the name points to now
        kind = _kind(st.st_mode)
        if kind is not None:
            raise UnsafePathError(what, f"{_name(p)} is {kind}, not a file")
        if max_bytes and st.st_size > max_bytes:
            raise UnsafePathError(
                what, f"{_name(p)} is {_size(st.st_size)}; the limit is {_size(max_bytes)}"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise


def read_regular_file(path: str | os.PathLike, what: str = "file", max_bytes: int = 0) -> bytes:
    """The bytes of a regular file, never blocking on a FIFO or device; every problem is an
    ``UnsafePathError`` with a plain message. ``max_bytes`` > 0 refuses a larger file (from
    ``fstat``, and again on the read itself in case the file grows)."""
    p = check_path_text(path, what)
    try:
        with open_regular_file(p, what, max_bytes) as fh:
            data = fh.read(max_bytes + 1 if max_bytes else -1)
    except UnsafePathError:
        raise
    except OSError as exc:
        raise UnsafePathError(what, f"{_name(p)} cannot be read: {_os_message(exc)}") from exc
    if max_bytes and len(data) > max_bytes:
        raise UnsafePathError(what, f"{_name(p)} is larger than {_size(max_bytes)}")
    return data


def safe_resolve(path: str | os.PathLike, what: str = "path") -> Path:
    """``Path.resolve()`` with a plain message for a link loop or an unusable name."""
    p = check_path_text(path, what)
    try:
        return p.resolve()
    except RuntimeError as exc:  # Python 3.11: "Symlink loop from ..."
        raise UnsafePathError(
            what, f"{_name(p)} is a symbolic link that points to itself (a link loop)"
        ) from exc
    except OSError as exc:
        raise UnsafePathError(what, f"{_name(p)} cannot be used: {_os_message(exc)}") from exc


def _size(n: int) -> str:
    if n >= 1024**3:
        return f"{n / 1024**3:.1f} GB"
    if n >= 1024**2:
        return f"{n / 1024**2:.1f} MB"
    return f"{n} bytes"
