"""Every benchmark checks its own work before it reports a figure (issue 21).

Each script under bench/ runs once, in its smallest mode, as a subprocess (the way a person runs
it) with a broken input: an empty model folder, a config.json that is not JSON, a tiny diffusers
model with a truncated weights file, a stale document. A bench that loads no model gets one job
failed through ``SORA_BENCH_FAIL_JOB`` (bench/benchlib.py), which every job check honours. Each
must exit non-zero, print no target and end with one JSON line holding ``"ok": false`` and the
failure. The cheapest ones also run once unbroken: ``"ok": true`` and their figures.

To add a bench: one row in CASES (a new script without one fails
``test_every_bench_script_has_a_self_check``). The arguments are the smallest mode; ``{empty}``,
``{badcfg}``, ``{badtiny}``, ``{stale_doc}`` and ``{tmp}`` are filled in below.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
FORCE = "SORA_BENCH_FAIL_JOB"


@dataclass(frozen=True, eq=False)
class Case:
    script: str
    args: tuple[str, ...]
    why: str  # text the failure must name (the cause, not just "failed")
    env: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.script.removesuffix(".py")


CASES = (
    Case(
        "bench_generate.py",
        ("--model", "{empty}", "--runs", "1", "--steps", "2", "--out", "{tmp}/g.json"),
        "no config.json",
    ),
    Case(
        "bench_cancel_stress.py",
        ("--part", "cancel", "--model", "{badcfg}", "--runs", "1", "--cycles", "1")
        + ("--out", "{tmp}/c.json"),
        "model's files are missing, damaged",  # the worker's plain words for a bad config
    ),
    Case(
        "bench_diffusers.py",
        ("--tiny", "--models", "wan", "--model-dir", "{badtiny}", "--modes", "fast")
        + ("--repeats", "1", "--steps", "1"),
        "diffusion_pytorch_model.safetensors",
    ),
    Case("eval_model.py", ("--model", "{badcfg}", "--n", "1", "--steps", "2"), "config.json"),
    Case("fit_table.py", ("--check", "--doc", "{stale_doc}"), "differ"),
    # benches that load no model: one job's check fails on purpose
    Case("bench_colour_match.py", ("--runs", "1", "--frames", "1"), "forced", {FORCE: "832x480"}),
    Case(
        "bench_download.py",
        ("--runs", "1", "--size-mb", "1", "--only", "bomb"),
        "gzip bomb",
        {FORCE: "gzip bomb"},
    ),
    Case(
        "bench_files.py",
        ("--runs", "1", "--clips", "1", "--clip-mb", "1", "--only", "lock"),
        "lock run 1",
        {FORCE: "lock"},
    ),
    Case(
        "bench_inputs.py",
        ("--runs", "1", "--only", "start_image_png_bomb"),
        "start_image_png_bomb run 1",
        {FORCE: "png_bomb"},
    ),
    Case("bench_recovery_delay.py", ("--runs", "1", "--burst", "1"), "run 0", {FORCE: "run 0"}),
    Case("bench_kill_events.py", ("--kills", "8", "--only", "kills"), "kills", {FORCE: "kills"}),
    Case(
        "bench_provenance.py",
        ("--runs", "1", "--frames", "2", "--side", "32"),
        "gif ours",
        {FORCE: "gif ours"},
    ),
    Case(
        "bench_batch.py",
        ("--shots", "1", "--steps", "1", "--no-worker-process"),
        "model's files are missing, damaged",
        {"SORA_DESKTOP_EMBEDDED_MODEL": "{empty}"},
    ),
    Case("bench_text_encoder.py", ("--runs", "1", "--encoder", "{empty}"), "tokenizer.json"),
    Case(
        "bench_responsiveness.py",
        ("--json", "--runs", "1", "--jobs", "2", "--no-startup", "--no-baseline")
        + ("--model", "{empty}"),
        "process job 1",
    ),
)
POSITIVE = (
    Case("fit_table.py", ("--check",), ""),
    Case("bench_colour_match.py", ("--runs", "1", "--frames", "1"), ""),
)
FIGURES = {  # a positive run's figures, by script
    "fit_table.py": ("models", "machines"),
    "bench_colour_match.py": ("seconds_per_frame",),
}
NEGATIVE = CASES


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, str]:
    """The broken (and one good) inputs, made once for the module."""
    from tests.tiny_models import save_tiny_video_model

    tmp = tmp_path_factory.mktemp("bench_selfcheck")
    empty = tmp / "empty"
    empty.mkdir()
    badcfg = tmp / "badcfg"
    badcfg.mkdir()
    (badcfg / "config.json").write_text("{not json", encoding="utf-8")
    badtiny = tmp / "badtiny"
    save_tiny_video_model("wan", badtiny)
    weights = badtiny / "transformer" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # a download cut short
    stale = tmp / "models.md"
    stale.write_text(
        "<!-- fit-tables:begin (bench/fit_table.py) -->\n| old | table |\n"
        "<!-- fit-tables:end -->\n",
        encoding="utf-8",
    )
    return {
        "empty": str(empty),
        "badcfg": str(badcfg),
        "badtiny": str(badtiny),
        "stale_doc": str(stale),
        "tmp": str(tmp),
    }


def _run(case: Case, inputs: dict[str, str]) -> subprocess.CompletedProcess:
    args = [a.format(**inputs) for a in case.args]
    env = {k: v for k, v in os.environ.items() if k != FORCE}
    env.update({k: v.format(**inputs) for k, v in case.env.items()})
    env.update(
        PYTHONPATH=str(ROOT),
        QT_QPA_PLATFORM="offscreen",
        HF_HUB_OFFLINE="1",
        SORA_DESKTOP_HOME=str(Path(inputs["tmp"]) / f"home-{case.id}"),
    )
    return subprocess.run(
        [sys.executable, str(BENCH / case.script), *args],
        cwd=inputs["tmp"],  # a bench that writes a default --out writes it there
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture(scope="module")
def runs(inputs) -> dict[tuple[str, Case], subprocess.CompletedProcess]:
    """All runs at once (most of their time is waiting: sockets, timers, imports)."""
    todo = [("bad", c) for c in NEGATIVE] + [("good", c) for c in POSITIVE]
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = pool.map(lambda item: _run(item[1], inputs), todo)
        return dict(zip(todo, done, strict=True))


def _last_json(proc: subprocess.CompletedProcess) -> dict:
    lines = proc.stdout.strip().splitlines()
    assert lines, f"no output; stderr: {proc.stderr[-1500:]}"
    return json.loads(lines[-1])


def test_every_bench_script_has_a_self_check():
    scripts = {p.name for p in BENCH.glob("*.py")} - {"benchlib.py"}
    covered = {c.script for c in CASES}
    assert scripts <= covered, f"add a row to CASES for {sorted(scripts - covered)}"


@pytest.mark.parametrize("case", NEGATIVE, ids=lambda c: c.id)
def test_a_failed_job_gives_no_figure_and_a_non_zero_exit(case, runs):
    proc = runs[("bad", case)]
    assert proc.returncode not in (0, None), proc.stdout[-1500:]
    assert "target" not in proc.stdout.lower(), proc.stdout[-1500:]
    last = _last_json(proc)
    assert last["ok"] is False, last
    assert last["failures"] and case.why in " ".join(last["failures"]), last
    assert "FAILED" in proc.stdout  # which job failed and why, before the last line


@pytest.mark.parametrize("case", POSITIVE, ids=lambda c: c.id)
def test_a_run_that_worked_reports_its_figures(case, runs):
    proc = runs[("good", case)]
    assert proc.returncode == 0, proc.stderr[-1500:]
    last = _last_json(proc)
    assert last["ok"] is True and "failures" not in last, last
    for key in FIGURES[case.script]:
        assert last[key], (key, last)


def test_the_full_size_table_follows_the_catalog():
    """bench_diffusers builds the checkpoints the catalog names: no retired id, and parameter
    counts (meta device) within 10% of each catalog entry's fit block."""
    import importlib.util

    from sora_desktop.core.catalog import find_entry

    spec = importlib.util.spec_from_file_location("bench_diffusers", BENCH / "bench_diffusers.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    covered, _ = bench.catalog_full_ids()  # raises for an id the catalog no longer has
    assert covered
    for model_id in covered:
        counts = bench.count_params(model_id)
        fit = {c.name: c.params_b for c in find_entry(model_id).fit.components}
        for name in ("transformer", "text_encoder"):
            assert abs(counts[name] - fit[name]) <= 0.1 * fit[name], (model_id, name, counts)
    bench.FULL["retired-model"] = bench.FULL[covered[0]]
    with pytest.raises(ValueError, match="retired-model"):
        bench.catalog_full_ids()
