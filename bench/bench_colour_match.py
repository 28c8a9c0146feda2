"""How long a long shot's colour matching takes per frame (engine/colour_match.py).

Each window after the first of a long shot is converted to CIELAB, shifted and converted back,
frame by frame. This measures seconds per frame at the catalog's common sizes (median of
``--runs`` runs of ``--frames`` frames) and checks its own work: after the transfer, the frames'
statistics are the target's, and an sRGB -> CIELAB -> sRGB round trip is exact.

    python bench/bench_colour_match.py [--runs 5] [--frames 4]

Ends with one JSON line: {"ok": true|false, "seconds_per_frame": {"832x480": ..., ...}, ...};
a size whose check failed is named, no figure is printed and the exit code is 1
(bench/benchlib.py).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time

import benchlib  # bench/ is sys.path[0] when this script runs
import numpy as np

from sora_desktop.engine.colour_match import (
    apply_transfer,
    colour_stats,
    lab_to_rgb,
    rgb_to_lab,
    transfer,
)

SIZES = ((832, 480), (1280, 704))


def _frames(n: int, width: int, height: int, seed: int) -> np.ndarray:
    """Smooth, textured frames (a random field blurred a little), not flat noise."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 215, (n, height, width, 3)).astype(np.float32)
    base = (base + np.roll(base, 1, 1) + np.roll(base, 1, 2) + np.roll(base, 2, 2)) / 4
    return base.astype(np.uint8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--frames", type=int, default=4)
    args = parser.parse_args()
    if min(args.runs, args.frames) < 1:
        parser.error("--runs and --frames: at least 1")
    info = {"runs": args.runs, "frames": args.frames}
    info["machine"] = f"{platform.machine()}, {platform.system()}"
    return benchlib.run("colour_match", lambda checks: _bench(args, checks), info)


def _bench(args: argparse.Namespace, checks: benchlib.Checks) -> dict:
    per_frame: dict[str, float] = {}
    for width, height in SIZES:
        size = f"{width}x{height}"
        source = _frames(args.frames, width, height, 0)
        target = _frames(1, width, height, 1) // 2 + 60  # darker, flatter, shifted
        change = transfer(colour_stats(source[:1]), colour_stats(target))
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            out = apply_transfer(source, change)
            times.append((time.perf_counter() - start) / args.frames)
        got, want = colour_stats(out[:1]), colour_stats(target)
        matched = np.abs(got.mean - want.mean).max() < 0.5 and np.abs(got.std - want.std).max() < 1
        exact = np.array_equal(lab_to_rgb(rgb_to_lab(source[0])), source[0])
        if (
            checks.job(size, shape=out.shape, want_shape=source.shape)
            and checks.check(size, bool(matched), "the frames' statistics are not the target's")
            and checks.check(size, bool(exact), "sRGB -> CIELAB -> sRGB is not exact")
        ):
            per_frame[size] = round(statistics.median(times), 4)
            print(f"{size}: {per_frame[size]:.4f} s/frame", file=sys.stderr)
    return {"seconds_per_frame": per_frame}


if __name__ == "__main__":
    sys.exit(main())
