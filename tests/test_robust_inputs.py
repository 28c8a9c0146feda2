"""Issue 15, part 5: inputs that hang, blow up memory, or end in a traceback.

Each hostile file is made here: a 109 KB PNG claiming 30000x30000 pixels, a small file holding
a 4K video, FIFOs where a project or settings file should be, link loops, paths with NUL or
unpaired surrogates, model folders with an extra tensor or a NaN ``latent_std``. Every case
must end in one plain message, within a time limit and bounded memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sora_desktop import cli
from sora_desktop.core import project as core_project
from sora_desktop.core.project import ProjectError
from sora_desktop.core.request import GenerationRequest
from sora_desktop.core.settings import load_settings
from tests.robust_support import hang_guard, untrained_checkpoint
from tests.robust_support.hostile_files import make_fifo, png_bomb, small_png, still_video

ROOT = Path(__file__).resolve().parents[1]


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    _out, err = capsys.readouterr()
    return code, err


def one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("error: "), err
    return lines[-1]


# ------------------------------------------------------------------------------ numbers


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["--seconds", "1e308"], "--seconds"),
        (["--seconds", "1e308", "--fps", "60"], "--seconds"),
        (["--seconds", "1e308", "--frames", "3"], "not both"),
        (["--seconds", "inf"], "--seconds"),
        (["--seconds", "nan"], "--seconds"),
        (["--seconds", "2", "--fps", "0"], "--fps"),
        (["--seconds", "2", "--fps", "9" * 400], "--fps"),
        (["--frames", "9" * 400], "--frames (Duration)"),
        (["--fps", "9" * 40], "--fps (Frame rate)"),
        (["--guidance", "1e400"], "--guidance (Guidance)"),
    ],
)
def test_absurd_numbers_exit_2_with_one_line(capsys, tmp_path, monkeypatch, argv, field):
    monkeypatch.chdir(tmp_path)
    with hang_guard(30):
        code, err = run_cli(capsys, "generate", "a red ball", *argv)
    assert code == 2
    assert field in one_error_line(err)
    assert list(tmp_path.iterdir()) == []


def test_the_app_gets_the_same_duration_rule():
    from sora_desktop.core.request import frames_for_seconds

    assert frames_for_seconds(2.0, 8) == 16
    for bad in (1e308, float("inf"), float("nan"), -1.0, 0.0, 10**400):
        with pytest.raises(ValueError, match="seconds"):
            frames_for_seconds(bad, 8)
    with pytest.raises(ValueError, match="fps"):
        frames_for_seconds(2.0, 0)
    # the longest duration allowed is exactly the request's frame limit
    n = frames_for_seconds(1024 / 8, 8)
    assert GenerationRequest(prompt="x", num_frames=n, fps=8).num_frames == 1024


# ------------------------------------------------------------------------------ start image


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    return png_bomb(tmp_path_factory.mktemp("bomb") / "bomb.png")


def test_the_bomb_is_small_and_claims_30000_pixels(bomb):
    from sora_desktop.core.image_header import probe_image

    assert bomb.stat().st_size < 200_000
    info = probe_image(bomb.read_bytes())
    assert (info.format, info.width, info.height) == ("PNG", 30000, 30000)


def _start_image_cases(tmp_path: Path, bomb: Path) -> list[tuple[Path, str]]:
    good = small_png(tmp_path / "good.png")
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text = tmp_path / "notes.png"
    text.write_text("these are my notes, not a picture\n")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    return [
        (bomb, "too large"),
        (cut, "cut off"),
        (text, "not an image"),
        (empty, "empty"),
        (make_fifo(tmp_path / "pipe.png"), "pipe"),
        (tmp_path, "folder"),
    ]


def test_cli_refuses_bad_start_images_before_loading_a_model(capsys, tmp_path, bomb, monkeypatch):
    monkeypatch.setattr(cli, "_load_backend", lambda *a: pytest.fail("model loaded"))
    for path, words in _start_image_cases(tmp_path, bomb):
        with hang_guard(20):
            code, err = run_cli(
                capsys,
                "generate",
                "a red ball",
                "--start-image",
                str(path),
                "-o",
                str(tmp_path / "out.mp4"),
            )
        line = one_error_line(err)
        assert code == 2 and "--start-image" in line and words in line, (path, line)
    assert not (tmp_path / "out.mp4").exists()


def test_the_backend_refuses_the_bomb_from_its_header_in_bounded_memory(bomb):
    """Through the real start-image loader, in a fresh process: no decode (today 5.7 GB and
    56 s), a clear error, and little memory."""
    code = textwrap.dedent(
        f"""
        import resource, sys
        from sora_desktop.engine.embedded.pipeline import load_start_image
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            load_start_image({str(bomb)!r}, 64)
        except ValueError as exc:
            print("refused:", exc)
        else:
            print("decoded")
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print("grew_mb", (after - before) / 1024)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert "refused: start_image: bomb.png cannot be used" in proc.stdout
    assert "30000x30000" in proc.stdout
    grew = float(proc.stdout.split("grew_mb")[1])
    assert grew < 100, proc.stdout


