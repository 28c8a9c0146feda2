"""A take's files: the clip, its thumbnail (middle frame), its last frame (a shot that
continues from it starts there) and its first frame (the shot before it may end there).

The names are defined here once; the UI shows the thumbnails, the worker writes the files and
a shot that continues from the previous one starts from the last frame. Qt-free: cv2 and the
engine are imported inside the functions that need them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sora_desktop.core.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

# Side files are made from frames scaled to at most this many pixels a side.
SIDE_MAX = 512


class StartFrameError(RuntimeError):
    """The previous shot's clip could not give a last frame to continue from (for the user)."""


class EndFrameError(StartFrameError):
    """The next shot's clip could not give a first frame to end on (for the user). A kind of
    ``StartFrameError``: whoever reports one reports both (a keyframe file could not be made)."""


def thumbnail_path(clip: str | Path) -> Path:
    clip = Path(clip)
    return clip.with_name(f"{clip.stem}_thumb.png")


def last_frame_path(clip: str | Path) -> Path:
    clip = Path(clip)
    return clip.with_name(f"{clip.stem}_last.png")


def first_frame_path(clip: str | Path) -> Path:
    clip = Path(clip)
    return clip.with_name(f"{clip.stem}_first.png")


def save_png(frame: Any, path: str | Path) -> Path:
    """Write one RGB frame as a PNG, atomically."""
    import cv2  # lazy: keeps the window's start-up light
    import numpy as np

    ok, buf = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not encode {path} as PNG")
    return atomic_write_bytes(path, buf.tobytes())


def make_side_files(clip: str | Path) -> None:
    """Write the missing thumbnail (middle frame) and last frame, decoding the clip one frame
    at a time, scaled down: memory stays small whatever the clip's size. ``ValueError`` for a
    clip refused by its header."""
    from sora_desktop.engine.decode import MAX_VIDEO_FRAMES, iter_video  # lazy: cv2

    thumb, last = thumbnail_path(clip), last_frame_path(clip)
    budget = MAX_VIDEO_FRAMES * SIDE_MAX * SIDE_MAX * 3  # frames are streamed, not kept
    info, frames = iter_video(clip, SIDE_MAX, budget)
    middle_index = info.frames // 2
    middle = final = None
    for i, frame in enumerate(frames):
        if i == middle_index:
            middle = frame
        final = frame
    if final is None:
        raise ValueError(f"path: {Path(clip).name} has no decodable frames")
    if not thumb.is_file():
        save_png(middle if middle is not None else final, thumb)
    if not last.is_file():
        save_png(final, last)


def _why(exc: BaseException) -> str:
    """Why a clip could not be read, in words (the exception itself goes to the log)."""
    if isinstance(exc, FileNotFoundError):
        return "the file is missing"
    if isinstance(exc, PermissionError):
        return "Sora Desktop is not allowed to read it"
    if isinstance(exc, OSError):
        return "the disk could not be read"
    return "the file is damaged or not a video"


def ensure_last_frame(clip: str | Path) -> Path:
    """The clip's last-frame file, made from the clip when it is missing (a clip imported
    without its side files). Decodes the clip: call it off the GUI thread (the generation
    worker does, just before the take that continues from it)."""
    last = last_frame_path(clip)
    if last.is_file():
        return last
    try:
        make_side_files(clip)
    except (ValueError, OSError) as exc:
        log.warning("no last frame from %s: %s", clip, exc)
        raise StartFrameError(
            f"This shot continues from the previous shot, but the last frame of its clip "
            f"“{Path(clip).name}” could not be read ({_why(exc)}).\n"
            "Try: generate the previous shot again, or turn off 'Continue from previous shot'."
        ) from exc
    return last


def ensure_first_frame(clip: str | Path) -> Path:
    """The clip's first-frame file (the keyframe the shot before it ends on), made from the
    clip's first frame when missing (clips made before first frames were kept). Decodes one
    frame: call it off the GUI thread, like ``ensure_last_frame``."""
    first = first_frame_path(clip)
    if first.is_file():
        return first
    from sora_desktop.engine.decode import MAX_VIDEO_FRAMES, MAX_VIDEO_SIDE, iter_video  # lazy

    try:
        # full size (the keyframe must be the next shot's picture, not a thumbnail); one frame
        # is decoded, so the whole-clip budget is the header's own limits
        budget = MAX_VIDEO_FRAMES * MAX_VIDEO_SIDE * MAX_VIDEO_SIDE * 3
        _info, frames = iter_video(clip, None, budget)
        frame = next(frames, None)
        close = getattr(frames, "close", None)
        if close is not None:
            close()  # releases the decoder now
        if frame is None:
            raise ValueError(f"path: {Path(clip).name} has no decodable frames")
        save_png(frame, first)
    except (ValueError, OSError) as exc:
        log.warning("no first frame from %s: %s", clip, exc)
        raise EndFrameError(
            f"This shot ends on the next shot's first frame, but the first frame of its clip "
            f"“{Path(clip).name}” could not be read ({_why(exc)}).\n"
            "Try: generate the next shot again, or turn off 'End on the next shot's first frame'."
        ) from exc
    return first


def save_take_files(result: Any, out_dir: Path, stem: str) -> Path:
    """The clip as MP4 plus its thumbnail (middle frame), last frame (a next shot continues
    from it), first frame (a previous shot may end on it) and, when the model made sound, its
    audio (studio/audio.py)."""
    from sora_desktop.engine.export import export_video  # lazy: cv2, ffmpeg

    out_dir.mkdir(parents=True, exist_ok=True)
    clip = Path(
        export_video(result.frames, out_dir / f"{stem}.mp4", result.fps, request=result.request)
    )
    frames = result.frames
    save_png(frames[len(frames) // 2], thumbnail_path(clip))
    save_png(frames[-1], last_frame_path(clip))
    save_png(frames[0], first_frame_path(clip))
    if getattr(result, "audio", None) is not None:
        from sora_desktop.studio.audio import audio_path, write_wav

        write_wav(audio_path(clip), result.audio, result.sample_rate)
    return clip
