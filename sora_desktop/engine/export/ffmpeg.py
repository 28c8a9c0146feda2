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
    low = log.lower()
    if "no space left" in low:
        reason = "the disk is full; free some space or choose another folder"
    elif "permission denied" in low or "read-only file system" in low:
        reason = "the folder is not writable; choose another folder"
    elif returncode is not None and returncode < 0:  # POSIX: ffmpeg was ended by a signal
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        if name == "SIGXFSZ":
            reason = "the file grew past the largest size allowed here; choose another folder"
        else:
            reason = (
                f"the video encoder (ffmpeg) was stopped ({name}) before it finished; try again"
            )
    else:
        lines = [ln for ln in log.strip().splitlines() if ln.strip()]
        reason = lines[-1].strip() if lines else f"ffmpeg exited with code {returncode}"
    return reason


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
