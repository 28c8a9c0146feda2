"""HunyuanVideo 1.5 family adapter on tiny random-weight pipelines in the real on-disk layout
(the text-to-video folder + its ``i2v`` variant folder), driven the way the backend drives an
adapter: ``pipeline_for`` → ``call_kwargs`` + ``step_callback_kwargs`` → ``pipe(...,
output_type="latent")`` → latents saved (as ``LatentsReady`` carries them) → ``decode``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_hunyuan15 import I2V_PIPELINE, PIPELINE, SIZE, load_pipelines, save_tiny_hunyuan15

from sora_desktop.core.catalog import CatalogEntry
from sora_desktop.core.errors import FieldError
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.families import Keyframes, adapter_for
from sora_desktop.engine.families.base import to_uint8

W, H, FRAMES = SIZE


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hy15") / "tiny--hunyuan15"
    entry = CatalogEntry.from_dict(save_tiny_hunyuan15(folder))
    t2v, i2v = load_pipelines(folder)
    return entry, folder, {PIPELINE: t2v, I2V_PIPELINE: i2v}


def _request(**kw) -> GenerationRequest:
    base = dict(
        prompt="a red fox runs through the forest",
        negative_prompt="blurry",
        seed=3,
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


def _common(req: GenerationRequest) -> dict:
    """The shared call arguments the backend hands every adapter."""
    return dict(
        prompt=req.prompt,
        negative_prompt=req.negative_prompt,
        height=req.height,
        width=req.width,
        num_frames=req.num_frames,
        num_inference_steps=req.steps,
        guidance_scale=req.guidance,
        generator=torch.Generator().manual_seed(req.seed),
        output_type="latent",
    )


def _start_image(tmp_path, size=(W, H)):
    img = Image.new("RGB", size, (200, 40, 30))
    path = tmp_path / "start.png"
    img.save(path)
    return str(path), img


NO_KEYS = Keyframes()


def _run(model, req, keys=NO_KEYS, on_step=None):
    """(adapter, pipe, named latents as numpy, steps seen)"""
    entry, _folder, pipes = model
    fam = adapter_for(entry)
    pipe = pipes[fam.pipeline_for(req)]
    steps: list[int] = []

    def record(p, i, t, tensors):
        steps.append(i)
        if on_step is not None:
            on_step(p, i, t, tensors)
        return tensors

    kwargs = fam.call_kwargs(pipe, req, keys, _common(req))
    out = pipe(**kwargs, **fam.step_callback_kwargs(pipe, record))
    latents = fam.latents_from_output(pipe, out)
    named = {k: v.detach().cpu().float().numpy() for k, v in latents.items()}
    return fam, pipe, named, steps


def _decode(fam, pipe, named, req):
    latents = {k: torch.from_numpy(v) for k, v in named.items()}
    with torch.no_grad():
        return fam.decode(pipe, latents, req).frames


def test_text_to_video_makes_frames_and_reports_every_step(model):
    req = _request()
    fam, pipe, named, steps = _run(model, req)
    assert type(pipe).__name__ == PIPELINE
    assert steps == [0, 1]
    # 4 latent channels, (9 - 1) / 2 + 1 latent frames, 32 / 4 latent pixels
    assert named["video"].shape == (1, 4, 5, 8, 8)
    frames = _decode(fam, pipe, named, req)
    assert frames.shape == (FRAMES, H, W, 3) and frames.dtype == np.uint8
    assert frames.std() > 0


def test_image_to_video_runs_the_variant_folder(model, tmp_path):
    entry, folder, pipes = model
    path, img = _start_image(tmp_path)
    req = _request(start_image=path)
    fam, pipe, named, steps = _run(model, req, Keyframes(start=img))
    assert type(pipe).__name__ == I2V_PIPELINE
    # the image encoder and the I2V transformer come from <model>/i2v, the rest is shared
    assert pipe.transformer.config.task_type == "i2v"
    assert pipe.image_encoder is not None
    assert pipe.vae is pipes[PIPELINE].vae
    assert steps == [0, 1]
    frames = _decode(fam, pipe, named, req)
    assert frames.shape == (FRAMES, H, W, 3)
    _, _, plain, _ = _run(model, _request())
    assert not np.allclose(plain["video"], named["video"])  # the image changed the clip


def test_image_to_video_at_a_size_it_cannot_make_is_refused_with_the_size(model, tmp_path):
    path, img = _start_image(tmp_path, (W, H - 16))
    req = _request(start_image=path, height=H - 16)
    with pytest.raises(FieldError) as err:
        _run(model, req, Keyframes(start=img))
    assert err.value.field == "width"
    # target_size 32 with 4-pixel patches: buckets of at most 8*8 patches; the 2:1 one is
    # 10x5 patches = 40x20 pixels, which the pipeline would make instead of 32x16
    assert "40x20" in str(err.value)


def test_no_end_keyframe(model, tmp_path):
    entry, _folder, _pipes = model
    path, _img = _start_image(tmp_path)
    with pytest.raises(FieldError) as err:
        adapter_for(entry).pipeline_for(_request(start_image=path, end_image=path))
    assert err.value.field == "end_image"


def test_saved_latents_decode_to_the_pipelines_own_frames(model):
    """Save-before-decode: the latents as saved (numpy) decode to the frames the pipeline's
    own tail makes from the same seed."""
    entry, _folder, pipes = model
    req = _request()
    fam, pipe, named, _ = _run(model, req)
    ours = _decode(fam, pipe, named, req)
    kwargs = fam.call_kwargs(pipe, req, Keyframes(), _common(req))
    kwargs["output_type"] = "np"
    theirs = to_uint8(pipe(**kwargs, **fam.step_callback_kwargs(pipe, lambda *a: a[3])).frames)
    assert ours.shape == theirs.shape
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1
    fam.low_memory_decode(pipe)  # tiled decode of the saved latents: same frames
    try:
        tiled = _decode(fam, pipe, named, req)
    finally:
        pipe.vae.disable_tiling()
    assert np.abs(tiled.astype(int) - ours.astype(int)).max() <= 2


def test_preview_latents_are_the_vaes_raw_space(model):
    entry, _folder, pipes = model
    req = _request()
    seen = []
    fam, pipe, named, _ = _run(model, req, on_step=lambda p, i, t, d: seen.append(d["latents"]))
    raw = fam.raw_latents(pipe, seen[-1], req)
    expected = torch.from_numpy(named["video"]) / pipe.vae.config.scaling_factor
    assert torch.allclose(raw.float(), expected, atol=1e-5)


def test_cancel_stops_after_the_step_it_was_asked(model):
    class Cancelled(Exception):
        pass

    def cancel(p, i, t, d):
        raise Cancelled

    with pytest.raises(Cancelled):
        _run(model, _request(steps=4), on_step=cancel)
    # the hook of a cancelled run does not leak into the next one
    _fam, _pipe, _named, steps = _run(model, _request())
    assert steps == [0, 1]


def test_same_seed_same_clip_other_seed_other_clip(model):
    _, _, a, _ = _run(model, _request(seed=11))
    _, _, b, _ = _run(model, _request(seed=11))
    _, _, c, _ = _run(model, _request(seed=12))
    assert np.array_equal(a["video"], b["video"])
    assert not np.allclose(a["video"], c["video"])


def test_guidance_goes_to_the_guider(model):
    entry, _folder, pipes = model
    fam = adapter_for(entry)
    pipe = pipes[PIPELINE]
    kwargs = fam.call_kwargs(pipe, _request(guidance=1.0), Keyframes(), _common(_request()))
    assert "guidance_scale" not in kwargs
    assert pipe.guider.guidance_scale == 3.0  # _common carries the request's 3.0
    fam.call_kwargs(pipe, _request(), Keyframes(), {**_common(_request()), "guidance_scale": 5.0})
    assert pipe.guider.guidance_scale == 5.0
