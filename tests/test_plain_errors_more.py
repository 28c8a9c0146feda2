"""More errors in the user's terms (issue 20): exports (a full disk, a failing disk, the encoder
failing, the Export dialog's line and the CLI's), a render-farm take failing, a damaged batch
file, an unreadable clip, out-of-memory advice, the crash reporter and a hand-damaged project
file. Each is triggered for real and checked with ``test_plain_errors``' deny list."""

from __future__ import annotations

import errno
import os
import stat
import sys

import numpy as np
import pytest

from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine import export
from sora_desktop.engine.export import ExportError, export_video
from tests.test_plain_errors import assert_plain

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX rlimits")
REQUEST = GenerationRequest("a red ball", seed=3, steps=2)


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))


def frames(n: int = 4, size: int = 64) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def _without(text: str, *names: str) -> str:
    for name in names:
        text = text.replace(name, "the file")
    return text


# ---------------------------------------------------------------------------- exports
@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "the disk is full"),
        (errno.EIO, "the disk could not be written to"),
        (errno.EROFS, "not allowed to write there"),
    ],
)
def test_an_export_the_disk_refuses_says_what_to_do(tmp_path, monkeypatch, code, words):
    """The finished file cannot be put in place: the cause in words and a next step."""
    real = os.replace

    def replace(src, dst):
        if str(dst).endswith("clip.mp4"):
            raise OSError(code, os.strerror(code))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(ExportError) as info:
        export_video(frames(), tmp_path / "clip.mp4", 8, request=REQUEST)
    message = str(info.value)
    assert words in message and "\nTry: " in message
    assert os.strerror(code) not in message  # the operating system's words go to the log
    assert_plain(_without(message, "clip.mp4"))


def test_an_encoder_failure_shows_no_encoder_text(tmp_path, monkeypatch):
    """ffmpeg fails with its own words: the user gets a plain line, the log gets ffmpeg's."""
    fake = tmp_path / "ffmpeg"
    fake.write_text(
        "#!/bin/sh\ncat >/dev/null\necho 'Error initializing output stream 0:0' >&2\nexit 1\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(export.ffmpeg, "_ffmpeg_exe", lambda: str(fake))
    with pytest.raises(ExportError) as info:
        export_video(frames(), tmp_path / "clip.mp4", 8, request=REQUEST)
    message = str(info.value)
    assert "initializing" not in message and "0:0" not in message
    assert "video encoder" in message
    assert_plain(_without(message, "clip.mp4"))


def test_the_export_dialogs_failure_line_is_plain(qtbot, tmp_path, monkeypatch):
    """The export worker, as the Export dialog drives it, on a full disk."""
    from sora_desktop.ui.worker import ExportJob, ExportWorker, WorkerHost

    clip = tmp_path / "take.mp4"
    export_video(frames(), clip, 8, request=REQUEST)
    real = os.replace

    def replace(src, dst):
        if str(dst).endswith("film.mp4"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    worker = ExportWorker()
    host = WorkerHost(worker, "plain-export")
    lines: list[str] = []
    worker.failed.connect(lambda _jid, text: lines.append(text))
    try:
        worker.submit(ExportJob("full", [clip], tmp_path / "out" / "film.mp4", 8))
        qtbot.waitUntil(lambda: bool(lines), timeout=60_000)
    finally:
        assert host.stop(10_000)
    (line,) = lines
    assert "disk is full" in line and "No space left" not in line
    assert_plain(_without(line, "film.mp4"))


def test_the_export_line_for_an_unforeseen_error_has_no_class_name():
    from sora_desktop.studio.messages import export_error

    assert_plain(export_error(KeyError("frames")))
    assert_plain(export_error(OSError(errno.EIO, "Input/output error")))


@POSIX
def test_the_cli_says_a_file_size_limit_in_words(capsys, tmp_path, monkeypatch):
    """``sora-desktop generate`` whose real ffmpeg runs under a file-size limit (ulimit -f):
    cut off mid-write, the CLI's one line says so in words, with what to do."""
    from sora_desktop import cli

    real = export.ffmpeg._ffmpeg_exe()
    limited = tmp_path / "ffmpeg-limited"
    limited.write_text(f'#!/bin/sh\nulimit -f 4\nexec "{real}" "$@"\n')
    limited.chmod(limited.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(export.ffmpeg, "_ffmpeg_exe", lambda: str(limited))
    monkeypatch.chdir(tmp_path)
    code = cli.main(["generate", "a red ball", "--steps", "1", "--frames", "8", "-o", "x.mp4"])
    err = capsys.readouterr().err
    assert code == 1, err
    lines = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    assert lines, err
    line = lines[-1][len("error: ") :]
    assert "largest size allowed" in line and "Try: " in line
    assert "File too large" not in line
    assert_plain(_without(line, "x.mp4"))
    assert not (tmp_path / "x.mp4").exists()


# ---------------------------------------------------------------------------- files
def test_a_shot_list_with_an_unusable_number_says_where_and_what_to_write(
    capsys, tmp_path, monkeypatch
):
    """``sora-desktop batch`` with valid JSON holding NaN or a 5000-digit seed."""
    from sora_desktop import cli

    monkeypatch.chdir(tmp_path)
    for value, words in (("NaN", "“NaN” is not a number"), ("9" * 5000, "far too long")):
        shots = tmp_path / "shots.json"
        shots.write_text('[\n  {"prompt": "a red ball",\n   "seed": ' + value + "}\n]\n")
        code = cli.main(["batch", str(shots), "-o", str(tmp_path / "film.mp4")])
        err = "\n".join(
            ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error: ")
        )
        assert code != 0, err
        assert "line 3, column 12" in err and words in err, err
        assert "ordinary number" in err and "digits" not in err and "sys." not in err
        for line in err.splitlines():
            if "shots.json" in line:
                text = line.removeprefix("error: ")
                assert_plain(_without(text, str(shots), "shots.json"), next_step=False)


def test_an_unreadable_previous_clip_says_why_in_words(tmp_path):
    """A shot continues from a clip that is damaged: no decoder text in the message."""
    from sora_desktop.studio.media import StartFrameError, ensure_last_frame

    clip = tmp_path / "take.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    with pytest.raises(StartFrameError) as info:
        ensure_last_frame(clip)
    message = str(info.value)
    assert "damaged or not a video" in message
    assert_plain(_without(message, "take.mp4"))


def test_a_hand_damaged_on_off_setting_is_named_by_its_label(tmp_path):
    import json

    from sora_desktop.core.project import ProjectError, load_project, new_project, save_project

    project = new_project("Film")
    project.add_shot(REQUEST)
    path = save_project(project, tmp_path / "film.sdproj")
    for key, label in (
        ("continue_from_previous", "Continue from previous shot"),
        ("end_on_next_shot", "End on the next shot"),
        ("mute", "Mute shot's sound"),
    ):
        data = json.loads(path.read_text())
        data["shots"][0][key] = "yes"
        broken = tmp_path / f"{key}.sdproj"
        broken.write_text(json.dumps(data))
        with pytest.raises(ProjectError) as info:
            load_project(broken)
        message = str(info.value)
        assert f"“{label}”" in message and "on or off" in message
        assert_plain(_without(message, broken.name), next_step=False)
