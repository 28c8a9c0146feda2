"""HunyuanVideo 1.5 through ``DiffusersBackend(entry, folder)``: a saved tiny model folder with
its ``i2v`` variant folder, a catalog entry, and the events a job sees (StepEvent...,
LatentsReady before the decode, GenerationResult), ``decode_latents`` of the saved latents,
cancel and seed reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from tiny_hunyuan15 import I2V_PIPELINE, PIPELINE, SIZE, save_tiny_hunyuan15

from sora_desktop.core.catalog import CatalogEntry
from sora_desktop.core.errors import FieldError
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine import diffusers_backend as db
from sora_desktop.engine.backend import (
    CancelToken,
    GenerationCancelled,
    GenerationResult,
    LatentsReady,
    StepEvent,
)

W, H, FRAMES = SIZE


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hy15b") / "tiny--hunyuan15"
    entry = CatalogEntry.from_dict(save_tiny_hunyuan15(folder))
    return db.DiffusersBackend(entry, folder, "cpu", "balanced")


@pytest.fixture(scope="module")
def start(tmp_path_factory):
    path = tmp_path_factory.mktemp("hy15img") / "start.png"
    Image.new("RGB", (W, H), (220, 180, 20)).save(path)
    return str(path)


def _req(**kw) -> GenerationRequest:
    base = dict(
        prompt="a yellow car drives through the city at night",
        seed=5,
        steps=2,
        guidance=3.0,
        num_frames=FRAMES,
        fps=8,
        width=W,
        height=H,
        model_id="tiny/hunyuan15",
    )
    base.update(kw)
    return GenerationRequest(**base)


def _events(backend, req, cancel=None):
    events = list(backend.generate(req, cancel))
    kinds = [type(e).__name__ for e in events]
    return events, kinds


def test_text_to_video_steps_latents_before_decode_then_frames(backend):
    events, kinds = _events(backend, _req())
    assert kinds == ["StepEvent", "StepEvent", "LatentsReady", "GenerationResult"]
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert [s.step for s in steps] == [1, 2]
    assert all(s.preview is not None and s.preview.dtype == np.uint8 for s in steps)
    ready, result = events[2], events[3]
    assert isinstance(ready, LatentsReady) and ready.info["pipeline"] == PIPELINE
    assert ready.latents["video"].shape == (1, 4, 5, 8, 8)
    assert isinstance(result, GenerationResult)
    assert result.frames.shape == (FRAMES, H, W, 3) and result.frames.std() > 0


def test_image_to_video_runs_the_variant_pipeline(backend, start):
    events, kinds = _events(backend, _req(start_image=start))
    assert kinds[-2:] == ["LatentsReady", "GenerationResult"]
    assert events[-2].info["pipeline"] == I2V_PIPELINE
    pipe = backend._pipes[I2V_PIPELINE]
    assert pipe.transformer.config.task_type == "i2v"  # from <folder>/i2v
    assert pipe.vae is backend.pipe.vae  # shared with the text-to-video pipeline
    assert events[-1].frames.shape == (FRAMES, H, W, 3)


def test_image_to_video_at_another_size_is_refused_before_running(backend, tmp_path):
    path = tmp_path / "wide.png"
    Image.new("RGB", (W, H - 16), (0, 0, 0)).save(path)
    with pytest.raises(FieldError, match="40x20"):
        _events(backend, _req(start_image=str(path), height=H - 16))


def test_decode_latents_of_the_saved_latents_gives_the_same_frames(backend, start):
    for req in (_req(), _req(start_image=start)):
        events, _ = _events(backend, req)
        ready, result = events[-2], events[-1]
        saved = {k: np.array(v, copy=True) for k, v in ready.latents.items()}  # as on disk
        again = backend.decode_latents(req, saved, ready.info, low_memory=False)
        assert np.abs(again.frames.astype(int) - result.frames.astype(int)).max() <= 1
        tiled = backend.decode_latents(req, saved, ready.info, low_memory=True)
        assert tiled.frames.shape == result.frames.shape


def test_cancel_stops_before_the_decode(backend):
    cancel = CancelToken()
    seen = []
    with pytest.raises(GenerationCancelled):
        for event in backend.generate(_req(steps=4), cancel):
            seen.append(type(event).__name__)
            cancel.cancel()
    assert seen == ["StepEvent"]


def test_same_seed_same_clip_other_seed_other_clip(backend):
    a = _events(backend, _req(seed=21))[0][-1].frames
    b = _events(backend, _req(seed=21))[0][-1].frames
    c = _events(backend, _req(seed=22))[0][-1].frames
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
