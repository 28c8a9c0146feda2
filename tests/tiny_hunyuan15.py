"""Tiny random-weight HunyuanVideo 1.5 models (text-to-video + the image-to-video VARIANT).

Component sizes follow diffusers' fast test (tests/pipelines/hunyuan_video1_5/
test_hunyuan_1_5.py ``get_dummy_components``); every tokenizer and encoder is built here from a
config (the Qwen2.5-VL text model reads a word tokenizer with a chat template, the ByT5
tokenizer needs no files, the SigLIP image encoder is a tiny ``SiglipVisionModel``), so nothing
is fetched. ``save_tiny_hunyuan15`` writes the real on-disk layout: the text-to-video pipeline
in ``<folder>`` and the image-to-video variant in ``<folder>/i2v`` holding its own
``model_index.json`` and only what differs (transformer, image_encoder, feature_extractor).
"""

from __future__ import annotations

import json
from pathlib import Path

from tiny_models import word_tokenizer

SIZE = (32, 32, 9)  # width, height, frames: 32 is the square bucket of target_size 32
PIPELINE = "HunyuanVideo15Pipeline"
I2V_PIPELINE = "HunyuanVideo15ImageToVideoPipeline"
I2V_PARTS = ("transformer", "image_encoder", "feature_extractor")
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|> {{ m['role'] }} {{ m['content'] }} <|im_end|> "
    "{% endfor %}{% if add_generation_prompt %}<|im_start|> assistant {% endif %}"
)
IMAGE_EMBED_DIM = 12


def _transformer(task_type: str):
    import diffusers as D
    import torch

    torch.manual_seed(0 if task_type == "t2v" else 1)
    return D.HunyuanVideo15Transformer3DModel(
        in_channels=9,  # 4 latent + 4 image-condition latent + 1 mask
        out_channels=4,
        num_attention_heads=2,
        attention_head_dim=8,
        num_layers=1,
        num_refiner_layers=1,
        mlp_ratio=2.0,
        patch_size=1,
        patch_size_t=1,
        text_embed_dim=16,
        text_embed_2_dim=32,
        image_embed_dim=IMAGE_EMBED_DIM,
        rope_axes_dim=(2, 2, 4),
        target_size=32,
        task_type=task_type,
    ).eval()


def _image_encoder():
    import torch
    from transformers import SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel

    torch.manual_seed(0)
    enc = SiglipVisionModel(
        SiglipVisionConfig(
            hidden_size=IMAGE_EMBED_DIM,
            intermediate_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=16,
            patch_size=4,
        )
    ).eval()
    proc = SiglipImageProcessor(size={"height": 16, "width": 16})
    return enc, proc


