"""Issue 15 §4, export side: PNG frames never touch files the export did not make, ``-o``
naming a device node is refused, SIGTERM mid-export leaves no ``.part`` and no ffmpeg."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import psutil
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
from sora_desktop.engine.export import ExportError, export_video, read_metadata

ROOT = Path(__file__).resolve().parents[1]
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX device nodes and signals")
USER_FILES = {
    "frame_0001.png": b"the user's own frame 1",
    "frame_9999.png": b"the user's own frame 9999",
    "metadata.json": b'{"mine": true}',
}


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))


def frames(n: int = 4) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (n, 16, 16, 3), dtype=np.uint8)


def users_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in USER_FILES.items():
        (folder / name).write_bytes(data)
    return folder


def assert_untouched(folder: Path) -> None:
    for name, data in USER_FILES.items():
        assert (folder / name).read_bytes() == data, name


class FakeBackend(Backend):
    """Gives ``n`` frames of noise at once (noise is slow to encode: a long export)."""

    model_id = "test/files"

    def __init__(self, n: int = 4, size: int = 16) -> None:
        self.n, self.size, self.calls = n, size, 0

    def capabilities(self) -> BackendCapabilities:
        return BackendCapabilities(sizes=(), max_frames=64, supports_start_image=False)

    def generate(self, request, cancel=None):
        self.calls += 1
        yield StepEvent(1, 1)
        rng = np.random.default_rng(request.seed)
        out = rng.integers(0, 255, (self.n, self.size, self.size, 3), dtype=np.uint8)
        yield GenerationResult(out, request.fps, request)


@pytest.fixture
def fake_backend(monkeypatch):
    backend = FakeBackend()
    monkeypatch.setitem(registry._factories, "test/files", lambda model_id, device: backend)
    registry.unload_all()
    yield backend
    registry.unload_all()


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["generate", "a red ball", "--model", "test/files", "--device", "cpu", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------------------ PNG frames
def test_png_export_into_a_folder_with_files_makes_a_new_subfolder(tmp_path):
    folder = users_folder(tmp_path / "shots")
    request = GenerationRequest("a red ball", seed=5)
    first = export_video(frames(), folder, 8, request=request)
    assert first == folder / "sora-5_frames"
    assert sorted(p.name for p in first.iterdir()) == [
        "frame_0000.png",
        "frame_0001.png",
        "frame_0002.png",
        "frame_0003.png",
        "metadata.json",
    ]
    second = export_video(frames(), folder, 8, request=request)
    assert second == folder / "sora-5_frames-2"
    assert_untouched(folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*USER_FILES, "sora-5_frames", "sora-5_frames-2"]
    )
    assert read_metadata(first)["request"]["seed"] == 5


def test_png_export_named_after_a_file_never_reuses_a_taken_folder(tmp_path):
    taken = users_folder(tmp_path / "clip_frames")
    out = export_video(frames(), tmp_path / "clip.png", 8)
    assert out == tmp_path / "clip_frames-2" and (out / "frame_0000.png").is_file()
    assert_untouched(taken)
    assert sorted(p.name for p in taken.iterdir()) == sorted(USER_FILES)
    # an empty folder is the user's place for the frames: it is filled
    empty = tmp_path / "empty"
    empty.mkdir()
    assert export_video(frames(), empty, 8) == empty
    assert len(list(empty.glob("frame_*.png"))) == 4


def test_cli_dash_o_dot_keeps_the_users_files(capsys, tmp_path, monkeypatch, fake_backend):
    users_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "-o", ".", "--seed", "3")
    assert code == 0, err
    assert_untouched(tmp_path)
    made = tmp_path / "sora-3_frames"
    assert f"saved: {Path('.') / 'sora-3_frames'}" in out or f"saved: {made}" in out
    assert len(list(made.glob("frame_*.png"))) == 4
    assert not list(tmp_path.glob(".*.part"))


# ------------------------------------------------------------------------------ device nodes
@posix_only
@pytest.mark.parametrize("fmt", ["mp4", "png", None])
def test_cli_refuses_a_fifo_as_output_before_generating(capsys, tmp_path, fake_backend, fmt):
    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    args = ["-o", str(fifo)] + (["--format", fmt] if fmt else [])
    code, _out, err = run_cli(capsys, *args)
    assert code != 0 and "device, pipe or socket" in err and "Traceback" not in err
    assert fake_backend.calls == 0  # refused before minutes of generation
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@posix_only
def test_export_refuses_a_link_to_a_fifo_and_a_device_node(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "clip.mp4"
    link.symlink_to(fifo)
    with pytest.raises(ExportError, match="device, pipe or socket"):
        export_video(frames(), link, 8)
    assert link.is_symlink() and stat.S_ISFIFO(os.stat(link).st_mode)
    if os.geteuid() != 0:
        return  # only root can make a device node (and only root could replace /dev/null)
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private copy of /dev/null
    for fmt in ("mp4", "gif", "png"):
        with pytest.raises(ExportError, match="device, pipe or socket"):
            export_video(frames(), null, 8, fmt=fmt)
        assert stat.S_ISCHR(os.lstat(null).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "null", "pipe"]


# ------------------------------------------------------------------------------ SIGTERM
CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    from sora_desktop import cli
    from sora_desktop.engine import registry
    from sora_desktop.engine.backend import (
        Backend, BackendCapabilities, GenerationResult, StepEvent)

    class Big(Backend):
        model_id = "test/big"
        def capabilities(self):
            return BackendCapabilities(sizes=(), max_frames=64, supports_start_image=False)
        def generate(self, request, cancel=None):
            yield StepEvent(1, 1)
            rng = np.random.default_rng(0)
            frames = rng.integers(0, 255, (600, 192, 192, 3), dtype=np.uint8)
            yield GenerationResult(frames, request.fps, request)

    registry._factories["test/big"] = lambda model_id, device: Big()
    sys.exit(cli.main(["generate", "noise", "--model", "test/big", "--device", "cpu",
                       "-o", sys.argv[1], "--upscale", "2"]))
    """
)


def _ffmpeg_children(pid: int) -> list[psutil.Process]:
    try:
        return [c for c in psutil.Process(pid).children(recursive=True) if "ffmpeg" in c.name()]
    except psutil.NoSuchProcess:
        return []


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@posix_only
def test_sigterm_during_export_leaves_no_part_file_and_no_ffmpeg(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SORA_DESKTOP_HOME": str(tmp_path / "home")}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(out / "clip.mp4")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    encoders: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            encoders = _ffmpeg_children(child.pid)
            parts = list(out.glob(".*.part"))
            if encoders and parts and parts[0].stat().st_size > 0:
                break  # ffmpeg is running and writing the temp file
            time.sleep(0.05)
        assert encoders, "the export never started ffmpeg"
        assert child.poll() is None, "the export finished before it could be interrupted"
        child.send_signal(signal.SIGTERM)
        _stdout, stderr = child.communicate(timeout=60)
        gone_at = time.monotonic()
        # the encoder is gone at once (not finishing the file on its own afterwards)
        while any(_alive(p) for p in encoders) and time.monotonic() - gone_at < 2:
            time.sleep(0.05)
        assert not any(_alive(p) for p in encoders), "ffmpeg outlived the export"
        assert child.returncode == 128 + signal.SIGTERM, stderr.decode(errors="replace")
        assert b"Traceback" not in stderr
        time.sleep(0.5)  # an orphaned encoder would still be writing now
        assert sorted(p.name for p in out.iterdir()) == []  # no .part, no half clip
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for p in encoders:
            if _alive(p):
                p.kill()
