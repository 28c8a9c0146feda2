import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Tests never write the real user's settings, data (e.g. the signing certificate) or recovery
# folders; a test that needs a home of its own sets SORA_DESKTOP_HOME itself.
os.environ.setdefault("SORA_DESKTOP_HOME", tempfile.mkdtemp(prefix="sora-tests-home-"))

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _logs_stay_in_tmp(monkeypatch, tmp_path_factory):
    """In-process runs of the CLI or app configure logging: never into the real user log
    folder, and no handler is left behind for the next test."""
    from sora_desktop.core import logs

    folder = tmp_path_factory.getbasetemp() / "user-logs"
    monkeypatch.setattr(logs, "_user_log_dir", lambda: folder)
    yield
    logs.shutdown()


@pytest.fixture(scope="session")
def micro_model_dir(tmp_path_factory) -> Path:
    """A micro checkpoint trained for a few steps by the real recipe (seconds on a CPU)."""
    out = tmp_path_factory.mktemp("micro_model")
    cmd = [
        sys.executable,
        str(ROOT / "model" / "train.py"),
        "--preset",
        "micro",
        "--out",
        str(out),
        "--vae-steps",
        "2",
        "--dit-steps",
        "2",
        "--pool",
        "8",
        "--batch",
        "4",
        "--save-every",
        "2",
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return out


@pytest.fixture(scope="session")
def shipped_model_dir() -> Path:
    path = ROOT / "model" / "embedded"
    if not (path / "dit.safetensors").is_file():
        pytest.fail("the shipped checkpoint model/embedded/dit.safetensors is missing")
    return path
