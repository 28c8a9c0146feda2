"""``sora-desktop eval`` (score the built-in model on its own prompt suite) and
``sora-desktop info`` (versions, device, model folder, installed models)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sora_desktop import __version__
from sora_desktop.core.request import EMBEDDED_MODEL_ID


def cmd_eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sora_desktop.cli import EXIT_CANCELLED, UsageError, _load_backend
    from sora_desktop.core.atomic import atomic_write_text
    from sora_desktop.engine.evaluate import evaluate, report_markdown

    if args.n < 1:
        raise UsageError(f"--n: {args.n} must be at least 1")
    if args.steps is not None and not 1 <= args.steps <= 200:
        raise UsageError(f"--steps: {args.steps} is out of range; allowed 1 to 200")
    out = Path(args.out)
    enhancer = None
    if args.enhance:
        from sora_desktop.engine.enhance import get_enhancer

        enhancer = get_enhancer(args.enhancer)
    backend = _load_backend(EMBEDDED_MODEL_ID, args.device, args.model_dir)
    bar = tqdm(total=args.n, file=sys.stderr, unit="clip", dynamic_ncols=True, leave=False)
    try:
        report = evaluate(
            backend,
            n=args.n,
            seed=args.seed,
            steps=args.steps,
            guidance=args.guidance,
            progress=lambda done, total: bar.update(1),
            enhancer=enhancer,
        )
    except KeyboardInterrupt:
        bar.close()
        print("cancelled; no report was written", file=sys.stderr)
        return EXIT_CANCELLED
    bar.close()
    table = report_markdown(report)
    atomic_write_text(out, json.dumps(report, indent=2, sort_keys=True, default=str))
    atomic_write_text(out.with_suffix(".md"), table + "\n")
    print(table)
    print(f"\nreport: {out}")
    return 0


def cmd_info() -> int:
    import torch

    from sora_desktop.engine.device import pick_device
    from sora_desktop.engine.embedded.pipeline import embedded_model_dir

    model_dir = embedded_model_dir()
    present = (model_dir / "dit.safetensors").is_file()
    print(f"Sora Desktop {__version__}")
    print(f"python: {sys.version.split()[0]}")
    print(f"torch: {torch.__version__}")
    print(f"device: {pick_device('auto')}")
    print(f"model folder: {model_dir} ({'present' if present else 'missing'})")
    try:
        import imageio_ffmpeg

        print(f"ffmpeg: {imageio_ffmpeg.get_ffmpeg_exe()}")
    except Exception as exc:  # info must not crash on a broken optional part
        print(f"ffmpeg: unavailable ({exc})")
    from sora_desktop.cli_generate import print_installed

    print_installed()  # installed models, their size on disk and how they fit
    return 0
