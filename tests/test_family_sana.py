"""Sana-Video through its family adapter, with tiny random weights saved in the real on-disk
format (one folder serves text- and image-to-video): the ``frames`` argument, no resolution
binning, text-to-video, image-to-video, refusals, save-before-decode (the adapter's decode of
the saved latents gives the pipeline's own frames), cancel and seed reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

from PIL import Image  # noqa: E402

from sora_desktop.core.catalog import CatalogEntry  # noqa: E402
from sora_desktop.core.errors import FieldError  # noqa: E402
from sora_desktop.engine.families import Keyframes, adapter_for  # noqa: E402
from tests import tiny_kandinsky5 as drive  # noqa: E402
from tests import tiny_sana  # noqa: E402


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sana") / "tiny--sana-video"
    entry = tiny_sana.save_tiny_model(folder)
    adapter = adapter_for(CatalogEntry.from_dict(entry))
    t2v = diffusers.SanaVideoPipeline.from_pretrained(str(folder))
    i2v = diffusers.SanaImageToVideoPipeline.from_pretrained(str(folder))  # the same weights
    return {"entry": entry, "adapter": adapter, "t2v": t2v, "i2v": i2v}


def image(color: str) -> Image.Image:
    return Image.new("RGB", (32, 32), color)


def test_call_arguments_follow_the_sana_signature(model):
    adapter, pipe, entry = model["adapter"], model["t2v"], model["entry"]
    req = drive.request(entry)
    kwargs = adapter.call_kwargs(pipe, req, Keyframes(), drive.common_kwargs(adapter, req))
    assert kwargs["frames"] == 9 and "num_frames" not in kwargs
    assert kwargs["use_resolution_binning"] is False  # the latents keep the request's size
    assert kwargs["negative_prompt"] == ""


def test_text_to_video_decodes_saved_latents_to_the_pipelines_own_frames(model):
    adapter, pipe, entry = model["adapter"], model["t2v"], model["entry"]
    req = drive.request(entry)
    assert adapter.pipeline_for(req) == "SanaVideoPipeline"
    saved = drive.latents_np(adapter, pipe, drive.drive(adapter, pipe, req, Keyframes()))
    assert saved["video"].shape == (1, 16, 3, 4, 4)
    frames = drive.decode_saved(adapter, pipe, saved, req)
    assert frames.shape == (9, 32, 32, 3) and frames.dtype == np.uint8
    own = drive.as_uint8(drive.drive(adapter, pipe, req, Keyframes(), output_type="np").frames)
    assert np.abs(frames.astype(int) - own.astype(int)).max() <= 1
    assert frames.std() > 0


def test_image_to_video_uses_the_same_weights_and_the_image(model):
    adapter, pipe, entry = model["adapter"], model["i2v"], model["entry"]
    req = drive.request(entry, start_image="start.png")
    assert adapter.pipeline_for(req) == "SanaImageToVideoPipeline"
    assert pipe.transformer.config == model["t2v"].transformer.config
    red = drive.latents_np(
        adapter, pipe, drive.drive(adapter, pipe, req, Keyframes(start=image("red")))
    )
    blue = drive.latents_np(
        adapter, pipe, drive.drive(adapter, pipe, req, Keyframes(start=image("blue")))
    )
    assert not np.allclose(red["video"][:, :, 0], blue["video"][:, :, 0])  # frame 0 = image
    own = drive.drive(adapter, pipe, req, Keyframes(start=image("red")), output_type="np")
    frames = drive.decode_saved(adapter, pipe, red, req)
    assert np.abs(frames.astype(int) - drive.as_uint8(own.frames).astype(int)).max() <= 1


def test_end_image_is_refused_with_the_field(model):
    adapter, entry = model["adapter"], model["entry"]
    with pytest.raises(FieldError) as err:
        adapter.pipeline_for(drive.request(entry, start_image="s.png", end_image="e.png"))
    assert err.value.field == "end_image"


def test_cancel_stops_denoising_and_preview_latents_map_to_the_vae(model):
    adapter, pipe, entry = model["adapter"], model["t2v"], model["entry"]
    req = drive.request(entry, steps=3)
    seen: list[int] = []
    previews = []

    def callback(p, i, t, kw):
        seen.append(i)
        previews.append(adapter.raw_latents(p, kw["latents"], req))
        p._interrupt = True  # what the backend's cancel does
        return kw

    drive.drive(adapter, pipe, req, Keyframes(), callback=callback)
    assert seen == [0] and previews[0].shape == (1, 16, 3, 4, 4)
    # raw = normalised * std + mean, the inverse of how the pipeline normalises
    cfg = pipe.vae.config
    z = torch.zeros(1, 16, 1, 1, 1)
    raw = adapter.normalised_to_raw(pipe, z).flatten()
    assert torch.allclose(raw, torch.tensor(cfg.latents_mean))


def test_same_seed_same_clip_other_seed_other_clip(model):
    adapter, pipe, entry = model["adapter"], model["t2v"], model["entry"]
    req = drive.request(entry)
    a = drive.latents_np(adapter, pipe, drive.drive(adapter, pipe, req, Keyframes()))["video"]
    b = drive.latents_np(adapter, pipe, drive.drive(adapter, pipe, req, Keyframes()))["video"]
    other = drive.request(entry, seed=8)
    c = drive.latents_np(adapter, pipe, drive.drive(adapter, pipe, other, Keyframes()))["video"]
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
