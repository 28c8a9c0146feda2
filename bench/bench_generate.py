"""Seconds per clip and peak memory of the embedded model on CPU.

    python bench/bench_generate.py [--model-dir DIR] [--runs 3] [--threads 2] [--out FILE]

Measures a 2-second clip (16 frames at 8 fps) at the default 25 steps: model load time on its
own, one warm-up generation, then the median of ``--runs`` timed generations. Peak memory is the
process's peak resident set size (``resource.getrusage``), which covers Python and torch.
Target: a 2-second clip in under 10 s on 2 CPU cores.

Every clip is checked (frame count, size, uint8) before its time counts; if any failed, the
script says which and why, prints no figure, writes no ``--out`` and exits 1. The last stdout
line is one JSON object with ``"ok"`` (bench/benchlib.py). Smoke run: ``--runs 1 --steps 2``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import benchlib  # noqa: E402  (bench/ is sys.path[0] when this script runs)


def peak_rss_mib() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--model-dir", "--model", help="embedded checkpoint folder (default: the shipped one)"
    )
    p.add_argument("--runs", type=int, default=3, help="timed runs (1 is a smoke run)")
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--fps", type=int, default=8)
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default=str(Path(__file__).with_name("bench_generate.json")))
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs: at least 1")
    info: dict = {"runs": args.runs}
    return benchlib.run("generate", lambda checks: _bench(args, checks, info), info)


def _bench(args: argparse.Namespace, checks: benchlib.Checks, info: dict) -> dict:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from sora_desktop.core.atomic import atomic_write_text
    from sora_desktop.core.request import GenerationRequest
    from sora_desktop.engine.backend import GenerationResult
    from sora_desktop.engine.embedded.pipeline import EmbeddedBackend, embedded_model_dir

    model_dir = Path(args.model_dir) if args.model_dir else embedded_model_dir()
    info["model_dir"] = str(model_dir)
    rss_start = peak_rss_mib()
    t0 = time.perf_counter()
    backend = EmbeddedBackend(model_dir=model_dir, device=args.device)
    load_s = time.perf_counter() - t0
    rss_loaded = peak_rss_mib()

    request = GenerationRequest(
        prompt="a red circle moves right on a blue background",
        steps=args.steps,
        num_frames=args.frames,
        fps=args.fps,
        seed=0,
    )
    want_shape = (args.frames, backend.size, backend.size, 3)

    def one(job: str, seed: int) -> float | None:
        """Seconds for one clip, or None (recorded as a failure) when it made no right clip."""
        failed_before = len(checks.failures)
        start = time.perf_counter()
        result = None
        with checks.guard(job):
            for event in backend.generate(request.with_changes(seed=seed)):
                if isinstance(event, GenerationResult):
                    result = event
        took = time.perf_counter() - start
        if len(checks.failures) > failed_before:
            return None
        if result is None:
            checks.fail(job, "the backend finished without a clip")
            return None
        frames = result.frames
        ok = checks.job(
            job,
            frames=int(frames.shape[0]),
            want_frames=args.frames,
            shape=tuple(frames.shape),
            want_shape=want_shape,
        ) and checks.check(job, str(frames.dtype) == "uint8", f"frames are {frames.dtype}")
        return took if ok else None

    warmup_s = one("warm-up clip", 999)
    times = [one(f"clip {seed + 1}", seed) for seed in range(args.runs)]
    rss_peak = peak_rss_mib()
    info.update(device=str(backend.device), torch_threads=torch.get_num_threads())
    if not checks.ok:
        return {}
    report = {
        "model_dir": str(model_dir),
        "device": str(backend.device),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "clip": {
            "frames": args.frames,
            "fps": args.fps,
            "seconds": args.frames / args.fps,
            "steps": args.steps,
            "size": f"{backend.size}x{backend.size}",
        },
        "load_seconds": load_s,
        "warmup_seconds": warmup_s,
        "runs_seconds": times,
        "median_seconds": statistics.median(times),
        "peak_rss_mib": {
            "before_load": rss_start,
            "after_load": rss_loaded,
            "after_generation": rss_peak,
        },
        "target_seconds": 10.0,
    }
    rows = [
        ("model load", f"{load_s:.2f} s"),
        ("warm-up clip", f"{warmup_s:.2f} s"),
        (
            f"clip median of {args.runs}",
            f"{report['median_seconds']:.2f} s (min {min(times):.2f}, max {max(times):.2f})",
        ),
        ("peak RSS after load", f"{rss_loaded:.0f} MiB"),
        ("peak RSS after generation", f"{rss_peak:.0f} MiB"),
        ("torch threads / cpus", f"{report['torch_threads']} / {report['cpu_count']}"),
    ]
    print(f"{args.frames} frames at {args.fps} fps, {args.steps} steps, {report['device']}")
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    if not checks.job("report", path=args.out):
        return {}
    print(f"written: {args.out}")
    return {
        "median_seconds": round(report["median_seconds"], 3),
        "load_seconds": round(load_s, 3),
        "warmup_seconds": round(warmup_s, 3),
        "runs_seconds": [round(t, 3) for t in times],
        "peak_rss_mib": round(rss_peak, 1),
        "clip": report["clip"],
        "target_seconds": 10.0,
        "out": args.out,
    }


if __name__ == "__main__":
    sys.exit(main())
