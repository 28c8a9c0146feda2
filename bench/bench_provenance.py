"""What signing an export with proof of origin costs (engine/export/provenance.py), and what
the claim thumbnail that c2pa makes by default would add.

For a GIF and a folder of PNG frames (both ``--side`` px, ``--frames`` frames, smooth frames
like an upscaled clip) and an MP4 of the same frames, this times ``sign_export`` (ours: no
claim thumbnail) and the same signature with c2pa's default settings (a thumbnail), median of
``--runs`` runs each, and the bytes each adds. Every signed file is read back and must
validate with the prompt in it; a job that does not is named and no figure is given.

    python bench/bench_provenance.py [--runs 3] [--frames 24] [--side 512]

Ends with one JSON line: {"ok": true|false, "sign_s": {...}, "added_bytes": {...},
"thumbnail_time_ratio": {...}, ...} (bench/benchlib.py).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import benchlib  # bench/ is sys.path[0] when this script runs
import numpy as np

from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.export import export_video
from sora_desktop.engine.export.provenance import (
    FORMAT_MIME,
    ProvenanceOptions,
    frame_files,
    install_certificate,
    manifest_definition,
    read_provenance,
    sign_export,
)

PROMPT = "a red ball bouncing on a blue floor"
FORMATS = ("mp4", "gif", "png")


def _frames(n: int, side: int) -> np.ndarray:
    """Smooth moving gradients (what an enlarged clip looks like), not flat noise."""
    y, x = np.mgrid[0:side, 0:side].astype(np.float32) / side
    out = np.empty((n, side, side, 3), np.uint8)
    for i in range(n):
        t = i / max(1, n)
        out[i, ..., 0] = (255 * ((x + t) % 1)).astype(np.uint8)
        out[i, ..., 1] = (255 * y).astype(np.uint8)
        out[i, ..., 2] = (255 * (1 - (x + y) / 2)).astype(np.uint8)
    return out


def _files(path: Path) -> list[Path]:
    return frame_files(path) if path.is_dir() else [path]


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in _files(path))


def _sign_with_thumbnail(path: Path, fmt: str, request: GenerationRequest, data: Path) -> None:
    """The same signature as ``sign_export`` with c2pa's default settings (a claim thumbnail)."""
    import c2pa

    cert, key = install_certificate(data)
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, cert.read_bytes(), key.read_bytes(), None)
    definition = json.dumps(manifest_definition(request, True))
    with c2pa.Signer.from_info(info) as signer:
        for file in _files(path):
            signed = file.with_name(file.name + ".signed")
            with c2pa.Builder(definition) as builder, open(file, "rb") as src:
                with open(signed, "w+b") as dst:
                    builder.sign(signer, FORMAT_MIME[fmt], src, dst)
            signed.replace(file)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--side", type=int, default=512)
    args = parser.parse_args()
    if min(args.runs, args.frames, args.side) < 1:
        parser.error("--runs, --frames and --side: at least 1")
    info = {"runs": args.runs, "frames": args.frames, "side": args.side}
    info["machine"] = f"{platform.machine()}, {platform.system()}"
    return benchlib.run("provenance", lambda checks: _bench(args, checks), info)


def _bench(args: argparse.Namespace, checks: benchlib.Checks) -> dict:
    request = GenerationRequest(PROMPT, steps=2, num_frames=9, seed=5)
    frames = _frames(args.frames, args.side)
    work = Path(tempfile.mkdtemp(prefix="bench_provenance."))
    data = work / "data"
    options = ProvenanceOptions(data_dir=str(data))
    install_certificate(data)  # made once, outside the timing
    times: dict[str, list[float]] = {}
    added: dict[str, int] = {}
    try:
        for fmt in FORMATS:
            source = export_video(frames, work / f"source.{fmt}", 12, fmt=fmt, request=request)
            for mode in ("ours", "thumbnail"):
                job = f"{fmt} {mode}"
                for run in range(args.runs):
                    target = work / f"{fmt}-{mode}-{run}"
                    if source.is_dir():
                        shutil.copytree(source, target)
                    else:
                        target = target.with_suffix(source.suffix)
                        shutil.copyfile(source, target)
                    with checks.guard(job):
                        start = time.perf_counter()
                        if mode == "ours":
                            warning = sign_export(target, request, options)
                            if warning:
                                raise RuntimeError(warning)
                        else:
                            _sign_with_thumbnail(target, fmt, request, data)
                        times.setdefault(job, []).append(time.perf_counter() - start)
                        summaries = [read_provenance(f) for f in _files(target)]
                        bad = [s for s in summaries if s is None or not s.valid]
                        prompts = {s.prompt for s in summaries if s is not None}
                        if checks.check(job, not bad and prompts == {PROMPT}, "did not validate"):
                            added[job] = _size(target) - _size(source)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sign_s = {job: round(statistics.median(t), 4) for job, t in times.items()}
    ratio = {
        fmt: round(sign_s[f"{fmt} thumbnail"] / sign_s[f"{fmt} ours"], 2)
        for fmt in FORMATS
        if sign_s.get(f"{fmt} ours") and f"{fmt} thumbnail" in sign_s
    }
    return {"sign_s": sign_s, "added_bytes": added, "thumbnail_time_ratio": ratio}


if __name__ == "__main__":
    sys.exit(main())
