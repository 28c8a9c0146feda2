"""What every script under bench/ shares (issue 21): no figure for work that did not happen.

Each timed job's result is checked before any figure of it is reported. When a job failed, the
script says which and why, reports no figure for it (and no target), and exits non-zero. The
script's LAST stdout line is one JSON object: ``{"bench": NAME, "ok": true|false, ...figures}``
(plus ``"failures": [...]`` when not ok), so a person or a script can read the result.

    import benchlib                     # bench/ is sys.path[0] when a bench script runs

    def body(checks: benchlib.Checks) -> dict:
        result = run_one_job()
        checks.job("clip 1", status=result.status, path=out, frames=n, want_frames=16)
        return {"median_s": ...}          # printed only if every check passed

    sys.exit(benchlib.run("generate", body, info))   # prints the JSON line; the exit code

``finish(figures, failures, bench=...)`` is the same last step for a script that keeps its own
list of failures. ``SORA_BENCH_FAIL_JOB=<text>`` makes every check of a job whose name contains
``<text>`` fail: the self-check test uses it for benches that load no model.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FORCE_FAIL_ENV = "SORA_BENCH_FAIL_JOB"


def job_failure(
    job: str,
    *,
    status: str | None = None,
    want_status: str = "done",
    error: str | None = None,
    path: str | Path | None = None,
    frames: int | None = None,
    want_frames: int | None = None,
    shape: tuple[int, ...] | None = None,
    want_shape: tuple[int, ...] | None = None,
    seconds: float | None = None,
    want_seconds: float | None = None,
    nbytes: int | None = None,
    want_bytes: int | None = None,
    sha256: str | None = None,
    want_sha256: str | None = None,
) -> str | None:
    """Why ``job`` did not produce what it should (``"job: why"``), or None when it did.

    Only the expectations given are checked: a status, no error, the file written (non-empty;
    its size and SHA-256 when asked), a frame count, an array shape, a duration (within 1%).
    """
    forced = os.environ.get(FORCE_FAIL_ENV, "")
    if forced and forced in job:
        return f"{job}: failure forced by {FORCE_FAIL_ENV}={forced}"
    if error:
        return f"{job}: {error}"
    if status is not None and status != want_status:
        return f"{job}: status {status!r}, expected {want_status!r}"
    if path is not None:
        p = Path(path)
        if not p.is_file():
            return f"{job}: {p} was not written"
        size = p.stat().st_size
        if size == 0:
            return f"{job}: {p} is empty"
        if want_bytes is not None and size != want_bytes:
            return f"{job}: {p} has {size} bytes, expected {want_bytes}"
        if want_sha256 is not None:
            got = hashlib.sha256(p.read_bytes()).hexdigest()
            if got != want_sha256:
                return f"{job}: {p} has SHA-256 {got[:12]}..., expected {want_sha256[:12]}..."
    if nbytes is not None and want_bytes is not None and nbytes != want_bytes:
        return f"{job}: {nbytes} bytes, expected {want_bytes}"
    if sha256 is not None and want_sha256 is not None and sha256 != want_sha256:
        return f"{job}: SHA-256 {sha256[:12]}..., expected {want_sha256[:12]}..."
    if want_frames is not None and frames != want_frames:
        return f"{job}: {frames} frames, expected {want_frames}"
    if want_shape is not None and (shape is None or tuple(shape) != tuple(want_shape)):
        return f"{job}: shape {shape}, expected {tuple(want_shape)}"
    if want_seconds is not None and (
        seconds is None or not math.isclose(seconds, want_seconds, rel_tol=0.01)
    ):
        return f"{job}: {seconds} s long, expected {want_seconds} s"
    return None


class Checks:
    """The failures of one bench run, recorded as they happen (and told on stderr at once)."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, job: str, why: str) -> None:
        self.failures.append(f"{job}: {why}")
        print(f"FAILED {job}: {why}", file=sys.stderr, flush=True)

    def check(self, job: str, ok: bool, why: str) -> bool:
        """Record ``job: why`` unless ``ok``; returns whether the job passed."""
        problem = job_failure(job, error=None if ok else why)
        if problem is not None:
            self.failures.append(problem)
            print(f"FAILED {problem}", file=sys.stderr, flush=True)
        return problem is None

    def job(self, job: str, **expect: Any) -> bool:
        """``job_failure(job, **expect)`` recorded; returns whether the job passed."""
        problem = job_failure(job, **expect)
        if problem is not None:
            self.failures.append(problem)
            print(f"FAILED {problem}", file=sys.stderr, flush=True)
        return problem is None

    @contextmanager
    def guard(self, job: str) -> Iterator[None]:
        """Any exception inside is this job's failure (recorded, not raised)."""
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - a bench reports every failure, then exits 1
            traceback.print_exc(file=sys.stderr)
            self.fail(job, f"{type(exc).__name__}: {exc}")


def _strip_targets(value: Any) -> Any:
    """``value`` without any key naming a target (a failed run states no target)."""
    if isinstance(value, dict):
        return {k: _strip_targets(v) for k, v in value.items() if "target" not in str(k).lower()}
    if isinstance(value, list):
        return [_strip_targets(v) for v in value]
    return value


def _finite(value: Any) -> Any:
    """NaN and infinities as null, so the line stays valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def finish(
    figures: dict[str, Any],
    failures: list[str],
    bench: str | None = None,
    info: dict[str, Any] | None = None,
) -> int:
    """Print which jobs failed (if any) and the last line, the JSON object; the exit code.

    ``figures`` are printed only when no job failed: a median or a ratio over a set holding a
    failed job would be wrong, so a failed run reports none (and no target). ``info`` (the
    machine, the model, the settings) is printed either way, less any key naming a target.
    """
    ok = not failures
    for failure in failures:
        print(f"FAILED {failure}", flush=True)
    line: dict[str, Any] = {"bench": bench} if bench else {}
    line.update(_strip_targets(info or {}))
    if ok:
        line.update(figures)
    line.pop("failures", None)
    line["ok"] = ok
    if not ok:
        line["failures"] = list(failures)
    sys.stdout.flush()
    print(json.dumps(_finite(line), default=str), flush=True)
    return 0 if ok else 1


def run(
    bench: str,
    body: Callable[[Checks], dict[str, Any]],
    info: dict[str, Any] | None = None,
) -> int:
    """Run ``body(checks)`` (it returns the figures) and ``finish``; the exit code.

    An exception escaping ``body`` is a failure too. ``info`` may be filled in by the body as it
    learns things (the model folder, the device) and is printed either way.
    """
    checks = Checks()
    figures: dict[str, Any] = {}
    try:
        figures = body(checks) or {}
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt too: no figure, exit 1
        traceback.print_exc(file=sys.stderr)
        checks.failures.append(f"{bench}: {type(exc).__name__}: {exc}")
    return finish(figures, checks.failures, bench, info)
