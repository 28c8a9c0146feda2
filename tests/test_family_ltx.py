"""LTX-Video 0.9.x through the diffusers backend, on a tiny random model in the real format.

Text, start image, first + last keyframes (``LTXConditionPipeline``), the latents handed out
before the decode and decoded again from the saved copy, the 0.9.1+ decode (timestep + noise)
matching the pipeline's own, cancel, seeds, and a download through the fake hub.
"""

from __future__ import annotations

import numpy as np
import pytest
import tiny_ltx

from sora_desktop.core.catalog import CatalogEntry
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine import diffusers_backend as db
from sora_desktop.engine.backend import (
    CancelToken,
    GenerationCancelled,
    GenerationResult,
    LatentsReady,
    StepEvent,
)


@pytest.fixture(scope="module")
def ltx_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_ltx") / "ltx"
    return folder, tiny_ltx.save_tiny_ltx(folder)


@pytest.fixture(scope="module")
def backend(ltx_model):
    folder, entry = ltx_model
    return db.DiffusersBackend(CatalogEntry.from_dict(entry), folder, "cpu", "balanced")


def request(backend, **kw) -> GenerationRequest:
    d = backend.entry.defaults
    base = dict(
        prompt="a red fox runs through the forest",
        steps=2,
        guidance=3.0,
        num_frames=d["num_frames"],
        width=d["width"],
        height=d["height"],
        fps=24,
        model_id=backend.model_id,
        seed=7,
    )
    base.update(kw)
    return GenerationRequest(**base)


def events_of(backend, req, cancel=None):
    events = list(backend.generate(req, cancel))
    steps = [e for e in events if isinstance(e, StepEvent)]
    (ready,) = [e for e in events if isinstance(e, LatentsReady)]
    (result,) = [e for e in events if isinstance(e, GenerationResult)]
    assert events.index(ready) < events.index(result)  # saved before the decode
    return steps, ready, result


def image(path, rgb, size=32):
    from PIL import Image

    Image.fromarray(np.full((size, size, 3), rgb, np.uint8)).save(path)
    return str(path)


def test_text_to_video_hands_out_latents_before_the_decode_and_decodes_them_again(backend):
    req = request(backend)
    steps, ready, result = events_of(backend, req)
    assert [s.step for s in steps] == [1, 2]
    assert all(s.preview is not None for s in steps)
    assert result.info["pipeline"] == "LTXPipeline"
    assert result.frames.shape == (9, 32, 32, 3) and result.frames.std() > 0
    assert result.audio is None
    # the saved copy (plain arrays) decodes to the very same frames, decode noise included
    again = backend.decode_latents(req, ready.latents, ready.info)
    np.testing.assert_array_equal(again.frames, result.frames)


def test_decode_is_the_pipelines_own_tail(ltx_model, backend):
    """With the decode noise off, our decode of the latent output equals the pipeline's own
    ``output_type="np"`` result: same unpacking, denormalisation and timestep."""
    folder, entry = ltx_model
    entry = dict(entry, defaults=dict(entry["defaults"], decode_noise_scale=0.0))
    quiet = db.DiffusersBackend(CatalogEntry.from_dict(entry), folder, "cpu", "balanced")
    req = request(quiet)
    _, ready, result = events_of(quiet, req)
    pipe = quiet.pipe
    kwargs = quiet._call_kwargs(req, pipe)
    kwargs.update(output_type="np", decode_timestep=0.05, decode_noise_scale=0.0)
    want = pipe(**kwargs).frames[0]
    want = (np.clip(want, 0, 1) * 255).round().astype(np.uint8)
    assert np.abs(result.frames.astype(int) - want.astype(int)).max() <= 1
    # and the timestep reached the VAE: another timestep decodes differently
    entry2 = dict(entry, defaults=dict(entry["defaults"], decode_timestep=0.5))
    other = db.DiffusersBackend(CatalogEntry.from_dict(entry2), folder, "cpu", "balanced")
    moved = other.decode_latents(req, ready.latents, ready.info)
    assert np.abs(moved.frames.astype(int) - result.frames.astype(int)).mean() > 0.5


def test_decode_noise_comes_from_the_request_seed(backend):
    req = request(backend)
    _, ready, result = events_of(backend, req)
    same = backend.decode_latents(req, ready.latents, ready.info)
    other = backend.decode_latents(req.with_changes(seed=8), ready.latents, ready.info)
    np.testing.assert_array_equal(same.frames, result.frames)
    assert not np.array_equal(other.frames, result.frames)


