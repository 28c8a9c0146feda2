"""A long shot over three windows with the tiny random LTX-Video model (its image-to-video
pipeline continues each window), through the registry and through the installed CLI.

The catalog entry gives the tiny model a 9-frame window (``window_frames``), so 25 frames are
three windows: 9 + 8 + 8.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tiny_models as tm

from sora_desktop.core.capabilities import capabilities_from_entry
from sora_desktop.core.catalog import MANIFEST_NAME, CatalogEntry
from sora_desktop.core.request import GenerationRequest, TimedPrompt
from sora_desktop.engine import registry
from sora_desktop.engine.backend import (
    CancelToken,
    GenerationCancelled,
    GenerationResult,
    LatentsReady,
    StepEvent,
)
from sora_desktop.engine.decode import read_image
from sora_desktop.engine.long_shot import generate_long_shot

ROOT = Path(__file__).resolve().parents[1]
FRAMES = 25


@pytest.fixture(scope="module")
def tiny_ltx(tmp_path_factory):
    folder = tmp_path_factory.mktemp("long_shot_ltx") / "ltx"
    entry = tm.save_tiny_video_model("ltx", folder)
    entry["window_frames"] = 9
    return folder, entry


@pytest.fixture(scope="module")
def ltx(tiny_ltx):
    from sora_desktop.engine.diffusers_backend import DiffusersBackend

    folder, entry = tiny_ltx
    return DiffusersBackend(CatalogEntry.from_dict(entry), folder, "cpu", "balanced")


class Spy:
    """Wraps a backend's ``generate``: records each window's request, its start image as the
    model received it, and the frames the model made."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.requests: list[GenerationRequest] = []
        self.starts: list[np.ndarray | None] = []
        self.made: list[np.ndarray] = []

    def __enter__(self):
        original = type(self.backend).generate

        def generate(backend, request, cancel=None):
            self.requests.append(request)
            start = request.start_image
            self.starts.append(None if start is None else read_image(start, "start_image"))
            for event in original(backend, request, cancel):
                if isinstance(event, GenerationResult):
                    self.made.append(event.frames)
                yield event

        self.backend.generate = generate.__get__(self.backend)
        return self

    def __exit__(self, *exc):
        del self.backend.generate


def _request(**kw) -> GenerationRequest:
    base = dict(
        prompt="a red fox runs through the forest",
        steps=2,
        guidance=3.0,
        num_frames=FRAMES,
        fps=8,
        width=32,
        height=32,
        model_id="tiny/ltx",
        seed=7,
    )
    base.update(kw)
    return GenerationRequest(**base)


def test_the_tiny_ltx_model_is_a_three_window_model(tiny_ltx):
    caps = capabilities_from_entry(CatalogEntry.from_dict(tiny_ltx[1]))
    assert caps.window == 9 and caps.supports_start_image
    assert caps.max_frames == 9 + 7 * 8  # eight windows, each sharing a frame
    assert caps.segments(FRAMES) == 3  # what the queue's ETA counts


