"""Tiny random-weight models in the real diffusers / transformers formats, built in seconds.

The component sizes follow diffusers' own fast pipeline tests (tests/pipelines/wan, ltx,
cogvideo, hunyuan_video); the tokenizer is a word-level tokenizer trained here with the
``tokenizers`` library, so nothing is fetched from the internet. Everything is saved with
``save_pretrained(safe_serialization=True)``, i.e. exactly the file layout a real Hub repo has.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

WORDS = (
    "a an the cat dog fox bird car boat red blue green yellow white black sky sea city night "
    "day walks runs flies drives over under on in through slowly quickly forest street river "
    "sunset camera pans close up wide shot cinematic light rain snow"
).split()

FAMILY_PIPELINES = {
    "wan": "WanPipeline",
    "ltx": "LTXPipeline",
    "cogvideox": "CogVideoXPipeline",
    "hunyuan": "HunyuanVideoPipeline",
}
TEXT_DIM = 32


def word_tokenizer(model_max_length: int = 64, bos: bool = False):
    """A PreTrainedTokenizerFast over WORDS (pad=0, eos=1, unk=2, bos=3)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    specials = ["<pad>", "</s>", "<unk>", "<s>", "<|im_start|>", "<|im_end|>"]
    tok.train_from_iterator([" ".join(WORDS)], trainers.WordLevelTrainer(special_tokens=specials))
    single = "<s> $A </s>" if bos else "$A </s>"
    tok.post_processor = processors.TemplateProcessing(
        single=single,
        special_tokens=[("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>"))],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        bos_token="<s>",
        model_max_length=model_max_length,
    )


def _t5(tokenizer):
    import torch
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    cfg = T5Config(
        vocab_size=len(tokenizer),
        d_model=TEXT_DIM,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        pad_token_id=0,
        eos_token_id=1,
    )
    return T5EncoderModel(cfg).eval()


def build_pipeline(family: str):
    """(pipeline, size) for a tiny random model of ``family``; size = (w, h, frames)."""
    import diffusers as D
    import torch

    tok = word_tokenizer()
    if family == "wan":
        torch.manual_seed(0)
        vae = D.AutoencoderKLWan(
            base_dim=3,
            z_dim=16,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
        )
        torch.manual_seed(0)
        tr = D.WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=16,
            out_channels=16,
            text_dim=TEXT_DIM,
            freq_dim=256,
            ffn_dim=32,
            num_layers=2,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=32,
        )
        pipe = D.WanPipeline(
            tokenizer=tok,
            text_encoder=_t5(tok),
            vae=vae.eval(),
            scheduler=D.FlowMatchEulerDiscreteScheduler(shift=3.0),
            transformer=tr.eval(),
        )
        return pipe, (32, 32, 9)
    if family == "ltx":
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
            caption_channels=TEXT_DIM,
        )
        torch.manual_seed(0)
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
        )
        vae.use_framewise_encoding = False
        vae.use_framewise_decoding = False
        pipe = D.LTXPipeline(
            scheduler=D.FlowMatchEulerDiscreteScheduler(),
            vae=vae.eval(),
            text_encoder=_t5(tok),
            tokenizer=tok,
            transformer=tr.eval(),
        )
        return pipe, (32, 32, 9)
    if family == "cogvideox":
        torch.manual_seed(0)
        tr = D.CogVideoXTransformer3DModel(
            num_attention_heads=4,
            attention_head_dim=8,
            in_channels=4,
            out_channels=4,
            time_embed_dim=2,
            text_embed_dim=TEXT_DIM,
            num_layers=1,
            sample_width=4,
            sample_height=4,
            sample_frames=9,
            patch_size=2,
            temporal_compression_ratio=4,
            max_text_seq_length=16,
        )
        torch.manual_seed(0)
        vae = D.AutoencoderKLCogVideoX(
            in_channels=3,
            out_channels=3,
            down_block_types=("CogVideoXDownBlock3D",) * 4,
            up_block_types=("CogVideoXUpBlock3D",) * 4,
            block_out_channels=(8, 8, 8, 8),
            latent_channels=4,
            layers_per_block=1,
            norm_num_groups=2,
            temporal_compression_ratio=4,
        )
        pipe = D.CogVideoXPipeline(
            tokenizer=tok,
            text_encoder=_t5(tok),
            vae=vae.eval(),
            transformer=tr.eval(),
            scheduler=D.CogVideoXDDIMScheduler(),
        )
        return pipe, (32, 32, 9)
    if family == "hunyuan":
        from transformers import CLIPTextConfig, CLIPTextModel, LlamaConfig, LlamaModel

        torch.manual_seed(0)
        tr = D.HunyuanVideoTransformer3DModel(
            in_channels=4,
            out_channels=4,
            num_attention_heads=2,
            attention_head_dim=10,
            num_layers=1,
            num_single_layers=1,
            num_refiner_layers=1,
            patch_size=1,
            patch_size_t=1,
            guidance_embeds=True,
            text_embed_dim=16,
            pooled_projection_dim=8,
            rope_axes_dim=(2, 4, 4),
        )
        torch.manual_seed(0)
        vae = D.AutoencoderKLHunyuanVideo(
            latent_channels=4,
            block_out_channels=(8, 8, 8, 8),
            layers_per_block=1,
            norm_num_groups=4,
            spatial_compression_ratio=8,
            temporal_compression_ratio=4,
        )
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
        pipe = D.HunyuanVideoPipeline(
            text_encoder=llama,
            tokenizer=tok1,
            transformer=tr.eval(),
            vae=vae.eval(),
            scheduler=D.FlowMatchEulerDiscreteScheduler(shift=7.0),
            text_encoder_2=clip,
            tokenizer_2=tok2,
        )
        return pipe, (32, 32, 9)
    raise ValueError(f"family: {family!r}; allowed {', '.join(FAMILY_PIPELINES)}")


