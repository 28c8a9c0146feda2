"""Faults while exporting (issue #5): the real ffmpeg killed or cut off mid-write, a full disk,
an unwritable folder. Every time: a clear message, nothing under the final name (or the previous
export left exactly as it was), no temp files, no ffmpeg left running, the project untouched.
"""

from __future__ import annotations

import errno
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sora_desktop.core.project import Take, load_project, new_project, save_project
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine import export
from sora_desktop.engine.export import ExportError, export_video, read_metadata

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and rlimits")
FORMATS = ["mp4", "webm", "gif"]


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))


def frames(n: int = 24, size: int = 64, seed: int = 0) -> np.ndarray:
    # noise does not compress, so the encoder writes steadily while frames arrive
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


REQUEST = GenerationRequest("a red ball bouncing", seed=3, steps=4)


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def all_ended(spy: PopenSpy) -> bool:
    """Every ffmpeg the export started has exited and was waited for (none left running)."""
    return bool(spy.procs) and all(p.returncode is not None for p in spy.procs)


class PopenSpy:
    """Wraps ``subprocess.Popen`` in the export module: records the ffmpeg it starts, and can
    start it with a file-size limit (a real cut-off write, no root needed)."""

    def __init__(self, monkeypatch, fsize_limit: int | None = None) -> None:
        self.procs: list[subprocess.Popen] = []
        real = subprocess.Popen

        def spawn(*args, **kwargs):
            if fsize_limit is not None:
                import resource

                def limit() -> None:
                    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_limit, fsize_limit))

                kwargs["preexec_fn"] = limit
            proc = real(*args, **kwargs)
            self.procs.append(proc)
            return proc

        monkeypatch.setattr(export.subprocess, "Popen", spawn)


def killer(spy: PopenSpy, at_frame: int):
    def progress(done: int, total: int) -> None:
        if done == at_frame:
            spy.procs[-1].kill()
            spy.procs[-1].wait()  # really gone before the next frame is written

    return progress


# ------------------------------------------------------------------------------ ffmpeg killed
@POSIX
@pytest.mark.parametrize("fmt", FORMATS)
def test_ffmpeg_killed_mid_write_leaves_nothing_and_says_so(tmp_path, monkeypatch, fmt):
    out = tmp_path / "out"
    out.mkdir()
    spy = PopenSpy(monkeypatch)
    with pytest.raises(ExportError) as info:
        export_video(frames(), out / f"clip.{fmt}", 8, request=REQUEST, progress=killer(spy, 5))
    message = str(info.value)
    assert f"clip.{fmt} failed" in message and "stopped before it finished" in message
    assert "Try: export again" in message
    assert listing(out) == {}  # no half file, no temp file, no sidecar
    assert spy.procs[-1].returncode == -9
    assert all_ended(spy)


@POSIX
def test_killing_ffmpeg_at_random_moments_never_leaves_a_trace(tmp_path, monkeypatch):
    """20 exports over an existing good export, ffmpeg killed at a random frame each time."""
    out = tmp_path / "out"
    good = export_video(frames(8, seed=1), out / "clip.mp4", 8, request=REQUEST, sidecar=True)
    before = listing(out)
    rng = random.Random(5)
    spy = PopenSpy(monkeypatch)
    for i in range(20):
        fmt = rng.choice(FORMATS)
        target = good if fmt == "mp4" else out / f"clip.{fmt}"
        with pytest.raises(ExportError, match="stopped before it finished"):
            export_video(frames(16, seed=i), target, 8, progress=killer(spy, rng.randint(1, 16)))
        assert listing(out) == before, f"round {i} ({fmt}) left {sorted(listing(out))}"
    assert read_metadata(good)["request"] == REQUEST.to_dict()
    assert len(spy.procs) == 20 and all_ended(spy)


# ------------------------------------------------------------------------------ disk full
@POSIX
@pytest.mark.parametrize("fmt", FORMATS)
def test_real_ffmpeg_cut_off_by_a_size_limit(tmp_path, monkeypatch, fmt):
    """The real encoder hits a 4 KB file-size limit mid-write (what a full quota looks like)."""
    out = tmp_path / "out"
    out.mkdir()
    spy = PopenSpy(monkeypatch, fsize_limit=4096)
    with pytest.raises(ExportError) as info:
        export_video(frames(48, size=96), out / f"clip.{fmt}", 8, request=REQUEST)
    message = str(info.value)
    assert f"clip.{fmt} failed" in message
    assert "largest size allowed" in message or "File too large" in message, message
    assert listing(out) == {}
    assert all_ended(spy)


def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_while_writing_the_sidecar(tmp_path, monkeypatch):
    out = tmp_path / "out"
    good = export_video(frames(4), out / "clip.mp4", 8, request=REQUEST, sidecar=True)
    before = listing(out)

    real_replace = os.replace

    def replace(src, dst):  # the sidecar's temp file is full when it is renamed into place
        if str(dst).endswith(".json"):
            Path(src).write_bytes(b'{"half":')
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(ExportError, match=r"the disk is full\.\nTry: free some disk space"):
        export_video(frames(6, seed=2), good, 8, request=REQUEST.with_changes(seed=9), sidecar=True)
    monkeypatch.setattr(os, "replace", real_replace)
    assert listing(out) == before  # the previous export and its sidecar are untouched
    assert read_metadata(good)["request"]["seed"] == 3


