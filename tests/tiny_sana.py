"""Tiny random-weight Sana-Video models (one folder serves text- and image-to-video).

Sizes follow diffusers' fast tests (tests/pipelines/sana_video/test_sana_video*.py); the
Gemma tokenizer is the word-level tokenizer of tests/tiny_models.py (nothing from the
internet). The scheduler is a flow-prediction DPM-Solver, as the released model's folder has.
"""

from __future__ import annotations

from pathlib import Path

from tests.tiny_models import tiny_entry, word_tokenizer

SIZE = (32, 32, 9)  # w, h, frames
GEMMA_DIM = 8


def build_pipeline():
    """(SanaVideoPipeline, (w, h, frames)) with tiny random weights."""
    import diffusers as D
    import torch
    from transformers import Gemma2Config, Gemma2Model

    tok = word_tokenizer(model_max_length=512, bos=True)
    torch.manual_seed(0)
    vae = D.AutoencoderKLWan(
        base_dim=3,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    ).eval()
    torch.manual_seed(0)
    gemma = Gemma2Model(
        Gemma2Config(
            head_dim=8,
            hidden_size=GEMMA_DIM,
            intermediate_size=16,
            max_position_embeddings=1024,
            num_attention_heads=2,
            num_hidden_layers=1,
            num_key_value_heads=2,
            vocab_size=len(tok),
            pad_token_id=0,
            bos_token_id=3,
            eos_token_id=1,
            attn_implementation="eager",
        )
    ).eval()
    torch.manual_seed(0)
    transformer = D.SanaVideoTransformer3DModel(
        in_channels=16,
        out_channels=16,
        num_attention_heads=2,
        attention_head_dim=12,
        num_layers=1,
        num_cross_attention_heads=2,
        cross_attention_head_dim=12,
        cross_attention_dim=24,
        caption_channels=GEMMA_DIM,
        mlp_ratio=2.5,
        dropout=0.0,
        attention_bias=False,
        sample_size=30,
        patch_size=(1, 2, 2),
        norm_elementwise_affine=False,
        norm_eps=1e-6,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    ).eval()
    scheduler = D.DPMSolverMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=8.0
    )
    pipe = D.SanaVideoPipeline(
        tokenizer=tok, text_encoder=gemma, vae=vae, transformer=transformer, scheduler=scheduler
    )
    return pipe, SIZE


def save_tiny_model(folder: Path) -> dict:
    """Save the tiny model to ``folder``; returns its catalog entry dict."""
    pipe, size = build_pipeline()
    pipe.save_pretrained(str(folder), safe_serialization=True)
    entry = sana_entry(size)
    entry["download_bytes"] = sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
    return entry


def sana_entry(size: tuple[int, int, int] = SIZE) -> dict:
    entry = tiny_entry("wan", size)  # the shared shape; the family fields follow
    entry.update(
        id="tiny/sana-video",
        name="Tiny Sana-Video",
        repo_id="tiny/sana-video",
        pipeline="SanaVideoPipeline",
        supports_start_image=True,
        description="tiny random Sana-Video for tests",
    )
    entry["files"] = [f for f in entry["files"] if "_2" not in f]
    return entry
