"""Nothing lost at decode: a take's latents are saved before the VAE decode, and decoded again
from the file when the decode failed ("Retry in low memory", also after a restart, and
``sora-desktop decode``).

A backend yields ``LatentsReady`` after denoising and before its decode (engine/backend.py).
``run_generation`` (the one driver the Qt worker and the CLI share) writes them atomically to
``<clip stem>.latents.npz`` beside the take's clip, then lets the decode run; a failed decode
(``DecodeFailed``, or any error after the latents were saved) becomes ``DecodeKept``, which
names the file. ``finish_take`` writes the clip and deletes the latents file: a finished take
keeps none, so a project never piles them up. A cancelled take's latents are deleted too.

The file (``np.savez``, no pickle): one float array per backend key (``w0.video`` ...,
``audio``) plus ``__info__``: uint8 UTF-8 JSON ``{"format": LATENTS_FORMAT, "version": 1,
"request": {...}, "info": {...}}``. It is the user's file, so ``load_latents`` treats it as
hostile: a plain uncompressed zip, at most ``MAX_LATENT_ARRAYS`` members, every array header
read and checked (float dtype, at most ``MAX_DIMS`` dimensions, declared size equal to the
stored size, all within ``MAX_LATENTS_BYTES``) before any data is read, ``allow_pickle=False``.

Qt-free, and torch-free: numpy only.
"""

from __future__ import annotations

import json
import logging
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sora_desktop.core.atomic import atomic_write_with
from sora_desktop.core.errors import is_out_of_memory
from sora_desktop.core.request import GenerationRequest
from sora_desktop.core.safe_paths import UnsafePathError, open_regular_file

log = logging.getLogger(__name__)

LATENTS_SUFFIX = ".latents.npz"
LATENTS_FORMAT = "sora-desktop-latents"
LATENTS_VERSION = 1
INFO_KEY = "__info__"
MAX_LATENTS_BYTES = 4 * 1024**3  # all arrays together (a long 720p shot is a few hundred MB)
MAX_LATENT_ARRAYS = 64
MAX_DIMS = 6
MAX_INFO_BYTES = 1024 * 1024
_KEY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


class LatentsFileError(ValueError):
    """A latents file that cannot be used; the message is for the user as-is."""


class DecodeKept(RuntimeError):
    """The clip could not be decoded, but its denoising is saved in ``latents``."""

    def __init__(self, reason: str, latents: Path) -> None:
        super().__init__(reason)
        self.reason = reason
        self.latents = Path(latents)


@dataclass
class SavedLatents:
    latents: dict[str, Any]  # key -> float ndarray
    info: dict[str, Any]  # the backend's info, for decode_latents
    request: GenerationRequest


def latents_path(clip: str | Path) -> Path:
    """``<clip stem>.latents.npz`` beside the clip (or beside a CLI output, file or folder)."""
    clip = Path(clip)
    return clip.with_name(clip.stem + LATENTS_SUFFIX)


def clip_path_for(latents: str | Path, suffix: str = ".mp4") -> Path:
    """The clip a latents file decodes to by default: ``x.latents.npz`` → ``x.mp4``."""
    latents = Path(latents)
    name = latents.name
    stem = name[: -len(LATENTS_SUFFIX)] if name.endswith(LATENTS_SUFFIX) else latents.stem
    return latents.with_name(stem + suffix)


# ---------------------------------------------------------------------------------- the file
def save_latents(
    path: str | Path, latents: dict[str, Any], info: dict[str, Any], request: GenerationRequest
) -> Path:
    """Write the latents and what decoding them needs, atomically (no half file, no pickle)."""
    import numpy as np

    arrays: dict[str, Any] = {}
    for key, value in latents.items():
        arr = np.asarray(value)
        if not _KEY_RE.match(key) or key == INFO_KEY or arr.dtype.kind != "f":
            raise ValueError(f"latents: {key!r} {arr.dtype} cannot be saved (float arrays only)")
        arrays[key] = np.ascontiguousarray(arr)
    meta = {
        "format": LATENTS_FORMAT,
        "version": LATENTS_VERSION,
        "request": request.to_dict(),
        "info": info,
    }
    arrays[INFO_KEY] = np.frombuffer(json.dumps(meta).encode("utf-8"), np.uint8)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file object: savez would add ".npz" to a name
            np.savez(fh, **arrays)

    return Path(atomic_write_with(path, write))


