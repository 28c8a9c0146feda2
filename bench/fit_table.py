"""The fit tables of docs/models.md, generated from core/fit.py and the catalog so the document
cannot drift from the code (tests/test_fit.py checks the document against this script).

    python bench/fit_table.py            # print the tables
    python bench/fit_table.py --write    # replace them in docs/models.md
    python bench/fit_table.py --check    # exit 1 when docs/models.md differs

Ends with one JSON line: {"ok": true|false, ...}. Nothing is measured: the figures are the
documented method's estimates.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

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
    args = ap.parse_args(argv)
    table = render()
    text = DOC.read_text(encoding="utf-8")
    ok = True
    if args.write:
        if doc_section(text) is None:
            print(f"{DOC} has no {BEGIN} ... {END} section", file=sys.stderr)
            ok = False
        else:
            head, rest = text.split(BEGIN, 1)
            tail = rest.split(END, 1)[1]
            DOC.write_text(f"{head}{BEGIN}\n{table}{END}{tail}", encoding="utf-8")
    elif args.check:
        ok = doc_section(text) == table
    else:
        print(table)
    print(
        json.dumps({"ok": ok, "models": len(_video_entries()), "machines": len(VRAMS) * len(RAMS)})
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