def test_a_good_start_image_still_loads(tmp_path):
    from sora_desktop.engine.embedded.pipeline import load_start_image

    img = load_start_image(str(small_png(tmp_path / "ok.png", 48)), 64)
    assert img.shape == (64, 64, 3) and img[0, 0, 0] > 150  # red on top (RGB order)


# ------------------------------------------------------------------------------ special files


def test_fifo_project_is_refused_without_hanging(tmp_path):
    fifo = make_fifo(tmp_path / "film.sdproj")
    with hang_guard(10), pytest.raises(ProjectError, match="pipe"):
        core_project.load_project(fifo)


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/null"])
def test_device_project_is_refused(target):
    if not os.path.exists(target):
        pytest.skip(f"no {target}")
    with hang_guard(10), pytest.raises(ProjectError, match="device"):
        core_project.load_project(target)


def test_fifo_settings_file_gives_defaults_and_a_warning(tmp_path):
    fifo = make_fifo(tmp_path / "settings.json")
    with hang_guard(10):
        settings = load_settings(fifo)
    assert settings.warnings and "pipe" in settings.warnings[0]
    assert settings.theme == load_settings(tmp_path / "missing.json").theme


@pytest.mark.parametrize(
    "bad",
    ["film\0.sdproj", "film\ud800.sdproj", "\udfff"],
)
def test_nul_or_surrogate_paths_are_a_project_error(tmp_path, bad):
    from sora_desktop.core.safe_paths import UnsafePathError, check_path_text

    with pytest.raises(ProjectError, match="cannot be opened"):
        core_project.load_project(str(tmp_path / bad))
    with pytest.raises(UnsafePathError):
        check_path_text(str(tmp_path / bad))


def test_media_symlink_loop_is_a_project_error(tmp_path):
    p = core_project.new_project("Loop")
    p.path = tmp_path / "Loop.sdproj"
    media = tmp_path / "Loop_media"
    media.mkdir()
    (media / "a.mp4").symlink_to(media / "b.mp4")
    (media / "b.mp4").symlink_to(media / "a.mp4")
    with pytest.raises(ProjectError, match="link loop"):
        core_project.resolve_media(p, "Loop_media/a.mp4")
    # opening a project that uses such a clip: a plain note, not a RuntimeError
    take = core_project.Take.create(GenerationRequest(prompt="a loop"))
    take.status, take.clip = "done", "Loop_media/a.mp4"
    p.add_shot(GenerationRequest(prompt="a loop"))
    p.shots[0].takes.append(take)
    p.shots[0].selected_take = take.id
    core_project.save_project(p, p.path)
    opened = core_project.load_project(p.path)
    assert any("link loop" in w and "shot 1" in w for w in opened.warnings), opened.warnings


def test_read_regular_file_limits_size(tmp_path):
    from sora_desktop.core.safe_paths import UnsafePathError, read_regular_file

    big = tmp_path / "big.json"
    big.write_bytes(b"x" * 5000)
    with pytest.raises(UnsafePathError, match="limit"):
        read_regular_file(big, "settings", 4096)
    assert read_regular_file(big, "settings", 5000) == b"x" * 5000