def discard_latents(path: str | Path | None) -> None:
    """Delete a latents file that is no longer needed (the clip exists, or the take was
    cancelled); a failure to delete is logged, never raised."""
    if path is None:
        return
    try:
        Path(path).unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not delete the latents file %s: %s", path, exc)


def _bad(path: Path, what: str) -> LatentsFileError:
    return LatentsFileError(f"latents: {path.name} cannot be used: {what}")


def _array_header(fh: Any) -> tuple[tuple[int, ...], Any, int]:
    """(shape, dtype, header bytes) of a .npy stream, reading nothing but its header."""
    import numpy as np

    fmt = np.lib.format
    version = fmt.read_magic(fh)
    if version == (1, 0):
        shape, _fortran, dtype = fmt.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _fortran, dtype = fmt.read_array_header_2_0(fh)
    else:
        raise ValueError(f"array format version {version} is not supported")
    return tuple(int(n) for n in shape), dtype, fh.tell()


def load_latents(path: str | Path) -> SavedLatents:
    """Read a latents file written by ``save_latents``; ``LatentsFileError`` with a clear
    message for anything else (not a latents file, damaged, cut off, pickled objects, absurd
    or mismatched sizes). Sizes are checked from the headers before any data is read."""
    import numpy as np

    path = Path(path)
    try:
        fh = open_regular_file(path, "latents", max_bytes=MAX_LATENTS_BYTES + MAX_INFO_BYTES)
    except UnsafePathError as exc:
        raise LatentsFileError(str(exc)) from exc
    except OSError as exc:
        raise _bad(path, exc.strerror or str(exc)) from exc
    try:
        with fh, zipfile.ZipFile(fh) as zf:
            members = zf.infolist()
            if len(members) > MAX_LATENT_ARRAYS + 1:
                raise _bad(
                    path,
                    f"{len(members)} entries; a latents file has at most {MAX_LATENT_ARRAYS + 1}",
                )
            total = 0
            headers: dict[str, tuple[zipfile.ZipInfo, tuple[int, ...], Any]] = {}
            for m in members:
                key = m.filename[:-4] if m.filename.endswith(".npy") else ""
                if not _KEY_RE.match(key) or key in headers:
                    raise _bad(path, f"unexpected entry {m.filename[:80]!r}")
                if m.compress_type != zipfile.ZIP_STORED:
                    raise _bad(path, "it is compressed; Sora Desktop writes plain latents files")
                with zf.open(m) as member:
                    shape, dtype, header = _array_header(member)
                if dtype.hasobject or dtype.kind not in ("f", "u") or len(shape) > MAX_DIMS:
                    raise _bad(path, f"{key} holds {dtype} {shape[: MAX_DIMS + 1]}, not numbers")
                size = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if size != m.file_size - header or size > MAX_LATENTS_BYTES:
                    raise _bad(
                        path,
                        f"{key} declares {size} bytes but holds "
                        f"{m.file_size - header} (damaged, cut off or not ours)",
                    )
                total += size
                if total > MAX_LATENTS_BYTES:
                    raise _bad(path, f"more than {MAX_LATENTS_BYTES // 1024**3} GiB of latents")
                headers[key] = (m, shape, dtype)
            if INFO_KEY not in headers:
                raise _bad(path, "it is not a Sora Desktop latents file (no info)")
            arrays = {}
            for key, (m, _shape, _dtype) in headers.items():
                with zf.open(m) as member:
                    arrays[key] = np.lib.format.read_array(member, allow_pickle=False)
    except LatentsFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError) as exc:
        raise _bad(path, f"it is damaged or cut off ({' '.join(str(exc).split())[:120]})") from exc
    info_arr = arrays.pop(INFO_KEY)
    meta = _parse_meta(path, info_arr)
    for key, arr in arrays.items():
        if arr.dtype.kind != "f":
            raise _bad(path, f"{key} is {arr.dtype}; latents are floats")
        if not np.isfinite(arr).all():
            raise _bad(path, f"{key} holds invalid numbers (NaN or infinity)")
    try:
        request = GenerationRequest.from_dict(meta["request"])
    except (ValueError, TypeError) as exc:
        raise _bad(path, f"its request is not valid ({exc})") from exc
    return SavedLatents(arrays, meta["info"], request)