def build_hunyuan15(i2v: bool = False):
    """The tiny text-to-video pipeline, or (``i2v``) the image-to-video one sharing its parts."""
    import diffusers as D
    import torch
    from diffusers.guiders import ClassifierFreeGuidance
    from transformers import (
        ByT5Tokenizer,
        Qwen2_5_VLTextConfig,
        Qwen2_5_VLTextModel,
        T5Config,
        T5EncoderModel,
    )

    torch.manual_seed(0)
    vae = D.AutoencoderKLHunyuanVideo15(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(16, 16),
        layers_per_block=1,
        spatial_compression_ratio=4,
        temporal_compression_ratio=2,
        downsample_match_channel=False,
        upsample_match_channel=False,
    ).eval()
    tok = word_tokenizer(model_max_length=2048)
    tok.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    qwen = Qwen2_5_VLTextModel(
        Qwen2_5_VLTextConfig(
            vocab_size=len(tok),
            hidden_size=16,
            intermediate_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            rope_scaling={"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
            rope_theta=1000000.0,
            pad_token_id=0,
        )
    ).eval()
    tok2 = ByT5Tokenizer()
    torch.manual_seed(0)
    byt5 = T5EncoderModel(
        T5Config(
            vocab_size=len(tok2),
            d_model=32,
            d_kv=8,
            d_ff=37,
            num_layers=1,
            num_heads=4,
            relative_attention_num_buckets=8,
            pad_token_id=0,
            eos_token_id=1,
        )
    ).eval()
    parts = dict(
        text_encoder=qwen,
        tokenizer=tok,
        vae=vae,
        scheduler=D.FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder_2=byt5,
        tokenizer_2=tok2,
        guider=ClassifierFreeGuidance(guidance_scale=3.0),
    )
    if not i2v:
        return D.HunyuanVideo15Pipeline(transformer=_transformer("t2v"), **parts)
    enc, proc = _image_encoder()
    return D.HunyuanVideo15ImageToVideoPipeline(
        transformer=_transformer("i2v"), image_encoder=enc, feature_extractor=proc, **parts
    )


def save_tiny_hunyuan15(folder: Path, variant: bool = True) -> dict:
    """Save the tiny model to ``folder`` (+ the ``i2v`` variant); returns its catalog entry."""
    folder = Path(folder)
    build_hunyuan15().save_pretrained(str(folder), safe_serialization=True)
    if variant:
        save_i2v_variant(folder / "i2v")
    entry = tiny_hunyuan15_entry()
    main = [
        p for p in folder.rglob("*") if p.is_file() and "i2v" not in p.relative_to(folder).parts
    ]
    entry["download_bytes"] = sum(p.stat().st_size for p in main)
    if variant:
        entry["variants"]["i2v"]["download_bytes"] = sum(
            p.stat().st_size for p in (folder / "i2v").rglob("*") if p.is_file()
        )
    else:
        del entry["variants"]
    return entry


def save_i2v_variant(folder: Path) -> None:
    """The variant folder: model_index.json + only the parts that differ from text-to-video."""
    folder = Path(folder)
    pipe = build_hunyuan15(i2v=True)
    tmp = folder.with_name(folder.name + ".full")
    pipe.save_pretrained(str(tmp), safe_serialization=True)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model_index.json").write_text((tmp / "model_index.json").read_text())
    for part in I2V_PARTS:
        (tmp / part).rename(folder / part)
    import shutil

    shutil.rmtree(tmp)


def tiny_hunyuan15_entry() -> dict:
    """A catalog entry dict for the tiny model, with its ``i2v`` variant."""
    w, h, frames = SIZE
    files = [
        "model_index.json",
        "scheduler/*.json",
        "guider/*.json",
        "tokenizer/*",
        "tokenizer_2/*",
        "text_encoder/*.json",
        "text_encoder/*.safetensors",
        "text_encoder_2/*.json",
        "text_encoder_2/*.safetensors",
        "transformer/*.json",
        "transformer/*.safetensors",
        "vae/*.json",
        "vae/*.safetensors",
    ]
    return {
        "id": "tiny/hunyuan15",
        "name": "Tiny HunyuanVideo 1.5",
        "kind": "video",
        "backend": "diffusers",
        "repo_id": "tiny/hunyuan15",
        "revision": "main",
        "files": files,
        "download_bytes": 0,
        "variants": {
            "i2v": {
                "repo_id": "tiny/hunyuan15-i2v",
                "revision": "main",
                "files": [
                    "model_index.json",
                    "transformer/*.json",
                    "transformer/*.safetensors",
                    "image_encoder/*.json",
                    "image_encoder/*.safetensors",
                    "feature_extractor/*.json",
                ],
                "download_bytes": 0,
            }
        },
        "license": "Apache-2.0",
        "min_vram_gb": {"fast": 1, "balanced": 0.5, "low_vram": 0.25},
        "min_ram_gb": {"fast": 1, "balanced": 1, "low_vram": 1},
        "defaults": {
            "width": w,
            "height": h,
            "num_frames": frames,
            "fps": 8,
            "steps": 2,
            "guidance": 3.0,
            "shift": 7.0,
        },
        "pipeline": PIPELINE,
        "supports_start_image": True,
        "start_image_pipeline": I2V_PIPELINE,
        "description": "tiny random HunyuanVideo 1.5 for tests",
    }


def load_pipelines(folder: Path):
    """(t2v, i2v) loaded from ``folder`` the way the backend does: the variant folder with the
    main folder's components that it lacks."""
    import diffusers as D

    folder = Path(folder)
    t2v = D.HunyuanVideo15Pipeline.from_pretrained(str(folder))
    index = json.loads((folder / "i2v" / "model_index.json").read_text())
    shared = {
        name: getattr(t2v, name)
        for name in index
        if not name.startswith("_") and not (folder / "i2v" / name).exists()
    }
    i2v = D.HunyuanVideo15ImageToVideoPipeline.from_pretrained(str(folder / "i2v"), **shared)
    return t2v, i2v