def test_start_image_runs_image_to_video_from_that_image(backend, tmp_path, monkeypatch):
    from diffusers import LTXImageToVideoPipeline

    start = image(tmp_path / "start.png", (230, 40, 40))
    seen = []
    real = LTXImageToVideoPipeline.prepare_latents

    def spy(self, image=None, *a, **kw):
        seen.append(image.float().mean(dim=(0, 2, 3)))  # per RGB channel, -1..1
        return real(self, image, *a, **kw)

    monkeypatch.setattr(LTXImageToVideoPipeline, "prepare_latents", spy)
    req = request(backend, start_image=start)
    steps, ready, result = events_of(backend, req)
    assert result.info["pipeline"] == "LTXImageToVideoPipeline"
    assert result.frames.shape == (9, 32, 32, 3)
    assert all(s.preview is not None for s in steps)
    (rgb,) = seen
    assert rgb[0] > 0.7 and rgb[2] < -0.5  # the red start image reached the pipeline
    again = backend.decode_latents(req, ready.latents, ready.info)
    np.testing.assert_array_equal(again.frames, result.frames)
    plain = events_of(backend, request(backend))[2]
    assert not np.array_equal(plain.frames, result.frames)  # and changed the clip


def test_first_and_last_keyframes_go_to_the_condition_pipeline_at_frame_0_and_the_last(
    backend, tmp_path, monkeypatch
):
    from diffusers import LTXConditionPipeline

    start = image(tmp_path / "start.png", (230, 40, 40))
    end = image(tmp_path / "end.png", (40, 40, 230))
    seen = {}
    real = LTXConditionPipeline.prepare_latents

    def spy(self, conditions=None, condition_strength=None, condition_frame_index=None, **kw):
        seen["frames"] = list(condition_frame_index)
        seen["images"] = [c.float().mean(dim=(0, 2, 3, 4)) for c in conditions]  # per RGB
        return real(self, conditions, condition_strength, condition_frame_index, **kw)

    monkeypatch.setattr(LTXConditionPipeline, "prepare_latents", spy)
    req = request(backend, start_image=start, end_image=end)
    steps, ready, result = events_of(backend, req)
    assert result.info["pipeline"] == "LTXConditionPipeline"
    assert seen["frames"] == [0, req.num_frames - 1]  # the last frame, on the 4k grid here
    red, blue = seen["images"]
    assert red[0] > red[2] and blue[2] > blue[0]  # start image first, end image last
    assert result.frames.shape == (9, 32, 32, 3)
    assert all(s.preview is not None for s in steps)  # keyframe tokens dropped for previews
    # the saved latents (unpacked by this pipeline) decode again to the same frames
    again = backend.decode_latents(req, ready.latents, ready.info)
    np.testing.assert_array_equal(again.frames, result.frames)


def test_an_end_image_alone_pins_only_the_last_frame(backend, tmp_path, monkeypatch):
    from diffusers import LTXConditionPipeline

    seen = []
    real = LTXConditionPipeline.prepare_latents

    def spy(self, conditions=None, condition_strength=None, condition_frame_index=None, **kw):
        seen.append(list(condition_frame_index))
        return real(self, conditions, condition_strength, condition_frame_index, **kw)

    monkeypatch.setattr(LTXConditionPipeline, "prepare_latents", spy)
    req = request(backend, end_image=image(tmp_path / "end.png", (40, 40, 230)))
    _, _, result = events_of(backend, req)
    assert result.info["pipeline"] == "LTXConditionPipeline"
    assert seen == [[req.num_frames - 1]]
    assert result.frames.shape == (9, 32, 32, 3)


def test_context_frames_condition_the_window_as_a_video(backend, monkeypatch):
    """A long shot's next window continues from the previous window's last frames: one video
    condition at frame 0 holding the last k*t+1 of them."""
    import torch
    from diffusers import LTXConditionPipeline
    from PIL import Image

    from sora_desktop.engine.families import Keyframes

    seen = {}
    real = LTXConditionPipeline.prepare_latents

    def spy(self, conditions=None, condition_strength=None, condition_frame_index=None, **kw):
        seen.update(frames=list(condition_frame_index), sizes=[c.shape[2] for c in conditions])
        return real(self, conditions, condition_strength, condition_frame_index, **kw)

    monkeypatch.setattr(LTXConditionPipeline, "prepare_latents", spy)
    frames = tuple(Image.new("RGB", (32, 32), (10 * i, 0, 0)) for i in range(7))
    pipe = backend._pipe_for("LTXConditionPipeline")
    req = request(backend)
    kwargs = backend._call_kwargs(req, pipe)
    kwargs.update(backend.adapter.call_kwargs(pipe, req, Keyframes(context=frames), kwargs))
    (cond,) = kwargs["conditions"]
    # the tiny VAE compresses time 4x: the last 4k+1 = 5 frames, at frame 0
    assert cond.frame_index == 0 and cond.video == list(frames[-5:])
    with torch.inference_mode():
        out = pipe(**kwargs)
        decoded = backend.adapter.decode(pipe, backend.adapter.latents_from_output(pipe, out), req)
    assert seen == {"frames": [0], "sizes": [5]}
    assert decoded.frames.shape == (9, 32, 32, 3)