def save_tiny_video_model(family: str, folder: Path) -> dict:
    """Save a tiny ``family`` model to ``folder``; returns a catalog entry dict for it."""
    pipe, size = build_pipeline(family)
    pipe.save_pretrained(str(folder), safe_serialization=True)
    entry = tiny_entry(family, size)
    entry["download_bytes"] = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return entry


def tiny_entry(family: str, size: tuple[int, int, int] = (32, 32, 9)) -> dict:
    """A catalog entry dict for the tiny ``family`` model at (width, height, frames)."""
    w, h, frames = size
    defaults = {
        "width": w,
        "height": h,
        "num_frames": frames,
        "fps": 8,
        "steps": 2,
        "guidance": 3.0,
        "shift": 3.0,
        "max_sequence_length": 16,
    }
    if family == "hunyuan":
        defaults["prompt_template"] = {"template": "{}", "crop_start": 0}
        defaults["shift"] = 7.0
    return {
        "id": f"tiny/{family}",
        "name": f"Tiny {family}",
        "kind": "video",
        "backend": "diffusers",
        "repo_id": f"tiny/{family}",
        "revision": "main",
        "files": [
            "model_index.json",
            "scheduler/*.json",
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
        ],
        "download_bytes": 0,
        "license": "Apache-2.0",
        "min_vram_gb": {"fast": 1, "balanced": 0.5, "low_vram": 0.25},
        "min_ram_gb": {"fast": 1, "balanced": 1, "low_vram": 1},
        "defaults": defaults,
        "pipeline": FAMILY_PIPELINES[family],
        "supports_start_image": family in ("ltx",),
        "description": f"tiny random {family} for tests",
    }


def save_tiny_llm(folder: Path) -> dict:
    """A tiny random Qwen2 causal LM with a chat template; returns its catalog entry dict."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tok = word_tokenizer(model_max_length=256)
    tok.chat_template = (
        "{% for m in messages %}<|im_start|> {{ m['role'] }} {{ m['content'] }} <|im_end|> "
        "{% endfor %}{% if add_generation_prompt %}<|im_start|> assistant {% endif %}"
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(
        Qwen2Config(
            vocab_size=len(tok),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            max_position_embeddings=256,
            pad_token_id=0,
            eos_token_id=1,
            bos_token_id=3,
            tie_word_embeddings=True,
        )
    ).eval()
    model.save_pretrained(str(folder), safe_serialization=True)
    tok.save_pretrained(str(folder))
    return {
        "id": "tiny/llm",
        "name": "Tiny LLM",
        "kind": "enhancer",
        "backend": "transformers",
        "repo_id": "tiny/llm",
        "revision": "main",
        "files": ["*.json", "*.txt", "*.jinja", "*.safetensors"],
        "download_bytes": sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()),
        "license": "Apache-2.0",
        "min_vram_gb": {"fast": 0, "balanced": 0, "low_vram": 0},
        "min_ram_gb": {"fast": 1, "balanced": 1, "low_vram": 1},
        "defaults": {"max_new_tokens": 12, "temperature": 0.0},
        "pipeline": "AutoModelForCausalLM",
        "supports_start_image": False,
        "description": "tiny random LLM for tests",
    }


def write_catalog(path: Path, entries: list[dict]) -> Path:
    """A catalog file: the shipped embedded entry first, then ``entries``."""
    from sora_desktop.core.catalog import default_catalog_path

    shipped = json.loads(default_catalog_path().read_text())
    models = [copy.deepcopy(shipped["models"][0]), *entries]
    path.write_text(json.dumps({"version": 1, "models": models}))
    return path
