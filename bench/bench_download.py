"""Download figures for docs/robustness.md (issue #15): cancel latency, progress cadence and
memory of the model downloader, at its real chunk sizes, over a local link to the fake hub
(tests/fakehub.py, 127.0.0.1 only) throttled to 1 Mbit/s or stalled.

1. cancel on a 1 Mbit/s link: a 3 MB file; cancel once 200 KB arrived; seconds until the
   download returned (DownloadCancelled), median and max over ``--runs``; the longest gap
   between two progress reports while bytes flowed.
2. cancel during a stalled read: the server sends 300 KB and then nothing; cancel 1 s later.
3. baseline in the same process: huggingface_hub's ``http_get`` (10 MB chunks, what the
   downloader used before) on a 4 Mbit/s link for the same 3 MB file: seconds until its first
   progress report, against ours (the ratio is the figure).
4. memory: a ``--size-mb`` file downloaded unthrottled in a fresh process; its peak RSS (VmHWM,
   Linux) against a fresh process that only imports the same modules and plans the download
   (ratio), and MB/s over the local link.
5. a gzip body inflating to 300 MB past its declared 200 KB: refused; Python heap peak.
6. throughput on the unthrottled local link: ``FileTransfer`` against ``http_get`` on the same
   file, alternated, median of 3 each (ratio ours / http_get; the fake hub is the bottleneck).

Every job checks its own result (cancelled as asked, bytes kept, file verified, bomb refused);
if one fails the script names it and why, prints no figure and exits 1. The last line is one
JSON object with ``"ok": true|false`` (bench/benchlib.py). Run from the repository root::

    nice -n 10 python bench/bench_download.py [--runs 5] [--size-mb 200] [--only bomb memory]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import benchlib  # noqa: E402  (bench/ is sys.path[0] when this script runs)
from fakehub import FakeHub, FileFaults  # noqa: E402

from sora_desktop.core.catalog import is_installed, load_catalog  # noqa: E402
from sora_desktop.engine import downloads as dl  # noqa: E402

WEIGHTS = "transformer/diffusion_pytorch_model.safetensors"
MBIT = 125_000


class JobFailed(Exception):
    pass


def check(cond: bool, what: str) -> None:
    if not cond:
        raise JobFailed(what)


def repo_files(weights: bytes) -> dict[str, bytes]:
    return {
        "model_index.json": b'{"_class_name": "WanPipeline"}',
        "vae/config.json": b"{}",
        "transformer/config.json": b"{}",
        WEIGHTS: weights,
    }


def entry():
    return next(e for e in load_catalog() if e.id == "wan2.1-t2v-1.3b")


class Run:
    def __init__(self, models: Path, endpoint: str) -> None:
        self.cancel = threading.Event()
        self.reports: list[tuple[float, dl.DownloadProgress]] = []
        self.error: BaseException | None = None
        self.ended = 0.0
        downloader = dl.ModelDownloader(models, dl.HubConfig(endpoint=endpoint))
        self.thread = threading.Thread(target=self._go, args=(downloader,), daemon=True)
        self.thread.start()

    def _go(self, downloader) -> None:
        try:
            downloader.download(
                entry(), lambda p: self.reports.append((time.monotonic(), p)), self.cancel
            )
        except BaseException as exc:  # noqa: BLE001
            self.error = exc
        self.ended = time.monotonic()

    def wait_bytes(self, n: int, timeout: float) -> float | None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for t, p in list(self.reports):
                if p.file == WEIGHTS and p.phase == "download" and p.done_bytes >= n:
                    return t
            time.sleep(0.01)
        return None

    def stop(self) -> float:
        t0 = time.monotonic()
        self.cancel.set()
        self.thread.join(30)
        check(not self.thread.is_alive(), "download did not return after cancel")
        check(isinstance(self.error, dl.DownloadCancelled), f"not cancelled: {self.error!r}")
        return self.ended - t0


def job_slow_link(runs: int, tmp: Path) -> dict:
    weights = os.urandom(3_000_000)
    latencies, gaps = [], []
    for i in range(runs):
        with FakeHub() as hub:
            repo = hub.add_repo(entry().repo_id, repo_files(weights))
            repo.faults[WEIGHTS] = FileFaults(rate_bps=MBIT)
            models = tmp / f"slow{i}"
            run = Run(models, hub.endpoint)
            t_first = run.wait_bytes(1, 10)
            check(run.wait_bytes(200_000, 10) is not None, "no progress on a 1 Mbit/s link")
            times = [t for t, p in run.reports if p.file == WEIGHTS and t >= (t_first or 0)]
            gaps.append(max(b - a for a, b in zip(times, times[1:], strict=False)))
            latencies.append(run.stop())
            kept = dl.ModelDownloader(models).partial_bytes(entry())
            check(kept >= 200_000, f"only {kept} bytes kept after cancel")
    return {
        "cancel_1mbit_median_s": round(statistics.median(latencies), 3),
        "cancel_1mbit_max_s": round(max(latencies), 3),
        "progress_gap_1mbit_max_s": round(max(gaps), 3),
    }


def job_stalled(runs: int, tmp: Path) -> dict:
    weights = os.urandom(1_000_000)
    latencies = []
    for i in range(runs):
        with FakeHub() as hub:
            repo = hub.add_repo(entry().repo_id, repo_files(weights))
            repo.faults[WEIGHTS] = FileFaults(stall_after=300_000)
            models = tmp / f"stall{i}"
            run = Run(models, hub.endpoint)
            check(run.wait_bytes(300_000, 10) is not None, "stalled download never got going")
            time.sleep(1.0)
            latencies.append(run.stop())
            check(dl.ModelDownloader(models).partial_bytes(entry()) >= 300_000, "bytes lost")
    return {
        "cancel_stalled_median_s": round(statistics.median(latencies), 3),
        "cancel_stalled_max_s": round(max(latencies), 3),
    }


def job_first_progress_vs_http_get(tmp: Path) -> dict:
    """Seconds to the first progress report on a 4 Mbit/s link: ours vs http_get (10 MB)."""
    from huggingface_hub import constants
    from huggingface_hub.file_download import http_get

    weights = os.urandom(3_000_000)
    with FakeHub() as hub:
        repo = hub.add_repo(entry().repo_id, repo_files(weights))
        repo.faults[WEIGHTS] = FileFaults(rate_bps=4 * MBIT)
        run = Run(tmp / "first", hub.endpoint)
        t_req = time.monotonic()
        t_first = run.wait_bytes(1, 30)
        check(t_first is not None, "no first progress")
        ours = t_first - t_req
        run.stop()

        seen: list[float] = []

        class Bar:
            def __init__(self, *a, **k):
                self.n = 0

            def update(self, n=1):
                seen.append(time.monotonic())

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return None

            def close(self):
                pass

            def set_description(self, *a, **k):
                pass

        url = f"{hub.endpoint}/{entry().repo_id}/resolve/main/{WEIGHTS}"
        check(constants.DOWNLOAD_CHUNK_SIZE == 10 * 1024 * 1024, "unexpected http_get chunk size")
        t0 = time.monotonic()
        with open(tmp / "http_get.part", "wb") as fh:
            http_get(url, fh, expected_size=len(weights), tqdm_class=Bar)
        check(bool(seen), "http_get reported nothing")
        theirs = seen[0] - t0
        check((tmp / "http_get.part").read_bytes() == weights, "http_get baseline got bad bytes")
    return {
        "first_progress_4mbit_s": round(ours, 3),
        "first_progress_4mbit_http_get_s": round(theirs, 3),
        "first_progress_ratio": round(theirs / ours, 1),
    }


CHILD = """
import json, sys, time
sys.path.insert(0, {tests!r}); sys.path.insert(0, {root!r})
from sora_desktop.engine import downloads as dl
from sora_desktop.core.catalog import load_catalog
e = next(e for e in load_catalog() if e.id == "wan2.1-t2v-1.3b")
d = dl.ModelDownloader({models!r}, dl.HubConfig(endpoint={endpoint!r}))
t0 = time.monotonic()
if {full!r}:
    d.download(e)
