"""Tiny random-weight Kandinsky 5 models (text-to-video + the image-to-video variant folder).

Sizes follow diffusers' fast tests (tests/pipelines/kandinsky5/test_kandinsky5*.py) but
smaller; the tokenizers are word-level tokenizers trained here (nothing from the internet).
The Qwen tokenizer keeps newlines as tokens so that the pipeline's fixed prompt-template
prefix (it drops the first 128 tokens of the encoder's output) is at least 128 tokens long,
as it is with the real Qwen2.5-VL tokenizer; the prompt's own tokens are then all kept.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.tiny_models import WORDS, tiny_entry, word_tokenizer

QWEN_DIM = 16
CLIP_DIM = 8
LATENT = 4
SIZE = (32, 32, 17)  # w, h, frames: image-to-video needs >= 5 latent frames (see adapter)
I2V_SUBFOLDERS = ("transformer",)


def qwen_tokenizer():
    """Word-level tokenizer; newlines are tokens (the template prefix is >= 128 tokens)."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(
        Regex(r"\w+|[^\w\s]+|\n"), behavior="removed", invert=True
    )
    specials = ["<pad>", "</s>", "<unk>", "<s>", "<|im_start|>", "<|im_end|>"]
    tok.train_from_iterator([" ".join(WORDS)], trainers.WordLevelTrainer(special_tokens=specials))
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", tok.token_to_id("</s>"))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        bos_token="<s>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
        model_max_length=1024,
    )


def _transformer(seed: int):
    import diffusers as D
    import torch

    torch.manual_seed(seed)
    return D.Kandinsky5Transformer3DModel(
        in_visual_dim=LATENT,
        in_text_dim=QWEN_DIM,
        in_text_dim2=CLIP_DIM,
        time_dim=16,
        out_visual_dim=LATENT,
        patch_size=(1, 2, 2),
        model_dim=16,
        ff_dim=32,
        num_text_blocks=1,
        num_visual_blocks=1,
        axes_dims=(4, 2, 2),
        visual_cond=True,
        attention_type="regular",
    ).eval()


def build_pipeline():
    """(Kandinsky5T2VPipeline, (w, h, frames)) with tiny random weights."""
    import diffusers as D
    import torch
    from transformers import (
        CLIPTextConfig,
        CLIPTextModel,
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
    )

    tok = qwen_tokenizer()
    tok2 = word_tokenizer(model_max_length=77, bos=True)
    torch.manual_seed(0)
    vae = D.AutoencoderKLHunyuanVideo(
        latent_channels=LATENT,
        block_out_channels=(8, 8, 8, 8),
        layers_per_block=1,
        norm_num_groups=4,
        spatial_compression_ratio=8,
        temporal_compression_ratio=4,
        scaling_factor=0.476986,
    ).eval()
    torch.manual_seed(0)
    qwen = Qwen2_5_VLForConditionalGeneration(
        Qwen2_5_VLConfig(
            text_config={
                "hidden_size": QWEN_DIM,
                "intermediate_size": QWEN_DIM,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "num_key_value_heads": 2,
                "vocab_size": len(tok),
                "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default"},
                "rope_theta": 1000000.0,
            },
            vision_config={
                "depth": 1,
                "hidden_size": QWEN_DIM,
                "intermediate_size": QWEN_DIM,
                "num_heads": 2,
                "out_hidden_size": QWEN_DIM,
            },
            vocab_size=len(tok),
            image_token_id=2,
            video_token_id=2,
            vision_start_token_id=2,
            vision_end_token_id=2,
        )
    ).eval()
    torch.manual_seed(0)
    clip = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tok2),
            hidden_size=CLIP_DIM,
            intermediate_size=16,
            num_attention_heads=2,
            num_hidden_layers=1,
            max_position_embeddings=77,
            pad_token_id=0,
            bos_token_id=3,
            eos_token_id=1,
            projection_dim=CLIP_DIM,
        )
    ).eval()
    pipe = D.Kandinsky5T2VPipeline(
        transformer=_transformer(0),
        vae=vae,
        text_encoder=qwen,
        tokenizer=tok,
        text_encoder_2=clip,
        tokenizer_2=tok2,
        scheduler=D.FlowMatchEulerDiscreteScheduler(shift=5.0),
    )
    return pipe, SIZE


def build_i2v_pipeline(t2v=None):
    """The image-to-video pipeline: the T2V components with the I2V variant's transformer."""
    import diffusers as D

    t2v = t2v or build_pipeline()[0]
    parts = {k: v for k, v in t2v.components.items()}
    parts["transformer"] = _transformer(1)
    return D.Kandinsky5I2VPipeline(**parts)


def save_tiny_model(folder: Path) -> dict:
    """Save the T2V model to ``folder`` and its I2V variant to ``folder/i2v`` (model_index +
    ``transformer/`` only); returns a catalog entry dict with the ``variants`` description."""
    pipe, size = build_pipeline()
    pipe.save_pretrained(str(folder), safe_serialization=True)
    i2v = build_i2v_pipeline(pipe)
    variant = Path(folder) / "i2v"
    i2v.save_pretrained(str(variant), safe_serialization=True)
    for sub in variant.iterdir():  # the variant holds only what differs
        if sub.is_dir() and sub.name not in I2V_SUBFOLDERS:
            import shutil

            shutil.rmtree(sub)
    entry = kandinsky5_entry(size)
    entry["download_bytes"] = _bytes(folder, skip="i2v")
    entry["variants"]["i2v"]["download_bytes"] = _bytes(variant)
    return entry


