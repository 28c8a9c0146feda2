"""Held-out quality evaluation of the embedded model (thin wrapper over `sora-desktop eval`).

    python bench/eval_model.py --n 200 --seed 0 --out bench/eval_report.json [--model-dir DIR]

Generates clips for held-out captions and scores colour, background, direction, motion, shape
and temporal consistency with the pixel detector in sora_desktop/engine/evaluate.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sora_desktop.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["eval", *sys.argv[1:]]))
