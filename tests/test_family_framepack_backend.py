"""FramePack installed from the fake hub by the real downloader, then run through
``DiffusersBackend``: an image-to-video job over two sections and one ending on a keyframe,
LatentsReady before the decode, ``decode_latents`` of the saved latents, cancel, seed; a text
request and a clip length off the 36k+1 rule are refused before anything runs."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("diffusers")

from PIL import Image  # noqa: E402

from sora_desktop.core.catalog import CatalogEntry  # noqa: E402
from sora_desktop.core.errors import FieldError  # noqa: E402
from sora_desktop.engine.diffusers_backend import DiffusersBackend  # noqa: E402
from tests import tiny_framepack  # noqa: E402
from tests import tiny_kandinsky5 as tiny  # noqa: E402

PIPE = "HunyuanVideoFramepackPipeline"
S = 16  # width = height: small, so two sections decode in seconds


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("fpb")
    data = tiny_framepack.save_tiny_model(root / "built")
    folder = tiny.install_through_hub(root / "built", data, root / "models")
    images = {}
    for name, color in (("start", (200, 40, 40)), ("end", (40, 40, 200))):
        images[name] = str(root / f"{name}.png")
        Image.new("RGB", (S, S), color).save(images[name])
    backend = DiffusersBackend(CatalogEntry.from_dict(data), folder, "cpu", "balanced")
    return backend, data, images


def req(data, images, **kw):
    kw = {"start_image": images["start"], "width": S, "height": S, **kw}
    return tiny.request(data, **kw)


def test_long_clip_and_end_keyframe_save_latents_before_the_decode(setup):
    backend, data, images = setup
    long = req(data, images, num_frames=73)
    ready, _ = tiny.check_job(backend, long, PIPE, (73, S, S, 3), sections=2)
    assert ready.latents["video"].shape == (1, 4, 19, 2, 2)  # image + 2 sections of 9
    end = req(data, images, end_image=images["end"])
    tiny.check_job(backend, end, PIPE, (37, S, S, 3))


def test_progress_counts_every_section_once(setup):
    backend, data, images = setup
    steps = [e for e in backend.generate(req(data, images, num_frames=73)) if hasattr(e, "step")]
    # 2 sections x 2 steps: progress moves forward only and ends at the whole job
    done = [(e.segment + e.step / e.total) / e.segments for e in steps]
    assert len(steps) == 4 and done == sorted(set(done)) and done[-1] == 1.0, done


def test_refusals_before_running(setup):
    backend, data, images = setup
    with pytest.raises(FieldError) as text:
        list(backend.generate(tiny.request(data, width=S, height=S)))
    assert text.value.field == "start_image"
    with pytest.raises(FieldError) as length:
        list(backend.generate(req(data, images, num_frames=41)))
    assert length.value.field == "num_frames"


def test_cancel_and_seed(setup):
    backend, data, images = setup
    tiny.check_cancel(backend, req(data, images, steps=3))
    a = tiny.events(backend, req(data, images, seed=3))[0][-1].frames
    b = tiny.events(backend, req(data, images, seed=3))[0][-1].frames
    c = tiny.events(backend, req(data, images, seed=4))[0][-1].frames
    assert np.array_equal(a, b) and not np.array_equal(a, c)
