"""bench/bench_responsiveness.py checks its own work (issue 21): with a model folder that holds
no model every job fails, so it names the failure, prints no figure and no target line, exits
non-zero, and its last line is JSON with "ok": false."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_broken_model_gives_no_figure_and_a_non_zero_exit(tmp_path):
    empty = tmp_path / "no-model"
    empty.mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "bench_responsiveness.py"),
        "--runs",
        "1",
        "--jobs",
        "2",
        "--no-startup",
        "--json",
        "--model",
        str(empty),
    ]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode != 0, run.stdout
    lines = run.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["ok"] is False and "max_gap_ms" not in result
    assert "process job 1" in result["failed"] and "failed" in result["failed"]
    assert "target" not in run.stdout.lower()  # no target line, met or not
    assert any(line.startswith("FAILED: process job 1") for line in lines), run.stdout
