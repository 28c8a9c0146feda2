"""Issue 20: the built-in model names the words it cannot draw, before generating (the check,
and `sora-desktop generate`'s warning on stderr through the installed command), and the CLI's
exports are at least 512 px with no `.json` beside them unless `--sidecar` asks for one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from sora_desktop.studio.vocabulary import EXAMPLE_PROMPTS, checks_model, unknown_words

ROOT = Path(__file__).resolve().parents[1]


# the expected lists are written by hand from the world's vocabulary (engine/embedded/world.py,
# engine/enhance/lexicon.py): shapes, colours, motions, backgrounds and their synonyms
@pytest.mark.parametrize(
    ("prompt", "unknown"),
    [
        ("a cat walking in the rain", ["cat", "walking", "rain"]),
        ("A red ball bounces on a green background", []),
        ("a crimson disc drifts toward the top right corner against a navy blue backdrop", []),
        ("Two cubes moving left and a sphere growing", []),
        ("a grey dog jumps over 3 fences at sunset", ["grey", "dog", "fences", "sunset"]),
        ("a five-pointed star doesn't move", []),
        ("A Cat, a CAT and a cat!", ["cat"]),  # each once, lower case, in order
        (
            "a photorealistic city street with people",
            ["photorealistic", "city", "street", "people"],
        ),
        ("", []),
    ],
)
def test_unknown_words_lists_exactly_the_words_outside_the_world(prompt, unknown):
    assert unknown_words(prompt) == unknown


def test_example_prompts_are_all_known_and_only_the_built_in_model_is_checked():
    for prompt in EXAMPLE_PROMPTS:
        assert unknown_words(prompt) == [], prompt
    assert checks_model("sora-desktop/embedded-tiny")
    assert not checks_model("wan2.1-t2v-1.3b")


def _cli() -> str:
    exe = Path(sys.executable).parent / "sora-desktop"
    if not exe.is_file():
        pytest.skip("the sora-desktop console script is not installed next to this python")
    return str(exe)


def _generate(tmp_path: Path, prompt: str, *extra: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SORA_DESKTOP_HOME": str(tmp_path / "home"),
        "HF_HUB_OFFLINE": "1",
    }
    cmd = [_cli(), "generate", prompt, "--steps", "1", "--frames", "4", "--seed", "3", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def _size(path: Path) -> tuple[int, int]:
    cap = cv2.VideoCapture(str(path))
    ok, frame = cap.read()
    cap.release()
    assert ok, path
    return frame.shape[1], frame.shape[0]


def test_cli_warns_on_stderr_and_still_generates_a_512px_clip_without_sidecar(tmp_path):
    out = tmp_path / "videos" / "rain.mp4"
    out.parent.mkdir()
    proc = _generate(tmp_path, "a cat walking in the rain", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    warning = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1, proc.stderr
    assert "cat, walking, rain" in warning[0]
    assert "shapes, colours and motions" in warning[0]
    assert "sora-desktop models" in warning[0]
    assert "warning" not in proc.stdout
    width, height = _size(out)
    assert min(width, height) >= 512  # the 64x64 model, enlarged by default
    assert sorted(p.name for p in out.parent.iterdir()) == ["rain.mp4"]  # no stray .json


def test_cli_known_prompt_has_no_warning_and_sidecar_is_an_option(tmp_path):
    out = tmp_path / "ball.mp4"
    proc = _generate(
        tmp_path, "a red ball moves left on a blue background", "-o", str(out), "--sidecar"
    )
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr
    assert (tmp_path / "ball.mp4.json").is_file()
    assert min(_size(out)) >= 512
