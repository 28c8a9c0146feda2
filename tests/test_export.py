"""Export: round trips through every format, metadata, atomicity, upscale, watermark, concat."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine import export
from sora_desktop.engine.backend import CancelToken, GenerationCancelled
from sora_desktop.engine.export import (
    ExportError,
    concat_clips,
    export_video,
    read_metadata,
    read_video,
    request_from_file,
)

RED, BLUE, YELLOW = (220, 30, 30), (30, 60, 220), (240, 220, 30)


def synthetic(t: int = 12, h: int = 64, w: int = 64) -> np.ndarray:
    """Left half red, right half blue, a yellow block moving right: flat, known colours."""
    f = np.zeros((t, h, w, 3), np.uint8)
    f[:, :, : w // 2] = RED
    f[:, :, w // 2 :] = BLUE
    for i in range(t):
        x = 2 + 3 * i
        f[i, 40:56, x : x + 12] = YELLOW
    return f


def request() -> GenerationRequest:
    return GenerationRequest(
        prompt='a red circle; moves = right, "quoted" #1\\ ünïcode',
        negative_prompt="blurry",
        seed=1234,
        steps=7,
        guidance=3.5,
        num_frames=12,
        original_prompt="red ball right",
        extra={"note": "x"},
    )


def close(a, b, tol: float) -> bool:
    return float(np.abs(np.asarray(a, float) - np.asarray(b, float)).max()) <= tol


# tolerance per format: lossy video codecs shift flat colours by a few levels
TOL = {"mp4": 12, "webm": 12, "gif": 3, "png": 0}


@pytest.mark.parametrize("fmt", ["mp4", "webm", "gif", "png"])
def test_round_trip_frames_size_and_colours(tmp_path: Path, fmt: str):
    frames = synthetic()
    path = export_video(frames, tmp_path / f"clip.{fmt}", 8, request=request())
    if fmt == "png":
        assert path == tmp_path / "clip_frames" and path.is_dir()
        assert (path / "frame_0000.png").is_file() and (path / "frame_0011.png").is_file()
    else:
        assert path == tmp_path / f"clip.{fmt}" and path.is_file()
    back, fps = read_video(path)
    assert back.shape == frames.shape
    assert fps == pytest.approx(8, abs=0.5)  # GIF delays are whole centiseconds
    tol = TOL[fmt]
    for i in (0, 5, 11):
        # sample inside flat areas, away from edges where chroma subsampling blends colours
        assert close(back[i, 10, 10], RED, tol)
        assert close(back[i, 10, 54], BLUE, tol)
        x = 2 + 3 * i + 6
        assert close(back[i, 48, x], YELLOW, tol)
    # the moving block really moves in the decoded clip
    assert close(back[11, 48, 2 + 3 * 11 + 6], YELLOW, tol)
    assert not close(back[0, 48, 2 + 3 * 11 + 6], YELLOW, 40)


@pytest.mark.parametrize("fmt", ["mp4", "webm", "gif", "png"])
def test_metadata_sidecar_round_trip_reproduces_request(tmp_path: Path, fmt: str):
    req = request()
    path = export_video(
        synthetic(), tmp_path / f"clip.{fmt}", 8, request=req, upscale=2, sidecar=True
    )
    meta = read_metadata(path)
    assert meta["ai_generated"] is True
    assert meta["software"] == "Sora Desktop"
    assert meta["export"]["width"] == 128 and meta["export"]["upscale"] == 2
    assert request_from_file(path) == req
    assert GenerationRequest.from_json(req.to_json()) == request_from_file(path)


@pytest.mark.parametrize("fmt", ["mp4", "webm", "gif"])
def test_metadata_is_inside_the_file_without_sidecar(tmp_path: Path, fmt: str):
    req = request()
    path = export_video(synthetic(), tmp_path / f"clip.{fmt}", 8, request=req)
    # issue 20: no sidecar unless asked for; the metadata is inside the file
    assert not path.with_name(path.name + ".json").exists()
    moved = tmp_path / "elsewhere" / path.name
    moved.parent.mkdir()
    path.rename(moved)
    meta = read_metadata(moved)
    assert meta["ai_generated"] is True
    assert request_from_file(moved) == req


def test_sidecar_or_bare_request_json_can_be_opened_directly(tmp_path: Path):
    req = request()
    path = export_video(synthetic(3), tmp_path / "clip.gif", 8, request=req, sidecar=True)
    assert request_from_file(path.with_name("clip.gif.json")) == req
    bare = tmp_path / "req.json"
    bare.write_text(req.to_json())
    assert request_from_file(bare) == req
    junk = tmp_path / "junk.json"
    junk.write_text('{"hello": 1}')
    with pytest.raises(ValueError, match="not a Sora Desktop metadata file"):
        request_from_file(junk)


def test_file_without_metadata_says_so(tmp_path: Path):
    import cv2

    plain = tmp_path / "plain.png"
    cv2.imwrite(str(plain), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="no Sora Desktop metadata"):
        read_metadata(plain)


def test_format_from_suffix_or_explicit(tmp_path: Path):
    frames = synthetic(4)
    out = export_video(frames, tmp_path / "noext", 8, fmt="gif")
    assert out == tmp_path / "noext" and out.read_bytes()[:3] == b"GIF"
    folder = tmp_path / "frames_dir"
    folder.mkdir()
    out = export_video(frames, folder, 8)
    assert sorted(p.name for p in out.glob("frame_*.png")) == [
        f"frame_{i:04d}.png" for i in range(4)
    ]
    assert read_metadata(folder)["export"]["format"] == "png"
    with pytest.raises(ValueError, match="suffix"):
        export_video(frames, tmp_path / "clip.avi", 8)
    with pytest.raises(ValueError, match="format"):
        export_video(frames, tmp_path / "clip.mp4", 8, fmt="mkv")


def test_odd_sizes_are_padded_for_h264(tmp_path: Path):
    frames = synthetic(3, 33, 47)
    back, _ = read_video(export_video(frames, tmp_path / "odd.mp4", 8))
    assert back.shape[1:3] == (34, 48)


def test_mp4_has_faststart(tmp_path: Path):
    data = export_video(synthetic(4), tmp_path / "c.mp4", 8).read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")


def test_bad_arguments_are_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="frames"):
        export_video(np.zeros((4, 8, 8, 3), np.float32), tmp_path / "a.mp4", 8)
    with pytest.raises(ValueError, match="frames"):
        export_video(np.zeros((0, 8, 8, 3), np.uint8), tmp_path / "a.mp4", 8)
    with pytest.raises(ValueError, match="upscale"):
        export_video(synthetic(2), tmp_path / "a.mp4", 8, upscale=0)
    with pytest.raises(ValueError, match="upscale_method"):
        export_video(synthetic(2), tmp_path / "a.mp4", 8, upscale=2, upscale_method="cubic")
    with pytest.raises(ValueError, match="quality"):
        export_video(synthetic(2), tmp_path / "a.mp4", 8, quality="best")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------- atomicity


def _only_final_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_folder_that_is_a_file_fails_cleanly(tmp_path: Path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(ExportError, match="not a folder"):
        export_video(synthetic(2), blocker / "clip.mp4", 8)
    assert _only_final_names(tmp_path) == ["blocker"]


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0,
    reason="root (or Windows) ignores folder permissions",
)
def test_unwritable_folder_fails_before_encoding(tmp_path: Path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(ExportError, match="not writable"):
            export_video(synthetic(2), ro / "clip.mp4", 8)
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(stat.S_IRWXU)


def test_unwritable_folder_is_detected_by_access(tmp_path: Path, monkeypatch):
    # root ignores permissions, so simulate the answer the OS gives a normal user
    monkeypatch.setattr(
        export.tempfile,
        "mkstemp",
        lambda *a, **k: (_ for _ in ()).throw(PermissionError(13, "Permission denied")),
    )
    with pytest.raises(ExportError, match="not writable"):
        export_video(synthetic(2), tmp_path / "clip.mp4", 8)
    assert list(tmp_path.iterdir()) == []


def _fake_ffmpeg(tmp_path: Path, message: str) -> str:
    """A stand-in ffmpeg that writes half a file to its output, complains and exits 1."""
    script = tmp_path / "fake_ffmpeg.py"
    script.write_text(
        "import sys\n"
        "out = sys.argv[-1]\n"
        "sys.stdin.buffer.read(100)\n"
        "open(out, 'wb').write(b'half a file')\n"
        f"sys.stderr.write({message!r})\n"
        "sys.exit(1)\n"
    )
    wrapper = tmp_path / "ffmpeg"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {script} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


@pytest.mark.skipif(sys.platform == "win32", reason="shell-script stand-in")
@pytest.mark.parametrize("fmt", ["mp4", "webm", "gif"])
def test_ffmpeg_failure_leaves_no_file_and_says_why(tmp_path: Path, monkeypatch, fmt):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    fake = _fake_ffmpeg(tmp_path, "av_interleaved_write_frame(): No space left on device\n")
    monkeypatch.setattr(export.ffmpeg, "_ffmpeg_exe", lambda: fake)
    with pytest.raises(ExportError, match="disk is full"):
        export_video(synthetic(30), out_dir / f"clip.{fmt}", 8, request=request())
    assert list(out_dir.iterdir()) == []  # no clip, no temp file, no sidecar


@pytest.mark.skipif(sys.platform == "win32", reason="shell-script stand-in")
def test_ffmpeg_failure_keeps_the_previous_export(tmp_path: Path, monkeypatch):
    out_dir = tmp_path / "out"
    good = export_video(synthetic(4), out_dir / "clip.mp4", 8, request=request(), sidecar=True)
    before, meta_before = good.read_bytes(), read_metadata(good)
    fake = _fake_ffmpeg(tmp_path, "Conversion failed!\n")
    monkeypatch.setattr(export.ffmpeg, "_ffmpeg_exe", lambda: fake)
    with pytest.raises(ExportError, match="video encoder stopped with an error"):
        export_video(synthetic(4), out_dir / "clip.mp4", 8)
    assert good.read_bytes() == before
    assert read_metadata(good) == meta_before
    assert sorted(p.name for p in out_dir.iterdir()) == ["clip.mp4", "clip.mp4.json"]


@pytest.mark.parametrize("fmt", ["mp4", "png"])
def test_cancel_during_export_leaves_no_file(tmp_path: Path, fmt: str):
    token = CancelToken()
    seen = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done == 5:
            token.cancel()

    with pytest.raises(GenerationCancelled):
        export_video(synthetic(20), tmp_path / f"clip.{fmt}", 8, progress=progress, cancel=token)
    assert seen[:2] == [(1, 20), (2, 20)] and seen[-1] == (5, 20)
    assert list(tmp_path.iterdir()) == []


def test_progress_reports_every_frame(tmp_path: Path):
    seen = []
    export_video(synthetic(6), tmp_path / "c.gif", 8, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(i, 6) for i in range(1, 7)]


# ------------------------------------------------------------------------ upscale, watermark


@pytest.mark.parametrize("method", ["nearest", "lanczos"])
def test_upscale_sizes(tmp_path: Path, method: str):
    frames = synthetic(3)
    back, _ = read_video(
        export_video(frames, tmp_path / "c.png", 8, upscale=3, upscale_method=method)
    )
    assert back.shape == (3, 192, 192, 3)
    assert close(back[0, 30, 30], RED, 0) and close(back[0, 30, 160], BLUE, 0)


def test_nearest_keeps_hard_edges_lanczos_smooths_them():
    frames = synthetic(1)
    near = export.upscale_frames(frames, 4, "nearest")[0]
    lanc = export.upscale_frames(frames, 4, "lanczos")[0]
    row_n, row_l = near[10, 120:136], lanc[10, 120:136]  # across the red/blue edge at x=128
    assert {tuple(p) for p in row_n} == {RED, BLUE}
    assert len({tuple(p) for p in row_l}) > 2


def test_watermark_changes_pixels_only_in_the_corner(tmp_path: Path):
    frames = synthetic(2, 256, 256)
    plain, _ = read_video(export_video(frames, tmp_path / "a.png", 8))
    marked, _ = read_video(export_video(frames, tmp_path / "b.png", 8, watermark=True))
    diff = np.any(plain != marked, axis=-1)[0]
    assert diff.sum() > 50
    ys, xs = np.nonzero(diff)
    assert ys.min() > 256 * 0.8 and xs.min() > 256 * 0.5  # bottom-right corner, small
    assert read_metadata(tmp_path / "b_frames")["export"]["watermark"] is True


def test_watermark_at_native_size_is_visible():
    frame = np.full((64, 64, 3), 128, np.uint8)
    assert np.any(export.add_watermark(frame) != frame)


# ---------------------------------------------------------------------------------- concat


def test_concat_with_crossfade_frame_count_and_blend():
    a = np.full((10, 32, 32, 3), 0, np.uint8)
    b = np.full((8, 32, 32, 3), 200, np.uint8)
    c = np.full((6, 16, 16, 3), 100, np.uint8)  # a different size: resized to the first
    out = concat_clips([a, b, c], crossfade_frames=3)
    assert out.shape == (10 + 8 + 6 - 2 * 3, 32, 32, 3)
    assert out[6, 0, 0, 0] == 0  # last pure frame of a
    fade = out[7:10, 0, 0, 0]
    assert list(fade) == sorted(fade) and 0 < fade[0] < fade[-1] < 200  # rising ramp into b
    assert out[10, 0, 0, 0] == 200
    assert out[-1, 0, 0, 0] == 100
    hard = concat_clips([a, b], crossfade_frames=0)
    assert hard.shape[0] == 18 and hard[9, 0, 0, 0] == 0 and hard[10, 0, 0, 0] == 200


def test_concat_refuses_crossfade_longer_than_a_shot():
    a = np.zeros((10, 8, 8, 3), np.uint8)
    short = np.zeros((4, 8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="crossfade_frames"):
        concat_clips([a, short, a], crossfade_frames=3)  # the middle shot needs 6 frames
    with pytest.raises(ValueError, match="crossfade_frames"):
        concat_clips([a, a], crossfade_frames=-1)
    with pytest.raises(ValueError, match="clips"):
        concat_clips([])
