"""Tiny random-weight FramePack (HunyuanVideo Framepack) models: image-to-video only.

Sizes follow diffusers' fast tests (tests/pipelines/hunyuan_video/
test_hunyuan_video_framepack.py); the tokenizers are the word-level tokenizer of
tests/tiny_models.py and the SigLIP image encoder / processor are built from configs here
(nothing from the internet). The section length is the released checkpoints' (9 latent frames,
the model's frame rule 36k+1), so a tiny clip is 37, 73, 109... frames.
"""

from __future__ import annotations

from pathlib import Path

from tests.tiny_models import tiny_entry, word_tokenizer

SIZE = (32, 32, 37)  # w, h, frames: one section
IMAGE_DIM = 32


def build_pipeline():
    """(HunyuanVideoFramepackPipeline, (w, h, frames)) with tiny random weights."""
    import diffusers as D
    import torch
    from transformers import (
        CLIPTextConfig,
        CLIPTextModel,
        LlamaConfig,
        LlamaModel,
        SiglipImageProcessor,
        SiglipVisionConfig,
        SiglipVisionModel,
    )

    torch.manual_seed(0)
    transformer = D.HunyuanVideoFramepackTransformer3DModel(
        in_channels=4,
        out_channels=4,
        num_attention_heads=2,
        attention_head_dim=10,
        num_layers=1,
        num_single_layers=1,
        num_refiner_layers=1,
        patch_size=2,
        patch_size_t=1,
        guidance_embeds=True,
        text_embed_dim=16,
        pooled_projection_dim=8,
        rope_axes_dim=(2, 4, 4),
        image_condition_type=None,
        has_image_proj=True,
        image_proj_dim=IMAGE_DIM,
        has_clean_x_embedder=True,
    ).eval()
    torch.manual_seed(0)
    vae = D.AutoencoderKLHunyuanVideo(
        latent_channels=4,
        block_out_channels=(4, 4, 4, 4),
        layers_per_block=1,
        norm_num_groups=2,
        mid_block_add_attention=False,  # long tiny clips decode in seconds
        scaling_factor=0.476986,
        spatial_compression_ratio=8,
        temporal_compression_ratio=4,
    ).eval()
    tok1 = word_tokenizer(bos=True)
    tok2 = word_tokenizer(model_max_length=77, bos=True)
    torch.manual_seed(0)
    llama = LlamaModel(
        LlamaConfig(
            vocab_size=len(tok1),
            hidden_size=16,
            intermediate_size=37,
            num_attention_heads=4,
            num_key_value_heads=4,
            num_hidden_layers=2,
            pad_token_id=0,
            bos_token_id=3,
            eos_token_id=1,
        )
    ).eval()
    torch.manual_seed(0)
    clip = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tok2),
            hidden_size=8,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            max_position_embeddings=77,
            pad_token_id=0,
            bos_token_id=3,
            eos_token_id=1,
            projection_dim=8,
        )
    ).eval()
    torch.manual_seed(0)
    siglip = SiglipVisionModel(
        SiglipVisionConfig(
            hidden_size=IMAGE_DIM,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=1,
            image_size=30,
            patch_size=10,
        )
    ).eval()
    processor = SiglipImageProcessor(size={"height": 30, "width": 30})
    pipe = D.HunyuanVideoFramepackPipeline(
        text_encoder=llama,
        tokenizer=tok1,
        transformer=transformer,
        vae=vae,
        scheduler=D.FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder_2=clip,
        tokenizer_2=tok2,
        image_encoder=siglip,
        feature_extractor=processor,
    )
    return pipe, SIZE


def save_tiny_model(folder: Path) -> dict:
    """Save the tiny model to ``folder``; returns its catalog entry dict."""
    pipe, size = build_pipeline()
    pipe.save_pretrained(str(folder), safe_serialization=True)
    entry = framepack_entry(size)
    entry["download_bytes"] = sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
    return entry


def framepack_entry(size: tuple[int, int, int] = SIZE) -> dict:
    entry = tiny_entry("hunyuan", size)  # the shared shape; the family fields follow
    entry.update(
        id="tiny/framepack",
        name="Tiny FramePack",
        repo_id="tiny/framepack",
        pipeline="HunyuanVideoFramepackPipeline",
        supports_start_image=True,
        description="tiny random FramePack for tests",
    )
    entry["files"] += [
        "image_encoder/*.json",
        "image_encoder/*.safetensors",
        "feature_extractor/*.json",
    ]
    entry["defaults"]["fps"] = 30
    return entry
