"""MiniLM-L6 (a 6-layer BERT encoder) read straight from its safetensors and tokenizer.json.

Why not ``transformers.AutoModel``: importing transformers' model machinery costs about 6 s of
CPU in every fresh process (it scans every model family it ships), longer than the built-in
model itself takes to load and generate a short clip; each app start's worker process, each CLI
run and each farm worker paid it. This is the same network, layer for layer (BertModel's
``last_hidden_state``); tests/test_minilm.py checks it against transformers' output.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file


class MiniLM(torch.nn.Module):
    def __init__(self, folder: Path) -> None:
        super().__init__()
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if cfg.get("model_type") != "bert" or cfg.get("hidden_act") != "gelu":
            raise ValueError(f"{folder}: not a BERT encoder with GELU ({cfg.get('model_type')})")
        self.heads = int(cfg["num_attention_heads"])
        self.layers = int(cfg["num_hidden_layers"])
        self.eps = float(cfg["layer_norm_eps"])
        self.hidden_size = int(cfg["hidden_size"])
        weights = load_file(str(folder / "model.safetensors"))
        weights.pop("embeddings.position_ids", None)
        self.w = torch.nn.ParameterDict(
            {k.replace(".", "__"): torch.nn.Parameter(v, requires_grad=False)
             for k, v in weights.items()}
        )  # fmt: skip

    def _p(self, name: str) -> torch.Tensor:
        return self.w[name.replace(".", "__")]

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, self._p(f"{name}.weight"), self._p(f"{name}.bias"))

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        w, b = self._p(f"{name}.weight"), self._p(f"{name}.bias")
        return F.layer_norm(x, (x.shape[-1],), w, b, self.eps)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, L) token ids and attention mask → (B, L, hidden) last hidden state."""
        batch, length = ids.shape
        positions = torch.arange(length, device=ids.device)
        x = (
            F.embedding(ids, self._p("embeddings.word_embeddings.weight"))
            + self._p("embeddings.position_embeddings.weight")[positions]
            + self._p("embeddings.token_type_embeddings.weight")[0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        keep = mask.bool()[:, None, None, :]  # (B, 1, 1, L): padded keys are never attended
        head_dim = self.hidden_size // self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, self.heads, head_dim).transpose(1, 2)

        for i in range(self.layers):
            p = f"encoder.layer.{i}"
            q, k, v = (
                split(self._linear(x, f"{p}.attention.self.{n}")) for n in ("query", "key", "value")
            )
            att = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
            att = att.transpose(1, 2).reshape(batch, length, self.hidden_size)
            x = self._norm(x + self._linear(att, f"{p}.attention.output.dense"),
                           f"{p}.attention.output.LayerNorm")  # fmt: skip
            h = F.gelu(self._linear(x, f"{p}.intermediate.dense"))
            x = self._norm(x + self._linear(h, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        return x
