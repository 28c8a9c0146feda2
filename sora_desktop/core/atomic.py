"""Atomic file writes: write a temporary file beside the target, fsync, then rename it over.

A crash, a full disk or a killed process leaves either the old file or the new one, never a
half-written file under the final name.

The write goes *through* to the file the user has:
- a symbolic link is followed, so the real (maybe synced) file gets the new content and the
  link stays a link;
- a file with several hard links is updated in place (a rename would cut it off from its other
  names); the complete new content is written and fsynced to the temp file first, which stays
  behind as a recovery copy if the in-place write is interrupted;
- an existing file keeps its permission bits (a private 0600 file stays private) and, where
  allowed, its owner; a new file gets the usual ``0o666 & ~umask``;
- a target that exists but is not a regular file (a device such as /dev/null, a FIFO, a
  socket) is refused with an ``OSError``: replacing it would break the system or hang.

After the rename the folder is fsynced too (POSIX; Windows cannot open a folder for that), so a
power cut cannot lose the rename itself.

Temp files are named ``.<target name>.<random>.w<pid>s<start>h<host>.part``: the writer's PID,
its process start time (in 1/100 s since the epoch, which also tells a PID reused after a
reboot or a wrap-around apart) and a short id of the machine and PID namespace (a writer on
another machine sharing the folder, or in another container, is never judged by a PID).
``temp_writer_gone`` reads them back, so a clean-up (core/leftovers.py) removes the temp file
of a killed writer at once and never that of a live one, whatever its age.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import socket
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

import psutil

TEMP_SUFFIX = ".part"
# .<target name>.<mkstemp's random part, no dots>.w<pid>s<start in 1/100 s>h<host>.part
TEMP_NAME_RE = re.compile(
    r"^\.(?P<target>.+)\.[^./]+\.w(?P<pid>\d{1,10})s(?P<start>\d{1,16})h(?P<host>[0-9a-f]{6})\.part$"
)
_tag_cache: tuple[int, str] | None = None


def _start_centis(proc: psutil.Process) -> int:
    return int(round(proc.create_time() * 100))


def host_id() -> str:
    """Six hex digits for this machine and PID namespace: a PID is only checked where it
    means the same process (not for a writer on another machine sharing the folder over the
    network, nor in another container)."""
    parts = [socket.gethostname()]
    try:
        parts.append(os.readlink("/proc/self/ns/pid"))
    except OSError:
        pass
    return hashlib.sha1("\0".join(parts).encode("utf-8", "replace")).hexdigest()[:6]


def writer_tag() -> str:
    """``w<pid>s<start>h<host>`` of this process (recomputed after a fork: the PID changes)."""
    global _tag_cache
    pid = os.getpid()
    if _tag_cache is None or _tag_cache[0] != pid:
        try:
            start = _start_centis(psutil.Process(pid))
        except (psutil.Error, OSError):
            start = 0
        _tag_cache = (pid, f"w{pid}s{start}h{host_id()}")
    return _tag_cache[1]


def temp_writer_gone(name: str) -> bool | None:
    """For a temp file name made by this module: True when its writer process is gone (killed,
    crashed, exited), False while it may still be writing or nothing can tell (another
    machine or container); None for any other name (not ours, or made before writers were
    named)."""
    m = TEMP_NAME_RE.match(name)
    if m is None:
        return None
    if m.group("host") != host_id():
        return False  # its PID means nothing here: never touch a possibly live writer
    if name.endswith(f".{writer_tag()}{TEMP_SUFFIX}"):
        return False  # this process: a write in flight on another thread, or a kept copy
    pid, start = int(m.group("pid")), int(m.group("start"))
    try:
        proc = psutil.Process(pid)
        if abs(_start_centis(proc) - start) > 1:
            return True  # the PID now belongs to another process (a reuse, a reboot)
        return proc.status() == psutil.STATUS_ZOMBIE  # killed, not yet reaped: writes nothing
    except psutil.NoSuchProcess:
        return True
    except (psutil.Error, OSError):
        return False  # cannot tell (e.g. access denied): never touch a possibly live writer


def _fit_name(name: str, reserve: int, limit: int = 255) -> str:
    """``name`` cut (whole characters) so a temp name built on it stays within the usual
    255-byte limit of a file name: a long project name must not make every save fail."""
    while name and len(os.fsencode(name)) + reserve > limit:
        name = name[:-1]
    return name or "file"


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a rename or creation in ``folder`` durable. POSIX only; a file system that cannot
    sync folders (some network shares) is skipped quietly: the data itself was synced."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def current_umask() -> int:
    """The process umask without changing it (``os.umask`` sets it, which races with threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def write_target(path: str | os.PathLike) -> Path:
    """The file a write to ``path`` really changes: symbolic links followed (also a chain, and
    a dangling one, whose target is then created). ``OSError`` for a link loop."""
    p = Path(path)
    if not p.is_symlink():
        return p
    real = Path(os.path.realpath(p, strict=False))
    if real.is_symlink():  # realpath gives up on a loop and returns a link
        raise OSError(errno.ELOOP, f"{p} is a symbolic link that loops")
    return real


def check_regular_target(target: Path) -> os.stat_result | None:
    """The target's ``stat`` if it exists; ``OSError`` when it is not a regular file."""
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, f"{target} is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, f"{target} is a device, pipe or socket, not a regular file")
    return st


def atomic_write_with(
    path: str | os.PathLike, writer: Callable[[Path], None], mode: int | None = None
) -> Path:
    """Call ``writer(tmp_path)`` to fill a temp file beside the real target, then put it in place.

    ``mode``: the permission bits to set; ``None`` keeps an existing file's bits (a new file
    gets ``0o666 & ~umask``). Returns ``path`` as given (a link stays the path the caller knows).
    """
    given = Path(path)
    target = write_target(given)
    target.parent.mkdir(parents=True, exist_ok=True)
    old = check_regular_target(target)
    if mode is None:
        mode = stat.S_IMODE(old.st_mode) if old is not None else 0o666 & ~current_umask()
    suffix = f".{writer_tag()}{TEMP_SUFFIX}"
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{_fit_name(target.name, len(suffix) + 10)}.", suffix=suffix, dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    keep_tmp = False
    try:
        writer(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if old is not None and old.st_nlink > 1:
            keep_tmp = True  # from here on the temp file is the only complete copy
            _write_in_place(tmp, target, mode)
            keep_tmp = False
            tmp.unlink()
            return given
        os.chmod(tmp, mode)
        if old is not None and hasattr(os, "chown"):
            try:  # e.g. an admin saving a user's file: it stays the user's
                if os.stat(tmp).st_uid != old.st_uid or os.stat(tmp).st_gid != old.st_gid:
                    os.chown(tmp, old.st_uid, old.st_gid)
            except OSError:
                pass
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        if not keep_tmp:
            tmp.unlink(missing_ok=True)
        raise
    return given


def _write_in_place(tmp: Path, target: Path, mode: int) -> None:
    """Copy the finished temp file into a hard-linked target, keeping its inode (and links)."""
    with open(tmp, "rb") as src, open(target, "r+b") as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)
        dst.truncate()
        dst.flush()
        os.fsync(dst.fileno())
    if stat.S_IMODE(os.stat(target).st_mode) != mode:
        os.chmod(target, mode)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write_with(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    return atomic_write_bytes(path, text.encode(encoding))
