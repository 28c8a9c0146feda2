"""How long a fresh process takes to get the built-in model's text encoder ready, ours vs
transformers' (engine/minilm.py, engine/text_encoder.py).

Every app start's worker process, every CLI run and every farm worker loads the text encoder
once. Each run starts a fresh Python (torch imported first, as the worker has it), then times
import + load + encoding one prompt, for our MiniLM and, as the baseline in the same run, for
``transformers.AutoModel`` on the same files. Each run checks its own work: the embeddings
have shape (1, 48, 384) and ours match transformers' to 1e-4.

    python bench/bench_text_encoder.py [--runs 5] [--encoder PATH]

Ends with one JSON line: {"ok": true|false, "ours_s": ..., "transformers_s": ..., "speed_up":
...}; a run that failed is named, no figure is printed and the exit code is 1
(bench/benchlib.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import benchlib  # bench/ is sys.path[0] when this script runs

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "a red circle bounces up and down on a plain green background"

# Run in a fresh interpreter: prints one JSON line {"seconds", "shape", "sum", "values"}.
CHILD = """
import json, sys, time
import torch
which, path, prompt = sys.argv[1], sys.argv[2] or None, sys.argv[3]
t0 = time.perf_counter()
if which == "ours":
    from sora_desktop.engine.text_encoder import TextEncoder
    out, _mask = TextEncoder(path).encode([prompt])
else:
    from pathlib import Path
    from transformers import AutoModel, AutoTokenizer
    from sora_desktop.engine.text_encoder import MAX_TOKENS, minilm_path
    folder = Path(path or minilm_path())
    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    batch = tok([prompt.lower()], padding="max_length", truncation=True,
                max_length=MAX_TOKENS, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch).last_hidden_state
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "shape": list(out.shape),
                  "values": out[0, :8, :8].flatten().tolist()}))
"""


def _child(which: str, path: str, checks: benchlib.Checks, job: str) -> dict | None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    with checks.guard(job):
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, which, path, PROMPT],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if not checks.check(job, proc.returncode == 0, f"exit {proc.returncode}: "
                            f"{proc.stderr.strip()[-400:]}"):  # fmt: skip
            return None
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        if checks.job(job, shape=tuple(result["shape"]), want_shape=(1, 48, 384)):
            return result
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--encoder", default="", help="the encoder's folder (default: built in)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs: at least 1")
    info = {"runs": args.runs, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs"}
    return benchlib.run("text_encoder", lambda checks: _bench(args, checks), info)


def _bench(args: argparse.Namespace, checks: benchlib.Checks) -> dict:
    times: dict[str, list[float]] = {"ours": [], "transformers": []}
    for i in range(args.runs):
        results = {}
        for which in ("ours", "transformers"):  # alternated, so load on the machine is shared
            result = _child(which, args.encoder, checks, f"{which} run {i + 1}")
            if result is not None:
                results[which] = result
                times[which].append(result["seconds"])
        if len(results) == 2:
            ours, theirs = results["ours"]["values"], results["transformers"]["values"]
            diff = max(abs(a - b) for a, b in zip(ours, theirs, strict=True))
            checks.check(f"same output run {i + 1}", diff < 1e-4, f"differs by {diff:.2e}")
    if not checks.ok:
        return {}
    ours = statistics.median(times["ours"])
    theirs = statistics.median(times["transformers"])
    return {
        "ours_s": round(ours, 3),
        "transformers_s": round(theirs, 3),
        "speed_up": round(theirs / ours, 2),
        "ours_runs_s": [round(t, 3) for t in times["ours"]],
        "transformers_runs_s": [round(t, 3) for t in times["transformers"]],
    }


if __name__ == "__main__":
    sys.exit(main())