def _parse_meta(path: Path, info_arr: Any) -> dict[str, Any]:
    if info_arr.dtype != "uint8" or info_arr.ndim != 1 or info_arr.size > MAX_INFO_BYTES:
        raise _bad(path, "its info is not valid")
    try:
        meta = json.loads(info_arr.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _bad(path, "its info is not valid JSON") from exc
    if not isinstance(meta, dict) or meta.get("format") != LATENTS_FORMAT:
        raise _bad(path, "it is not a Sora Desktop latents file")
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version > LATENTS_VERSION:
        raise _bad(path, f"version {version!r} is newer than this Sora Desktop reads")
    if not isinstance(meta.get("request"), dict) or not isinstance(meta.get("info"), dict):
        raise _bad(path, "its request or info is missing")
    return meta


# ---------------------------------------------------------------------------------- driving
def run_generation(
    events: Iterable[Any],
    latents_file: Path,
    request: GenerationRequest,
    on_step: Callable[[Any], None] | None = None,
    on_latents: Callable[[Path], None] | None = None,
) -> Any:
    """Drive a backend's events to its ``GenerationResult``. ``LatentsReady`` is written to
    ``latents_file`` before the backend goes on to decode (``on_latents`` is told); a long
    shot's one-per-window events (``w<k>.<name>``, engine/long_shot.py) accumulate in the file.
    A failure after that raises ``DecodeKept`` (the file stays). Step events go to
    ``on_step``. ``GenerationCancelled`` passes through (the caller discards the file)."""
    from sora_desktop.engine.backend import (  # lazy: keeps studio torch-free at import
        GenerationCancelled,
        GenerationResult,
        LatentsReady,
        StepEvent,
    )

    saved: Path | None = None
    result = None
    latents: dict[str, Any] = {}
    info: dict[str, Any] = {}
    iterator: Iterator[Any] = iter(events)
    try:
        for event in iterator:
            if isinstance(event, StepEvent):
                if on_step is not None:
                    on_step(event)
            elif isinstance(event, LatentsReady):
                latents.update(event.latents)
                info.update(event.info)
                try:
                    saved = save_latents(latents_file, latents, info, request)
                except OSError as exc:  # a full disk must not cost the clip: decode anyway
                    log.warning("could not save the latents to %s: %s", latents_file, exc)
                    continue
                log.info("latents saved before the decode: %s", saved)
                if on_latents is not None:
                    on_latents(saved)
            elif isinstance(event, GenerationResult):
                result = event
    except GenerationCancelled:
        raise
    except Exception as exc:
        if saved is None:
            raise
        log.warning("the decode failed; latents kept in %s", saved, exc_info=True)
        raise DecodeKept(reason_for(exc), saved) from exc
    if result is None:
        raise RuntimeError("the model finished without producing a clip")
    return result


def reason_for(exc: BaseException) -> str:
    """A short cause for a failed decode (the user-facing wording is the front end's)."""
    cause: BaseException = exc
    while cause.__cause__ is not None and type(cause).__name__ == "DecodeFailed":
        cause = cause.__cause__
    if is_out_of_memory(cause):
        return "the decode ran out of memory"
    from sora_desktop.studio.messages import plain_cause  # the words for a cause, once

    return plain_cause(cause)  # the technical detail is in the log


def decode_saved(
    backend: Any,
    latents_file: str | Path,
    request: GenerationRequest | None = None,
    low_memory: bool = True,
    saved: SavedLatents | None = None,
) -> Any:
    """Decode a saved latents file into a ``GenerationResult`` without denoising again.
    ``request``: the take's own (the project's copy wins over the file's); ``saved``: the
    file already read. Raises ``LatentsFileError`` for a bad file and ``DecodeKept`` when the
    decode fails again."""
    from sora_desktop.engine import registry  # lazy: torch

    saved = saved or load_latents(latents_file)
    request = request or saved.request
    try:  # through the registry: a long shot's latents are decoded window by window
        return registry.decode_latents(
            request, saved.latents, saved.info, backend=backend, low_memory=low_memory
        )
    except NotImplementedError as exc:
        raise RuntimeError(
            f"The model {request.model_id} cannot decode saved latents; generate the shot again."
        ) from exc
    except ValueError:
        raise  # the latents do not fit this model or request: not worth retrying
    except Exception as exc:
        raise DecodeKept(reason_for(exc), Path(latents_file)) from exc


def finish_take(result: Any, out_dir: Path, stem: str, latents_file: Path | None) -> Path:
    """Write the take's clip and side files (and its sound), then delete its latents: the clip
    exists, so they are no longer needed."""
    from sora_desktop.studio.media import save_take_files

    clip = save_take_files(result, out_dir, stem)
    discard_latents(latents_file)
    return clip


def kept_message(exc: DecodeKept) -> str:
    """What the app tells the user when a take's decode failed: the first line is what the
    queue row shows."""
    return (
        f"Decode failed: {exc.reason}. The denoising is kept with the take.\n"
        "Try: “Retry in low memory” on the shot's menu or in the queue: it decodes again "
        "without denoising. Closing other programs frees memory too."
    )


def cli_message(exc: DecodeKept, output: Path | None = None) -> str:
    """The CLI's line: where the denoising is kept and the command that makes the clip."""
    out = f" -o {output}" if output is not None else ""
    return (
        f"{exc.reason}; the denoising is kept in {exc.latents}. Make the clip from it "
        f"(no denoising again) with: sora-desktop decode {exc.latents}{out}"
    )


# ---------------------------------------------------------------------------------- takes
def retry_source(project: Any, take: Any) -> Path:
    """The saved latents "Retry in low memory" decodes for ``take``; ``QueueError`` with a
    message for the user when there are none to decode."""
    from sora_desktop.core import project as core_project
    from sora_desktop.studio.shots import QueueError

    if take.status != "decode_failed":
        raise QueueError("Only a take whose decode failed can be decoded again.")
    if not take.latents:
        raise QueueError("This take's denoising was not saved. Generate the shot again.")
    try:
        path = Path(core_project.resolve_media(project, take.latents))
    except core_project.ProjectError as exc:
        raise QueueError(f"{exc}. Generate the shot again.") from exc
    if not path.is_file():
        raise QueueError(
            f"The saved denoising of this take ({path.name}) is missing; it may have been "
            "moved or deleted. Generate the shot again."
        )
    return path


def adopt_latents(project: Any, shot_id: str, take_id: str, path: Path) -> str | None:
    """The latents file's path relative to the project, copied into its media folder first
    when the project moved while the job ran (Save As); ``None`` if that failed."""
    import shutil

    from sora_desktop.core import project as core_project

    if project is None:
        return None
    try:
        rel = core_project.relative_media(project, path)
        if rel.split("/")[0] == core_project.media_dir(project).name:
            return rel
    except ValueError:
        pass
    rel = core_project.clip_relpath(project, shot_id, take_id)
    rel = rel[: -len(".mp4")] + LATENTS_SUFFIX
    try:
        target = core_project.resolve_media(project, rel)
        atomic_write_with(target, lambda tmp: shutil.copyfile(path, tmp))
    except (OSError, ValueError) as exc:
        log.warning("could not copy %s into the project's media folder: %s", path, exc)
        return None
    return rel
