"""Sana-Video installed from the fake hub by the real downloader, then run through
``DiffusersBackend``: text- and image-to-video jobs (one set of weights) with LatentsReady
before the decode, ``decode_latents`` of the saved latents, cancel, seed."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("diffusers")

from PIL import Image  # noqa: E402

from sora_desktop.core.catalog import CatalogEntry  # noqa: E402
from sora_desktop.engine.diffusers_backend import DiffusersBackend  # noqa: E402
from tests import tiny_kandinsky5 as tiny  # noqa: E402
from tests import tiny_sana  # noqa: E402

W, H, F = tiny_sana.SIZE


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("sanab")
    data = tiny_sana.save_tiny_model(root / "built")
    folder = tiny.install_through_hub(root / "built", data, root / "models")
    start = root / "start.png"
    Image.new("RGB", (W, H), (40, 40, 200)).save(start)
    backend = DiffusersBackend(CatalogEntry.from_dict(data), folder, "cpu", "balanced")
    return backend, data, str(start)


def test_text_and_image_jobs_save_latents_before_the_decode(setup):
    backend, data, start = setup
    tiny.check_job(backend, tiny.request(data), "SanaVideoPipeline", (F, H, W, 3))
    tiny.check_job(
        backend, tiny.request(data, start_image=start), "SanaImageToVideoPipeline", (F, H, W, 3)
    )
    i2v = backend._pipes["SanaImageToVideoPipeline"]
    assert i2v.transformer is backend.pipe.transformer  # one checkpoint serves both


def test_cancel_and_seed(setup):
    backend, data, start = setup
    tiny.check_cancel(backend, tiny.request(data, start_image=start, steps=3))
    a = tiny.events(backend, tiny.request(data, seed=3))[0][-1].frames
    b = tiny.events(backend, tiny.request(data, seed=3))[0][-1].frames
    c = tiny.events(backend, tiny.request(data, seed=4))[0][-1].frames
    assert np.array_equal(a, b) and not np.array_equal(a, c)
