"""Memory and GUI stalls for hostile inputs (issue 15, part 5).

1. Player: a small file (~30-60 KB) holding a 4K H.264 video. "before" is the loader the
   player had (decode every frame at full size on the GUI thread, then one QImage per frame),
   re-created here; "after" is ``PlayerViewModel.load_clip``. Per run, in a fresh process:
   peak RSS (ru_maxrss), growth over the process's own baseline, the longest gap between
   ticks of a 10 ms QTimer on the GUI thread (how long the window could not react), and the
   time until the clip is playable. "before" runs only on the 60-frame clip (300 frames would
   take ~15 GB); "after" runs on both.
2. Start image: a 109 KB PNG claiming 30000x30000 pixels through the backend's start-image
   loader (refused from its header): peak RSS growth and time.
3. Embedded model: a checkpoint whose dit.safetensors carries an extra 1.5 GB tensor (a sparse
   file, so it costs no disk): peak RSS growth and time until it is refused.

Each figure is the median of ``--runs`` runs. Every run checks its own result (frames shown,
their size, the refusal's message); if any check fails, the run is named with the reason, no
figure is printed and the exit code is 1. The last line is one JSON object with ``"ok"``
(bench/benchlib.py). Smoke run: ``--runs 1 --only start_image_png_bomb``.

    QT_QPA_PLATFORM=offscreen python bench/bench_inputs.py [--runs 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib  # bench/ is sys.path[0] when this script runs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# ---------------------------------------------------------------------------- child runs
def child_player(path: str, mode: str, expect_frames: int) -> dict:
    import cv2
    import numpy as np
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from sora_desktop.ui.images import frame_to_qimage
    from sora_desktop.ui.player import MAX_SIDE, PlayerViewModel

    app = QApplication.instance() or QApplication([])
    vm = PlayerViewModel()
    base = _rss_mb()
    ticks: list[float] = []
    beat = QTimer()
    beat.setInterval(10)
    beat.timeout.connect(lambda: ticks.append(time.perf_counter()))
    result: dict = {}

    def legacy_load() -> None:
        """The player's loader before this change: engine.export.read_video then
        load_frames, all on the GUI thread, at full size."""
        cap = cv2.VideoCapture(path)
        frames = []
        while True:
            ok, img = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        cap.release()
        stacked = np.stack(frames)
        vm.frames = [frame_to_qimage(np.asarray(f)) for f in stacked]

    def start() -> None:
        ticks.append(time.perf_counter())
        result["t0"] = time.perf_counter()
        if mode == "before":
            legacy_load()
        else:
            vm.load_clip(path, "bench")

    def check() -> None:
        if len(vm.frames) >= expect_frames and not getattr(vm, "loading", False):
            result["t1"] = time.perf_counter()
            app.quit()

    beat.start()
    QTimer.singleShot(50, start)
    poll = QTimer()
    poll.timeout.connect(check)
    poll.start(20)
    QTimer.singleShot(600_000, app.quit)
    app.exec()
    ticks.append(time.perf_counter())
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    sizes = {(f.width(), f.height()) for f in vm.frames}
    ok = "t1" in result and len(vm.frames) == expect_frames
    if mode == "after":
        ok = ok and all(max(s) <= MAX_SIDE for s in sizes)
    return {
        "ok": ok,
        "frames": len(vm.frames),
        "frame_size": sorted(sizes)[0] if sizes else None,
        "peak_rss_mb": round(_rss_mb(), 1),
        "rss_growth_mb": round(_rss_mb() - base, 1),
        "longest_gui_stall_s": round(max(gaps), 3),
        "seconds_to_playable": round(result.get("t1", 0) - result.get("t0", 0), 2),
    }


def child_start_image(path: str) -> dict:
    from sora_desktop.engine.embedded.pipeline import load_start_image

    base = _rss_mb()
    t0 = time.perf_counter()
    try:
        load_start_image(path, 64)
        message = None
    except ValueError as exc:
        message = str(exc)
    took = time.perf_counter() - t0
    return {
        "ok": message is not None and "too large" in message,
        "message": message,
        "rss_growth_mb": round(_rss_mb() - base, 1),
        "seconds": round(took, 3),
    }


def child_model(folder: str) -> dict:
    from sora_desktop.engine.embedded.weights import load_checkpoint

    base = _rss_mb()
    t0 = time.perf_counter()
    try:
        load_checkpoint(Path(folder))
        message = None
    except ValueError as exc:
        message = str(exc)
    took = time.perf_counter() - t0
    return {
        "ok": message is not None and "does not use" in message,
        "message": message,
        "rss_growth_mb": round(_rss_mb() - base, 1),
        "seconds": round(took, 3),
    }


# ---------------------------------------------------------------------------- inputs
def model_with_extra_tensor(out: Path, extra_bytes: int) -> Path:
    """The shipped-or-untrained checkpoint, with an extra F16 tensor of ``extra_bytes`` added
    to dit.safetensors; the tensor's bytes are a hole in a sparse file."""
    from tests.robust_support import untrained_checkpoint

    folder = untrained_checkpoint(out)
    file = folder / "dit.safetensors"
    raw = file.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    end = len(data)
    header["extra.payload"] = {
        "dtype": "F16",
        "shape": [extra_bytes // 2],
        "data_offsets": [end, end + extra_bytes],
    }
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(file, "wb") as fh:
        fh.write(len(text).to_bytes(8, "little") + text + data)
        fh.truncate(8 + len(text) + end + extra_bytes)
    return folder


def run_child(args: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"ok": False, "error": proc.stderr[-2000:]}
    return json.loads(lines[-1])


def median_of(runs: list[dict]) -> dict:
    out: dict = {"ok": all(r.get("ok") for r in runs), "runs": len(runs)}
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = statistics.median(r[key] for r in runs)
        elif key not in ("ok",):
            out[key] = value
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--only", nargs="+", choices=CASES, help="run only these cases")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "player":
            res = child_player(rest[0], rest[1], int(rest[2]))
        elif kind == "start_image":
            res = child_start_image(rest[0])
        else:
            res = child_model(rest[0])
        print(json.dumps(res))
        return 0

    if args.runs < 1:
        ap.error("--runs: at least 1")
    info = {"runs": args.runs}
    return benchlib.run("inputs", lambda checks: _bench(args, checks, info), info)


CASES = (
    "player_4k_60_before",
    "player_4k_60_after",
    "player_4k_300_after",
    "start_image_png_bomb",
    "model_extra_1_5_gb_tensor",
)


def _bench(args: argparse.Namespace, checks: benchlib.Checks, info: dict) -> dict:
    from tests.robust_support.hostile_files import png_bomb, still_video

    only = args.only or CASES
    work = Path(tempfile.mkdtemp(prefix="sora-bench-inputs-"))
    info["machine"] = f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}"
    inputs, cases = {}, {}
    if any(c.startswith("player_4k_60") for c in only):
        clip60 = still_video(work / "4k_60.mp4", 3840, 2160, 60)
        inputs["clip_4k_60_bytes"] = clip60.stat().st_size
        cases["player_4k_60_before"] = ["player", str(clip60), "before", "60"]
        cases["player_4k_60_after"] = ["player", str(clip60), "after", "60"]
    if "player_4k_300_after" in only:
        clip300 = still_video(work / "4k_300.mp4", 3840, 2160, 300)
        inputs["clip_4k_300_bytes"] = clip300.stat().st_size
        cases["player_4k_300_after"] = ["player", str(clip300), "after", "300"]
    if "start_image_png_bomb" in only:
        bomb = png_bomb(work / "bomb.png")
        inputs["png_bomb_bytes"] = bomb.stat().st_size
        cases["start_image_png_bomb"] = ["start_image", str(bomb)]
    if "model_extra_1_5_gb_tensor" in only:
        model = model_with_extra_tensor(work / "model", 1536 * 1024 * 1024)
        inputs["extra_tensor_bytes"] = 1536 * 1024 * 1024
        cases["model_extra_1_5_gb_tensor"] = ["model", str(model)]
    report: dict = {"machine": info["machine"], "inputs": inputs}
    results = {}
    for name in [c for c in CASES if c in only]:
        runs = []
        for i in range(args.runs):
            res = run_child(cases[name])
            why = res.get("error") or f"wrong result: {json.dumps(res)[:300]}"
            if checks.check(f"{name} run {i + 1}", bool(res.get("ok")), why):
                runs.append(res)
        if len(runs) == args.runs:
            results[name] = median_of(runs)
            print(f"{name}: {json.dumps(results[name])}", file=sys.stderr, flush=True)
    if not checks.ok:
        return {}
    report.update(results)
    if "player_4k_60_before" in results and "player_4k_60_after" in results:
        before, after = results["player_4k_60_before"], results["player_4k_60_after"]
        report["player_4k_60_ratio_after_over_before"] = {
            "rss_growth": round(after["rss_growth_mb"] / before["rss_growth_mb"], 3),
            "longest_gui_stall": round(
                after["longest_gui_stall_s"] / before["longest_gui_stall_s"], 3
            ),
        }
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return {k: v for k, v in report.items() if k != "machine"}


if __name__ == "__main__":
    sys.exit(main())
