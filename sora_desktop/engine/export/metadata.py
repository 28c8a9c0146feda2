"""What an export records about itself, and reading it back.

Each export carries the full ``GenerationRequest`` plus ``"ai_generated": true`` twice: in the
container metadata (MP4/WebM ``comment``, a GIF comment extension) and in a sidecar JSON file
``<file>.json`` (``metadata.json`` inside a PNG-frames folder). ``read_metadata`` reads either,
so a clip can be reproduced from the file alone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sora_desktop import __version__
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.export.ffmpeg import _container_comments

SOFTWARE = "Sora Desktop"
METADATA_KEY = "sora_desktop"


def sidecar_path(path: str | os.PathLike) -> Path:
    """``clip.mp4`` → ``clip.mp4.json``; a PNG-frames folder keeps ``metadata.json`` inside."""
    p = Path(path)
    if p.is_dir():
        return p / "metadata.json"
    return p.with_name(p.name + ".json")


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
