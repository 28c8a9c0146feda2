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

Ends with one JSON line; exits non-zero (and prints no figure) if any run failed its check.
"""

from __future__ import annotations

import argparse
import json
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--clip-mb", type=int, default=5)
    args = parser.parse_args()
    result: dict = {"bench": "files", "runs": args.runs}
    try:
        with tempfile.TemporaryDirectory() as d:
            os.environ["SORA_DESKTOP_HOME"] = str(Path(d) / "home")
            term, linked, copied, lock = [], [], [], []
            for i in range(args.runs):
                for name, fn, bucket in (
                    ("term", lambda t: sigterm_run(t), term),
                    ("link", lambda t: save_as_run(t, args.clips, args.clip_mb, True), linked),
                    ("copy", lambda t: save_as_run(t, args.clips, args.clip_mb, False), copied),
                    ("lock", lambda t: lock_run(t), lock),
                ):
                    run_dir = Path(d) / f"{name}{i}"
                    run_dir.mkdir()
                    bucket.append(fn(run_dir))
                    shutil.rmtree(run_dir, ignore_errors=True)
    except Exception as exc:  # noqa: BLE001 - the bench reports, it does not crash
        print(f"FAILED: {exc}", file=sys.stderr)
        print(json.dumps({**result, "ok": False, "error": str(exc)}))
        return 1
    result.update(
        sigterm_cleanup_s_median=round(statistics.median(term), 3),
        save_as_link_s_median=round(statistics.median(linked), 4),
        save_as_copy_s_median=round(statistics.median(copied), 4),
        save_as_copy_over_link=round(statistics.median(copied) / statistics.median(linked), 1),
        save_as_mb=args.clips * args.clip_mb,
        lock_hold_release_ms_median=round(statistics.median(lock) * 1000, 3),
        ok=True,
    )
    print(
        f"SIGTERM mid-export -> exited, ffmpeg gone, no .part: "
        f"{result['sigterm_cleanup_s_median']} s (median of {args.runs})"
    )
    print(
        f"Save As same folder, {result['save_as_mb']} MB of clips: hard links "
        f"{result['save_as_link_s_median']} s, copies {result['save_as_copy_s_median']} s "
        f"({result['save_as_copy_over_link']}x)"
    )
    print(f"project lock hold+release: {result['lock_hold_release_ms_median']} ms")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
