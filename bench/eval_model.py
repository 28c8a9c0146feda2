"""Held-out quality evaluation of the embedded model (what `sora-desktop eval` runs).

    python bench/eval_model.py --n 200 --seed 0 --out bench/eval_report.json [--model-dir DIR]
    python bench/eval_model.py --n 1 --steps 2 --out /tmp/eval.json        # smoke run

Generates clips for held-out captions and scores colour, background, direction, motion, shape
and temporal consistency with the pixel detector in sora_desktop/engine/evaluate.py.

Every clip is checked (a clip came back, with the frame count and size asked for) and so is the
report (written, holding one row per clip); if anything failed, the script says which and why,
prints no score, writes no report and exits 1. The last stdout line is one JSON object with
``"ok"`` (bench/benchlib.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import benchlib  # noqa: E402  (bench/ is sys.path[0] when this script runs)


class CheckedBackend:
    """The backend, with each clip it makes checked before the evaluation scores it."""

    def __init__(self, backend: Any, checks: benchlib.Checks) -> None:
        self._backend = backend
        self._checks = checks
        self.clips = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def generate(self, request: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        from sora_desktop.engine.backend import GenerationResult

        self.clips += 1
        job = f"clip {self.clips} ({request.prompt!r})"
        result = None
        for event in self._backend.generate(request, *args, **kwargs):
            if isinstance(event, GenerationResult):
                result = event
            yield event
        shape = tuple(result.frames.shape) if result is not None else None
        want = (request.num_frames, request.height, request.width, 3)
        if not self._checks.job(job, shape=shape, want_shape=want):
            raise RuntimeError(f"{job}: no right clip; the evaluation stops")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=200, help="number of clips (default 200)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, help="denoising steps (default 25)")
    p.add_argument("--guidance", type=float, help="classifier-free guidance (default 4.0)")
    p.add_argument("--out", default="eval_report.json", help="JSON report (a .md beside it)")
    p.add_argument("--model-dir", "--model", help="folder of an embedded-model checkpoint")
    p.add_argument("--enhance", action="store_true", help="rewrite each caption first")
    p.add_argument("--enhancer", default="rule", help="which enhancer (default: rule)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    args = p.parse_args(argv)
    if args.n < 1:
        p.error("--n: at least 1")
    if args.steps is not None and not 1 <= args.steps <= 200:
        p.error("--steps: 1 to 200")
    info: dict[str, Any] = {"n": args.n, "seed": args.seed}
    return benchlib.run("eval_model", lambda checks: _bench(args, checks, info), info)


def _bench(args: argparse.Namespace, checks: benchlib.Checks, info: dict[str, Any]) -> dict:
    from sora_desktop.core.atomic import atomic_write_text
    from sora_desktop.engine.embedded.pipeline import EmbeddedBackend, embedded_model_dir
    from sora_desktop.engine.evaluate import evaluate, report_markdown

    model_dir = Path(args.model_dir) if args.model_dir else embedded_model_dir()
    info["model_dir"] = str(model_dir)
    enhancer = None
    if args.enhance:
        from sora_desktop.engine.enhance import get_enhancer

        enhancer = get_enhancer(args.enhancer)
    backend = CheckedBackend(EmbeddedBackend(model_dir=model_dir, device=args.device), checks)
    report = evaluate(
        backend,
        n=args.n,
        seed=args.seed,
        steps=args.steps,
        guidance=args.guidance,
        progress=lambda done, total: print(f"{done}/{total}", end="\r", file=sys.stderr),
        enhancer=enhancer,
    )
    checks.check("evaluation", backend.clips == args.n, f"{backend.clips} clips of {args.n}")
    checks.check("report", len(report["clips"]) == args.n, f"{len(report['clips'])} rows")
    if not checks.ok:
        return {}
    out = Path(args.out)
    table = report_markdown(report)
    atomic_write_text(out, json.dumps(report, indent=2, sort_keys=True, default=str))
    atomic_write_text(out.with_suffix(".md"), table + "\n")
    checks.job("report file", path=out)
    checks.job("report table", path=out.with_suffix(".md"))
    if not checks.ok:
        return {}
    print(table)
    print(f"\nreport: {out}")
    return {
        "accuracy": report["accuracy"],
        "temporal": report["temporal"],
        "seconds_per_clip": round(report["seconds_per_clip"], 3),
        "steps": report["steps"],
        "report": str(out),
    }


if __name__ == "__main__":
    sys.exit(main())
