"""bench/bench_batch.py checks its own work (issue 21): with a broken model folder every job
fails, so it names them, reports no figure and exits non-zero; its last line is JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_batch_reports_no_figure_for_jobs_that_failed(tmp_path):
    broken = tmp_path / "no-model"
    broken.mkdir()
    env = dict(os.environ, SORA_DESKTOP_EMBEDDED_MODEL=str(broken))
    env["SORA_DESKTOP_HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_batch.py"), "--shots", "1", "--steps", "1"]
        + ["--no-worker-process"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode != 0
    last = json.loads(done.stdout.strip().splitlines()[-1])
    assert last["ok"] is False and last["failures"]
    assert "warm-up" in last["failures"][0]
    assert "farm_speedup" not in done.stdout and "shots: in sequence" not in done.stdout
