"""Export clips to MP4 (H.264), WebM (VP9), GIF or a folder of PNG frames, with their settings.

Encoding uses the ffmpeg binary bundled with imageio-ffmpeg (it has libx264, VP9 and GIF;
OpenCV's writer has no H.264 here). Frames are piped to ffmpeg one at a time so progress and
cancel work per frame. Every export is atomic: ffmpeg writes a temporary file in the target
folder that is renamed only when it is complete, so a failed or cancelled export never leaves a
half file under the final name.

Each export carries the full ``GenerationRequest`` plus ``"ai_generated": true`` twice: in the
container metadata (MP4/WebM ``comment``, a GIF comment extension) and in a sidecar JSON file
``<file>.json`` (``metadata.json`` inside a PNG-frames folder). ``read_metadata`` reads either,
so a clip can be reproduced from the file alone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sora_desktop import __version__
from sora_desktop.core.atomic import atomic_write_text, atomic_write_with, current_umask
from sora_desktop.core.export_settings import (
    EXPORT_FORMATS,
    MAX_UPSCALE,
    QUALITIES,
    SUFFIX_FORMATS,
    UPSCALE_METHODS,
)
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.backend import CancelToken
from sora_desktop.engine.decode import (  # noqa: F401 - the decoders' old home, kept importable
    DEFAULT_DECODE_BUDGET,
    MAX_VIDEO_FRAMES,
    MAX_VIDEO_SIDE,
    VideoInfo,
    iter_video,
    probe_video,
    read_image,
    read_video,
)
from sora_desktop.engine.export_files import (
    ExportError,
    _is_empty_dir,
    _track,
    _untrack,
    frames_folder_for,
    refuse_special_file,
)

SOFTWARE = "Sora Desktop"
FORMATS = EXPORT_FORMATS
# how each of core's UPSCALE_METHODS resizes
INTERPOLATION = {"nearest": cv2.INTER_NEAREST, "lanczos": cv2.INTER_LANCZOS4}
# constant-quality settings per format: lower CRF = better quality, bigger file
CRF = {
    "mp4": {"high": 18, "medium": 23, "low": 28},
    "webm": {"high": 24, "medium": 32, "low": 40},
}
METADATA_KEY = "sora_desktop"
WATERMARK_TEXT = "AI-generated"

ProgressFn = Callable[[int, int], None]


# ---------------------------------------------------------------------------------------------
#                                       helpers
# ---------------------------------------------------------------------------------------------


def _ffmpeg_exe() -> str:
    """The bundled ffmpeg binary (a function so tests can substitute a failing one)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _check_frames(frames: Any) -> np.ndarray:
    if not isinstance(frames, np.ndarray):
        raise ValueError(f"frames: expected a numpy array, got {type(frames).__name__}")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames: expected shape (T, H, W, 3), got {tuple(frames.shape)}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames: expected dtype uint8, got {frames.dtype}")
    if frames.shape[0] < 1 or frames.shape[1] < 1 or frames.shape[2] < 1:
        raise ValueError(f"frames: empty clip of shape {tuple(frames.shape)}")
    return frames


def format_for_path(path: str | os.PathLike, fmt: str | None = None) -> str:
    """The export format: ``fmt`` if given, else from the suffix; a folder means PNG frames."""
    p = Path(path)
    refuse_special_file(p)
    if fmt is not None:
        if fmt not in FORMATS:
            raise ValueError(f"format: {fmt!r} is not supported; allowed: {', '.join(FORMATS)}")
        return fmt
    if p.is_dir():
        return "png"
    suffix = p.suffix.lower()
    if suffix in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[suffix]
    allowed = ", ".join(sorted(SUFFIX_FORMATS))
    raise ValueError(
        f"path: cannot tell the format from {p.name!r}; use a suffix ({allowed}), "
        "an existing folder for PNG frames, or pass the format explicitly"
    )


def output_path_for(path: str | os.PathLike, fmt: str, stem: str = "sora") -> Path:
    """Where an export in ``fmt`` really goes. PNG frames: see ``frames_folder_for``."""
    if fmt != "png":
        return Path(path)
    return frames_folder_for(path, stem)


