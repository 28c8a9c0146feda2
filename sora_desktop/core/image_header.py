"""Read an image's size from its header, before any decoder sees it.

A 109 KB PNG can claim 30000x30000 pixels (a "decompression bomb"): decoding it takes
gigabytes. ``read_image_file`` reads the file (bounded, never blocking on a FIFO), parses the
header of the formats we accept (PNG, JPEG, BMP, GIF, WebP), refuses huge dimensions and files
that are cut off or not images, and returns the bytes for the decoder. Plain data: no Qt, torch
or OpenCV here.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from sora_desktop.core.errors import FieldError
from sora_desktop.core.safe_paths import read_regular_file

MAX_IMAGE_BYTES = 64 * 1024 * 1024
MAX_IMAGE_SIDE = 16384
# ~50 megapixels (a large phone photo); 150 MB once decoded as RGB.
MAX_IMAGE_PIXELS = 50_000_000
FORMATS_TEXT = "PNG, JPEG, BMP, GIF or WebP"


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int


def _png(data: bytes) -> ImageInfo:
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise ValueError("the PNG header is cut off or damaged")
    w, h = struct.unpack(">II", data[16:24])
    if b"IEND" not in data[-64:]:
        raise ValueError("the PNG file is cut off (no end marker)")
    return ImageInfo("PNG", w, h)


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(data: bytes) -> ImageInfo:
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            raise ValueError("the JPEG header is damaged")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if length < 2:
            raise ValueError("the JPEG header is damaged")
        if marker in _SOF:
            if i + 9 > n:
                break
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            if b"\xff\xd9" not in data[-64:]:
                raise ValueError("the JPEG file is cut off (no end marker)")
            return ImageInfo("JPEG", w, h)
        if marker == 0xDA:  # image data before any size: not a usable JPEG
            break
        i += 2 + length
    raise ValueError("the JPEG header is cut off or damaged")


def _bmp(data: bytes) -> ImageInfo:
    if len(data) < 26:
        raise ValueError("the BMP header is cut off")
    (header,) = struct.unpack("<I", data[14:18])
    if header == 12:
        w, h = struct.unpack("<HH", data[18:22])
    else:
        w, h = struct.unpack("<ii", data[18:26])
    (offset,) = struct.unpack("<I", data[10:14])
    if offset > len(data):
        raise ValueError("the BMP file is cut off")
    return ImageInfo("BMP", abs(w), abs(h))


def _gif(data: bytes) -> ImageInfo:
    if len(data) < 13:
        raise ValueError("the GIF header is cut off")
    w, h = struct.unpack("<HH", data[6:10])
    if not data.rstrip(b"\0").endswith(b";"):
        raise ValueError("the GIF file is cut off (no end marker)")
    return ImageInfo("GIF", w, h)


def _webp(data: bytes) -> ImageInfo:
    if len(data) < 30:
        raise ValueError("the WebP header is cut off")
    (riff_size,) = struct.unpack("<I", data[4:8])
    if riff_size + 8 > len(data):
        raise ValueError("the WebP file is cut off")
    kind = data[12:16]
    if kind == b"VP8 ":
        w, h = struct.unpack("<HH", data[26:30])
        return ImageInfo("WebP", w & 0x3FFF, h & 0x3FFF)
    if kind == b"VP8L":
        b = data[21:25]
        w = 1 + (((b[1] & 0x3F) << 8) | b[0])
        h = 1 + (((b[3] & 0xF) << 10) | (b[2] << 2) | ((b[1] & 0xC0) >> 6))
        return ImageInfo("WebP", w, h)
    if kind == b"VP8X":
        w = 1 + int.from_bytes(data[24:27], "little")
        h = 1 + int.from_bytes(data[27:30], "little")
        return ImageInfo("WebP", w, h)
    raise ValueError("the WebP header is damaged")


def probe_image(data: bytes) -> ImageInfo:
    """Format and size from the header; ``ValueError`` (plain words) if it is not an image
    we read, or is cut off."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        info = _png(data)
    elif data.startswith(b"\xff\xd8"):
        info = _jpeg(data)
    elif data.startswith(b"BM"):
        info = _bmp(data)
    elif data.startswith((b"GIF87a", b"GIF89a")):
        info = _gif(data)
    elif data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        info = _webp(data)
    elif not data:
        raise ValueError("the file is empty")
    else:
        raise ValueError(f"it is not an image Sora Desktop reads ({FORMATS_TEXT})")
    if info.width < 1 or info.height < 1:
        raise ValueError(f"the {info.format} header gives no size")
    return info


def check_image_size(
    info: ImageInfo, max_side: int = MAX_IMAGE_SIDE, max_pixels: int = MAX_IMAGE_PIXELS
) -> None:
    if info.width > max_side or info.height > max_side or info.width * info.height > max_pixels:
        raise ValueError(
            f"it is {info.width}x{info.height} pixels, too large to open safely "
            f"(the limit is {max_side} pixels a side and {max_pixels // 1_000_000} megapixels); "
            "scale it down first"
        )


def read_image_file(
    path: str | os.PathLike,
    what: str = "image",
    max_side: int = MAX_IMAGE_SIDE,
    max_pixels: int = MAX_IMAGE_PIXELS,
) -> tuple[bytes, ImageInfo]:
    """The file's bytes and header info, after every check; ``ValueError`` naming ``what``."""
    data = read_regular_file(path, what, MAX_IMAGE_BYTES)
    try:
        info = probe_image(data)
        check_image_size(info, max_side, max_pixels)
    except ValueError as exc:
        name = os.path.basename(os.fspath(path))
        raise FieldError(what, f"{name} cannot be used: {exc}") from exc
    return data, info
