"""The installed ``sora-desktop`` command: a decode that runs out of memory keeps the latents
and names ``sora-desktop decode``, which makes the same clip from them without denoising;
a hostile latents file gets one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent / "sora-desktop"

# Loaded at interpreter start-up (sitecustomize on PYTHONPATH): the full VAE decode runs out of
# memory, as a too-large clip would on a small GPU; the low-memory decode still fits. Each
# denoising run is counted in a file.
HOOK = textwrap.dedent(
    """
    import os
    if os.environ.get("SORA_TEST_DECODE_OOM"):
        import torch
        from sora_desktop.engine import sampler
        from sora_desktop.engine.embedded import pipeline
        from sora_desktop.engine.embedded.vae import VideoVAE

        def oom(self, z):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

        real = pipeline.euler_sample

        def counted(*args, **kwargs):
            with open(os.environ["SORA_TEST_DECODE_OOM"], "a") as fh:
                fh.write("denoise\\n")
            yield from real(*args, **kwargs)

        VideoVAE.decode = oom
        pipeline.euler_sample = counted
    """
)


def _run(tmp_path: Path, micro_model_dir: Path, *argv: str, oom: bool = True):
    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(HOOK)
    env = {
        **os.environ,
        "SORA_DESKTOP_HOME": str(tmp_path / "home"),
        "SORA_DESKTOP_EMBEDDED_MODEL": str(micro_model_dir),
        "PYTHONPATH": f"{hook}{os.pathsep}{ROOT}",
        "HF_HUB_OFFLINE": "1",
    }
    if oom:
        env["SORA_TEST_DECODE_OOM"] = str(tmp_path / "denoise.log")
    else:
        env.pop("SORA_TEST_DECODE_OOM", None)
    proc = subprocess.run(
        [str(BIN), *argv], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_failed_decode_keeps_latents_and_decode_makes_the_clip(tmp_path, micro_model_dir):
    from sora_desktop.engine.export import read_video

    gen = ("generate", "a red ball rolls", "--steps", "2", "--frames", "16", "--seed", "11")
    gen += ("--upscale", "1")  # the decode restores the take at the model's size
    code, _out, err = _run(tmp_path, micro_model_dir, *gen, "-o", "out/clip.mp4")
    latents = tmp_path / "out" / "clip.latents.npz"
    assert code == 1, err
    assert "ran out of memory" in err, err
    assert "sora-desktop decode out/clip.latents.npz -o out/clip.mp4" in err
    assert latents.is_file() and not (tmp_path / "out" / "clip.mp4").exists()
    assert (tmp_path / "denoise.log").read_text().count("denoise") == 1

    code, out, err = _run(tmp_path, micro_model_dir, "decode", str(latents))
    assert code == 0, err
    clip = tmp_path / "out" / "clip.mp4"
    assert f"saved: {clip}" in out
    assert (tmp_path / "denoise.log").read_text().count("denoise") == 1  # no denoising again
    frames, fps = read_video(clip)
    assert frames.shape == (16, 64, 64, 3) and round(fps) == 8

    # the same seed through the normal path (no out-of-memory) gives the same clip
    code, _out, err = _run(tmp_path, micro_model_dir, *gen, "-o", "normal.mp4", oom=False)
    assert code == 0, err
    normal, _ = read_video(tmp_path / "normal.mp4")
    assert np.abs(normal.astype(int) - frames.astype(int)).mean() < 0.5
    assert not list(tmp_path.glob("normal*.latents.npz"))  # a finished clip keeps none


def test_decode_refuses_a_hostile_latents_file_in_one_line(tmp_path, micro_model_dir):
    bad = tmp_path / "bad.latents.npz"
    bad.write_bytes(b"PK\x03\x04" + b"\0" * 40)
    code, _out, err = _run(tmp_path, micro_model_dir, "decode", str(bad), oom=False)
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[-1].startswith("error: latents: bad.latents.npz cannot be used")
    assert "Traceback" not in err
