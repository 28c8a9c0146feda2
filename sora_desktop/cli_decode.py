"""``sora-desktop decode``: make the clip from a latents file that ``generate`` kept when its
VAE decode failed (usually out of memory), without denoising again.

    sora-desktop decode clip.latents.npz [-o clip.mp4] [--device cpu]

The decode runs in the model's low-memory way (a few frames at a time). The latents file is
the user's file, read as hostile (studio/decode.py). It is left in place: delete it once the
clip is good. Exit codes as for ``generate``: 0 done, 1 failed, 2 invalid input, 130 cancelled.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sora_desktop.core.export_settings import EXPORT_FORMATS

EXIT_FAILED = 1


def add_parser(sub: Any) -> None:
    dec = sub.add_parser(
        "decode", help="make the clip from a latents file a failed decode kept (no denoising)"
    )
    dec.add_argument("latents", help="the .latents.npz file generate kept")
    dec.add_argument("-o", "--output", help="output file (default: beside the latents, .mp4)")
    dec.add_argument("--format", choices=list(EXPORT_FORMATS), help="output format")
    dec.add_argument("--model-dir", help="folder of an embedded-model checkpoint")
    dec.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")


def run(args: argparse.Namespace) -> int:
    from sora_desktop.cli import UsageError, _check_policy, _load_backend
    from sora_desktop.engine.device import pick_device
    from sora_desktop.engine.export import (
        check_writable_folder,
        export_video,
        format_for_path,
        output_path_for,
    )
    from sora_desktop.studio.audio import audio_path, write_wav
    from sora_desktop.studio.decode import DecodeKept, clip_path_for, decode_saved, load_latents

    latents = Path(args.latents)
    saved = load_latents(latents)  # LatentsFileError: one line, exit 2
    request = saved.request
    _check_policy(request)  # the file's prompt is checked as if typed
    output = Path(args.output) if args.output else clip_path_for(latents)
    if not args.output and output.exists():
        raise UsageError(f"{output} already exists; choose the output with -o")
    fmt = format_for_path(output, args.format)
    check_writable_folder(output_path_for(output, fmt).parent)
    pick_device(args.device)
    backend = _load_backend(request.model_id, args.device, args.model_dir)
    print(f"decoding {latents.name} in low memory (no denoising)...", file=sys.stderr)
    try:
        result = decode_saved(backend, latents, request, low_memory=True, saved=saved)
    except DecodeKept as exc:
        print(f"error: {exc.reason}; the latents file is unchanged", file=sys.stderr)
        return EXIT_FAILED
    path = export_video(result.frames, output, result.fps, fmt=fmt, request=request)
    if result.audio is not None:
        write_wav(audio_path(path), result.audio, result.sample_rate)
    from sora_desktop.cli_handoff import sign_and_report

    sign_and_report(path, request)
    print(f"saved: {path}")
    print(f"the latents file {latents} is no longer needed; delete it to free the space")
    return 0
