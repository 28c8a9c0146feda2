"""``sora-desktop models list|download|delete|import`` against the fake hub, in real processes
started without HF_HUB_OFFLINE (as a user's shell starts them); and the embedded model never
touching the network either way."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import textwrap
import time
from pathlib import Path

import pytest
from fakehub import FakeHub, FileFaults

from sora_desktop.core.catalog import KINDS, is_installed, load_catalog

ROOT = Path(__file__).resolve().parents[1]
WAN = "wan2.1-t2v-1.3b"
WEIGHTS = "transformer/diffusion_pytorch_model.safetensors"


def repo_files(weights_bytes: int = 300_000) -> dict[str, bytes]:
    rnd = __import__("random").Random(3)
    return {
        "model_index.json": b'{"_class_name": "WanPipeline"}',
        "vae/config.json": b"{}",
        "vae/diffusion_pytorch_model.safetensors": rnd.randbytes(30_000),
        "transformer/config.json": b"{}",
        WEIGHTS: rnd.randbytes(weights_bytes),
    }


@pytest.fixture
def hub():
    with FakeHub() as h:
        yield h


@pytest.fixture
def wan():
    return next(e for e in load_catalog() if e.id == WAN)


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user's shell: no HF_HUB_OFFLINE, an isolated home."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    }
    env.update(
        PYTHONPATH=str(ROOT),
        SORA_DESKTOP_HOME=str(home),
        HF_HOME=str(home / "hf"),  # never the user's real token or cache
        **extra,
    )
    return env


def write_settings(home: Path, **values) -> None:
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "settings.json").write_text(json.dumps(values))


def cli(home: Path, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sora_desktop.cli", "models", *args],
        env=user_env(home, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_list_json_describes_every_catalog_model(tmp_path):
    run = cli(tmp_path, "list", "--json")
    assert run.returncode == 0, run.stderr
    rows = json.loads(run.stdout)
    assert [r["id"] for r in rows] == [e.id for e in load_catalog()]
    for row in rows:
        for key in ("id", "name", "kind", "backend", "pipeline", "installed", "download_bytes"):
            assert key in row
        assert row["kind"] in KINDS and isinstance(row["license"], str) and row["license"]
        assert isinstance(row["installed"], bool) and isinstance(row["download_bytes"], int)
    embedded, wan = rows[0], next(r for r in rows if r["id"] == WAN)
    assert embedded["installed"] is True and embedded["backend"] == "embedded"
    assert wan["installed"] is False and wan["backend"] == "diffusers"
    assert {r["kind"] for r in rows} == {"video", "enhancer", "sound"}


def test_download_from_settings_mirror_then_list_and_delete(tmp_path, hub, wan):
    files = repo_files()
    hub.add_repo(wan.repo_id, files)
    write_settings(tmp_path, hf_endpoint=hub.endpoint)
    run = cli(tmp_path, "download", WAN)
    assert run.returncode == 0, run.stderr
    assert "installed: Wan 2.1" in run.stdout
    models = tmp_path / "models"
    assert is_installed(wan, models)
    assert (wan.folder(models) / WEIGHTS).read_bytes() == files[WEIGHTS]
    rows = json.loads(cli(tmp_path, "list", "--json").stdout)
    assert next(r for r in rows if r["id"] == WAN)["installed"] is True

    run = cli(tmp_path, "delete", WAN)
    assert run.returncode == 0 and "freed" in run.stdout
    assert not wan.folder(models).exists()
    run = cli(tmp_path, "delete", WAN)
    assert run.returncode == 1 and "not installed" in run.stderr
    run = cli(tmp_path, "delete", "sora-desktop/embedded-tiny")
    assert run.returncode == 1 and "built in" in run.stderr


def test_endpoint_flag_overrides_and_bad_input_is_one_line(tmp_path, hub, wan):
    hub.add_repo(wan.repo_id, repo_files())
    run = cli(tmp_path, "download", WAN, "--endpoint", hub.endpoint)
    assert run.returncode == 0, run.stderr
    for args, needle in (
        (("download", "no-such-model"), "installed: sora-desktop/embedded-tiny, wan2.1-t2v-1.3b"),
        (("download", WAN, "--endpoint", "hf-mirror.com"), "--endpoint"),
        ((), "list|download|delete|import"),
    ):
        run = cli(tmp_path, *args)
        assert run.returncode == 2 and needle in run.stderr
        assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_offline_setting_refuses_without_touching_the_hub(tmp_path, hub, wan):
    hub.add_repo(wan.repo_id, repo_files())
    write_settings(tmp_path, hf_endpoint=hub.endpoint, offline=True)
    run = cli(tmp_path, "download", WAN)
    assert run.returncode == 1
    assert "Offline mode is on" in run.stderr and "Settings → Models" in run.stderr
    assert hub.requests == []


def test_progress_bar_on_a_terminal_and_ctrl_c_keeps_the_bytes(tmp_path, hub, wan):
    files = repo_files(weights_bytes=3_000_000)
    repo = hub.add_repo(wan.repo_id, files)
    repo.faults[WEIGHTS] = FileFaults(rate_bps=400_000)  # ~8 s for the weights
    write_settings(tmp_path, hf_endpoint=hub.endpoint)
    leader, follower = pty.openpty()  # stderr is a terminal: the bar shows
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "sora_desktop.cli", "models", "download", WAN],
        env=user_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
    )
    os.close(follower)
    seen = b""
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and b"MB/s" not in seen and b"kB/s" not in seen:
            try:
                seen += os.read(leader, 4096)
            except OSError:
                break
        assert b"B/s" in seen, seen[-500:]
        assert b"%|" in seen  # a tqdm bar, not plain lines
        time.sleep(1.0)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
        try:
            while chunk := os.read(leader, 4096):
                seen += chunk
        except OSError:
            pass
        os.close(leader)
    assert proc.returncode == 130, seen[-800:]
    assert took < 2.0
    assert b"kept" in seen and b"resume" in seen
    folder = wan.folder(tmp_path / "models")
    assert not is_installed(wan, tmp_path / "models")
    kept = sum(p.stat().st_size for p in folder.rglob("*.part"))
    assert kept > 100_000

    repo.faults.clear()
    hub.requests.clear()
    run = cli(tmp_path, "download", WAN)
    assert run.returncode == 0, run.stderr
    (resumed,) = hub.gets(WEIGHTS)
    assert resumed["range"] is not None and int(resumed["range"][6:-1]) >= kept
    assert (folder / WEIGHTS).read_bytes() == files[WEIGHTS]


def test_import_a_copied_folder_and_refuse_one_holding_a_pipe(tmp_path, hub, wan):
    import shutil

    hub.add_repo(wan.repo_id, repo_files())
    usb_home = tmp_path / "usb"
    assert cli(usb_home, "download", WAN, "--endpoint", hub.endpoint).returncode == 0
    copy = tmp_path / "stick" / wan.folder_name
    shutil.copytree(wan.folder(usb_home / "models"), copy)
    home = tmp_path / "home"
    write_settings(home, offline=True)  # import works offline: checked against the manifest
    run = cli(home, "import", str(copy))
    assert run.returncode == 0, run.stderr
    assert is_installed(wan, home / "models")

    (copy / "vae/config.json").unlink()
    os.mkfifo(copy / "vae/config.json")
    home2 = tmp_path / "home2"
    run = cli(home2, "import", str(copy), "--id", WAN, timeout=30)
    assert run.returncode == 1 and "not a regular file" in run.stderr
    assert not is_installed(wan, home2 / "models")


# ---------------------------------------------------------------------------- no network
GUARD = textwrap.dedent(
    """
    import os, socket, sys
    attempts = []
    real_connect = socket.socket.connect

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(address)
            raise OSError("network blocked by the test")
        return real_connect(self, address)

    def getaddrinfo(host, *args, **kwargs):
        attempts.append(host)
        raise socket.gaierror("name lookup blocked by the test")

    socket.socket.connect = connect
    socket.getaddrinfo = getaddrinfo
    from sora_desktop.cli import main
    code = main(sys.argv[1:])
    import huggingface_hub.constants as hub_constants
    print("ATTEMPTS", attempts)
    print("ENV_OFFLINE", os.environ.get("HF_HUB_OFFLINE"))
    print("HUB_OFFLINE", hub_constants.HF_HUB_OFFLINE)
    sys.exit(code)
    """
)


def test_the_embedded_model_never_touches_the_network_and_leaves_downloads_on(
    tmp_path, micro_model_dir
):
    """Generate with the embedded model (text encoder included) with every socket blocked and
    HF_HUB_OFFLINE unset: no connection is tried, and the process is not switched offline
    (which would stop the model manager's downloads)."""
    out_file = tmp_path / "clip.gif"
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            GUARD,
            "generate",
            "a red circle moves right",
            "-o",
            str(out_file),
            "--model-dir",
            str(micro_model_dir),
            "--steps",
            "1",
            "--frames",
            "4",
            "--seed",
            "1",
        ],
        env=user_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert out_file.is_file()
    assert "ATTEMPTS []" in run.stdout, run.stdout
    assert "ENV_OFFLINE None" in run.stdout
    assert "HUB_OFFLINE False" in run.stdout