def kandinsky5_entry(size: tuple[int, int, int] = SIZE) -> dict:
    entry = tiny_entry("wan", size)  # the shared shape; the family fields follow
    entry.update(
        id="tiny/kandinsky5",
        name="Tiny Kandinsky 5",
        repo_id="tiny/kandinsky5",
        pipeline="Kandinsky5T2VPipeline",
        supports_start_image=True,
        description="tiny random Kandinsky 5 for tests",
        variants={
            "i2v": {
                "repo_id": "tiny/kandinsky5-i2v",
                "revision": "main",
                "files": ["model_index.json", "transformer/*.json", "transformer/*.safetensors"],
                "download_bytes": 0,
            }
        },
    )
    entry["defaults"]["max_sequence_length"] = 64  # the default negative prompt fits
    entry["defaults"]["shift"] = 5.0
    return entry


def _bytes(folder: Path, skip: str = "") -> int:
    root = Path(folder)
    return sum(
        p.stat().st_size
        for p in root.rglob("*")
        if p.is_file() and not (skip and p.relative_to(root).parts[0] == skip)
    )


def model_index(folder: Path) -> dict:
    return json.loads((Path(folder) / "model_index.json").read_text())


# ---------------------------------------------------------------- driving an adapter directly
def request(entry: dict, **kw):
    """A GenerationRequest for the tiny ``entry`` at its default size."""
    from sora_desktop.core.request import GenerationRequest

    d = entry["defaults"]
    base = dict(
        prompt="a red cat walks",
        seed=7,
        steps=2,
        guidance=3.0,
        num_frames=d["num_frames"],
        fps=d["fps"],
        width=d["width"],
        height=d["height"],
        model_id=entry["id"],
    )
    base.update(kw)
    return GenerationRequest(**base)


def common_kwargs(adapter, req) -> dict:
    """The shared call arguments the backend gives ``adapter.call_kwargs`` (base.py)."""
    import torch

    common = dict(
        prompt=req.prompt,
        height=req.height,
        width=req.width,
        num_frames=req.num_frames,
        num_inference_steps=req.steps,
        guidance_scale=req.guidance,
        generator=torch.Generator().manual_seed(req.seed),
        output_type="latent",
    )
    if adapter.rules.negative_prompt:
        common["negative_prompt"] = req.negative_prompt or None
    return common


def drive(adapter, pipe, req, keys, callback=None, output_type="latent"):
    """Run ``pipe`` as the backend does; returns the pipeline's output."""
    kwargs = adapter.call_kwargs(pipe, req, keys, common_kwargs(adapter, req))
    kwargs["output_type"] = output_type
    if callback is not None:
        kwargs["callback_on_step_end"] = callback
    return pipe(**kwargs)


def latents_np(adapter, pipe, out) -> dict:
    """What the backend saves with the take before the decode."""
    return {k: v.detach().cpu().numpy() for k, v in adapter.latents_from_output(pipe, out).items()}


def decode_saved(adapter, pipe, saved, req):
    import torch

    latents = {k: torch.from_numpy(v) for k, v in saved.items()}
    with torch.no_grad():  # as the backend decodes
        return adapter.decode(pipe, latents, req).frames


def as_uint8(frames):
    """A pipeline's own ``output_type="np"`` frames (1, T, H, W, 3) → (T, H, W, 3) uint8."""
    import numpy as np

    return (np.clip(np.asarray(frames)[0], 0, 1) * 255).round().astype(np.uint8)


# ---------------------------------------------------------------- through the hub and backend
def install_through_hub(built: Path, data: dict, models: Path) -> Path:
    """Serve the saved tiny model (and its ``i2v`` variant folder, as its own repo) from the
    fake hub on 127.0.0.1 and install it with the real downloader; returns the model folder."""
    import shutil

    import pytest
    from fakehub import FakeHub
    from huggingface_hub import constants

    from sora_desktop.core.catalog import CatalogEntry
    from sora_desktop.engine import downloads as dl

    entry = CatalogEntry.from_dict(data)
    with pytest.MonkeyPatch.context() as mp, FakeHub() as hub:
        mp.setattr(constants, "HF_HUB_OFFLINE", False)
        hub.add_folder(entry.repo_id, built)
        if (built / "i2v").is_dir():
            variant = built.parent / (built.name + "-i2v")
            shutil.move(str(built / "i2v"), variant)
            hub.add_folder(entry.variants["i2v"].repo_id, variant)
        return dl.ModelDownloader(models, dl.HubConfig(endpoint=hub.endpoint)).download(entry)


def events(backend, req, cancel=None) -> tuple[list, list[str]]:
    got = list(backend.generate(req, cancel))
    return got, [type(e).__name__ for e in got]


def check_job(backend, req, pipeline: str, frames: tuple[int, ...], sections: int = 1):
    """One job: StepEvents, LatentsReady before the decode, the frames; ``decode_latents`` of
    the saved latents gives the same frames (also after a copy, as read back from disk)."""
    import numpy as np

    got, kinds = events(backend, req)
    steps = req.steps * sections
    assert kinds == ["StepEvent"] * steps + ["LatentsReady", "GenerationResult"], kinds
    ready, result = got[-2], got[-1]
    assert ready.info["pipeline"] == pipeline
    assert result.frames.shape == frames and result.frames.std() > 0
    saved = {k: np.array(v, copy=True) for k, v in ready.latents.items()}
    again = backend.decode_latents(req, saved, ready.info, low_memory=False)
    assert np.abs(again.frames.astype(int) - result.frames.astype(int)).max() <= 1
    return ready, result


def check_cancel(backend, req) -> None:
    import pytest

    from sora_desktop.engine.backend import CancelToken, GenerationCancelled

    cancel = CancelToken()
    seen = []
    with pytest.raises(GenerationCancelled):
        for event in backend.generate(req, cancel):
            seen.append(type(event).__name__)
            cancel.cancel()
    assert seen == ["StepEvent"]  # no latents, no decode after a cancel