def test_long_shot_over_three_windows(ltx, tmp_path):
    end = tmp_path / "end.png"
    _write_png(end)
    timed = (TimedPrompt(1.0, "a blue car drives on the street"),)
    request = _request(timed_prompts=timed, end_image=str(end))
    with Spy(ltx) as spy:
        events = list(registry.generate(request, CancelToken(), backend=ltx))
    result = events[-1]
    assert isinstance(result, GenerationResult)
    assert result.frames.shape == (FRAMES, 32, 32, 3) and result.frames.dtype == np.uint8
    assert [r.num_frames for r in spy.requests] == [9, 9, 9]
    # each window after the first started from the previous window's last (matched) frame
    assert spy.starts[0] is None
    assert np.array_equal(spy.starts[1], result.frames[8])
    assert np.array_equal(spy.starts[2], result.frames[16])
    # windows 2 and 3 continue from an image; the last one also ends on the keyframe
    latents = [e for e in events if isinstance(e, LatentsReady)]
    assert [e.info[f"w{e.segment}"]["pipeline"] for e in latents] == [
        "LTXPipeline",
        "LTXImageToVideoPipeline",
        "LTXConditionPipeline",
    ]
    assert [list(e.latents) for e in latents] == [["w0.video"], ["w1.video"], ["w2.video"]]
    # the first window is the model's own; the end frame goes to the last window only
    assert np.array_equal(result.frames[:9], spy.made[0])
    assert [r.end_image for r in spy.requests] == [None, None, str(end)]
    # the timed prompt (1.0 s = frame 8) takes over from the second window
    assert [r.prompt for r in spy.requests] == [
        "a red fox runs through the forest",
        "a blue car drives on the street",
        "a blue car drives on the street",
    ]
    steps = [(e.segment, e.step, e.segments) for e in events if isinstance(e, StepEvent)]
    assert steps == [(w, s, 3) for w in range(3) for s in (1, 2)]


def _write_png(path: Path) -> None:
    import cv2

    cv2.imwrite(str(path), np.full((32, 32, 3), 90, np.uint8))


def test_windows_join_without_duplicate_frames(ltx):
    """Without colour matching the stitched clip is exactly window 1, then windows 2 and 3
    without their first frame (the copy of the frame they started from)."""
    with Spy(ltx) as spy:
        result = list(generate_long_shot(ltx, _request(), match_colours=False))[-1]
    made = spy.made
    assert np.array_equal(result.frames, np.concatenate([made[0], made[1][1:], made[2][1:]]))
    assert np.array_equal(spy.starts[1], made[0][-1]) and np.array_equal(spy.starts[2], made[1][-1])


def test_a_long_shots_saved_latents_decode_again_without_denoising(ltx):
    """'Retry in low memory' for a long shot: the latents of every window, saved from their
    LatentsReady events, decode and stitch to the same clip."""
    request = _request()
    events = list(registry.generate(request, backend=ltx))
    latents: dict = {}
    info: dict = {}
    for event in events:
        if isinstance(event, LatentsReady):
            latents.update(event.latents)
            info.update(event.info)
    with Spy(ltx) as spy:
        again = registry.decode_latents(request, latents, info, backend=ltx, low_memory=True)
    assert spy.requests == []  # nothing denoised again
    assert np.array_equal(again.frames, events[-1].frames)
    with pytest.raises(ValueError, match="do not match the shot's 3 windows"):
        registry.decode_latents(request, {"w0.video": latents["w0.video"]}, info, backend=ltx)


def test_same_seed_same_long_shot(ltx):
    first = list(registry.generate(_request(), backend=ltx))[-1].frames
    again = list(registry.generate(_request(), backend=ltx))[-1].frames
    other = list(registry.generate(_request(seed=8), backend=ltx))[-1].frames
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_cancel_in_the_second_window_stops_within_a_step(ltx):
    cancel = CancelToken()
    seen = []
    with Spy(ltx) as spy, pytest.raises(GenerationCancelled):
        for event in registry.generate(_request(steps=4), cancel, backend=ltx):
            if isinstance(event, StepEvent):
                seen.append((event.segment, event.step))
                if event.segment == 1 and event.step == 1:
                    cancel.cancel()
    assert seen == [(0, 1), (0, 2), (0, 3), (0, 4), (1, 1)]
    assert len(spy.requests) == 2 and len(spy.made) == 1  # window 2 made no clip, 3 never began


# ---------------------------------------------------------------------------- installed CLI
def _install(folder: Path, entry: dict, home: Path) -> Path:
    """The tiny model installed in ``home``'s models folder (files + complete manifest) and a
    catalog that lists it; returns the catalog path."""
    target = home / "models" / CatalogEntry.from_dict(entry).folder_name
    shutil.copytree(folder, target)
    files = [
        {"path": p.relative_to(target).as_posix(), "size": p.stat().st_size}
        for p in target.rglob("*")
        if p.is_file()
    ]
    manifest = {"model_id": entry["id"], "complete": True, "files": files}
    (target / MANIFEST_NAME).write_text(json.dumps(manifest))
    return tm.write_catalog(home / "catalog.json", [entry])


