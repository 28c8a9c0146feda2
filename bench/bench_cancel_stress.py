"""Robustness figures for docs/robustness.md (issue #5).

1. Cancel stress, memory: in one process, the real generation worker with an embedded
   checkpoint runs ``--cycles`` start/cancel cycles (cancelled queued, on start or after 1-3
   steps), ``--runs`` times. RSS is read after a warm-up generation (baseline), after each run
   of cycles and after a final full generation; the figure is the median growth per run.
2. Crash safety, kill counts: fresh ``python`` processes save (or autosave) a project in a loop
   and are SIGKILLed at random moments, ``--kills`` times each; after every kill the project must
   reopen to the last or in-flight save (or the recovery copy restore). Reports failures (0 is
   the only acceptable number), completed saves and how many kills cut a write.

Run from the repository root (under ``nice`` on a shared machine)::

    nice -n 19 python bench/bench_cancel_stress.py                  # both parts
    nice -n 19 python bench/bench_cancel_stress.py --part cancel --runs 5 --cycles 50
    nice -n 19 python bench/bench_cancel_stress.py --part crash --kills 200

The model: ``--model DIR`` or ``SORA_DESKTOP_EMBEDDED_MODEL``; otherwise a micro checkpoint is
trained first (as tests/conftest.py does). Results go to ``bench/bench_cancel_stress.json``.

Every job is checked (each cycle's job ends cancelled exactly once, the warm-up and final
generations finish, every kill hit a saving process and the project reopened right); if any
failed, the script says which and why, prints no figure, writes no ``--out`` and exits 1. The
last stdout line is one JSON object with ``"ok"`` (bench/benchlib.py). Smallest run:
``--part cancel --runs 1 --cycles 1`` or ``--part crash --kills 1``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import benchlib  # bench/ is sys.path[0] when this script runs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


# ---------------------------------------------------------------------------------- memory
def rss_bytes() -> int:
    """Resident set size now (Linux /proc; psutil elsewhere if installed)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import psutil  # not a dependency: only for running the bench off Linux

        return psutil.Process().memory_info().rss


def python_threads() -> int:
    """Threads started from Python (a QThread that ran Python code stays listed as a
    ``_DummyThread`` after it ended, so those are left out)."""
    return sum(not isinstance(t, threading._DummyThread) for t in threading.enumerate())


def train_micro(out: Path) -> Path:
    cmd = [sys.executable, str(ROOT / "model" / "train.py"), "--preset", "micro", "--out", str(out)]
    cmd += ["--vae-steps", "2", "--dit-steps", "2", "--pool", "8", "--batch", "4"]
    subprocess.run([*cmd, "--save-every", "2"], check=True, capture_output=True, timeout=1800)
    return out


