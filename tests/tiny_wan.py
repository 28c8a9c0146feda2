"""Tiny random-weight Wan models for the family tests: Wan 2.1 VACE (text + pinned frames) and
Wan 2.2 TI2V (one checkpoint for text and image, ``expand_timesteps``), with an optional
image-to-video VARIANT folder (``<model>/i2v/``) holding its own transformer.

Sizes follow diffusers' tests/pipelines/wan/test_wan_vace.py; tokenizer and text encoder are
tests/tiny_models.py's (nothing is fetched).
"""

from __future__ import annotations

import json
from pathlib import Path

import tiny_models as tm

SIZE = (32, 32, 9)  # width, height, frames


def _vae():
    import diffusers as D
    import torch

    torch.manual_seed(0)
    return D.AutoencoderKLWan(
        base_dim=3,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    ).eval()


def _transformer(seed: int = 0, vace: bool = False):
    import diffusers as D
    import torch

    torch.manual_seed(seed)
    kw = dict(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=16,
        out_channels=16,
        text_dim=tm.TEXT_DIM,
        freq_dim=256,
        ffn_dim=32,
        num_layers=3 if vace else 2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
    if vace:
        return D.WanVACETransformer3DModel(**kw, vace_layers=[0, 2], vace_in_channels=96).eval()
    return D.WanTransformer3DModel(**kw).eval()


def build(kind: str):
    """A tiny pipeline: kind "vace" (WanVACEPipeline) or "ti2v" (WanPipeline, expand_timesteps)."""
    import diffusers as D

    tok = tm.word_tokenizer()
    common = dict(
        tokenizer=tok,
        text_encoder=tm._t5(tok),
        vae=_vae(),
        scheduler=D.FlowMatchEulerDiscreteScheduler(shift=3.0),
    )
    if kind == "vace":
        return D.WanVACEPipeline(**common, transformer=_transformer(vace=True))
    if kind == "ti2v":
        return D.WanPipeline(**common, transformer=_transformer(), expand_timesteps=True)
    raise ValueError(kind)


def entry(kind: str, rules: str | None = None) -> dict:
    data = tm.tiny_entry("wan", SIZE)
    data["id"] = data["repo_id"] = f"tiny/wan-{kind}"
    data["name"] = f"Tiny Wan {kind}"
    data["pipeline"] = "WanVACEPipeline" if kind == "vace" else "WanPipeline"
    data["supports_start_image"] = True
    if rules:
        data["rules"] = rules
    return data


def save(kind: str, folder: Path, variant_seed: int | None = None) -> dict:
    """Save the tiny model to ``folder``; with ``variant_seed`` also an ``i2v/`` variant
    (WanImageToVideoPipeline index + its own transformer). Returns the catalog entry."""
    pipe = build(kind)
    pipe.save_pretrained(str(folder), safe_serialization=True)
    if variant_seed is not None:
        variant = folder / "i2v"
        _transformer(variant_seed).save_pretrained(str(variant / "transformer"))
        index = json.loads((folder / "model_index.json").read_text())
        index["_class_name"] = "WanImageToVideoPipeline"
        index.update(image_encoder=[None, None], image_processor=[None, None])
        (variant / "model_index.json").write_text(json.dumps(index))
    data = entry(kind, "Wan2.2-TI2V" if kind == "ti2v" else None)
    data["download_bytes"] = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return data