@pytest.mark.parametrize("bad", ["clip\ud800.mp4", "bad\udc80\ud800/clip.mp4"])
def test_cli_paths_with_unpaired_surrogates(capsys, tmp_path, monkeypatch, bad):
    monkeypatch.chdir(tmp_path)
    code, err = run_cli(capsys, "generate", "a red ball", "-o", bad)
    line = one_error_line(err)
    assert code == 2 and "--output" in line and "not valid text" in line


def test_cli_start_image_with_a_nul(capsys, tmp_path):
    code, err = run_cli(capsys, "generate", "a red ball", "--start-image", "a\0b.png")
    line = one_error_line(err)
    assert code == 2 and "--start-image" in line and "NUL" in line


# ------------------------------------------------------------------------------ start-up


def _smoke_test(home: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SORA_DESKTOP_HOME": str(home),
        "QT_QPA_PLATFORM": "offscreen",
    }
    return subprocess.run(
        [sys.executable, "-m", "sora_desktop.cli", "--smoke-test"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.parametrize("damage", ["json", "values", "fifo"])
def test_smoke_test_exits_with_a_damaged_settings_file(tmp_path, damage):
    config = tmp_path / "home" / "config"
    config.mkdir(parents=True)
    settings = config / "settings.json"
    if damage == "json":
        settings.write_text('{"theme": "dark",')
    elif damage == "values":
        settings.write_text(json.dumps({"theme": 5, "autosave_seconds": "soon"}))
    else:
        make_fifo(settings)
    proc = _smoke_test(tmp_path / "home")  # today: never exits (TimeoutExpired)
    assert proc.returncode == 0, proc.stderr
    assert "window shown" in proc.stdout
    assert "settings" in proc.stderr.lower() and "Traceback" not in proc.stderr


# ------------------------------------------------------------------------------ the model


def _weights_with_extra_tensor(folder: Path, mb: int) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    file = folder / "dit.safetensors"
    state = load_file(str(file))
    state["extra.payload"] = torch.zeros(mb * 1024 * 1024 // 2, dtype=torch.float16)
    save_file(state, str(file))


def test_an_extra_tensor_is_refused_from_the_header(tmp_path, monkeypatch):
    from sora_desktop.engine.embedded import weights

    folder = untrained_checkpoint(tmp_path / "model")
    _weights_with_extra_tensor(folder, 8)

    real = weights.load_file

    def guarded(file, *a, **k):
        if Path(file).name == "dit.safetensors":
            raise AssertionError("tensor data was loaded before the header was checked")
        return real(file, *a, **k)

    monkeypatch.setattr(weights, "load_file", guarded)
    with pytest.raises(ValueError, match="does not use"):
        weights.load_checkpoint(folder)


@pytest.mark.parametrize(
    "header",
    [
        b"\xff" * 8,  # claims an exabyte of header
        (5).to_bytes(8, "little") + b"[1,2]",  # not an object
        (2).to_bytes(8, "little") + b"{}",  # no tensors at all
    ],
)
def test_a_lying_safetensors_header_is_refused(tmp_path, header):
    from sora_desktop.engine.embedded import weights

    folder = untrained_checkpoint(tmp_path / "model")
    (folder / "dit.safetensors").write_bytes(header)
    with pytest.raises(ValueError, match="dit.safetensors cannot be used"):
        weights.load_checkpoint(folder)


def test_data_past_the_tensors_is_refused(tmp_path):
    from sora_desktop.engine.embedded import weights

    folder = untrained_checkpoint(tmp_path / "model")
    with open(folder / "vae.safetensors", "ab") as fh:
        fh.write(b"\0" * 4096)
    with pytest.raises(ValueError, match="extra or missing data"):
        weights.load_checkpoint(folder)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("latent_std", float("nan"), "latent_std"),
        ("latent_std", float("inf"), "latent_std"),
        ("latent_std", 0.0, "greater than 0"),
        ("latent_std", -1.0, "greater than 0"),
        ("latent_mean", float("nan"), "latent_mean"),
        ("sample_shift", float("nan"), "sample_shift"),
        ("size", 0, "size"),
        ("frames", 10**9, "frames"),
    ],
)
def test_config_numbers_that_make_black_clips_are_refused(tmp_path, field, value, words):
    from sora_desktop.engine.embedded.weights import load_checkpoint

    folder = untrained_checkpoint(tmp_path / "model")
    cfg_path = folder / "config.json"
    cfg = json.loads(cfg_path.read_text())
    if field in ("latent_std", "latent_mean"):
        cfg[field][0] = value
    else:
        cfg[field] = value
    cfg_path.write_text(json.dumps(cfg))  # json writes NaN / Infinity, as a bad trainer would
    with pytest.raises(ValueError, match=words):
        load_checkpoint(folder)


def test_cli_with_a_nan_model_exits_2_not_black_clips(capsys, tmp_path):
    folder = untrained_checkpoint(tmp_path / "model")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["latent_std"] = [float("nan")] * len(cfg["latent_std"])
    (folder / "config.json").write_text(json.dumps(cfg))
    out = tmp_path / "clip.mp4"
    code, err = run_cli(
        capsys,
        "generate",
        "a red ball",
        "--model-dir",
        str(folder),
        "--steps",
        "1",
        "--device",
        "cpu",
        "-o",
        str(out),
    )
    assert code == 2 and "latent_std" in one_error_line(err)
    assert not out.exists()


def test_fifo_model_config_is_refused_without_hanging(tmp_path):
    from sora_desktop.engine.embedded.weights import load_checkpoint

    folder = untrained_checkpoint(tmp_path / "model")
    (folder / "config.json").unlink()
    make_fifo(folder / "config.json")
    with hang_guard(10), pytest.raises(ValueError, match="pipe"):
        load_checkpoint(folder)


# ------------------------------------------------------------------------------ clips


@pytest.fixture(scope="module")
def tall_clip(tmp_path_factory) -> Path:
    """A valid clip whose header gives 16x8208 pixels: over the side limit, tiny on disk."""
    return still_video(tmp_path_factory.mktemp("tall") / "tall.mp4", 16, 8208, 2)


def test_absurd_clip_dimensions_are_refused_by_header(tall_clip, monkeypatch):
    import cv2

    from sora_desktop.engine import export

    class NoRead:
        def __init__(self, cap):
            self.cap = cap

        def __getattr__(self, name):
            if name == "read":
                raise AssertionError("a frame was decoded")
            return getattr(self.cap, name)

    real = cv2.VideoCapture
    monkeypatch.setattr(export.cv2, "VideoCapture", lambda *a: NoRead(real(*a)))
    with pytest.raises(ValueError, match="8208"):
        export.read_video(tall_clip)
    with pytest.raises(ValueError, match="at most 8192 pixels"):
        export.probe_video(tall_clip)


def test_full_size_decode_over_budget_is_refused_before_decoding(tmp_path):
    from sora_desktop.engine.export import read_video

    clip = still_video(tmp_path / "hd.mp4", 1280, 720, 12)
    with pytest.raises(ValueError, match="too large to load"):
        read_video(clip, budget_bytes=20 * 1024 * 1024)  # 12 x 2.7 MB = 33 MB > 20 MB
    frames, _fps = read_video(clip, max_side=320, budget_bytes=20 * 1024 * 1024)
    assert frames.shape == (12, 180, 320, 3)


def test_fifo_clip_is_refused_without_hanging(tmp_path):
    from sora_desktop.engine.export import read_video

    fifo = make_fifo(tmp_path / "clip.mp4")
    with hang_guard(10), pytest.raises(ValueError, match="pipe"):
        read_video(fifo)


def test_absurd_frame_counts_are_refused_by_header(tmp_path, monkeypatch):
    from sora_desktop.engine import decode, export

    clip = still_video(tmp_path / "long.mp4", 16, 16, 12)
    monkeypatch.setattr(decode, "MAX_VIDEO_FRAMES", 10)  # the real limit is 20,000 frames
    with pytest.raises(ValueError, match="claims 12 frames"):
        export.probe_video(clip)
