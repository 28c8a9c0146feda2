"""Figures for issue 15 §4 (the user's files): SIGTERM clean-up, Save As media, project locks.

1. SIGTERM mid-export: a fresh ``python`` process runs the real command line (``generate``
   with a backend that returns 600 noise frames, slow to encode) and gets SIGTERM once ffmpeg
   is writing its temp file. Measured: seconds from SIGTERM until the process has exited and
   its ffmpeg is gone. Checked every run: exit status 143, no ``.part`` or clip left, no ffmpeg.
2. Save As under a new name in the same folder, ``--clips`` clips of ``--clip-mb`` MB: seconds
   with hard links (the default) against forced copies, in the same process; checked: every
   clip of the new project has its own name and the old media folder can be deleted.
3. Taking and releasing a project's lock (what opening/closing a project now costs).

Run from the repository root::

    nice -n 19 python bench/bench_files.py [--runs 3] [--clips 20] [--clip-mb 5]

Ends with one JSON line with ``"ok"`` (bench/benchlib.py); if any run failed its check, it is
named with the reason, no figure is printed and the exit code is 1. Smoke run:
``--runs 1 --clips 2 --clip-mb 1`` (``--only link copy lock`` leaves out the ffmpeg part).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import benchlib  # bench/ is sys.path[0] when this script runs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = (ROOT / "tests" / "test_robust_export_files.py").read_text(encoding="utf-8")
CHILD = CHILD.split('CHILD = textwrap.dedent(\n    """', 1)[1].split('"""', 1)[0]


def sigterm_run(tmp: Path) -> float:
    import psutil

    out = tmp / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SORA_DESKTOP_HOME": str(tmp / "home")}
    import textwrap

    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(out / "clip.mp4")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    encoders: list = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            encoders = [
                c
                for c in psutil.Process(child.pid).children(recursive=True)
                if "ffmpeg" in c.name()
            ]
            parts = list(out.glob(".*.part"))
            if encoders and parts and parts[0].stat().st_size > 0:
                break
            time.sleep(0.02)
        if not encoders or child.poll() is not None:
            raise RuntimeError("the export was not caught while ffmpeg was writing")
        t0 = time.monotonic()
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=60)
        while any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in encoders):
            if time.monotonic() - t0 > 10:
                raise RuntimeError("ffmpeg outlived the export")
            time.sleep(0.01)
        elapsed = time.monotonic() - t0
        if child.returncode != 128 + signal.SIGTERM:
            raise RuntimeError(f"exit status {child.returncode}: {child.stderr.read()[-300:]!r}")
        time.sleep(0.3)
        left = sorted(p.name for p in out.iterdir())
        if left:
            raise RuntimeError(f"left behind: {left}")
        return elapsed
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def save_as_run(tmp: Path, clips: int, clip_mb: int, link: bool) -> float:
    from sora_desktop.core.project import (
        Take,
        clip_relpath,
        load_project,
        new_project,
        resolve_media,
        save_project,
    )
    from sora_desktop.core.request import GenerationRequest

    p = new_project("bench")
    save_project(p, tmp / "film.sdproj")
    blob = os.urandom(clip_mb * 1024 * 1024)
    for i in range(clips):
        s = p.add_shot(GenerationRequest(f"shot {i}", seed=i))
        t = p.add_take(s.id, Take.create(s.request))
        p.update_take(s.id, t.id, status="done", clip=clip_relpath(p, s.id, t.id))
        f = resolve_media(p, t.clip)
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(blob)
    save_project(p)
    patch = mock.patch("os.link", side_effect=OSError(18, "forced copy"))
    t0 = time.perf_counter()
    if link:
        save_project(p, tmp / "film-v2.sdproj")
    else:
        with patch:
            save_project(p, tmp / "film-v2.sdproj")
    elapsed = time.perf_counter() - t0
    shutil.rmtree(tmp / "film_media")
    q = load_project(tmp / "film-v2.sdproj")
    for shot in q.shots:
        clip = resolve_media(q, shot.selected.clip)
        if not clip.is_file() or clip.stat().st_size != len(blob):
            raise RuntimeError(f"Save As lost {clip}")
    return elapsed


def lock_run(tmp: Path, n: int = 200) -> float:
    from sora_desktop.core import project_lock
    from sora_desktop.core.project import load_project, new_project, save_project

    path = save_project(new_project("lock"), tmp / "lock.sdproj")
    p = load_project(path)
    t0 = time.perf_counter()
    for _ in range(n):
        if project_lock.hold(p) is not None:
            raise RuntimeError("lock not taken")
        project_lock.let_go(p)
    return (time.perf_counter() - t0) / n


PARTS = ("term", "link", "copy", "lock")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--clip-mb", type=int, default=5)
    parser.add_argument("--only", nargs="+", choices=PARTS, help="run only these parts")
    args = parser.parse_args()
    if min(args.runs, args.clips, args.clip_mb) < 1:
        parser.error("--runs, --clips and --clip-mb: at least 1")
    info = {"runs": args.runs}
    return benchlib.run("files", lambda checks: _bench(args, checks), info)


def _bench(args: argparse.Namespace, checks: benchlib.Checks) -> dict:
    parts = args.only or PARTS
    times: dict[str, list[float]] = {name: [] for name in parts}
    with tempfile.TemporaryDirectory() as d:
        os.environ["SORA_DESKTOP_HOME"] = str(Path(d) / "home")
        for i in range(args.runs):
            for name, fn in (
                ("term", lambda t: sigterm_run(t)),
                ("link", lambda t: save_as_run(t, args.clips, args.clip_mb, True)),
                ("copy", lambda t: save_as_run(t, args.clips, args.clip_mb, False)),
                ("lock", lambda t: lock_run(t)),
            ):
                if name not in parts:
                    continue
                run_dir = Path(d) / f"{name}{i}"
                run_dir.mkdir()
                job = f"{name} run {i + 1}"
                with checks.guard(job):  # each run checks its own result and raises if wrong
                    took = fn(run_dir)
                    if checks.job(job):
                        times[name].append(took)
                shutil.rmtree(run_dir, ignore_errors=True)
    if not checks.ok:
        return {}
    med = {name: statistics.median(values) for name, values in times.items()}
    result: dict = {}
    if "term" in med:
        result["sigterm_cleanup_s_median"] = round(med["term"], 3)
        print(
            f"SIGTERM mid-export -> exited, ffmpeg gone, no .part: "
            f"{result['sigterm_cleanup_s_median']} s (median of {args.runs})"
        )
    if "link" in med:
        result["save_as_link_s_median"] = round(med["link"], 4)
    if "copy" in med:
        result["save_as_copy_s_median"] = round(med["copy"], 4)
    if "link" in med and "copy" in med:
        result["save_as_copy_over_link"] = round(med["copy"] / med["link"], 1)
        result["save_as_mb"] = args.clips * args.clip_mb
        print(
            f"Save As same folder, {result['save_as_mb']} MB of clips: hard links "
            f"{result['save_as_link_s_median']} s, copies {result['save_as_copy_s_median']} s "
            f"({result['save_as_copy_over_link']}x)"
        )
    if "lock" in med:
        result["lock_hold_release_ms_median"] = round(med["lock"] * 1000, 3)
        print(f"project lock hold+release: {result['lock_hold_release_ms_median']} ms")
    return result


if __name__ == "__main__":
    sys.exit(main())