def bench_cancel(model: Path, runs: int, cycles: int) -> dict:
    os.environ["SORA_DESKTOP_EMBEDDED_MODEL"] = str(model)
    os.environ.setdefault("SORA_DESKTOP_HOME", tempfile.mkdtemp(prefix="sora-bench-home-"))
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    from sora_desktop.core.request import GenerationRequest
    from sora_desktop.ui.worker import GenerationJob, GenerationWorker, WorkerHost
    from tests.robust_support.cancel_driver import cancel_cycles, record

    app = QCoreApplication.instance() or QCoreApplication([])

    def wait_until(predicate, timeout_ms: int) -> None:
        deadline = time.monotonic() + timeout_ms / 1000
        loop = QEventLoop()
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("the worker did not answer in time")
            QTimer.singleShot(5, loop.quit)
            loop.exec()

    out = Path(tempfile.mkdtemp(prefix="sora-bench-media-"))
    worker = GenerationWorker()
    host = WorkerHost(worker, "bench-cancel")
    log = record(worker)
    full = GenerationRequest("a red ball bouncing", steps=2)

    def generate_full(job_id: str) -> None:
        worker.submit(GenerationJob(job_id, full, out, job_id))
        wait_until(lambda: bool(log.terminals(job_id)), 600_000)
        if log.terminals(job_id) != ["finished"]:
            raise RuntimeError(f"{job_id}: {log.events[job_id]}")

    try:
        generate_full("warm-up")  # model, text encoder and allocators in place
        gc.collect()
        baseline = rss_bytes()
        threads_start = python_threads()
        per_run = []
        for r in range(runs):
            start = time.perf_counter()
            before = rss_bytes()
            modes = cancel_cycles(worker, log, out, cycles, wait_until, seed=r, prefix=f"run{r}")
            gc.collect()
            after = rss_bytes()
            bad = [j for j in modes if log.terminals(j) != ["cancelled"]]
            per_run.append(
                {
                    "rss_before_mb": round(before / 2**20, 1),
                    "rss_after_mb": round(after / 2**20, 1),
                    "delta_mb": round((after - before) / 2**20, 2),
                    "seconds": round(time.perf_counter() - start, 1),
                    "jobs_without_exactly_one_cancelled": len(bad),
                }
            )
            print(f"run {r}: {per_run[-1]}", file=sys.stderr, flush=True)
        generate_full("final")
        gc.collect()
        final = rss_bytes()
    except BaseException:
        host.stop(30_000)  # a QThread destroyed while running aborts the process
        app.processEvents()
        raise
    stopped = host.stop(30_000)
    app.processEvents()
    return {
        "cycles_per_run": cycles,
        "runs": per_run,
        "rss_baseline_mb": round(baseline / 2**20, 1),
        "rss_final_mb": round(final / 2**20, 1),
        "median_delta_per_run_mb": round(statistics.median(r["delta_mb"] for r in per_run), 2),
        "total_growth_mb": round((final - baseline) / 2**20, 2),
        "python_threads_start_end": [threads_start, python_threads()],
        "worker_thread_stopped": bool(stopped and host.thread.isFinished()),
        "final_generation": log.terminals("final"),
    }


# ---------------------------------------------------------------------------------- crashes
def _kill_child(kind: str, path: Path, rng: random.Random) -> tuple[bool, list[int]]:
    """SIGKILL a saving child at a random moment; (whether it got ready, its acknowledged saves)."""
    cmd = [sys.executable, "-m", "tests.robust_support.crash_child", kind, str(path)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen, want, deadline = b"", rng.randint(0, 3), time.monotonic() + 120
    while (b"ready" not in seen or seen.count(b"\n") - 1 < want) and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.5)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            seen += chunk
    time.sleep(rng.uniform(0.0, 0.015))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    seen += proc.stdout.read()
    proc.stdout.close()
    return b"ready" in seen, [int(x) for x in seen.split() if x.isdigit()]


