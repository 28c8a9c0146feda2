"""Hostile input files made on the spot: decompression-bomb PNGs, small files holding big
videos, FIFOs. Shared by the robustness tests and bench/bench_inputs.py."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bomb(path: Path, width: int = 30000, height: int = 30000) -> Path:
    """A valid 1-bit grey PNG of ``width`` x ``height`` zero pixels: ~109 KB on disk for
    30000x30000, gigabytes once decoded. Compressed row by row (bounded memory here)."""
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte + packed bits
    comp = zlib.compressobj(9)
    parts = []
    for _ in range(height):
        parts.append(comp.compress(row))
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )
    path.write_bytes(data)
    return path


def small_png(path: Path, size: int = 32) -> Path:
    import cv2

    img = np.zeros((size, size, 3), np.uint8)
    img[: size // 2] = (30, 30, 200)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def still_video(path: Path, width: int, height: int, frames: int, fps: int = 30) -> Path:
    """A real H.264 clip of one still picture: a few KB per frame at any size, so a small
    file can hold a 4K, 300-frame video (gigabytes once decoded)."""
    import imageio_ffmpeg

    gen = imageio_ffmpeg.write_frames(
        str(path),
        (width, height),
        fps=fps,
        codec="libx264",
        quality=None,
        output_params=["-crf", "51", "-preset", "ultrafast", "-g", str(max(frames, 1))],
        macro_block_size=16,
        ffmpeg_log_level="error",
    )
    gen.send(None)
    frame = np.zeros((height, width, 3), np.uint8)
    frame[: height // 2] = (200, 30, 30)
    for _ in range(frames):
        gen.send(frame)
    gen.close()
    return path


def make_fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path
