"""The fit tables of docs/models.md, generated from core/fit.py and the catalog so the document
cannot drift from the code (tests/test_fit.py checks the document against this script).

    python bench/fit_table.py            # print the tables
    python bench/fit_table.py --write    # replace them in docs/models.md
    python bench/fit_table.py --check    # exit 1 when docs/models.md differs

Ends with one JSON line: {"bench": "fit_table", "ok": true|false, ...} (bench/benchlib.py).
Nothing is measured or timed (the figures are the documented method's estimates), so there is no
job to check; ``--check`` fails (exit 1, no figure) when the document differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchlib, also when imported

import benchlib  # noqa: E402

from sora_desktop.core.catalog import load_catalog  # noqa: E402
from sora_desktop.core.fit import Machine, best_mode, fit_for  # noqa: E402
from sora_desktop.core.memory_modes import MEMORY_MODES, mode_name  # noqa: E402

DOC = ROOT / "docs" / "models.md"
VRAMS = (8, 12, 16, 24, 48)
RAMS = (16, 32, 64)
REFERENCE_GPU = Machine("NVIDIA GeForce RTX 4090", 24.0, 64.0)
BEGIN, END = "<!-- fit-tables:begin (bench/fit_table.py) -->", "<!-- fit-tables:end -->"


def _video_entries():
    return [e for e in load_catalog() if e.kind == "video" and e.fit is not None]


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"~{seconds:.0f} s" if seconds < 120 else f"~{seconds / 60:.0f} min"


def verdict_cell(entry, machine: Machine) -> str:
    mode = best_mode(entry, machine)
    if mode is None:
        return "no"
    v = fit_for(entry, machine)[mode]
    return mode_name(mode) + (" (tight)" if v.verdict == "tight" else "")


def render() -> str:
    entries = _video_entries()
    lines = [
        "**Needs per memory mode** at each model's default clip (GB of GPU memory; system",
        "RAM is the same in every mode); the time is an estimate for an RTX 4090-class GPU.",
        "",
        "| model | default clip | weights GB | Fast | Balanced | Low memory | RAM GB | "
        "est. time (Fast / Low memory) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        d = e.defaults
        v = fit_for(e, REFERENCE_GPU)
        clip = f"{d['width']}x{d['height']}, {d['num_frames']} f, {d['steps']} steps"
        secs = " / ".join(_time(v[m].seconds) for m in ("fast", "low_vram"))
        lines.append(
            f"| {e.name} | {clip} | {e.fit.weights_gb:.1f} | "
            + " | ".join(f"{v[m].need_vram_gb:.1f}" for m in MEMORY_MODES)
            + f" | {v['fast'].need_ram_gb:.1f} | {secs} |"
        )
    lines += [
        "",
        "**Verdicts**: the fastest memory mode that fits each machine (GPU memory / "
        'system RAM); "(tight)" = no GPU memory to spare or RAM up to 25 % short; '
        '"no" = too big in every mode (the user may still run it).',
        "",
    ]
    lines.append("| GPU / RAM | " + " | ".join(e.name for e in entries) + " |")
    lines.append("|---" * (len(entries) + 1) + "|")
    for vram in VRAMS:
        for ram in RAMS:
            m = Machine(None, float(vram), float(ram))
            cells = " | ".join(verdict_cell(e, m) for e in entries)
            lines.append(f"| {vram} GB / {ram} GB | {cells} |")
    return "\n".join(lines) + "\n"


def doc_section(text: str) -> str | None:
    if BEGIN not in text or END not in text:
        return None
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--doc", type=Path, default=DOC, help=f"default: {DOC.relative_to(ROOT)}")
    args = ap.parse_args(argv)
    table = render()
    text = args.doc.read_text(encoding="utf-8")
    failures = []
    if args.write:
        if doc_section(text) is None:
            failures.append(f"{args.doc}: no {BEGIN} ... {END} section")
        else:
            head, rest = text.split(BEGIN, 1)
            tail = rest.split(END, 1)[1]
            args.doc.write_text(f"{head}{BEGIN}\n{table}{END}{tail}", encoding="utf-8")
    elif args.check:
        if doc_section(text) != table:
            failures.append(f"{args.doc}: the fit tables differ; run bench/fit_table.py --write")
    else:
        print(table)
    figures = {"models": len(_video_entries()), "machines": len(VRAMS) * len(RAMS)}
    return benchlib.finish(figures, failures, "fit_table")


if __name__ == "__main__":
    sys.exit(main())