def bench_crash(kills: int, seed: int = 0) -> dict:
    from sora_desktop.core.autosave import Autosaver
    from sora_desktop.core.project import BACKUP_SUFFIX, ProjectError, load_project
    from tests.robust_support.crash_child import generation, seed_project

    rng = random.Random(seed)
    results = {}
    for kind in ("save", "autosave"):
        folder = Path(tempfile.mkdtemp(prefix=f"sora-crash-{kind}-"))
        os.environ["SORA_DESKTOP_HOME"] = str(folder / "home")
        path = folder / "film.sdproj"
        seed_project(path)
        on_disk = last = 0
        failures: list[str] = []
        saves = recovered = 0
        cut: set[str] = set()
        start = time.perf_counter()
        for k in range(kills):
            ready, acks = _kill_child(kind, path, rng)
            if not ready:  # it never started saving: this kill proves nothing
                failures.append(f"kill {k}: the saving process never printed 'ready'")
            saves += len(acks)
            cut |= {p.name for p in folder.glob(".*.part")}
            cut |= {p.name for p in (folder / "recovery").glob(".*.part")}
            try:
                if kind == "save":
                    last = acks[-1] if acks else last
                    gen = generation(load_project(path))
                    if not last <= gen <= last + 1:
                        failures.append(f"kill {k}: file holds save {gen}, last complete {last}")
                    bak = path.with_name(path.name + BACKUP_SUFFIX)
                    if bak.exists() and generation(load_project(bak)) not in (gen - 1, gen):
                        failures.append(f"kill {k}: backup is not the previous save")
                    last = gen
                else:
                    with Autosaver(folder / "recovery") as app:
                        offered = app.pending()
                        for info in offered:
                            gen = generation(app.restore(info))
                            ok = (acks[-1], acks[-1] + 1) if acks else (on_disk + 1,)
                            if gen not in ok or info.original_path != path:
                                failures.append(f"kill {k}: recovered {gen}, acks {acks[-2:]}")
                            recovered += 1
                        if acks and not offered:
                            failures.append(f"kill {k}: no recovery copy offered")
                    left = os.listdir(folder / "recovery")
                    if left:
                        failures.append(f"kill {k}: recovery folder not clean: {left}")
            except ProjectError as exc:
                failures.append(f"kill {k}: {exc}")
            print(f"{kind} kill {k + 1}/{kills}: acks {len(acks)}", end="\r", file=sys.stderr)
        print(file=sys.stderr)
        results[kind] = {
            "kills": kills,
            "completed_saves": saves,
            "kills_that_cut_a_write": len(cut),
            "recovered_copies": recovered if kind == "autosave" else None,
            "failures": failures,
            "seconds": round(time.perf_counter() - start, 1),
        }
        print(kind, {k: v for k, v in results[kind].items() if k != "failures"}, file=sys.stderr)
    return results


# ---------------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=["cancel", "crash", "all"], default="all")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cycles", type=int, default=50)
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "bench_cancel_stress.json")
    args = ap.parse_args()
    if min(args.runs, args.cycles, args.kills) < 1:
        ap.error("--runs, --cycles and --kills: at least 1")
    info = {"part": args.part}
    return benchlib.run("cancel_stress", lambda checks: _bench(args, checks, info), info)


def _bench(args: argparse.Namespace, checks: benchlib.Checks, info: dict) -> dict:
    report: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "python": platform.python_version(),
    }
    figures: dict = {}
    if args.part in ("crash", "all"):
        crash = bench_crash(args.kills)
        for kind, result in crash.items():
            for failure in result["failures"]:
                checks.fail(f"crash {kind}", failure)
        report["crash"] = crash
        figures["crash"] = {
            kind: {k: v for k, v in r.items() if k not in ("failures", "seconds")}
            for kind, r in crash.items()
        }
    if args.part in ("cancel", "all"):
        model = args.model or (
            Path(os.environ["SORA_DESKTOP_EMBEDDED_MODEL"])
            if os.environ.get("SORA_DESKTOP_EMBEDDED_MODEL")
            else train_micro(Path(tempfile.mkdtemp(prefix="sora-micro-")))
        )
        info["model"] = str(model)
        cancel = {"model": str(model), **bench_cancel(model, args.runs, args.cycles)}
        for r, run in enumerate(cancel["runs"]):
            bad = run["jobs_without_exactly_one_cancelled"]
            checks.check(f"cancel run {r}", bad == 0, f"{bad} job(s) did not end cancelled once")
        checks.job("final generation", status="/".join(cancel["final_generation"]),
                   want_status="finished")  # fmt: skip
        checks.check("worker thread", cancel["worker_thread_stopped"], "did not stop in 30 s")
        report["cancel"] = cancel
        figures["cancel"] = {
            k: cancel[k]
            for k in ("cycles_per_run", "median_delta_per_run_mb", "total_growth_mb",
                      "rss_baseline_mb", "rss_final_mb")
        }  # fmt: skip
    if not checks.ok:
        return {}
    if args.out.is_file():  # keep the other part's figures when only one part is rerun
        report = {**json.loads(args.out.read_text()), **report}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return figures


if __name__ == "__main__":
    sys.exit(main())