def _cli(home: Path, catalog: Path, *args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "sora-desktop"
    command = [str(exe)] if exe.is_file() else [sys.executable, "-m", "sora_desktop.cli"]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SORA_DESKTOP_HOME": str(home),
        "SORA_DESKTOP_CATALOG": str(catalog),
        "HF_HOME": str(home / "hf"),
        "HF_HUB_OFFLINE": "1",
    }
    return subprocess.run([*command, *args], env=env, capture_output=True, text=True, timeout=300)


def test_cli_generates_a_long_shot_with_timed_prompts(tiny_ltx, tmp_path):
    from sora_desktop.engine.export import read_video

    home = tmp_path / "home"
    catalog = _install(*tiny_ltx, home)
    out = tmp_path / "long.mp4"
    # --force: this computer has no GPU, which the memory check (issue 23) would refuse
    common = ["--model", "tiny/ltx", "--size", "32x32", "--fps", "8", "--steps", "2", "--force"]
    run = _cli(
        home,
        catalog,
        "generate",
        "a red fox runs through the forest",
        *common,
        "--frames",
        str(FRAMES),
        "--seed",
        "3",
        "--prompt-at",
        "1.0",
        "a blue car drives on the street",
        "--prompt-at",
        "2",
        "a boat on the sea",
        "-o",
        str(out),
    )
    assert run.returncode == 0, run.stderr
    assert "segment 3/3" in run.stderr  # the progress counts every window
    frames, fps = read_video(out)
    assert frames.shape[0] == FRAMES and fps == pytest.approx(8, abs=0.5)

    # a timed prompt outside the clip: one line, exit 2, nothing written
    bad = tmp_path / "bad.mp4"
    run = _cli(
        home,
        catalog,
        "generate",
        "a red fox runs",
        *common,
        "--frames",
        str(FRAMES),
        "--prompt-at",
        "4",
        "a boat",
        "-o",
        str(bad),
    )
    assert run.returncode == 2 and not bad.exists()
    assert (
        run.stderr.strip()
        .splitlines()[-1]
        .startswith("error: --prompt-at (Prompts over time): prompt 1: 4 s")
    )
    run = _cli(home, catalog, "generate", "a fox", *common, "--prompt-at", "soon", "x")
    assert run.returncode == 2 and "--prompt-at: 'soon' is not a number" in run.stderr


def test_the_built_in_model_chains_itself_unless_the_shot_has_timed_prompts(micro_model_dir):
    from sora_desktop.engine.embedded.pipeline import EmbeddedBackend

    embedded = EmbeddedBackend(micro_model_dir, device="cpu")
    window = embedded.capabilities().window
    frames = 2 * window - 1  # two windows sharing a frame
    plain = GenerationRequest("a red circle moves right", steps=1, num_frames=frames, seed=3)
    with Spy(embedded) as spy:
        result = list(registry.generate(plain, backend=embedded))[-1]
    assert [r.num_frames for r in spy.requests] == [frames]  # its own segment chaining
    assert result.frames.shape[0] == frames

    at = (window - 1) / plain.fps  # the second window's first frame
    timed = plain.with_changes(timed_prompts=(TimedPrompt(at, "a blue square moves left"),))
    with Spy(embedded) as spy:
        result = list(registry.generate(timed, backend=embedded))[-1]
    assert [r.num_frames for r in spy.requests] == [window, window]
    assert [r.prompt for r in spy.requests] == [plain.prompt, "a blue square moves left"]
    assert np.array_equal(spy.starts[1], result.frames[window - 1])
    assert result.frames.shape[0] == frames