def sidecar_path(path: str | os.PathLike) -> Path:
    """``clip.mp4`` → ``clip.mp4.json``; a PNG-frames folder keeps ``metadata.json`` inside."""
    p = Path(path)
    if p.is_dir():
        return p / "metadata.json"
    return p.with_name(p.name + ".json")


def check_writable_folder(folder: Path) -> None:
    """Fail early, with a plain message, when ``folder`` cannot receive a new file."""
    probe_from = folder
    while not probe_from.exists():  # the folder will be created; check the nearest parent
        if probe_from.parent == probe_from:
            break
        probe_from = probe_from.parent
    if probe_from.exists() and not probe_from.is_dir():
        raise ExportError(f"cannot export into {folder}: {probe_from} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".sora-write-test.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ExportError(
            f"cannot export into {folder}: the folder is not writable ({exc.strerror or exc}); "
            "choose another folder"
        ) from exc
    if not os.access(folder, os.W_OK):
        raise ExportError(f"cannot export into {folder}: the folder is not writable")


def upscale_frames(frames: np.ndarray, factor: int, method: str = "nearest") -> np.ndarray:
    """Resize every frame by an integer ``factor`` (display size; the model size is unchanged)."""
    if isinstance(factor, bool) or not isinstance(factor, int):
        raise ValueError(f"upscale: expected an integer factor, got {factor!r}")
    if not 1 <= factor <= MAX_UPSCALE:
        raise ValueError(f"upscale: {factor} is out of range; allowed 1 to {MAX_UPSCALE}")
    if method not in UPSCALE_METHODS:
        allowed = ", ".join(UPSCALE_METHODS)
        raise ValueError(f"upscale_method: {method!r} is not supported; allowed: {allowed}")
    if factor == 1:
        return frames
    t, h, w, _ = frames.shape
    out = np.empty((t, h * factor, w * factor, 3), np.uint8)
    for i in range(t):
        out[i] = cv2.resize(
            frames[i], (w * factor, h * factor), interpolation=INTERPOLATION[method]
        )
    return out


def add_watermark(frame: np.ndarray, text: str = WATERMARK_TEXT) -> np.ndarray:
    """A small visible label in the bottom-right corner, legible on any background."""
    img = np.ascontiguousarray(frame).copy()
    h, w = img.shape[:2]
    if w < 200:  # the full label would be an unreadable smear at the model's native size
        text = "AI"
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, _), _ = cv2.getTextSize(text, font, 1.0, 1)
    frac = 0.3 if text == WATERMARK_TEXT else 0.22
    scale = max(0.25, frac * w / tw)
    thick = max(1, int(round(scale)))
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    margin = max(2, w // 50) + thick  # room for the outline
    org = (max(0, w - tw - margin), max(th, h - base - margin // 2))
    # Light text with a dark outline so the label shows on light and dark backgrounds. The
    # outline is the text's own mask grown by a pixel or two: drawing the text again with a
    # thicker pen also widens OpenCV's glyph advance, which made the outline run past the text
    # and read as "AI-generatedd".
    mask = np.zeros((h, w), np.uint8)
    cv2.putText(mask, text, org, font, scale, 255, thick, cv2.LINE_AA)
    radius = max(1, thick // 2 + 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    outline = cv2.dilate(mask, kernel).astype(np.float32)[..., None] / 255.0
    fill = mask.astype(np.float32)[..., None] / 255.0
    out = img.astype(np.float32) * (1.0 - outline)  # dark halo (black, so no added colour)
    out = out * (1.0 - fill) + 255.0 * fill
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _pad_even(frame: np.ndarray) -> np.ndarray:
    """H.264/VP9 in yuv420p need even sizes; repeat the last row/column rather than crop."""
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def build_metadata(
    request: GenerationRequest | None,
    *,
    fps: int,
    fmt: str,
    num_frames: int,
    width: int,
    height: int,
    options: dict[str, Any],
) -> dict[str, Any]:
    """What an export records about itself: the request, the AI label and the export settings."""
    meta: dict[str, Any] = {
        "ai_generated": True,
        "software": SOFTWARE,
        "software_version": __version__,
        "request": request.to_dict() if request is not None else None,
        "export": {
            "format": fmt,
            "fps": fps,
            "num_frames": num_frames,
            "width": width,
            "height": height,
            **options,
        },
    }
    return meta


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


# ---------------------------------------------------------------------------------------------
#                                       export
# ---------------------------------------------------------------------------------------------


def export_video(
    frames: np.ndarray,
    path: str | os.PathLike,
    fps: int,
    *,
    fmt: str | None = None,
    request: GenerationRequest | None = None,
    upscale: int = 1,
    upscale_method: str = "nearest",
    quality: str = "high",
    watermark: bool = False,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Write ``frames`` ((T, H, W, 3) uint8 RGB) to ``path``; returns the path written.

    Raises ValueError for bad arguments, ExportError when the file cannot be written and
    GenerationCancelled when ``cancel`` is set; in every failure no file is left under the
    final name.
    """
    frames = _check_frames(frames)
    if isinstance(fps, bool) or not isinstance(fps, (int, np.integer)) or not 1 <= fps <= 240:
        raise ValueError(f"fps: expected an integer 1 to 240, got {fps!r}")
    fps = int(fps)
    if quality not in QUALITIES:
        raise ValueError(f"quality: {quality!r} is not supported; allowed: {', '.join(QUALITIES)}")
    upscale_frames(frames[:1], upscale, upscale_method)  # validate before any work
    fmt = format_for_path(path, fmt)
    stem = f"sora-{request.seed}" if request is not None else "sora"
    target = output_path_for(path, fmt, stem)
    refuse_special_file(target)
    if fmt != "png":
        refuse_special_file(sidecar_path(target))
    if fmt != "png" and target.is_dir():
        # checked first: the rename at the end would fail after the sidecar was written
        raise ExportError(f"cannot export to {target}: a folder has that name; choose another")
    check_writable_folder(target.parent)
    cancel = cancel or CancelToken()
    options = {
        "upscale": upscale,
        "upscale_method": upscale_method,
        "quality": quality,
        "watermark": bool(watermark),
    }

    def frame_at(i: int) -> np.ndarray:
        frame = upscale_frames(frames[i : i + 1], upscale, upscale_method)[0]
        if watermark:
            frame = add_watermark(frame)
        return frame

    out_h, out_w = frame_at(0).shape[:2]
    meta = build_metadata(
        request,
        fps=fps,
        fmt=fmt,
        num_frames=int(frames.shape[0]),
        width=int(out_w),
        height=int(out_h),
        options=options,
    )
    if fmt == "png":
        return _export_png(frames.shape[0], frame_at, target, meta, progress, cancel)
    return _export_ffmpeg(
        frames.shape[0], frame_at, target, fps, fmt, quality, meta, progress, cancel
    )


def _codec_args(fmt: str, quality: str, comment: str) -> list[str]:
    meta = [
        "-metadata",
        f"comment={comment}",
        "-metadata",
        f"description={comment}",
        "-metadata",
        f"encoder={SOFTWARE} {__version__}",
    ]
    if fmt == "mp4":
        return [
            "-c:v",
            "libx264",
            "-preset",
            "medium",
            "-crf",
            str(CRF["mp4"][quality]),
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
            *meta,
            "-f",
            "mp4",
        ]
    if fmt == "webm":
        return [
            "-c:v",
            "libvpx-vp9",
            "-crf",
            str(CRF["webm"][quality]),
            "-b:v",
            "0",
            "-pix_fmt",
            "yuv420p",
            "-deadline",
            "good",
            "-cpu-used",
            "4",
            "-row-mt",
            "1",
            *meta,
            "-f",
            "webm",
        ]
    if fmt == "gif":
        # one palette for the whole clip, no dithering: flat colours stay flat
        graph = "[0:v]split[a][b];[a]palettegen=max_colors=256[p];[b][p]paletteuse=dither=none"
        return ["-filter_complex", graph, "-loop", "0", "-f", "gif"]
    raise ValueError(f"format: {fmt!r} is not an ffmpeg format")


def _export_ffmpeg(n, frame_at, target, fps, fmt, quality, meta, progress, cancel) -> Path:
    comment = json.dumps(meta, sort_keys=True)
    first = _pad_even(frame_at(0)) if fmt != "gif" else frame_at(0)
    sidecar = sidecar_path(target)
    made: list[Path] = []  # the temp file core.atomic made, tracked until it is gone
    encoding = encoded = False

    def encode(tmp: Path) -> None:
        nonlocal encoding, encoded
        encoding = True
        made.append(tmp)
        _track(tmp)
        _run_ffmpeg(n, frame_at, first, tmp, target, fps, fmt, quality, comment, progress, cancel)
        if fmt == "gif":
            _gif_add_comment(tmp, comment)
        # sidecar first: if it cannot be written, nothing appears under the final name
        try:
            atomic_write_text(sidecar, json.dumps(meta, indent=2, sort_keys=True))
        except OSError as exc:
            raise ExportError(f"export to {target.name} failed: {exc.strerror or exc}") from exc
        encoded = True

    try:
        atomic_write_with(target, encode, mode=0o666 & ~current_umask())
    except BaseException as exc:
        # a sidecar written for this failed export would describe a file that is not there
        if sidecar.is_file() and not target.exists():
            sidecar.unlink(missing_ok=True)
        # the file system refused the temp file or putting the finished file in place
        if isinstance(exc, OSError) and (encoded or not encoding):
            raise ExportError(f"export to {target.name} failed: {exc.strerror or exc}") from exc
        raise
    finally:
        for tmp in made:
            tmp.unlink(missing_ok=True)
            _untrack(tmp)
    return target


def _run_ffmpeg(n, frame_at, first, tmp, target, fps, fmt, quality, comment, progress, cancel):
    """Encode the frames into ``tmp``; ``ExportError`` (with ffmpeg's reason) if it fails."""
    h, w = first.shape[:2]
    cmd = [
        _ffmpeg_exe(),
        "-y",
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{w}x{h}",
        "-r",
        str(fps),
        "-i",
        "-",
        *_codec_args(fmt, quality, comment),
        str(tmp),
    ]
    log_file = tempfile.TemporaryFile()
    proc: subprocess.Popen | None = None
    try:
        try:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log_file
            )
        except OSError as exc:
            raise ExportError(f"export failed: cannot start ffmpeg ({exc})") from exc
        _track(proc)
        assert proc.stdin is not None
        broken = False
        for i in range(n):
            cancel.raise_if_cancelled()
            frame = first if i == 0 else frame_at(i)
            if fmt != "gif":
                frame = _pad_even(frame)
            try:
                proc.stdin.write(np.ascontiguousarray(frame).tobytes())
            except (BrokenPipeError, OSError):
                broken = True  # ffmpeg died; its log says why
                break
            if progress is not None:
                progress(i + 1, n)
        try:
            proc.stdin.close()
        except OSError:
            broken = True
        code = proc.wait()
        if broken or code != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
            log_file.seek(0)
            log = log_file.read().decode("utf-8", "replace")
            reason = _explain_ffmpeg_failure(log, code)
            raise ExportError(f"export to {target.name} failed: {reason}")
    except BaseException:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        raise
    finally:
        log_file.close()
        if proc is not None:
            _untrack(proc)


def _export_png(n, frame_at, target: Path, meta, progress, cancel) -> Path:
    """Frames go to a staging folder first; it becomes ``target`` (new) or its files move into
    ``target`` (an existing empty folder). Nothing already in a folder is ever touched."""
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    moved: list[Path] = []
    _track(stage)
    try:
        for i in range(n):
            cancel.raise_if_cancelled()
            bgr = cv2.cvtColor(frame_at(i), cv2.COLOR_RGB2BGR)
            ok = cv2.imwrite(str(stage / f"frame_{i:04d}.png"), bgr)
            if not ok:
                raise ExportError(f"export to {target.name} failed: could not write frame {i}")
            if progress is not None:
                progress(i + 1, n)
        atomic_write_text(stage / "metadata.json", json.dumps(meta, indent=2, sort_keys=True))
        if not os.path.lexists(target):
            os.chmod(stage, 0o777 & ~current_umask())  # mkdtemp makes it private
            os.rename(stage, target)
        elif target.is_dir() and _is_empty_dir(target):
            for item in sorted(stage.iterdir()):
                dst = target / item.name
                if os.path.lexists(dst):  # something appeared meanwhile: never replace it
                    raise ExportError(f"export failed: {dst} appeared while exporting")
                os.rename(item, dst)
                moved.append(dst)
            stage.rmdir()
        else:
            raise ExportError(
                f"export failed: {target} already exists and is not an empty folder; "
                "choose a new folder name"
            )
    except BaseException as exc:
        for f in moved:  # our own frames, moved before the failure
            f.unlink(missing_ok=True)
        shutil.rmtree(stage, ignore_errors=True)
        if isinstance(exc, OSError):
            raise ExportError(f"export to {target.name} failed: {exc.strerror or exc}") from exc
        raise
    finally:
        _untrack(stage)
    return target


# ---------------------------------------------------------------------------------------------
#                                       GIF comment extension
# ---------------------------------------------------------------------------------------------


def _gif_blocks(data: bytes):
    """Yield (kind, start, end, payload) for the blocks of a GIF; kind in ext/image/trailer."""
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        raise ValueError("not a GIF file")
    pos = 13
    flags = data[10]
    if flags & 0x80:
        pos += 3 * (2 ** ((flags & 7) + 1))
    while pos < len(data):
        start = pos
        tag = data[pos]
        if tag == 0x3B:
            yield "trailer", start, pos + 1, b""
            return
        if tag == 0x21:
            label = data[pos + 1]
            pos += 2
            payload = bytearray()
            while pos < len(data) and data[pos]:
                size = data[pos]
                payload += data[pos + 1 : pos + 1 + size]
                pos += 1 + size
            pos += 1
            yield f"ext{label:02x}", start, pos, bytes(payload)
        elif tag == 0x2C:
            lflags = data[pos + 9]
            pos += 10
            if lflags & 0x80:
                pos += 3 * (2 ** ((lflags & 7) + 1))
            pos += 1  # LZW minimum code size
            while pos < len(data) and data[pos]:
                pos += 1 + data[pos]
            pos += 1
            yield "image", start, pos, b""
        else:
            raise ValueError(f"GIF: unexpected block 0x{tag:02x} at {pos}")


def _gif_add_comment(path: Path, text: str) -> None:
    data = path.read_bytes()
    raw = text.encode("utf-8")
    ext = bytearray(b"\x21\xfe")
    for i in range(0, len(raw), 255):
        chunk = raw[i : i + 255]
        ext += bytes([len(chunk)]) + chunk
    ext += b"\x00"
    trailer = [start for kind, start, _, _ in _gif_blocks(data) if kind == "trailer"]
    at = trailer[0] if trailer else len(data)
    path.write_bytes(data[:at] + bytes(ext) + b"\x3b")


def _gif_comments(path: Path) -> list[str]:
    data = path.read_bytes()
    return [p.decode("utf-8", "replace") for k, _, _, p in _gif_blocks(data) if k == "extfe"]


# ---------------------------------------------------------------------------------------------
#                                       reading back
# ---------------------------------------------------------------------------------------------


def _parse_meta_text(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return None
    if isinstance(data, dict) and data.get("ai_generated") is True:
        return data
    return None


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


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The export metadata of a clip: sidecar JSON first, else the file's own metadata.

    Returns the dict written at export (``ai_generated``, ``software``, ``request``, ``export``).
    Raises ValueError when the file carries none (not made by Sora Desktop, or stripped).
    """
    p = Path(path)
    if not p.exists():
        raise ValueError(f"path: {p} does not exist")
    if p.is_file() and p.suffix.lower() == ".json":  # the sidecar itself was chosen
        meta = _parse_meta_text(p.read_text(encoding="utf-8", errors="replace"))
        if meta is None:
            raise ValueError(f"path: {p.name} is not a Sora Desktop metadata file")
        return meta
    sidecars = [sidecar_path(p)]
    if p.is_dir():
        sidecars.append(p.with_name(p.name + ".json"))
    for side in sidecars:
        if side.is_file():
            meta = _parse_meta_text(side.read_text(encoding="utf-8", errors="replace"))
            if meta is not None:
                return meta
    if p.is_file():
        texts: list[str] = []
        if p.suffix.lower() == ".gif":
            try:
                texts = _gif_comments(p)
            except (ValueError, IndexError):
                texts = []
        if not texts:
            texts = _container_comments(p)
        for text in texts:
            meta = _parse_meta_text(text)
            if meta is not None:
                return meta
    raise ValueError(f"path: {p.name} carries no Sora Desktop metadata (no sidecar, no tag)")


def request_from_file(path: str | os.PathLike) -> GenerationRequest:
    """The request that produced an exported clip (or its sidecar, or a saved request JSON)."""
    p = Path(path)
    if p.is_file() and p.suffix.lower() == ".json":
        try:
            data = json.loads(p.read_text(encoding="utf-8", errors="replace"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"path: {p.name} is not valid JSON ({exc.msg})") from exc
        if isinstance(data, dict) and "prompt" in data and "ai_generated" not in data:
            return GenerationRequest.from_dict(data)  # a bare request.to_json()
    meta = read_metadata(path)
    data = meta.get("request")
    if not isinstance(data, dict):
        raise ValueError(f"path: {Path(path).name} was exported without its request")
    return GenerationRequest.from_dict(data)


# ---------------------------------------------------------------------------------------------
#                                       storyboard
# ---------------------------------------------------------------------------------------------


def concat_clips(clips: list[np.ndarray], crossfade_frames: int = 0) -> np.ndarray:
    """Join shots into one clip, resized to the first clip's size, with optional cross-fades.

    Each cross-fade overlaps the last ``crossfade_frames`` of a shot with the first ones of the
    next, so the result has ``sum(len) - crossfade_frames * (len(clips) - 1)`` frames.
    """
    if not clips:
        raise ValueError("clips: need at least one clip")
    clips = [_check_frames(c) for c in clips]
    if isinstance(crossfade_frames, bool) or not isinstance(crossfade_frames, int):
        raise ValueError(f"crossfade_frames: expected an integer, got {crossfade_frames!r}")
    if crossfade_frames < 0:
        raise ValueError(f"crossfade_frames: {crossfade_frames} must not be negative")
    c = crossfade_frames
    n = len(clips)
    for i, clip in enumerate(clips):
        used = c * ((i > 0) + (i < n - 1))
        if used > len(clip):
            raise ValueError(
                f"crossfade_frames: {c} is too long for shot {i + 1} ({len(clip)} frames); "
                f"allowed up to {len(clip) // max(1, (i > 0) + (i < n - 1))}"
            )
    h, w = clips[0].shape[1:3]
    resized = []
    for clip in clips:
        if clip.shape[1:3] != (h, w):
            clip = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in clip])
        resized.append(clip)
    out = [resized[0]]
    for nxt in resized[1:]:
        if c == 0:
            out.append(nxt)
            continue
        prev = out[-1]
        alpha = (np.arange(1, c + 1, dtype=np.float32) / (c + 1))[:, None, None, None]
        blend = (1 - alpha) * prev[-c:].astype(np.float32) + alpha * nxt[:c].astype(np.float32)
        out[-1] = prev[:-c]
        out.append(np.clip(np.round(blend), 0, 255).astype(np.uint8))
        out.append(nxt[c:])
    return np.concatenate(out, axis=0)
