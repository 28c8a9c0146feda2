"""Wan through the family adapters: VACE (text, start image, first + last keyframes) and Wan 2.2
TI2V (text and image with one checkpoint, an image-to-video variant folder); the latents come out
before the decode, a failed decode is retried from them, speed switches are recorded."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tiny_wan
import torch

from sora_desktop.core.catalog import CatalogEntry
from sora_desktop.core.errors import FieldError
from sora_desktop.core.request import GenerationRequest
from sora_desktop.core.speed import SpeedOptions
from sora_desktop.engine import diffusers_backend as db
from sora_desktop.engine.backend import (
    CancelToken,
    DecodeFailed,
    GenerationCancelled,
    GenerationResult,
    LatentsReady,
    StepEvent,
)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_wan")
    return {
        "vace": (root / "vace", tiny_wan.save("vace", root / "vace")),
        "ti2v": (root / "ti2v", tiny_wan.save("ti2v", root / "ti2v")),
        "ti2v-variant": (root / "tv", tiny_wan.save("ti2v", root / "tv", variant_seed=5)),
    }


@pytest.fixture(scope="module")
def backends(models):
    return {
        k: db.DiffusersBackend(CatalogEntry.from_dict(e), folder, "cpu", "balanced")
        for k, (folder, e) in models.items()
    }


def request(backend, **kw) -> GenerationRequest:
    w, h, n = tiny_wan.SIZE
    base = dict(prompt="a red fox runs", steps=2, guidance=3.0, num_frames=n, width=w, height=h)
    base.update(model_id=backend.model_id, seed=3)
    base.update(kw)
    return GenerationRequest(**base)


def image(tmp_path, name: str, colour: tuple[int, int, int]) -> str:
    path = tmp_path / f"{name}.png"
    cv2.imwrite(str(path), np.full((32, 32, 3), colour[::-1], np.uint8))
    return str(path)


def run(backend, req, cancel=None):
    events = list(backend.generate(req, cancel))
    kinds = [type(e).__name__ for e in events]
    return events, kinds


def spy_calls(monkeypatch, cls_name: str) -> list[dict]:
    import diffusers

    cls = getattr(diffusers, cls_name)
    calls: list[dict] = []
    real = cls.__call__

    def spy(self, *a, **kw):
        calls.append(kw)
        return real(self, *a, **kw)

    monkeypatch.setattr(cls, "__call__", spy)
    return calls


def test_latents_come_out_before_the_decode_and_decode_again_to_the_same_clip(backends):
    backend = backends["vace"]
    events, kinds = run(backend, request(backend))
    assert kinds == ["StepEvent", "StepEvent", "LatentsReady", "GenerationResult"]
    ready, result = events[2], events[3]
    assert set(ready.latents) == {"video"} and ready.latents["video"].dtype == np.float32
    assert ready.info["pipeline"] == "WanVACEPipeline"
    again = backend.decode_latents(result.request, ready.latents, ready.info, low_memory=True)
    assert np.array_equal(again.frames, result.frames)
    assert result.frames.shape == (9, 32, 32, 3)


def test_vace_pins_the_start_and_end_keyframes_at_their_frames(backends, tmp_path, monkeypatch):
    backend = backends["vace"]
    calls = spy_calls(monkeypatch, "WanVACEPipeline")
    start = image(tmp_path, "start", (200, 30, 30))
    end = image(tmp_path, "end", (20, 20, 220))
    _, kinds = run(backend, request(backend, start_image=start, end_image=end))
    assert kinds[-1] == "GenerationResult"
    (kw,) = calls
    video, mask = kw["video"], kw["mask"]
    assert len(video) == len(mask) == 9
    assert np.asarray(video[0])[0, 0].tolist() == [200, 30, 30]
    assert np.asarray(video[-1])[0, 0].tolist() == [20, 20, 220]
    kept = [i for i, m in enumerate(mask) if np.asarray(m).max() == 0]
    assert kept == [0, 8]  # only the pinned frames are kept, the rest is generated


def test_vace_text_only_passes_no_control_video(backends, monkeypatch):
    backend = backends["vace"]
    calls = spy_calls(monkeypatch, "WanVACEPipeline")
    run(backend, request(backend))
    assert "video" not in calls[0] and "mask" not in calls[0]


def test_ti2v_starts_from_an_image_with_the_same_weights(backends, tmp_path):
    backend = backends["ti2v"]
    start = image(tmp_path, "s", (10, 200, 10))
    events, _ = run(backend, request(backend, start_image=start))
    result = events[-1]
    assert result.info["pipeline"] == "WanImageToVideoPipeline"
    i2v = backend._pipes["WanImageToVideoPipeline"]
    assert i2v.transformer is backend.pipe.transformer and i2v.config.expand_timesteps
    with pytest.raises(ValueError, match="end_image"):  # TI2V has no last-frame keyframe
        list(backend.generate(request(backend, start_image=start, end_image=start)))


def test_an_image_to_video_variant_folder_brings_its_own_transformer(backends, tmp_path):
    backend = backends["ti2v-variant"]
    start = image(tmp_path, "s", (10, 200, 10))
    events, _ = run(backend, request(backend, start_image=start))
    assert isinstance(events[-1], GenerationResult)
    i2v = backend._pipes["WanImageToVideoPipeline"]
    assert i2v.transformer is not backend.pipe.transformer  # loaded from i2v/transformer
    assert i2v.vae is backend.pipe.vae and i2v.text_encoder is backend.pipe.text_encoder
    main = dict(backend.pipe.transformer.named_parameters())
    other = dict(i2v.transformer.named_parameters())
    name = next(iter(main))
    assert not torch.equal(main[name], other[name])


def test_a_decode_that_runs_out_of_memory_keeps_the_latents(backends, monkeypatch):
    backend = backends["vace"]
    normal, _ = run(backend, request(backend))
    calls = []

    def oom(pipe, latents, req):
        calls.append(1)
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 9.00 GiB")

    with monkeypatch.context() as m:
        m.setattr(backend.adapter, "decode", oom)
        gen = backend.generate(request(backend))
        events = []
        with pytest.raises(DecodeFailed, match="Retry in low memory"):
            for e in gen:
                events.append(e)
    assert calls == [1]
    ready = [e for e in events if isinstance(e, LatentsReady)]
    assert len(ready) == 1 and not [e for e in events if isinstance(e, GenerationResult)]
    steps_before = len([e for e in events if isinstance(e, StepEvent)])
    retried = backend.decode_latents(request(backend), ready[0].latents, ready[0].info)
    assert steps_before == 2
    assert np.array_equal(retried.frames, normal[-1].frames)


def test_cancel_stops_before_the_latents_and_the_decode(backends):
    backend = backends["vace"]
    cancel = CancelToken()
    gen = backend.generate(request(backend, steps=6), cancel)
    assert isinstance(next(gen), StepEvent)
    cancel.cancel()
    rest = []
    with pytest.raises(GenerationCancelled):
        for e in gen:
            rest.append(e)
    assert not [e for e in rest if isinstance(e, (LatentsReady, GenerationResult))]


def test_same_seed_same_clip(backends, tmp_path):
    backend = backends["vace"]
    start = image(tmp_path, "s", (90, 90, 200))
    a = run(backend, request(backend, start_image=start, seed=9))[0][-1]
    b = run(backend, request(backend, start_image=start, seed=9))[0][-1]
    c = run(backend, request(backend, start_image=start, seed=10))[0][-1]
    assert np.array_equal(a.frames, b.frames) and not np.array_equal(a.frames, c.frames)


def test_the_first_block_cache_is_applied_and_recorded(backends, monkeypatch):
    from diffusers.hooks import FirstBlockCacheConfig

    backend = backends["vace"]
    enabled = []
    real = type(backend.pipe.transformer).enable_cache

    def spy(self, config):
        enabled.append(config)
        return real(self, config)

    monkeypatch.setattr(type(backend.pipe.transformer), "enable_cache", spy)
    extra = SpeedOptions(cache="first_block").into_extra({})
    result = run(backend, request(backend, steps=4, extra=extra))[0][-1]
    assert len(enabled) == 1 and isinstance(enabled[0], FirstBlockCacheConfig)
    assert result.info["speed"]["cache"] == "first_block"
    assert result.request.extra["speed"]["cache"] == "first_block"
    run(backend, request(backend))  # the next job without the cache runs without it
    assert not backend.pipe.transformer.is_cache_enabled


def test_speed_switches_a_machine_cannot_honour_are_refused_by_name(backends, models):
    backend = backends["vace"]
    flash = SpeedOptions(attention="flash").into_extra({})
    with pytest.raises(FieldError, match="speed.attention"):
        list(backend.generate(request(backend, extra=flash)))
    fp8 = SpeedOptions(fp8=True).into_extra({})
    with pytest.raises(FieldError, match="speed.fp8"):  # loaded without fp8
        list(backend.generate(request(backend, extra=fp8)))
    with pytest.raises(FieldError, match="speed.cache"):
        SpeedOptions(cache="teacache")
    folder, e = models["vace"]
    with pytest.raises(FieldError, match="speed.compile"):
        db.DiffusersBackend(
            CatalogEntry.from_dict(e), folder, "cpu", "balanced", speed=SpeedOptions(compile=True)
        )
