"""Tiny random-weight LTX-Video 0.9.x and LTX-2 models in the real diffusers format.

Sizes follow diffusers' fast tests (tests/pipelines/ltx/test_ltx.py and tests/pipelines/ltx2/
testing_utils.py ``get_ltx2_dummy_components``). LTX-2's Gemma 3 text encoder is built here from a
config (the fast tests download ``hf-internal-testing/tiny-gemma3``, which a test here may not),
with the word-level tokenizer of tests/tiny_models.py.
"""

from __future__ import annotations

from pathlib import Path

from tiny_models import tiny_entry, word_tokenizer

LTX_SIZE = (32, 32, 9)  # width, height, frames (the tiny VAEs compress time 4x: 4k+1 frames)
LTX2_SIZE = (32, 32, 9)
GEMMA_DIM = 32  # = the connectors' heads x head dim (4 x 8), as tiny-gemma3's hidden size


def build_ltx(timestep_conditioning: bool = True):
    """A tiny ``LTXPipeline``; ``timestep_conditioning`` gives it a 0.9.1+ style VAE (decoded with
    a timestep and a little noise)."""
    import diffusers as D
    import torch
    from tiny_models import _t5

    tok = word_tokenizer()
    torch.manual_seed(0)
    tr = D.LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=1,
        caption_channels=32,
    )
    torch.manual_seed(0)
    extra = {}
    if timestep_conditioning:
        extra = {"timestep_conditioning": True, "decoder_inject_noise": (False,) * 5}
    vae = D.AutoencoderKLLTXVideo(
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
        **extra,
    )
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    return D.LTXPipeline(
        scheduler=D.FlowMatchEulerDiscreteScheduler(),
        vae=vae.eval(),
        text_encoder=_t5(tok),
        tokenizer=tok,
        transformer=tr.eval(),
    )


def _gemma3(tokenizer):
    import torch
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    torch.manual_seed(0)
    cfg = Gemma3Config(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": GEMMA_DIM,
            "intermediate_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": 8,
            "max_position_embeddings": 64,
            "sliding_window": 16,
            "pad_token_id": 0,
            "eos_token_id": 1,
            "bos_token_id": 3,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 16,
            "patch_size": 8,
        },
        mm_tokens_per_image=4,
        image_token_index=2,
    )
    return Gemma3ForConditionalGeneration(cfg).eval()


