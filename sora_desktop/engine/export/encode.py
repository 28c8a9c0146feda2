"""Writing an export: MP4 (H.264), WebM (VP9) and GIF through ffmpeg, or a folder of PNGs.

Encoding uses the ffmpeg binary bundled with imageio-ffmpeg (it has libx264, VP9 and GIF;
OpenCV's writer has no H.264 here). Frames are piped to ffmpeg one at a time so progress and
cancel work per frame. Every export is atomic: ffmpeg writes a temporary file in the target
folder that is renamed only when it is complete, so a failed or cancelled export never leaves a
half file under the final name.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from sora_desktop import __version__
from sora_desktop.core.atomic import atomic_write_text, atomic_write_with, current_umask
from sora_desktop.core.export_settings import (
    EXPORT_FORMATS,
    QUALITIES,
    SILENT_FORMATS,
    SUFFIX_FORMATS,
)
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.backend import CancelToken
from sora_desktop.engine.export import ffmpeg
from sora_desktop.engine.export.ffmpeg import _explain_ffmpeg_failure
from sora_desktop.engine.export.frames import (
    _check_frames,
    _pad_even,
    add_watermark,
    upscale_frames,
)
from sora_desktop.engine.export.metadata import (
    SOFTWARE,
    _gif_add_comment,
    build_metadata,
    sidecar_path,
)
from sora_desktop.engine.export_files import (
    ExportError,
    _is_empty_dir,
    _track,
    _untrack,
    disk_problem,
    export_failed,
    frames_folder_for,
    refuse_special_file,
)

log = logging.getLogger(__name__)
FORMATS = EXPORT_FORMATS
# constant-quality settings per format: lower CRF = better quality, bigger file
CRF = {
    "mp4": {"high": 18, "medium": 23, "low": 28},
    "webm": {"high": 24, "medium": 32, "low": 40},
}

ProgressFn = Callable[[int, int], None]


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
        f"path: cannot tell the format from “{p.name}”; end the name with a suffix ({allowed}), "
        "use an existing folder for PNG frames, or choose the format"
    )


def output_path_for(path: str | os.PathLike, fmt: str, stem: str = "sora") -> Path:
    """Where an export in ``fmt`` really goes. PNG frames: see ``frames_folder_for``."""
    if fmt != "png":
        return Path(path)
    return frames_folder_for(path, stem)


def check_writable_folder(folder: Path) -> None:
    """Fail early, with a plain message, when ``folder`` cannot receive a new file."""
    probe_from = folder
    while not probe_from.exists():  # the folder will be created; check the nearest parent
        if probe_from.parent == probe_from:
            break
        probe_from = probe_from.parent
    if probe_from.exists() and not probe_from.is_dir():
        raise ExportError(
            f"cannot export into {folder}: {probe_from} is a file, not a folder.\n"
            "Try: choose another folder."
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".sora-write-test.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        log.warning("cannot export into %s: %s", folder, exc)
        cause, step = disk_problem(exc)
        raise ExportError(
            f"cannot export into {folder}: the folder is not writable ({cause}).\nTry: {step}."
        ) from exc
    if not os.access(folder, os.W_OK):
        raise ExportError(
            f"cannot export into {folder}: the folder is not writable.\nTry: choose a folder you "
            "own, such as your Videos folder."
        )


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
    audio: str | os.PathLike | None = None,
    audio_record: dict | None = None,
    sidecar: bool = False,
) -> Path:
    """Write ``frames`` ((T, H, W, 3) uint8 RGB) to ``path``; returns the path written.

    ``audio``: the film's sound, a raw mix from ``audio_mix.write_mix`` (exactly the film's
    length), muxed as AAC (MP4) or Opus (WebM); GIF and PNG frames leave it out.
    ``audio_record``: what the metadata and sidecar record about the sound (under ``"audio"``).
    Without either, the export is exactly what it was before sound existed.
    ``sidecar``: also write the metadata as ``<file>.json`` beside it (MP4/WebM/GIF carry it
    inside the file either way; a PNG folder keeps its ``metadata.json`` inside).

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
        raise ExportError(
            f"cannot export to {target}: a folder has that name.\nTry: choose another name."
        )
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
    if audio_record is not None:
        meta["audio"] = audio_record
    if fmt in SILENT_FORMATS:
        audio = None  # these formats hold no sound (the caller says so to the user)
    if fmt == "png":
        return _export_png(frames.shape[0], frame_at, target, meta, progress, cancel)
    return _export_ffmpeg(
        frames.shape[0], frame_at, target, fps, fmt, quality, meta, progress, cancel, audio, sidecar
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


def _export_ffmpeg(
    n, frame_at, target, fps, fmt, quality, meta, progress, cancel, audio=None, with_sidecar=False
) -> Path:
    comment = json.dumps(meta, sort_keys=True)
    first = _pad_even(frame_at(0)) if fmt != "gif" else frame_at(0)
    sidecar = sidecar_path(target)
    replacing = target.is_file()
    made: list[Path] = []  # the temp file core.atomic made, tracked until it is gone
    encoding = encoded = False

    def encode(tmp: Path) -> None:
        nonlocal encoding, encoded
        encoding = True
        made.append(tmp)
        _track(tmp)
        _run_ffmpeg(
            n, frame_at, first, tmp, target, fps, fmt, quality, comment, progress, cancel, audio
        )
        if fmt == "gif":
            _gif_add_comment(tmp, comment)
        # sidecar first: if it cannot be written, nothing appears under the final name
        if with_sidecar:
            try:
                atomic_write_text(sidecar, json.dumps(meta, indent=2, sort_keys=True))
            except OSError as exc:
                raise export_failed(target.name, exc) from exc
        encoded = True

    try:
        atomic_write_with(target, encode, mode=0o666 & ~current_umask())
    except BaseException as exc:
        # a sidecar written for this failed export would describe a file that is not there
        if sidecar.is_file() and not target.exists():
            sidecar.unlink(missing_ok=True)
        # the file system refused the temp file or putting the finished file in place
        if isinstance(exc, OSError) and (encoded or not encoding):
            raise export_failed(target.name, exc) from exc
        raise
    finally:
        for tmp in made:
            tmp.unlink(missing_ok=True)
            _untrack(tmp)
    if replacing and not with_sidecar and sidecar.is_file() and not sidecar.is_symlink():
        # the replaced export's sidecar would describe the old clip ("Open settings from clip"
        # reads a sidecar first)
        sidecar.unlink(missing_ok=True)
    return target


def _run_ffmpeg(
    n, frame_at, first, tmp, target, fps, fmt, quality, comment, progress, cancel, audio=None
):
    """Encode the frames into ``tmp`` (with ``audio``, a raw mix, as its sound track);
    ``ExportError`` (with ffmpeg's reason) if it fails."""
    h, w = first.shape[:2]
    sound: list[str] = []
    if audio is not None:
        from sora_desktop.engine.export.audio_mix import audio_codec_args, raw_input_args

        sound = [*raw_input_args(Path(audio)), "-map", "0:v:0", "-map", "1:a:0"]
        sound += audio_codec_args(fmt)
    cmd = [
        ffmpeg._ffmpeg_exe(),  # looked up per call: tests substitute it
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
        *sound,
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
            log.warning("cannot start ffmpeg: %s", exc)
            raise ExportError(
                "export failed: the video encoder (ffmpeg) could not be started.\n"
                "Try: export again; if it keeps failing, reinstall Sora Desktop."
            ) from exc
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
            log_text = log_file.read().decode("utf-8", "replace")
            log.warning("ffmpeg for %s ended with %s: %s", target.name, code, log_text[-2000:])
            reason = _explain_ffmpeg_failure(log_text, code)
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
                raise ExportError(
                    f"export to {target.name} failed: frame {i + 1} could not be saved.\n"
                    "Try: check that the disk has free space, or choose another folder."
                )
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
                    raise ExportError(
                        f"export failed: {dst} appeared while exporting.\n"
                        "Try: export again into a new folder."
                    )
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
            raise export_failed(target.name, exc) from exc
        raise
    finally:
        _untrack(stage)
    return target
