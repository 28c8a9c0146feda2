"""The embedded backend's side of "nothing lost at decode": latents handed out before the VAE
decode, ``decode_latents`` giving the same frames as the normal path, ``DecodeFailed`` with the
cause chained."""

from __future__ import annotations

import numpy as np
import pytest

from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.backend import (
    DecodeFailed,
    GenerationResult,
    LatentsReady,
    StepEvent,
)


@pytest.fixture(scope="module")
def backend(micro_model_dir):
    from sora_desktop.engine.embedded.pipeline import EmbeddedBackend

    return EmbeddedBackend(model_dir=micro_model_dir, device="cpu")


def test_latents_come_before_the_decode_and_decode_back_to_the_same_frames(backend, monkeypatch):
    from sora_desktop.engine.embedded.vae import VideoVAE

    order = []
    real_decode = VideoVAE.decode

    def spy(self, z):
        order.append("decode")
        return real_decode(self, z)

    monkeypatch.setattr(VideoVAE, "decode", spy)
    req = GenerationRequest("a red ball", steps=2, seed=5, num_frames=30)  # two segments
    events = []
    for event in backend.generate(req):
        events.append(event)
        order.append(type(event).__name__)
    ready = [e for e in events if isinstance(e, LatentsReady)]
    assert len(ready) == 1 and order.index("LatentsReady") < order.index("decode")
    (ready,) = ready
    assert sorted(ready.latents) == ["w0.video", "w1.video"]
    assert (ready.segment, ready.segments) == (1, 2)
    assert all(a.dtype == np.float32 for a in ready.latents.values())
    result = events[-1]
    assert isinstance(result, GenerationResult) and result.frames.shape == (30, 64, 64, 3)

    monkeypatch.setattr(VideoVAE, "decode", real_decode)
    for low_memory in (False, True):
        again = backend.decode_latents(req, ready.latents, ready.info, low_memory=low_memory)
        np.testing.assert_array_equal(again.frames, result.frames)  # same seed, same frames
    # the same seed again gives the same latents (reproducible takes)
    second = [e for e in backend.generate(req) if isinstance(e, LatentsReady)][0]
    for key, value in ready.latents.items():
        np.testing.assert_array_equal(second.latents[key], value)


@pytest.mark.parametrize("error", ["torch_oom", "memory"])
def test_a_failed_decode_raises_decode_failed_with_its_cause(backend, monkeypatch, error):
    import torch

    from sora_desktop.engine.embedded.vae import VideoVAE

    exc = torch.OutOfMemoryError("CUDA out of memory") if error == "torch_oom" else MemoryError()

    def boom(self, z):
        raise exc

    monkeypatch.setattr(VideoVAE, "decode", boom)
    req = GenerationRequest("a blue cube", steps=1, seed=1, num_frames=16)
    seen = []
    with pytest.raises(DecodeFailed) as info:
        for event in backend.generate(req):
            seen.append(type(event))
    assert info.value.__cause__ is exc
    assert StepEvent in seen and seen[-1] is LatentsReady


def test_decode_latents_refuses_latents_of_another_clip(backend):
    req = GenerationRequest("a cube", steps=1, num_frames=16)
    good = np.zeros((1, *backend._latent_shape()), np.float32)
    with pytest.raises(ValueError, match="latents: w0.video"):
        backend.decode_latents(req, {"w0.video": good[:, :, :2]}, {})
    with pytest.raises(ValueError, match="do not belong"):
        backend.decode_latents(req, {"w0.video": good, "w1.video": good}, {})
    with pytest.raises(ValueError, match="do not belong"):
        backend.decode_latents(req, {}, {})