else:
    d.plan(e)
took = time.monotonic() - t0
# VmHWM: this process's own peak (ru_maxrss would carry the parent's over the exec)
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]
print(json.dumps({{"rss_kb": int(hwm), "s": took}}))
"""


def _child(endpoint: str, models: Path, full: bool) -> dict:
    code = CHILD.format(
        tests=str(ROOT / "tests"), root=str(ROOT), models=str(models), endpoint=endpoint, full=full
    )
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
    )
    check(out.returncode == 0, f"child failed: {out.stderr[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def job_memory(size_mb: int, tmp: Path) -> dict:
    weights = os.urandom(size_mb * 1_000_000)
    digest = hashlib.sha256(weights).hexdigest()
    with FakeHub() as hub:
        hub.add_repo(entry().repo_id, repo_files(weights))
        base = _child(hub.endpoint, tmp / "mem-base", full=False)
        full = _child(hub.endpoint, tmp / "mem", full=True)
    check(is_installed(entry(), tmp / "mem"), "memory run did not install")
    h = hashlib.sha256()
    with open(entry().folder(tmp / "mem") / WEIGHTS, "rb") as fh:
        while chunk := fh.read(2**20):
            h.update(chunk)
    check(h.hexdigest() == digest, "memory run wrote wrong bytes")
    return {
        "file_mb": size_mb,
        "peak_rss_download_mb": round(full["rss_kb"] / 1024, 1),
        "peak_rss_baseline_mb": round(base["rss_kb"] / 1024, 1),
        "peak_rss_ratio": round(full["rss_kb"] / base["rss_kb"], 2),
        "download_and_verify_mb_per_s": round(size_mb / full["s"], 1),
    }


def job_throughput(size_mb: int, tmp: Path) -> dict:
    from huggingface_hub.file_download import http_get

    from sora_desktop.engine.transfer import FileTransfer

    weights = os.urandom(size_mb * 1_000_000)
    digest = hashlib.sha256(weights).hexdigest()
    ours, theirs = [], []
    with FakeHub() as hub:
        hub.add_repo(entry().repo_id, repo_files(weights))
        url = f"{hub.endpoint}/{entry().repo_id}/resolve/main/{WEIGHTS}"
        for _ in range(3):
            a, b = tmp / "tp-http_get", tmp / "tp-ours"
            b.unlink(missing_ok=True)
            t0 = time.monotonic()
            with open(a, "wb") as fh:
                http_get(url, fh, expected_size=len(weights))
            theirs.append(size_mb / (time.monotonic() - t0))
            t0 = time.monotonic()
            FileTransfer(url, b, len(weights), WEIGHTS, {}, threading.Event(), lambda n: None).run()
            ours.append(size_mb / (time.monotonic() - t0))
            check(hashlib.sha256(b.read_bytes()).hexdigest() == digest, "FileTransfer bytes")
            check(a.stat().st_size == len(weights), "http_get size")
    return {
        "local_mb_per_s_ours": round(statistics.median(ours), 1),
        "local_mb_per_s_http_get": round(statistics.median(theirs), 1),
        "throughput_ratio": round(statistics.median(ours) / statistics.median(theirs), 2),
    }


def job_gzip_bomb(tmp: Path) -> dict:
    import tracemalloc

    with FakeHub() as hub:
        repo = hub.add_repo(entry().repo_id, repo_files(os.urandom(200_000)))
        repo.faults[WEIGHTS] = FileFaults(gzip_bomb=300_000_000)
        tracemalloc.start()
        try:
            dl.ModelDownloader(tmp / "bomb", dl.HubConfig(endpoint=hub.endpoint)).download(entry())
        except dl.DownloadError as exc:
            check("more than" in str(exc), f"bomb refused for another reason: {exc}")
        else:
            raise JobFailed("gzip bomb was accepted")
        finally:
            _cur, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    biggest = max((p.stat().st_size for p in (tmp / "bomb").rglob("*") if p.is_file()), default=0)
    check(biggest <= 200_000, f"a {biggest}-byte file was left by the bomb")
    return {"gzip_bomb_heap_peak_mb": round(peak / 2**20, 2)}


JOBS = ("slow", "stalled", "first", "bomb", "memory", "throughput")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size-mb", type=int, default=200)
    ap.add_argument("--only", nargs="+", choices=JOBS, help="run only these jobs (smoke runs)")
    args = ap.parse_args()
    if min(args.runs, args.size_mb) < 1:
        ap.error("--runs and --size-mb: at least 1")
    info = {"runs": args.runs, "size_mb": args.size_mb}
    return benchlib.run("download", lambda checks: _bench(args, checks), info)


def _bench(args: argparse.Namespace, checks: benchlib.Checks) -> dict:
    from huggingface_hub import constants

    constants.HF_HUB_OFFLINE = False  # 127.0.0.1 only
    result: dict = {}
    jobs = {
        "slow": ("cancel on a 1 Mbit/s link", lambda tmp: job_slow_link(args.runs, tmp)),
        "stalled": ("cancel during a stalled read", lambda tmp: job_stalled(args.runs, tmp)),
        "first": ("first progress vs http_get", job_first_progress_vs_http_get),
        "bomb": ("gzip bomb", job_gzip_bomb),
        "memory": ("memory", lambda tmp: job_memory(args.size_mb, tmp)),
        "throughput": ("throughput", lambda tmp: job_throughput(args.size_mb, tmp)),
    }
    assert tuple(jobs) == JOBS
    with tempfile.TemporaryDirectory() as tmp_name:
        for key in args.only or JOBS:
            name, job = jobs[key]
            figures = None
            try:
                figures = job(Path(tmp_name))
            except JobFailed as exc:
                checks.fail(name, str(exc))
            except Exception as exc:  # noqa: BLE001 - every job is tried, each failure named
                checks.fail(name, f"{type(exc).__name__}: {exc}")
            if figures is not None and checks.job(name):
                result.update(figures)
    for key, value in result.items():
        print(f"{key}: {value}", file=sys.stderr)
    return result


if __name__ == "__main__":
    sys.exit(main())
