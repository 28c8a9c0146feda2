"""FramePack through its family adapter, with tiny random weights saved in the real on-disk
format: image-to-video only, the 36k+1 frame rule (the clip asked for comes out exactly, or is
refused naming valid lengths), the end keyframe, long clips in sections, save-before-decode (the
adapter's section-by-section decode of the saved latents gives the pipeline's own frames),
cancel and seed reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

from PIL import Image  # noqa: E402

from sora_desktop.core.capabilities import capabilities_from_entry  # noqa: E402
from sora_desktop.core.catalog import CatalogEntry  # noqa: E402
from sora_desktop.core.errors import FieldError  # noqa: E402
from sora_desktop.engine.families import Keyframes, adapter_for  # noqa: E402
from tests import tiny_framepack  # noqa: E402
from tests import tiny_kandinsky5 as drive  # noqa: E402


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fp") / "tiny--framepack"
    entry = tiny_framepack.save_tiny_model(folder)
    cat = CatalogEntry.from_dict(entry)
    pipe = diffusers.HunyuanVideoFramepackPipeline.from_pretrained(str(folder))
    return {"entry": entry, "catalog": cat, "adapter": adapter_for(cat), "pipe": pipe}


def image(color: str, size: int = 32) -> Image.Image:
    return Image.new("RGB", (size, size), color)


def req(model, **kw):
    kw.setdefault("start_image", "start.png")
    return drive.request(model["entry"], **kw)


def test_no_text_to_video_and_the_frame_rule(model):
    adapter = model["adapter"]
    assert capabilities_from_entry(model["catalog"]).frame_rule == "36k+1"
    with pytest.raises(FieldError) as text:
        adapter.pipeline_for(drive.request(model["entry"]))
    assert text.value.field == "start_image"
    with pytest.raises(FieldError) as end_only:
        adapter.pipeline_for(drive.request(model["entry"], end_image="end.png"))
    assert end_only.value.field == "start_image" and "end image" in str(end_only.value)
    assert [adapter.sections(n) for n in (37, 73, 109)] == [1, 2, 3]
    for bad, hint in ((36, "use 37"), (38, "use 37 or 73"), (1, "use 37"), (100, "73 or 109")):
        with pytest.raises(FieldError) as err:
            adapter.pipeline_for(req(model, num_frames=bad))
        assert err.value.field == "num_frames" and hint in str(err.value), str(err.value)
    kwargs = adapter.call_kwargs(
        model["pipe"], req(model, num_frames=73), Keyframes(start=image("red")), {"prompt": "x"}
    )
    # 2 sections of 9 latent frames: the pipeline makes ceil(66 / 33) = 2 sections
    assert kwargs["num_frames"] == 66 and kwargs["latent_window_size"] == 9


def test_one_section_saved_latents_decode_to_the_pipelines_own_frames(model):
    adapter, pipe = model["adapter"], model["pipe"]
    r = req(model)
    assert adapter.pipeline_for(r) == "HunyuanVideoFramepackPipeline"
    keys = Keyframes(start=image("red"))
    saved = drive.latents_np(adapter, pipe, drive.drive(adapter, pipe, r, keys))
    assert saved["video"].shape == (1, 4, 10, 4, 4)  # the image's latent frame + 9
    frames = drive.decode_saved(adapter, pipe, saved, r)
    assert frames.shape == (37, 32, 32, 3)
    own = drive.as_uint8(drive.drive(adapter, pipe, r, keys, output_type="np").frames)
    assert own.shape == frames.shape
    assert np.abs(frames.astype(int) - own.astype(int)).max() <= 1


def test_long_clip_in_sections_comes_out_exactly_and_decodes_as_the_pipeline(model):
    adapter, pipe = model["adapter"], model["pipe"]
    r = req(model, num_frames=73, width=16, height=16)
    keys = Keyframes(start=image("red", 16))
    saved = drive.latents_np(adapter, pipe, drive.drive(adapter, pipe, r, keys))
    assert saved["video"].shape == (1, 4, 19, 2, 2)
    frames = drive.decode_saved(adapter, pipe, saved, r)
    own = drive.as_uint8(drive.drive(adapter, pipe, r, keys, output_type="np").frames)
    assert frames.shape == own.shape == (73, 16, 16, 3)
    assert np.abs(frames.astype(int) - own.astype(int)).max() <= 1
    # three sections: 109 frames exactly
    r3 = req(model, num_frames=109, width=16, height=16)
    saved3 = drive.latents_np(adapter, pipe, drive.drive(adapter, pipe, r3, keys))
    assert saved3["video"].shape == (1, 4, 28, 2, 2)
    assert drive.decode_saved(adapter, pipe, saved3, r3).shape == (109, 16, 16, 3)


def test_end_keyframe_reaches_the_pipeline_and_steers_the_clip(model):
    adapter, pipe = model["adapter"], model["pipe"]
    r = req(model, end_image="end.png")
    assert adapter.pipeline_for(r) == "HunyuanVideoFramepackPipeline"
    start = image("red")
    kwargs = adapter.call_kwargs(pipe, r, Keyframes(start=start, end=image("blue")), {})
    assert kwargs["last_image"].getpixel((0, 0)) == (0, 0, 255)
    none = drive.latents_np(adapter, pipe, drive.drive(adapter, pipe, r, Keyframes(start=start)))
    blue = drive.latents_np(
        adapter, pipe, drive.drive(adapter, pipe, r, Keyframes(start=start, end=image("blue")))
    )
    assert not np.allclose(none["video"], blue["video"])


def test_cancel_stops_every_later_section(model):
    adapter, pipe = model["adapter"], model["pipe"]
    r = req(model, num_frames=73, width=16, height=16, steps=3)
    seen: list[int] = []
    previews = []

    def callback(p, i, t, kw):
        seen.append(i)
        previews.append(adapter.raw_latents(p, kw["latents"], r))
        p._interrupt = True  # what the backend's cancel does
        return kw

    drive.drive(adapter, pipe, r, Keyframes(start=image("red", 16)), callback=callback)
    assert seen == [0]  # no denoising step after the cancel, in this section or the next
    assert previews[0].shape == (1, 4, 9, 2, 2)


def test_same_seed_same_clip_other_seed_other_clip(model):
    adapter, pipe = model["adapter"], model["pipe"]
    keys = Keyframes(start=image("red"))
    r = req(model)
    a = drive.latents_np(adapter, pipe, drive.drive(adapter, pipe, r, keys))["video"]
    b = drive.latents_np(adapter, pipe, drive.drive(adapter, pipe, r, keys))["video"]
    c = drive.latents_np(adapter, pipe, drive.drive(adapter, pipe, req(model, seed=8), keys))
    assert np.array_equal(a, b)
    assert not np.allclose(a, c["video"])


def test_f1_vanilla_sampling_decodes_as_the_pipeline_and_refuses_an_end_image(model):
    """FramePack F1 checkpoints sample forwards ("vanilla"): the history grows at the end."""
    data = dict(model["entry"], defaults={**model["entry"]["defaults"], "sampling_type": "vanilla"})
    adapter, pipe = adapter_for(CatalogEntry.from_dict(data)), model["pipe"]
    r = req(model, num_frames=73, width=16, height=16)
    keys = Keyframes(start=image("red", 16))
    assert adapter.call_kwargs(pipe, r, keys, {})["sampling_type"] == "vanilla"
    saved = drive.latents_np(adapter, pipe, drive.drive(adapter, pipe, r, keys))
    assert saved["video"].shape == (1, 4, 19, 2, 2)
    frames = drive.decode_saved(adapter, pipe, saved, r)
    own = drive.as_uint8(drive.drive(adapter, pipe, r, keys, output_type="np").frames)
    assert frames.shape == own.shape == (73, 16, 16, 3)
    assert np.abs(frames.astype(int) - own.astype(int)).max() <= 1
    with pytest.raises(FieldError) as end:
        adapter.pipeline_for(req(model, end_image="end.png"))
    assert end.value.field == "end_image"