def test_cancel_stops_before_latents(backend):
    token = CancelToken()
    seen = []
    with pytest.raises(GenerationCancelled):
        for ev in backend.generate(request(backend, steps=3), token):
            seen.append(ev)
            token.cancel()
    assert not any(isinstance(e, LatentsReady | GenerationResult) for e in seen)
    _, _, result = events_of(backend, request(backend))  # the backend still works
    assert result.frames.shape[0] == 9


def test_same_seed_same_clip_other_seed_other_clip(backend):
    a = events_of(backend, request(backend, seed=3))[2].frames
    b = events_of(backend, request(backend, seed=3))[2].frames
    c = events_of(backend, request(backend, seed=4))[2].frames
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_a_distilled_model_runs_its_own_schedule_in_the_condition_pipeline(ltx_model):
    """A distilled 0.9.7/0.9.8 entry (``timesteps`` in its defaults, guidance 1): every request
    runs in LTXConditionPipeline (the other two refuse ``timesteps``) with that schedule,
    guidance_rescale and image_cond_noise_scale; another step count uses the usual schedule."""
    folder, entry = ltx_model
    schedule = [1000, 993, 987, 981, 975, 909, 725, 0.03]
    entry = dict(
        entry,
        defaults=dict(
            entry["defaults"],
            timesteps=schedule,
            guidance_rescale=0.7,
            image_cond_noise_scale=0.0,
            steps=8,
            guidance=1.0,
        ),
    )
    fast = db.DiffusersBackend(CatalogEntry.from_dict(entry), folder, "cpu", "balanced")
    req = request(fast, steps=8, guidance=1.0)
    pipe = fast._pipe_for(fast.adapter.pipeline_for(req))
    kw = fast._call_kwargs(req, pipe)
    assert type(pipe).__name__ == "LTXConditionPipeline" and "conditions" not in kw
    assert kw["timesteps"] == [float(t) for t in schedule]
    assert kw["guidance_rescale"] == 0.7 and kw["image_cond_noise_scale"] == 0.0
    steps, ready, result = events_of(fast, req)
    assert [s.total for s in steps] == [8] * 8 and result.info["pipeline"] == "LTXConditionPipeline"
    assert pipe.scheduler.timesteps.tolist() == pytest.approx([float(t) for t in schedule])
    assert result.frames.shape == (9, 32, 32, 3)
    np.testing.assert_array_equal(
        fast.decode_latents(req, ready.latents, ready.info).frames, result.frames
    )
    assert "timesteps" not in fast._call_kwargs(req.with_changes(steps=4), pipe)


def test_download_through_the_fake_hub_then_continue_from_an_image(
    ltx_model, tmp_path, monkeypatch
):
    import tiny_models as tm
    from fakehub import FakeHub
    from huggingface_hub import constants

    from sora_desktop.core.catalog import is_installed, load_catalog
    from sora_desktop.engine import registry
    from sora_desktop.engine.downloads import HubConfig, ModelDownloader

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    folder, entry_dict = ltx_model
    catalog = tm.write_catalog(tmp_path / "catalog.json", [entry_dict])
    monkeypatch.setenv("SORA_DESKTOP_CATALOG", str(catalog))
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    from sora_desktop.core.settings import load_settings

    models_dir = load_settings().models_dir
    entry = next(e for e in load_catalog() if e.id == entry_dict["id"])
    with FakeHub() as hub:
        hub.add_folder(entry.repo_id, folder)
        ModelDownloader(models_dir, HubConfig(endpoint=hub.endpoint)).download(entry)
    assert is_installed(entry, models_dir)
    req = GenerationRequest(
        prompt="a red car drives",
        steps=2,
        num_frames=9,
        width=32,
        height=32,
        fps=24,
        model_id=entry.id,
        seed=1,
        start_image=image(tmp_path / "start.png", (200, 200, 40)),
    )
    try:
        events = list(registry.generate(req, device="cpu"))
    finally:
        registry.unload_all()
    result = events[-1]
    assert isinstance(result, GenerationResult)
    assert result.info["pipeline"] == "LTXImageToVideoPipeline"
    assert result.frames.shape == (9, 32, 32, 3)
