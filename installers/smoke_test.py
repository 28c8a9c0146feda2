"""Smoke-test a built bundle: the frozen program must work on its own, offline.

    python installers/smoke_test.py dist/sora-desktop [--runs 3] [--report smoke.json]

Checks (each a line ``PASS``/``FAIL``; exit 1 if any fails):
1. ``info``: the embedded model and ffmpeg are found *inside* the bundle (not the repo, not the
   system's ffmpeg).
2. ``generate`` with the embedded model writes a readable 16-frame MP4 (enlarged by default to
   512x512) and, with ``--sidecar``, its metadata sidecar.
3. ``--smoke-test`` opens the studio window offscreen and closes it with exit code 0.
4. ``install.sh`` (when present beside the program) installs into a scratch prefix; the
   installed command runs through its symlink and the .desktop entry points at it.
5. Tiny random open-weight models (a diffusers Wan video model and a Qwen2 prompt enhancer,
   built here with tests/tiny_models.py) run through the bundled diffusers/transformers path
   (skip with --no-diffusers).

The bundled program runs with a clean environment: no PYTHONPATH, no SORA_DESKTOP_* overrides,
HF_HUB_OFFLINE=1, an empty SORA_DESKTOP_HOME and HF_HOME, the working folder outside the repo,
and, where ``unshare -n`` works (Linux, root or user namespaces), no network at all.

Timings: seconds from starting the process to the window being shown / to ``generate``
finishing (load + 25 steps + MP4 export), first run (cold) and the median of ``--runs``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "a red circle moves right on a blue background"
RESULTS: list[tuple[str, bool, str]] = []


def check(name: str, ok: bool, detail: str = "") -> bool:
    RESULTS.append((name, ok, detail))
    print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    return ok


def network_prefix() -> list[str]:
    """``unshare -n`` (or ``-rn`` without root) when this system allows it, else nothing."""
    if sys.platform != "linux" or not shutil.which("unshare"):
        return []
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return []


def clean_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SORA_DESKTOP_", "PYTHON", "HF_", "HUGGINGFACE", "TRANSFORMERS_"))
        and k not in ("IMAGEIO_FFMPEG_EXE", "QT_PLUGIN_PATH", "LD_LIBRARY_PATH")
    }
    env.update(
        SORA_DESKTOP_HOME=str(home),
        HF_HOME=str(home / "hf"),
        HF_HUB_OFFLINE="1",
        QT_QPA_PLATFORM="offscreen",
    )
    return env


class Runner:
    def __init__(self, command: list[str], work: Path, prefix: list[str]):
        self.command, self.work, self.prefix = command, work, prefix
        self.env = clean_env(work / "home")

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 600):
        start = time.perf_counter()
        proc = subprocess.run(
            [*self.prefix, *self.command, *args],
            cwd=self.work,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return proc, time.perf_counter() - start

    def window(self, timeout: float = 300) -> tuple[int, float | None, float, str]:
        """(exit code, seconds to 'window shown', seconds to exit, output)."""
        start = time.perf_counter()
        proc = subprocess.Popen(
            [*self.prefix, *self.command, "--smoke-test"],
            cwd=self.work,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        shown = None
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if shown is None and line.startswith("window shown:"):
                shown = time.perf_counter() - start
        code = proc.wait(timeout=timeout)
        return code, shown, time.perf_counter() - start, "".join(lines)


def inside(path_text: str, bundle: Path) -> bool:
    try:
        Path(path_text).resolve().relative_to(bundle.resolve())
        return True
    except ValueError:
        return False


def read_mp4(path: Path) -> tuple[int, tuple[int, int]]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    frames, shape = 0, (0, 0)
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames += 1
        shape = frame.shape[:2]
    cap.release()
    return frames, shape


def check_info(r: Runner, bundle: Path) -> None:
    proc, _ = r.run("info", timeout=300)
    out = proc.stdout
    lines = {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in out.splitlines())}
    model = lines.get("model folder", "")
    ffmpeg = lines.get("ffmpeg", "")
    ok = proc.returncode == 0
    check("info runs", ok, "" if ok else proc.stderr.strip()[-400:])
    check(
        "embedded model is inside the bundle",
        model.endswith("(present)") and inside(model.rsplit(" (", 1)[0], bundle),
        model,
    )
    check("ffmpeg is the bundled one", inside(ffmpeg, bundle) and Path(ffmpeg).is_file(), ffmpeg)


def check_generate(r: Runner, runs: int) -> list[float]:
    times = []
    for i in range(runs):
        out = r.work / f"clip{i}.mp4"
        proc, seconds = r.run("generate", PROMPT, "--seed", "1", "-o", str(out), "--sidecar")
        ok = proc.returncode == 0
        if not check(f"generate run {i + 1}", ok, "" if ok else proc.stderr.strip()[-600:]):
            return times
        times.append(seconds)
        frames, shape = read_mp4(out)
        sidecar = out.with_name(out.name + ".json")
        meta = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
        check(
            f"clip {i + 1} is a 16-frame 512x512 MP4 (the 64x64 model enlarged) with its metadata",
            frames == 16 and shape == (512, 512) and PROMPT in json.dumps(meta),
            f"{frames} frames of {shape}, {seconds:.2f} s",
        )
    return times


def check_window(r: Runner, runs: int) -> list[float]:
    times = []
    for i in range(runs):
        code, shown, total, output = r.window()
        ok = code == 0 and shown is not None and "Sora Desktop" in output
        ok = ok and "Traceback" not in output
        detail = (
            f"shown after {shown:.2f} s, exited after {total:.2f} s" if shown else output[-600:]
        )
        if not check(f"window opens and closes, run {i + 1}", ok, detail):
            return times
        times.append(shown)
    return times


def check_install(r: Runner, bundle: Path) -> None:
    script = bundle / "install.sh"
    if not script.is_file():
        print("skip install.sh check: not in the bundle folder")
        return
    prefix = r.work / "prefix"
    env = dict(r.env, PREFIX=str(prefix))
    proc = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=600)
    if not check("install.sh installs", proc.returncode == 0, (proc.stdout + proc.stderr)[-400:]):
        return
    link = prefix / "bin" / "sora-desktop"
    run = subprocess.run(
        [str(link), "info"], cwd=r.work, env=r.env, capture_output=True, text=True, timeout=300
    )
    check(
        "installed command runs through its symlink",
        run.returncode == 0 and "(present)" in run.stdout,
        run.stderr.strip()[-300:],
    )
    desktop = prefix / "share" / "applications" / "sora-desktop.desktop"
    text = desktop.read_text() if desktop.is_file() else ""
    exec_line = next((ln for ln in text.splitlines() if ln.startswith("Exec=")), "")
    target = exec_line[len("Exec=") :].split(" ")[0]
    check(
        "installed .desktop entry runs the installed program",
        bool(target) and Path(target).resolve() == link.resolve(),
        exec_line,
    )
    icon = prefix / "share" / "icons" / "hicolor" / "512x512" / "apps" / "sora-desktop.png"
    check("icon installed", icon.is_file(), str(icon))
    if shutil.which("desktop-file-validate"):
        v = subprocess.run(["desktop-file-validate", str(desktop)], capture_output=True, text=True)
        check("desktop-file-validate", v.returncode == 0, (v.stdout + v.stderr).strip())
    proc = subprocess.run(
        ["sh", str(script), "--uninstall"], env=env, capture_output=True, text=True, timeout=300
    )
    check(
        "install.sh --uninstall removes it",
        proc.returncode == 0 and not link.exists() and not desktop.exists(),
        (proc.stdout + proc.stderr)[-300:],
    )


def install_as_downloaded(staging: Path, entry, models_dir: Path) -> None:
    """Put a model folder where the downloader would, with the manifest it would write."""
    from sora_desktop.core.catalog import MANIFEST_NAME, MANIFEST_VERSION

    folder = entry.folder(models_dir)
    shutil.copytree(staging, folder)
    files = [
        {"path": p.relative_to(folder).as_posix(), "size": p.stat().st_size}
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]
    manifest = {
        "version": MANIFEST_VERSION,
        "model_id": entry.id,
        "repo_id": entry.repo_id,
        "complete": True,
        "source": "smoke-test",
        "files": files,
    }
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))


def check_diffusers(r: Runner) -> None:
    """Tiny random open-weight models (a diffusers Wan video model and a Qwen2 prompt
    enhancer), installed as if downloaded, run through the bundle."""
    sys.path.insert(0, str(ROOT))
    os.environ["SORA_DESKTOP_HOME"] = r.env["SORA_DESKTOP_HOME"]
    from sora_desktop.core.catalog import load_catalog
    from sora_desktop.core.settings import default_paths
    from tests import tiny_models as tm

    catalog_path = r.work / "catalog.json"
    wan = tm.save_tiny_video_model("wan", r.work / "tiny-wan")
    llm = tm.save_tiny_llm(r.work / "tiny-llm")
    tm.write_catalog(catalog_path, [wan, llm])
    entries = {e.id: e for e in load_catalog(catalog_path)}
    install_as_downloaded(r.work / "tiny-wan", entries[wan["id"]], default_paths().models)
    install_as_downloaded(r.work / "tiny-llm", entries[llm["id"]], default_paths().models)
    env = dict(r.env, SORA_DESKTOP_CATALOG=str(catalog_path))
    out = r.work / "tiny-wan.mp4"
    proc, seconds = r.run(
        "generate", "a blue car drives on the street", "--model", wan["id"], "--seed", "1",
        "--steps", "2", "--frames", "9", "--size", "32x32", "--fps", "8",
        "--enhance", "--enhancer", "llm", "-o", str(out),
        env=env,
    )  # fmt: skip
    ok = proc.returncode == 0
    frames, shape = read_mp4(out) if ok else (0, (0, 0))
    check(
        "open-weight (diffusers) model generates in the bundle",
        ok and frames == 9 and shape == (32, 32),
        f"{frames} frames of {shape}, {seconds:.2f} s" if ok else proc.stderr.strip()[-600:],
    )
    enhanced = next(
        (ln for ln in proc.stderr.splitlines() if ln.startswith("enhanced prompt:")), ""
    )
    check(
        "LLM prompt enhancer (transformers Qwen2) runs in the bundle",
        ok and bool(enhanced),
        enhanced,
    )


def source_baseline(r: Runner, exe: Path, runs: int) -> dict:
    """The same runs from the source tree with the bundle's weights: what freezing costs."""
    model = next(exe.parent.rglob("model/embedded"), None)
    env = dict(r.env, PYTHONPATH=str(ROOT))
    if model is not None:
        env["SORA_DESKTOP_EMBEDDED_MODEL"] = str(model.resolve())  # the runs' cwd is elsewhere
    src = Runner([sys.executable, "-m", "sora_desktop.cli"], r.work, r.prefix)
    src.env = env
    gen, win = [], []
    for i in range(runs):
        proc, seconds = src.run("generate", PROMPT, "--seed", "1", "-o", str(r.work / f"s{i}.mp4"))
        if proc.returncode == 0:
            gen.append(seconds)
        code, shown, _, _ = src.window()
        if code == 0 and shown is not None:
            win.append(shown)
    out = {
        "generate_s_median": round(statistics.median(gen), 2) if gen else None,
        "window_shown_s_median": round(statistics.median(win), 2) if win else None,
    }
    print(f"source tree, same weights: {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", type=Path, help="the one-folder bundle, e.g. dist/sora-desktop")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each (default 3)")
    parser.add_argument("--report", type=Path, help="write the figures as JSON here")
    parser.add_argument("--no-diffusers", action="store_true", help="skip the tiny Wan check")
    parser.add_argument(
        "--only",
        default="info,generate,window,install,diffusers",
        help="comma-separated checks to run (default: all)",
    )
    parser.add_argument(
        "--source-baseline",
        action="store_true",
        help="also time the same generate/window runs from the source tree (same weights)",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs: must be at least 1")
    name = "sora-desktop.exe" if sys.platform == "win32" else "sora-desktop"
    # A macOS .app keeps its program in Contents/MacOS and its files in Contents/Frameworks.
    folder = args.bundle / "Contents" / "MacOS" if args.bundle.suffix == ".app" else args.bundle
    exe = folder / name
    if not exe.is_file():
        print(f"FAIL no program at {exe}", file=sys.stderr)
        return 1
    prefix = network_prefix()
    print(f"network: {'none (' + ' '.join(prefix) + ')' if prefix else 'HF_HUB_OFFLINE=1 only'}")
    only = set(args.only.split(","))
    if args.no_diffusers:
        only.discard("diffusers")
    gen, win, base = [], [], {}
    with tempfile.TemporaryDirectory(prefix="sora-smoke-") as tmp:
        r = Runner([str(exe.resolve())], Path(tmp), prefix)
        if "info" in only:
            check_info(r, args.bundle)
        if "generate" in only:
            gen = check_generate(r, args.runs)
        if "window" in only:
            win = check_window(r, args.runs)
        if "install" in only:
            check_install(r, args.bundle)
        if "diffusers" in only:
            try:
                check_diffusers(r)
            except Exception as exc:  # noqa: BLE001 - report it as a failed check
                check("open-weight (diffusers) model generates in the bundle", False, repr(exc))
        if args.source_baseline:
            base = source_baseline(r, exe, args.runs)
    size = sum(
        p.stat().st_size for p in args.bundle.rglob("*") if p.is_file() and not p.is_symlink()
    )
    figures = {
        "bundle_mb": round(size / 1e6, 1),
        "generate_s_first": round(gen[0], 2) if gen else None,
        "generate_s_median": round(statistics.median(gen), 2) if gen else None,
        "window_shown_s_first": round(win[0], 2) if win else None,
        "window_shown_s_median": round(statistics.median(win), 2) if win else None,
        "runs": args.runs,
        "source_baseline": base,
        "network_isolated": bool(prefix),
        "checks": [{"name": n, "ok": ok, "detail": d} for n, ok, d in RESULTS],
    }
    failed = [n for n, ok, _ in RESULTS if not ok]
    print(
        f"bundle: {figures['bundle_mb']} MB; window shown: {figures['window_shown_s_first']} s "
        f"first, {figures['window_shown_s_median']} s median; generate (16 frames, 25 steps): "
        f"{figures['generate_s_first']} s first, {figures['generate_s_median']} s median"
    )
    if args.report:
        args.report.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"{len(RESULTS) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
