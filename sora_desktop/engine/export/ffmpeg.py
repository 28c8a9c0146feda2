"""The bundled ffmpeg binary: where it is, why it failed, and the tags it reads back."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path


def _ffmpeg_exe() -> str:
    """The bundled ffmpeg binary (a function so tests can substitute a failing one)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _explain_ffmpeg_failure(log: str, returncode: int | None) -> str:
    """Why ffmpeg failed, in the user's words with a next step ("Try: …"); ffmpeg's own text
    is for the log (the caller logs it), not for the user."""
    low = log.lower()
    if "no space left" in low or "disk quota" in low:
        return (
            "the disk is full.\nTry: free some disk space, or choose a folder on another disk, "
            "then export again."
        )
    if "permission denied" in low or "read-only file system" in low:
        return (
            "the folder is not writable.\nTry: choose another folder, one you own, such as "
            "your Videos folder."
        )
    if "file too large" in low:  # the file-size limit (ulimit -f, FAT32's 4 GB)
        return (
            "the file grew past the largest size allowed here.\nTry: choose a folder on "
            "another disk, or a smaller Size."
        )
    if returncode is not None and returncode < 0:  # POSIX: ffmpeg was ended by a signal
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = ""
        if name == "SIGXFSZ":
            return (
                "the file grew past the largest size allowed here.\nTry: choose a folder on "
                "another disk, or a smaller Size."
            )
        return "the video encoder was stopped before it finished.\nTry: export again."
    return (
        "the video encoder stopped with an error.\nTry: export again, or choose another "
        "Format; if it keeps failing, Help → Open log folder has the details."
    )


def _container_comments(path: Path) -> list[str]:
    """The comment/description tags of a media file, read with the bundled ffmpeg."""
    cmd = [
        _ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-i",
        str(path),
        "-f",
        "ffmetadata",
        "-",
    ]
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=30).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired):
        return []
    # ffmetadata escapes '=', ';', '#', '\\' and newlines with a backslash
    values, current = [], None
    for line in out.split("\n"):
        if current is not None:
            current += "\n" + line
        else:
            m = re.match(r"(?i)(comment|description)=(.*)", line)
            if not m:
                continue
            current = m.group(2)
        if current.endswith("\\") and not current.endswith("\\\\"):
            current = current[:-1]
            continue
        values.append(re.sub(r"\\(.)", r"\1", current))
        current = None
    return values
