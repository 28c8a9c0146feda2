"""The tiny HunyuanVideo 1.5 model served by the fake hub as two repos (text-to-video + the
image-to-video variant), installed by the real downloader, then loaded from the installed folder
the way the backend loads it and run from a start image."""

from __future__ import annotations

import shutil

import pytest
import torch
from fakehub import FakeHub
from PIL import Image
from tiny_hunyuan15 import I2V_PIPELINE, SIZE, load_pipelines, save_tiny_hunyuan15

from sora_desktop.core.catalog import CatalogEntry, is_installed, read_manifest
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine import downloads as dl
from sora_desktop.engine.families import Keyframes, adapter_for


@pytest.fixture
def online(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def test_hub_install_of_both_repos_loads_and_runs_image_to_video(tmp_path, online):
    built = tmp_path / "built"
    data = save_tiny_hunyuan15(built)
    entry = CatalogEntry.from_dict(data)
    variant = tmp_path / "variant"
    shutil.move(str(built / "i2v"), variant)
    with FakeHub() as hub:
        hub.add_folder(entry.repo_id, built)
        hub.add_folder(entry.variants["i2v"].repo_id, variant)
        models = tmp_path / "models"
        folder = dl.ModelDownloader(models, dl.HubConfig(endpoint=hub.endpoint)).download(entry)
    assert is_installed(entry, models)
    assert read_manifest(folder / "i2v")["repo_id"] == "tiny/hunyuan15-i2v"
    # what the hub served is exactly what the catalog entry says it weighs
    assert sum(f["size"] for f in read_manifest(folder)["files"]) == entry.download_bytes
    assert sum(f["size"] for f in read_manifest(folder / "i2v")["files"]) == (
        entry.variants["i2v"].download_bytes
    )

    _t2v, i2v = load_pipelines(folder)
    w, h, frames = SIZE
    image = Image.new("RGB", (w, h), (30, 120, 200))
    path = tmp_path / "start.png"
    image.save(path)
    req = GenerationRequest(
        prompt="a blue boat on the sea",
        seed=1,
        steps=1,
        guidance=1.0,
        num_frames=frames,
        width=w,
        height=h,
        model_id=entry.id,
        start_image=str(path),
    )
    fam = adapter_for(entry)
    assert fam.pipeline_for(req) == I2V_PIPELINE
    common = dict(
        prompt=req.prompt,
        negative_prompt="",
        height=h,
        width=w,
        num_frames=frames,
        num_inference_steps=1,
        guidance_scale=1.0,
        generator=torch.Generator().manual_seed(1),
        output_type="latent",
    )
    out = i2v(**fam.call_kwargs(i2v, req, Keyframes(start=image), common))
    with torch.no_grad():
        decoded = fam.decode(i2v, fam.latents_from_output(i2v, out), req)
    assert decoded.frames.shape == (frames, h, w, 3)