def build_ltx2():
    """A tiny ``LTX2Pipeline`` (video + audio), the optional components left None."""
    import diffusers as D
    import torch
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder

    tok = word_tokenizer()
    gemma = _gemma3(tok)
    layers = gemma.config.text_config.num_hidden_layers
    torch.manual_seed(0)
    transformer = D.LTX2VideoTransformer3DModel(
        in_channels=4,
        out_channels=4,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        audio_in_channels=4,
        audio_out_channels=4,
        audio_num_attention_heads=2,
        audio_attention_head_dim=4,
        audio_cross_attention_dim=8,
        num_layers=2,
        qk_norm="rms_norm_across_heads",
        caption_channels=GEMMA_DIM,
        rope_double_precision=False,
        rope_type="split",
    )
    torch.manual_seed(0)
    connectors = LTX2TextConnectors(
        caption_channels=GEMMA_DIM,
        text_proj_in_factor=layers + 1,
        video_connector_num_attention_heads=4,
        video_connector_attention_head_dim=8,
        video_connector_num_layers=1,
        video_connector_num_learnable_registers=None,
        audio_connector_num_attention_heads=4,
        audio_connector_attention_head_dim=8,
        audio_connector_num_layers=1,
        audio_connector_num_learnable_registers=None,
        connector_rope_base_seq_len=32,
        rope_theta=10000.0,
        rope_double_precision=False,
        causal_temporal_positioning=False,
        rope_type="split",
    )
    torch.manual_seed(0)
    vae = D.AutoencoderKLLTX2Video(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(8,),
        decoder_block_out_channels=(8,),
        layers_per_block=(1,),
        decoder_layers_per_block=(1, 1),
        spatio_temporal_scaling=(True,),
        decoder_spatio_temporal_scaling=(True,),
        decoder_inject_noise=(False, False),
        # diffusers' fast tests use ("spatial",), whose encoder keeps every frame while the
        # pipeline counts 2x time compression; a video condition needs the two to agree
        downsample_type=("spatiotemporal",),
        upsample_residual=(False,),
        upsample_factor=(1,),
        timestep_conditioning=False,
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    torch.manual_seed(0)
    audio_vae = D.AutoencoderKLLTX2Audio(
        base_channels=4,
        output_channels=2,
        ch_mult=(1,),
        num_res_blocks=1,
        attn_resolutions=None,
        in_channels=2,
        resolution=32,
        latent_channels=2,
        norm_type="pixel",
        causality_axis="height",
        dropout=0.0,
        mid_block_add_attention=False,
        sample_rate=16000,
        mel_hop_length=160,
        is_causal=True,
        mel_bins=8,
    )
    torch.manual_seed(0)
    vocoder = LTX2Vocoder(
        in_channels=audio_vae.config.output_channels * audio_vae.config.mel_bins,
        hidden_channels=32,
        out_channels=2,
        upsample_kernel_sizes=[4, 4],
        upsample_factors=[2, 2],
        resnet_kernel_sizes=[3],
        resnet_dilations=[[1, 3, 5]],
        leaky_relu_negative_slope=0.1,
        output_sampling_rate=16000,
    )
    return D.LTX2Pipeline(
        scheduler=D.FlowMatchEulerDiscreteScheduler(),
        vae=vae.eval(),
        audio_vae=audio_vae.eval(),
        text_encoder=gemma,
        tokenizer=tok,
        connectors=connectors.eval(),
        transformer=transformer.eval(),
        vocoder=vocoder.eval(),
        processor=None,
        prompt_enhancer=None,
        duration_head=None,
    )


LTX2_FILES = [
    "model_index.json",
    "scheduler/*.json",
    "tokenizer/*",
    "text_encoder/*.json",
    "text_encoder/*.safetensors",
    "connectors/*.json",
    "connectors/*.safetensors",
    "transformer/*.json",
    "transformer/*.safetensors",
    "vae/*.json",
    "vae/*.safetensors",
    "audio_vae/*.json",
    "audio_vae/*.safetensors",
    "vocoder/*.json",
    "vocoder/*.safetensors",
]


def ltx_entry(family: str = "ltx", **defaults) -> dict:
    """A catalog entry dict for the tiny ``ltx`` / ``ltx2`` model (what a real entry carries)."""
    entry = tiny_entry("ltx", LTX_SIZE)
    entry["supports_start_image"] = True
    entry["supports_end_image"] = True
    entry["defaults"]["fps"] = 24
    entry["defaults"].pop("shift", None)
    if family == "ltx":
        entry["defaults"].update(decode_timestep=0.05, decode_noise_scale=0.025)
    else:
        entry.update(
            id="tiny/ltx2",
            name="Tiny ltx2",
            repo_id="tiny/ltx2",
            pipeline="LTX2Pipeline",
            files=list(LTX2_FILES),
            supports_audio=True,
            description="tiny random ltx2 for tests",
        )
        # one transformer pass per step: no spatio-temporal / modality guidance (the tiny
        # transformer has no block 28), the distilled LTX-2 settings
        entry["defaults"].update(
            guidance=1.0,
            stg_scale=0.0,
            modality_scale=1.0,
            guidance_rescale=0.0,
            audio_guidance_scale=1.0,
            audio_stg_scale=0.0,
            audio_modality_scale=1.0,
            audio_guidance_rescale=0.0,
            spatio_temporal_guidance_blocks=None,
        )
    entry["defaults"].update(defaults)
    return entry


def save_tiny_ltx(folder: Path, family: str = "ltx", **defaults) -> dict:
    """Save a tiny ``ltx`` or ``ltx2`` model to ``folder``; returns its catalog entry dict."""
    pipe = build_ltx() if family == "ltx" else build_ltx2()
    pipe.save_pretrained(str(folder), safe_serialization=True)
    entry = ltx_entry(family, **defaults)
    entry["download_bytes"] = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return entry