def test_disk_full_mid_way_through_png_frames(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    real = export.cv2.imwrite
    written = []

    def imwrite(path, img):
        if len(written) == 3:
            _enospc()
        written.append(path)
        return real(path, img)

    monkeypatch.setattr(export.cv2, "imwrite", imwrite)
    with pytest.raises(ExportError, match=r"the disk is full\.\nTry: free some disk space"):
        export_video(frames(8), out / "shot", 8, fmt="png", request=REQUEST)
    assert list(out.iterdir()) == []  # no frames folder, no staging folder


def test_png_writer_reporting_failure_is_an_export_error(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(export.cv2, "imwrite", lambda path, img: False)  # OpenCV's way to fail
    with pytest.raises(ExportError, match="frame 1 could not be saved"):
        export_video(frames(3), out / "shot", 8, fmt="png")
    assert list(out.iterdir()) == []


# ------------------------------------------------------------------------------ unwritable
def test_unwritable_folder_is_refused_before_encoding(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    spy = PopenSpy(monkeypatch)
    if os.name == "posix" and os.geteuid() != 0:
        out.chmod(0o500)
    else:  # root ignores folder permissions: give the answer a normal user gets
        monkeypatch.setattr(
            export.tempfile,
            "mkstemp",
            lambda *a, **k: _raise(PermissionError(13, "Permission denied")),
        )
    try:
        with pytest.raises(ExportError, match="(?s)not writable.*choose a(nother)? folder"):
            export_video(frames(4), out / "clip.mp4", 8)
    finally:
        out.chmod(0o700)
    assert spy.procs == []  # refused before ffmpeg was started
    assert list(out.iterdir()) == []


def _raise(exc: BaseException):
    raise exc


def test_a_folder_with_the_target_name_is_refused_before_writing(tmp_path):
    out = tmp_path / "out"
    (out / "clip.mp4").mkdir(parents=True)
    with pytest.raises(ExportError, match="a folder has that name"):
        export_video(frames(4), out / "clip.mp4", 8, fmt="mp4", request=REQUEST)
    assert sorted(p.name for p in out.iterdir()) == ["clip.mp4"]  # no stray sidecar
    assert list((out / "clip.mp4").iterdir()) == []


# ------------------------------------------------------------------------------ the project
@POSIX
def test_failed_exports_leave_the_project_untouched(qtbot, tmp_path, monkeypatch):
    """The export worker, as the app drives it: each fault ends in one ``failed`` signal with
    a readable message, and the project folder (file, backup, clips) is byte-identical."""
    from sora_desktop.ui.worker import ExportJob, ExportWorker, WorkerHost

    folder = tmp_path / "film"
    project = new_project("Film")
    shot = project.add_shot(REQUEST)
    take = project.add_take(shot.id, Take.create(REQUEST))
    clip_rel = f"film_media/{shot.id}/{take.id}.mp4"
    export_video(frames(8), folder / clip_rel, 8, request=REQUEST)
    project.update_take(shot.id, take.id, status="done", clip=clip_rel)
    path = save_project(project, folder / "film.sdproj")
    save_project(project)  # a .bak too
    snapshot = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    out = tmp_path / "exports"
    out.mkdir()
    spy = PopenSpy(monkeypatch)
    worker = ExportWorker()
    host = WorkerHost(worker, "robust-export")
    ends: dict[str, list] = {}
    for name in ("finished", "failed", "cancelled"):
        getattr(worker, name).connect(
            lambda jid, *rest, n=name: ends.setdefault(jid, []).append((n, rest))
        )

    def kill_first_ffmpeg(jid: str, frac: float) -> None:
        if jid == "killed" and frac > 0.5 and spy.procs and spy.procs[-1].poll() is None:
            spy.procs[-1].kill()

    worker.progress.connect(kill_first_ffmpeg)
    try:
        jobs = {
            "killed": ExportJob("killed", [folder / clip_rel] * 3, out / "all.mp4", 8),
            "folder_is_file": ExportJob(
                "folder_is_file", [folder / clip_rel], path / "inside.mp4", 8
            ),
            "bad_clip": ExportJob("bad_clip", [folder / "missing.mp4"], out / "x.mp4", 8),
        }
        for job in jobs.values():
            worker.submit(job)
        qtbot.waitUntil(lambda: all(j in ends for j in jobs), timeout=60_000)
        qtbot.wait(100)
    finally:
        assert host.stop(10_000)
    for jid in jobs:
        assert len(ends[jid]) == 1 and ends[jid][0][0] == "failed", (jid, ends[jid])
        assert "export" in ends[jid][0][1][0].lower()
        assert "Try: " in ends[jid][0][1][0]  # a next step, not an error number
    assert "not a folder" in ends["folder_is_file"][0][1][0]
    assert list(out.iterdir()) == []
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == snapshot
    assert load_project(path).to_dict() == project.to_dict()
    assert all_ended(spy)
