"""A tiny random-weight Stable Audio pipeline in the real diffusers on-disk format.

Component sizes follow diffusers' own fast test (tests/pipelines/stable_audio); the tokenizer
is the word-level one of ``tiny_models`` and the T5 encoder is built from a small config, so
nothing is fetched from the internet. The VAE's "sampling rate" is 1 kHz, so a few seconds of
sound are a few thousand samples; the longest sound is ``MAX_SECONDS`` (sample_size x hop /
rate).
"""

from __future__ import annotations

import json
from pathlib import Path

import tiny_models as tm

SAMPLE_RATE = 1000  # the lowest rate a WAV of the app may have (studio/audio.py)
SAMPLE_SIZE = 125  # latent frames
RATIOS = [4, 8]
HOP = 32  # the VAE's downsampling (4 x 8)
MAX_SECONDS = SAMPLE_SIZE * HOP / SAMPLE_RATE  # 4.0 s
MODEL_ID = "tiny/stable-audio"


def build():
    import torch
    from diffusers import (
        AutoencoderOobleck,
        EDMDPMSolverMultistepScheduler,
        StableAudioDiTModel,
        StableAudioPipeline,
        StableAudioProjectionModel,
    )

    tok = tm.word_tokenizer(model_max_length=16)
    text_encoder = tm._t5(tok)
    torch.manual_seed(0)
    transformer = StableAudioDiTModel(
        sample_size=SAMPLE_SIZE,
        in_channels=3,
        num_layers=2,
        attention_head_dim=4,
        num_key_value_attention_heads=2,
        out_channels=3,
        cross_attention_dim=4,
        time_proj_dim=8,
        global_states_input_dim=8,
        cross_attention_input_dim=4,
    )
    scheduler = EDMDPMSolverMultistepScheduler(
        solver_order=2,
        prediction_type="v_prediction",
        sigma_data=1.0,
        sigma_schedule="exponential",
    )
    torch.manual_seed(0)
    vae = AutoencoderOobleck(
        encoder_hidden_size=6,
        downsampling_ratios=RATIOS,
        decoder_channels=3,
        decoder_input_channels=3,
        audio_channels=2,
        channel_multiples=[2, 4],
        sampling_rate=SAMPLE_RATE,
    )
    torch.manual_seed(0)
    projection = StableAudioProjectionModel(
        text_encoder_dim=text_encoder.config.d_model,
        conditioning_dim=4,
        min_value=0,
        max_value=32,
    )
    return StableAudioPipeline(
        vae=vae,
        text_encoder=text_encoder,
        projection_model=projection,
        tokenizer=tok,
        transformer=transformer,
        scheduler=scheduler,
    )


def entry(max_seconds: float = MAX_SECONDS) -> dict:
    """A catalog entry dict for the tiny model (kind "sound")."""
    return {
        "id": MODEL_ID,
        "name": "Tiny Stable Audio",
        "kind": "sound",
        "backend": "diffusers",
        "repo_id": MODEL_ID,
        "revision": "main",
        "files": [
            "model_index.json",
            "scheduler/*.json",
            "tokenizer/*",
            "text_encoder/*.json",
            "text_encoder/*.safetensors",
            "projection_model/*.json",
            "projection_model/*.safetensors",
            "transformer/*.json",
            "transformer/*.safetensors",
            "vae/*.json",
            "vae/*.safetensors",
        ],
        "download_bytes": 0,
        "license": "Apache-2.0",
        "min_vram_gb": {"fast": 0.5, "balanced": 0.5, "low_vram": 0.25},
        "min_ram_gb": {"fast": 1, "balanced": 1, "low_vram": 1},
        "defaults": {
            "max_seconds": max_seconds,
            "sample_rate": SAMPLE_RATE,
            "steps": 4,
            "guidance": 3.0,
        },
        "pipeline": "StableAudioPipeline",
        "supports_start_image": False,
        "description": "tiny random Stable Audio for tests",
    }


def save(folder: Path) -> dict:
    """Save the tiny model to ``folder``; returns its catalog entry dict (exact size).

    The scheduler is saved as the real stabilityai/stable-audio-open-1.0 names it,
    ``CosineDPMSolverMultistepScheduler`` (which needs torchsde; engine/music.py runs it with
    the pipeline's own ``EDMDPMSolverMultistepScheduler`` when torchsde is missing)."""
    build().save_pretrained(str(folder), safe_serialization=True)
    cfg_path = folder / "scheduler" / "scheduler_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["_class_name"] = "CosineDPMSolverMultistepScheduler"
    cfg_path.write_text(json.dumps(cfg, indent=2))
    index_path = folder / "model_index.json"
    index = json.loads(index_path.read_text())
    index["scheduler"] = ["diffusers", "CosineDPMSolverMultistepScheduler"]
    index_path.write_text(json.dumps(index, indent=2))
    data = entry()
    data["download_bytes"] = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return data


def install(base: Path, models: Path | None = None) -> tuple[Path, Path]:
    """Build the tiny model under ``base``, serve it from the fake hub and install it with the
    real downloader into ``models`` (default ``base/models``); returns (models folder, a
    catalog file holding the shipped embedded entry and the tiny one)."""
    from fakehub import FakeHub
    from huggingface_hub import constants
    from tiny_models import write_catalog

    from sora_desktop.core.catalog import CatalogEntry, is_installed, read_manifest
    from sora_desktop.engine import downloads as dl

    data = save(base / "built")
    entry_ = CatalogEntry.from_dict(data)
    models = models or base / "models"
    offline = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = False  # the fake hub on 127.0.0.1 only
    try:
        with FakeHub() as hub:
            hub.add_folder(entry_.repo_id, base / "built")
            config = dl.HubConfig(endpoint=hub.endpoint)
            folder = dl.ModelDownloader(models, config).download(entry_)
    finally:
        constants.HF_HUB_OFFLINE = offline
    assert is_installed(entry_, models)
    assert sum(f["size"] for f in read_manifest(folder)["files"]) == entry_.download_bytes
    return models, write_catalog(base / "catalog.json", [data])
