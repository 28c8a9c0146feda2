"""Kandinsky 5 through its family adapter, with tiny random weights saved in the real on-disk
format (the I2V transformer in the ``i2v/`` variant folder): text-to-video, image-to-video,
refusals, save-before-decode (the adapter's decode of the saved latents gives the pipeline's
own frames), cancel and seed reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

from PIL import Image  # noqa: E402

from sora_desktop.core.catalog import CatalogEntry  # noqa: E402
from sora_desktop.core.errors import FieldError  # noqa: E402
from sora_desktop.engine.families import Keyframes, adapter_for  # noqa: E402
from tests import tiny_kandinsky5 as tiny  # noqa: E402


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("k5") / "tiny--kandinsky5"
    entry = tiny.save_tiny_model(folder)
    adapter = adapter_for(CatalogEntry.from_dict(entry))
    t2v = diffusers.Kandinsky5T2VPipeline.from_pretrained(str(folder))
    # the backend's variant rule: the variant folder + the main components it lacks
    lacking = {k: v for k, v in t2v.components.items() if not (folder / "i2v" / k).is_dir()}
    i2v = diffusers.Kandinsky5I2VPipeline.from_pretrained(str(folder / "i2v"), **lacking)
    return {"entry": entry, "folder": folder, "adapter": adapter, "t2v": t2v, "i2v": i2v}


def image(color: str) -> Image.Image:
    return Image.new("RGB", (32, 32), color)


def test_variant_folder_holds_only_the_i2v_transformer(model):
    variant = model["folder"] / "i2v"
    assert sorted(p.name for p in variant.iterdir() if p.is_dir()) == ["transformer"]
    assert tiny.model_index(variant)["_class_name"] == "Kandinsky5I2VPipeline"
    a, b = model["t2v"].transformer, model["i2v"].transformer
    assert not torch.equal(next(a.parameters()), next(b.parameters()))


def test_text_to_video_decodes_saved_latents_to_the_pipelines_own_frames(model):
    adapter, pipe, entry = model["adapter"], model["t2v"], model["entry"]
    req = tiny.request(entry)
    assert adapter.pipeline_for(req) == "Kandinsky5T2VPipeline"
    saved = tiny.latents_np(adapter, pipe, tiny.drive(adapter, pipe, req, Keyframes()))
    assert saved["video"].shape == (1, 5, 4, 4, 4)  # (B, F, h, w, C) as the pipeline gives
    frames = tiny.decode_saved(adapter, pipe, saved, req)
    assert frames.shape == (17, 32, 32, 3) and frames.dtype == np.uint8
    own = tiny.drive(adapter, pipe, req, Keyframes(), output_type="np").frames[0]
    own = (np.clip(own, 0, 1) * 255).round().astype(np.uint8)
    assert np.abs(frames.astype(int) - own.astype(int)).max() <= 1
    assert frames.std() > 0


def test_image_to_video_uses_the_variant_pipeline_and_the_image(model):
    adapter, pipe, entry = model["adapter"], model["i2v"], model["entry"]
    req = tiny.request(entry, start_image="start.png")
    assert adapter.pipeline_for(req) == "Kandinsky5I2VPipeline"
    kwargs = adapter.call_kwargs(pipe, req, Keyframes(start=image("red")), {"prompt": "x"})
    assert kwargs["image"].getpixel((0, 0)) == (255, 0, 0) and "last_image" not in kwargs
    red = tiny.latents_np(
        adapter, pipe, tiny.drive(adapter, pipe, req, Keyframes(start=image("red")))
    )
    blue = tiny.latents_np(
        adapter, pipe, tiny.drive(adapter, pipe, req, Keyframes(start=image("blue")))
    )
    assert np.isfinite(red["video"]).all()
    assert not np.allclose(red["video"], blue["video"])  # the image steers the clip
    own = tiny.drive(adapter, pipe, req, Keyframes(start=image("red")), output_type="np")
    own = (np.clip(own.frames[0], 0, 1) * 255).round().astype(np.uint8)
    frames = tiny.decode_saved(adapter, pipe, red, req)
    assert np.abs(frames.astype(int) - own.astype(int)).max() <= 1


def test_refusals_are_one_clear_line(model):
    adapter, entry = model["adapter"], model["entry"]
    with pytest.raises(FieldError) as short:
        adapter.pipeline_for(tiny.request(entry, start_image="s.png", num_frames=13))
    assert short.value.field == "num_frames" and "at least 17 frames" in str(short.value)
    no_variant = adapter_for(CatalogEntry.from_dict({**entry, "variants": {}}))
    with pytest.raises(FieldError) as lacking:
        no_variant.pipeline_for(tiny.request(entry, start_image="s.png"))
    assert lacking.value.field == "start_image" and "separate download" in str(lacking.value)
    assert no_variant.pipeline_for(tiny.request(entry)) == "Kandinsky5T2VPipeline"
    with pytest.raises(FieldError) as end:
        adapter.pipeline_for(tiny.request(entry, start_image="s.png", end_image="e.png"))
    assert end.value.field == "end_image"


def test_cancel_stops_denoising_and_preview_latents_map_to_the_vae(model):
    adapter, pipe, entry = model["adapter"], model["i2v"], model["entry"]
    req = tiny.request(entry, start_image="s.png", steps=3)
    seen: list[int] = []
    shapes: list[tuple[int, ...]] = []

    def callback(p, i, t, kw):
        seen.append(i)
        shapes.append(tuple(adapter.raw_latents(p, kw["latents"], req).shape))
        p._interrupt = True  # what the backend's cancel does
        return kw

    tiny.drive(adapter, pipe, req, Keyframes(start=image("red")), callback=callback)
    assert seen == [0]
    assert shapes == [(1, 4, 5, 4, 4)]  # conditioning channels dropped, channels first
    z = torch.ones(1, 4, 5, 4, 4)
    assert torch.allclose(adapter.normalised_to_raw(pipe, z), z / pipe.vae.config.scaling_factor)


def test_same_seed_same_clip_other_seed_other_clip(model):
    adapter, pipe, entry = model["adapter"], model["t2v"], model["entry"]
    req = tiny.request(entry)
    a = tiny.latents_np(adapter, pipe, tiny.drive(adapter, pipe, req, Keyframes()))["video"]
    b = tiny.latents_np(adapter, pipe, tiny.drive(adapter, pipe, req, Keyframes()))["video"]
    other = tiny.request(entry, seed=8)
    c = tiny.latents_np(adapter, pipe, tiny.drive(adapter, pipe, other, Keyframes()))["video"]
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
