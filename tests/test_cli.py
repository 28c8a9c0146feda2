"""The sora-desktop command line: generate, eval, info, app launch, errors and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from sora_desktop import cli
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine import registry
from sora_desktop.engine.backend import (
    Backend,
    BackendCapabilities,
    GenerationResult,
    StepEvent,
)
from sora_desktop.engine.export import read_metadata, read_video, request_from_file

ROOT = Path(__file__).resolve().parents[1]


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["generate", ""], "PROMPT: must not be empty"),
        (["generate", "a" * 10_000], "PROMPT: 10000 characters"),
        (["generate", "a red ball", "--size", "65x64"], "--size (Size)"),
        (["generate", "a red ball", "--frames", "0"], "--frames (Duration)"),
        (["generate", "a red ball", "--size", "big"], "--size"),
        (["generate", "a red ball", "--seconds", "2", "--frames", "16"], "not both"),
        (["generate", "a red ball", "--seconds", "-1"], "--seconds"),
        (["generate", "a red ball", "--steps", "0"], "steps"),
        (["generate", "a red ball", "--seed", "-3"], "--seed"),
        (["generate", "a red ball", "--upscale", "0"], "upscale"),
        (["generate", "a red ball", "-o", "clip.avi"], "suffix"),
        (["generate", "a red ball", "-o", "clip.mp4", "--format", "gif"], "--format"),
        (["generate", "a red ball", "--start-image", "/no/such/image.png"], "--start-image"),
        (["generate", "a red ball", "--device", "tpu"], "--device (Device)"),
        (["generate", "a red ball", "--model", "nobody/nothing"], "--model (Model)"),
        (["generate", "a red ball", "--frobnicate"], "unrecognized"),
        (["generate"], "prompt"),
        (["eval", "--n", "0"], "--n"),
    ],
)
def test_invalid_input_exits_2_with_one_clear_line(capsys, tmp_path, monkeypatch, argv, field):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(capsys, *argv)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines[-1].startswith("error: ") and field in lines[-1]
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_both_seconds_and_frames_is_explained(capsys):
    code, _, err = run_main(
        capsys, "generate", "x", "--seconds", "2", "--fps", "8", "--frames", "10"
    )
    assert code == 2
    assert "either --seconds or --frames" in err and "16 frames" in err


def test_unwritable_output_folder_fails_before_generating(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run_main(capsys, "generate", "a red ball", "-o", str(blocker / "c.mp4"))
    assert code == 1 and err.strip().splitlines()[-1].startswith("error: cannot export")


# ------------------------------------------------------------------------------ generate


def test_generate_with_the_micro_model(capsys, tmp_path, micro_model_dir):
    out_file = tmp_path / "clip.mp4"
    code, out, err = run_main(
        capsys,
        "generate",
        "red ball right",
        "-o",
        str(out_file),
        "--model-dir",
        str(micro_model_dir),
        "--seed",
        "42",
        "--steps",
        "2",
        "--seconds",
        "3",
        "--fps",
        "8",
        "--enhance",
        "--upscale",
        "2",
        "--negative",
        "blurry",
        "--device",
        "cpu",
    )
    assert code == 0, err
    assert f"saved: {out_file}" in out and "seed: 42" in out
    assert "enhanced prompt: a red circle moves to the right" in err
    assert "segment 2/2" in err  # 24 frames = two chained 16-frame windows
    frames, fps = read_video(out_file)
    assert frames.shape == (24, 128, 128, 3) and fps == pytest.approx(8)
    req = request_from_file(out_file)
    assert req.seed == 42 and req.steps == 2 and req.num_frames == 24
    assert req.original_prompt == "red ball right"
    assert req.prompt.startswith("a red circle moves to the right")
    assert req.negative_prompt == "blurry"
    assert read_metadata(out_file)["ai_generated"] is True


def test_random_seed_is_printed_and_recorded(capsys, tmp_path, micro_model_dir):
    out_file = tmp_path / "clip.gif"
    code, out, err = run_main(
        capsys,
        "generate",
        "a blue square falls",
        "-o",
        str(out_file),
        "--model-dir",
        str(micro_model_dir),
        "--steps",
        "1",
        "--frames",
        "4",
    )
    assert code == 0, err
    seed = int(out.split("seed: ")[1].split()[0])
    assert request_from_file(out_file).seed == seed


def test_python_dash_m_entry_point(tmp_path, micro_model_dir):
    env = {
        **os.environ,
        "SORA_DESKTOP_EMBEDDED_MODEL": str(micro_model_dir),
        "PYTHONPATH": str(ROOT),
    }
    out_file = tmp_path / "frames.png"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sora_desktop.cli",
            "generate",
            "a green star orbits",
            "-o",
            str(out_file),
            "--steps",
            "1",
            "--frames",
            "5",
            "--seed",
            "7",
            "--watermark",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "frames_frames"
    assert len(list(folder.glob("frame_*.png"))) == 5
    assert read_metadata(folder)["export"]["watermark"] is True


# ------------------------------------------------------------------------------ Ctrl-C


class _SigintBackend(Backend):
    """Presses Ctrl-C on itself at step 2, then keeps going as a real model would."""

    model_id = "test/sigint"

    def __init__(self) -> None:
        self.steps_after_cancel = 0

    def capabilities(self) -> BackendCapabilities:
        return BackendCapabilities(sizes=(), max_frames=64, supports_start_image=False)

    def generate(self, request, cancel=None):
        for step in range(1, 11):
            if cancel is not None and cancel.cancelled:
                self.steps_after_cancel += 1
            cancel.raise_if_cancelled()
            if step == 2:
                os.kill(os.getpid(), signal.SIGINT)
            yield StepEvent(step, 10)
        frames = np.zeros((request.num_frames, request.height, request.width, 3), np.uint8)
        yield GenerationResult(frames, request.fps, request)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_cancels_cleanly_and_leaves_no_file(capsys, tmp_path, monkeypatch):
    backend = _SigintBackend()
    monkeypatch.setitem(registry._factories, "test/sigint", lambda model_id, device: backend)
    registry.unload_all()
    before = signal.getsignal(signal.SIGINT)
    out_file = tmp_path / "clip.mp4"
    code, out, err = run_main(
        capsys,
        "generate",
        "a red ball",
        "--model",
        "test/sigint",
        "-o",
        str(out_file),
        "--device",
        "cpu",
    )
    registry.unload_all()
    assert code == 130
    assert "cancelled" in err and "Traceback" not in err
    assert backend.steps_after_cancel == 1  # it stopped at the next step, not at the end
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGINT) is before  # the CLI's handler is gone again


# ------------------------------------------------------------------------------ eval, info, app


def test_eval_writes_report(capsys, tmp_path, micro_model_dir):
    report = tmp_path / "r.json"
    code, out, err = run_main(
        capsys,
        "eval",
        "--n",
        "2",
        "--steps",
        "1",
        "--seed",
        "1",
        "--out",
        str(report),
        "--model-dir",
        str(micro_model_dir),
    )
    assert code == 0, err
    data = json.loads(report.read_text())
    assert data["n"] == 2 and data["steps"] == 1 and len(data["clips"]) == 2
    assert set(data["accuracy"]) == {"color", "background", "direction", "motion", "shape"}
    assert all(GenerationRequest(prompt=c["caption"]) for c in data["clips"])
    assert "| color |" in out and (tmp_path / "r.md").read_text().startswith("Held-out")


def test_info(capsys):
    code, out, _ = run_main(capsys, "info")
    assert code == 0
    assert "Sora Desktop" in out and "device: cpu" in out and "model folder:" in out


def test_no_arguments_opens_the_app(capsys, monkeypatch):
    calls = []
    fake = types.ModuleType("sora_desktop.ui.app")
    fake.main = lambda: calls.append("opened") or 0
    monkeypatch.setitem(sys.modules, "sora_desktop.ui.app", fake)
    assert cli.main([]) == 0
    assert calls == ["opened"]


def test_no_arguments_without_the_app_says_what_to_do(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "sora_desktop.ui.app", None)  # import fails
    code, _, err = run_main(capsys)
    assert code == 1 and "sora-desktop generate" in err
