"""Batch rendering speed (issue 18): 8 shots in sequence in one process (``studio.runners.
LocalRunner``) against the same 8 shots on the render farm (``make_farm_runner("local",
workers=2)``), in one run, as a ratio; and the worker process's overhead per job
(``studio.worker_process.WorkerProcessRunner``) against running the take in-process, for the
built-in model's default clip (target <= 5 %).

Every timed job is checked (issue 21): it must end with ``TakeFinished`` and a clip with the
requested frame count. A job that did not gets named with the reason, its figure is not
reported and the script exits non-zero. The LAST stdout line is one JSON object with the
figures and ``"ok"``.

    python bench/bench_batch.py                     # defaults: 8 shots, 8 steps, 2 workers
    python bench/bench_batch.py --steps 25 --repeats 3
    python bench/bench_batch.py --no-worker-process # only the farm ratio

Models are warmed up first in every runner (one take per worker), so the figures compare
rendering, not start-up; start-up times are reported separately.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sora_desktop.core.request import GenerationRequest  # noqa: E402
from sora_desktop.studio.queue import TakeRun  # noqa: E402
from sora_desktop.studio.take_runner import TakeFinished, is_terminal  # noqa: E402

TARGET_OVERHEAD_PCT = 5.0
DEADLINE_S = 1800


class Checks:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def fail(self, job: str, why: str) -> None:
        self.failures.append(f"{job}: {why}")
        print(f"FAILED {job}: {why}", file=sys.stderr, flush=True)


def frame_count(clip: Path) -> int:
    import cv2

    cap = cv2.VideoCapture(str(clip))
    try:
        count = 0
        while cap.grab():
            count += 1
        return count
    finally:
        cap.release()


def run_batch(runner: Any, events: queue.Queue, runs: list[TakeRun], checks: Checks, label: str):
    """Submit ``runs``, wait for every terminal event; the seconds taken, or None when a job
    did not produce its clip (each such job is named in ``checks``)."""
    start = time.perf_counter()
    for run in runs:
        runner.submit(run)
    ends: dict[str, Any] = {}
    deadline = time.monotonic() + DEADLINE_S
    while len(ends) < len(runs):
        if time.monotonic() > deadline:
            checks.fail(label, f"{len(runs) - len(ends)} jobs did not end in {DEADLINE_S} s")
            return None
        try:
            event = events.get(timeout=1)
        except queue.Empty:
            continue
        if is_terminal(event):
            ends[event.job_id] = event
    seconds = time.perf_counter() - start
    ok = True
    for run in runs:
        event = ends[run.job_id]
        name = f"{label} {run.stem}"
        if not isinstance(event, TakeFinished):
            checks.fail(name, f"ended {type(event).__name__}: {getattr(event, 'message', '')}")
            ok = False
            continue
        clip = Path(event.path)
        if not clip.is_file() or clip.stat().st_size == 0:
            checks.fail(name, f"{clip} was not written")
            ok = False
            continue
        got = frame_count(clip)
        if got != run.request.num_frames:
            checks.fail(name, f"{got} frames, expected {run.request.num_frames}")
            ok = False
    return seconds if ok else None


def make_runs(tag: str, out: Path, request: GenerationRequest, count: int) -> list[TakeRun]:
    return [
        TakeRun(
            f"{tag}-{i}",
            request.with_changes(prompt=f"shot {i}: a red ball rolls", seed=i),
            out / tag,
            f"{tag}-{i}",
            "cpu",
        )
        for i in range(count)
    ]


def farm_ratio(args, out: Path, checks: Checks) -> dict[str, Any]:
    from sora_desktop.studio.farm import FarmError, make_farm_runner
    from sora_desktop.studio.runners import LocalRunner

    request = GenerationRequest("x", steps=args.steps, num_frames=args.frames)
    figures: dict[str, Any] = {"shots": args.shots, "steps": args.steps, "frames": args.frames}
    local_q: queue.Queue = queue.Queue()
    local = LocalRunner(local_q.put)
    # the model is checked here first: a broken one costs no cluster start
    warm_local = run_batch(
        local, local_q, make_runs("warm-local", out, request, 1), checks, "warm-up"
    )
    if warm_local is None:
        local.close()
        return figures
    farm_q: queue.Queue = queue.Queue()
    t0 = time.perf_counter()
    try:
        farm = make_farm_runner("local", farm_q.put, workers=args.workers)
    except FarmError as exc:
        checks.fail("farm", str(exc))
        local.close()
        return figures
    figures["farm_start_s"] = round(time.perf_counter() - t0, 2)
    try:
        warm_farm = run_batch(
            farm, farm_q, make_runs("warm-farm", out, request, args.workers), checks, "warm-up"
        )
        if warm_farm is None:
            return figures
        seq, par = [], []
        for r in range(args.repeats):
            s = run_batch(
                local,
                local_q,
                make_runs(f"seq{r}", out, request, args.shots),
                checks,
                "in sequence",
            )
            p = run_batch(
                farm, farm_q, make_runs(f"farm{r}", out, request, args.shots), checks, "farm"
            )
            if s is None or p is None:
                return figures
            seq.append(s)
            par.append(p)
        figures["sequence_s"] = round(statistics.median(seq), 2)
        figures["farm_s"] = round(statistics.median(par), 2)
        figures["farm_speedup"] = round(figures["sequence_s"] / figures["farm_s"], 2)
        figures["workers"] = args.workers
        return figures
    finally:
        local.close()
        farm.close()


def worker_overhead(args, out: Path, checks: Checks) -> dict[str, Any]:
    try:
        from sora_desktop.studio.worker_process import WorkerProcessRunner
    except ImportError as exc:
        checks.fail(
            "worker process",
            f"not available: sora_desktop.studio.worker_process could not be imported ({exc}); "
            "merge the worker-process branch, or pass --no-worker-process",
        )
        return {}
    from sora_desktop.studio.runners import LocalRunner

    request = GenerationRequest("a red ball rolls")  # the built-in model's default clip
    in_q: queue.Queue = queue.Queue()
    wp_q: queue.Queue = queue.Queue()
    inproc = LocalRunner(in_q.put)
    child = WorkerProcessRunner(wp_q.put, device="cpu")
    figures: dict[str, Any] = {
        "default_clip": {"steps": request.steps, "frames": request.num_frames}
    }
    try:
        if None in (
            run_batch(inproc, in_q, make_runs("warm-in", out, request, 1), checks, "warm-up"),
            run_batch(child, wp_q, make_runs("warm-wp", out, request, 1), checks, "warm-up"),
        ):
            return figures
        a, b = [], []
        for r in range(args.jobs):  # interleaved, so drift in the machine's load hits both
            s = run_batch(inproc, in_q, make_runs(f"in{r}", out, request, 1), checks, "in-process")
            w = run_batch(
                child, wp_q, make_runs(f"wp{r}", out, request, 1), checks, "worker process"
            )
            if s is None or w is None:
                return figures
            a.append(s)
            b.append(w)
        figures["in_process_job_s"] = round(statistics.median(a), 3)
        figures["worker_process_job_s"] = round(statistics.median(b), 3)
        pct = (statistics.median(b) - statistics.median(a)) / statistics.median(a) * 100
        figures["worker_overhead_pct"] = round(pct, 2)
        figures["worker_overhead_target_pct"] = TARGET_OVERHEAD_PCT
        return figures
    finally:
        inproc.close()
        child.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shots", type=int, default=8)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--frames", type=int, default=None, help="default: the model's default")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1, help="runs of the 8 shots (median)")
    parser.add_argument("--jobs", type=int, default=3, help="jobs timed for the overhead")
    parser.add_argument("--no-worker-process", action="store_true")
    parser.add_argument("--no-farm", action="store_true")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads for the in-process runs (the farm's CPU workers get 1 each from Ray; "
        "default: torch's own choice)",
    )
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.frames is None:
        args.frames = GenerationRequest("x").num_frames
    checks = Checks()
    figures: dict[str, Any] = {"bench": "batch", "cpus": os.cpu_count(), "threads": args.threads}
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        out = Path(tmp)
        if not args.no_farm:
            figures["farm"] = farm_ratio(args, out, checks)
        if not args.no_worker_process:
            figures["worker_process"] = worker_overhead(args, out, checks)
    ok = not checks.failures
    if ok:
        farm = figures.get("farm", {})
        if "farm_speedup" in farm:
            print(
                f"{args.shots} shots: in sequence {farm['sequence_s']} s, farm with "
                f"{farm['workers']} workers {farm['farm_s']} s: {farm['farm_speedup']}x "
                f"({os.cpu_count()} CPU cores)"
            )
        wp = figures.get("worker_process", {})
        if "worker_overhead_pct" in wp:
            print(
                f"worker process per job {wp['worker_process_job_s']} s vs in-process "
                f"{wp['in_process_job_s']} s: overhead {wp['worker_overhead_pct']} % "
                f"(target <= {TARGET_OVERHEAD_PCT} %)"
            )
    else:  # no figure for work that did not happen
        figures = {"bench": "batch", "cpus": os.cpu_count(), "failures": checks.failures}
    figures["ok"] = ok
    print(json.dumps(figures))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
