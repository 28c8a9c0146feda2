"""A Sora-style diffusion transformer over spacetime patches of the video latent.

DiT blocks with adaLN-Zero conditioning on the timestep (plus pooled text), cross-attention to
the text tokens, fixed 3-D sin-cos positions, and a first-frame condition channel so a clip
can start from a given image. The model maps ``(x_t, t, text)`` to a rectified-flow velocity.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------
#                                       Config
# ---------------------------------------------------------------------------------------------


@dataclass
class DiTConfig:
    latent_channels: int = 8
    patch: tuple[int, int, int] = (2, 2, 2)  # (t, h, w)
    width: int = 256
    depth: int = 6
    heads: int = 4
    mlp_ratio: float = 4.0
    text_dim: int = 384  # MiniLM-L6 hidden size

    @classmethod
    def preset(cls, name: str) -> DiTConfig:
        presets = {
            "small": cls(),
            "micro": cls(latent_channels=4, width=32, depth=2, heads=2),
        }
        if name not in presets:
            raise ValueError(f"dit preset: unknown {name!r}; choose from {sorted(presets)}")
        return presets[name]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DiTConfig:
        d = dict(d)
        d["patch"] = tuple(d["patch"])
        return cls(**d)


# ---------------------------------------------------------------------------------------------
#                                       Embeddings
# ---------------------------------------------------------------------------------------------


def timestep_embedding(t, dim: int, max_period: float = 10000.0):
    """t: (B,) in [0, 1] → (B, dim) sinusoidal features of 1000 t."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    args = 1000.0 * t.float()[:, None] * freqs[None]  # (B, half)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # (B, dim)


def _sincos_1d(n: int, dim: int) -> torch.Tensor:
    pos = torch.arange(n, dtype=torch.float64)[:, None]
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2))
    ang = pos * omega[None]  # (n, dim/2)
    return torch.cat([ang.sin(), ang.cos()], dim=1)  # (n, dim)


def sincos_3d(t: int, h: int, w: int, dim: int) -> torch.Tensor:
    """Fixed 3-D positions: a quarter of the channels for time, the rest split over h and w."""
    dt = dim // 4 // 2 * 2
    dh = (dim - dt) // 2 // 2 * 2
    dw = dim - dt - dh
    et = _sincos_1d(t, dt)[:, None, None].expand(t, h, w, dt)
    eh = _sincos_1d(h, dh)[None, :, None].expand(t, h, w, dh)
    ew = _sincos_1d(w, dw)[None, None, :].expand(t, h, w, dw)
    return torch.cat([et, eh, ew], dim=-1).reshape(t * h * w, dim).float()  # (N, dim)


def modulate(x, shift, scale):
    return x * (1 + scale[:, None]) + shift[:, None]


# ---------------------------------------------------------------------------------------------
#                                       Blocks
# ---------------------------------------------------------------------------------------------


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, kv_dim: int | None = None):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(kv_dim or dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, context=None, mask=None):
        B, N, D = x.shape
        ctx = x if context is None else context
        q = self.q(x).view(B, N, self.heads, D // self.heads).transpose(1, 2)  # (B, H, N, d)
        k, v = self.kv(ctx).view(B, ctx.shape[1], 2, self.heads, D // self.heads).unbind(2)
        k, v = k.transpose(1, 2), v.transpose(1, 2)  # (B, H, L, d)
        attn_mask = None if mask is None else mask[:, None, None, :]  # (B, 1, 1, L) bool
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (B, H, N, d)
        return self.proj(out.transpose(1, 2).reshape(B, N, D))  # (B, N, D)


class DiTBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.cross = Attention(dim, heads, kv_dim=dim)
        self.norm3 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim)
        )
        self.adaLN = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))

    def forward(self, x, c, text, text_mask):
        s1, sc1, g1, s2, sc2, g2 = self.adaLN(c).chunk(6, dim=-1)  # 6 x (B, D)
        x = x + g1[:, None] * self.attn(modulate(self.norm1(x), s1, sc1))  # (B, N, D)
        x = x + self.cross(self.norm2(x), text, text_mask)  # (B, N, D)
        x = x + g2[:, None] * self.mlp(modulate(self.norm3(x), s2, sc2))  # (B, N, D)
        return x


class FinalLayer(nn.Module):
    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(dim, out_dim)
        self.adaLN = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))

    def forward(self, x, c):
        shift, scale = self.adaLN(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


# ---------------------------------------------------------------------------------------------
#                                       Model
# ---------------------------------------------------------------------------------------------


class VideoDiT(nn.Module):
    def __init__(self, cfg: DiTConfig):
        super().__init__()
        self.cfg = cfg
        C, (pt, ph, pw), D = cfg.latent_channels, cfg.patch, cfg.width
        self.patch_dim = C * pt * ph * pw
        # noisy latent + start-frame latent + start-frame mask, patchified together
        self.x_embed = nn.Linear((2 * C + 1) * pt * ph * pw, D)
        self.t_embed = nn.Sequential(nn.Linear(256, D), nn.SiLU(), nn.Linear(D, D))
        # MiniLM states have a few very large channels; normalise so colour words are not drowned
        self.text_norm = nn.LayerNorm(cfg.text_dim, eps=1e-6)
        self.text_proj = nn.Sequential(nn.Linear(cfg.text_dim, D), nn.SiLU(), nn.Linear(D, D))
        self.pool_proj = nn.Sequential(nn.Linear(cfg.text_dim, D), nn.SiLU(), nn.Linear(D, D))
        self.blocks = nn.ModuleList(
            [DiTBlock(D, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth)]
        )
        self.final = FinalLayer(D, self.patch_dim)
        self.initialize_weights()

    def initialize_weights(self):
        def _basic(m):
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

        self.apply(_basic)
        nn.init.normal_(self.t_embed[0].weight, std=0.02)
        nn.init.normal_(self.t_embed[2].weight, std=0.02)
        for block in self.blocks:  # adaLN-Zero: every block starts as the identity
            nn.init.zeros_(block.adaLN[-1].weight)
            nn.init.zeros_(block.adaLN[-1].bias)
            nn.init.zeros_(block.cross.proj.weight)
        nn.init.zeros_(self.final.adaLN[-1].weight)
        nn.init.zeros_(self.final.adaLN[-1].bias)
        nn.init.zeros_(self.final.linear.weight)
        nn.init.zeros_(self.final.linear.bias)

    def patchify(self, x):
        B, C, T, H, W = x.shape
        pt, ph, pw = self.cfg.patch
        x = x.reshape(B, C, T // pt, pt, H // ph, ph, W // pw, pw)
        x = x.permute(0, 2, 4, 6, 1, 3, 5, 7)  # (B, t, h, w, C, pt, ph, pw)
        return x.reshape(B, (T // pt) * (H // ph) * (W // pw), -1), (T // pt, H // ph, W // pw)

    def unpatchify(self, x, grid):
        B = x.shape[0]
        t, h, w = grid
        pt, ph, pw = self.cfg.patch
        C = self.cfg.latent_channels
        x = x.reshape(B, t, h, w, C, pt, ph, pw).permute(0, 4, 1, 5, 2, 6, 3, 7)
        return x.reshape(B, C, t * pt, h * ph, w * pw)  # (B, C, T, H, W)

    def forward(self, x, t, text, text_mask, cond=None, cond_mask=None):
        """x: (B, C, T, H, W) noisy latent; t: (B,) in [0, 1]; text: (B, L, 384);
        text_mask: (B, L) bool; cond: (B, C, T, H, W) start-frame latent;
        cond_mask: (B, 1, T, H, W)."""
        if cond is None:
            cond = torch.zeros_like(x)
            cond_mask = torch.zeros_like(x[:, :1])
        tokens, grid = self.patchify(torch.cat([x, cond, cond_mask], dim=1))  # (B, N, (2C+1)p)
        pos = sincos_3d(*grid, self.cfg.width).to(x.device, x.dtype)  # (N, D)
        h = self.x_embed(tokens) + pos[None]  # (B, N, D)
        text = self.text_norm(text)  # (B, L, 384)
        m = text_mask.to(text.dtype)[..., None]  # (B, L, 1)
        pooled = (text * m).sum(1) / m.sum(1).clamp(min=1.0)  # (B, 384)
        c = self.t_embed(timestep_embedding(t, 256).to(h.dtype)) + self.pool_proj(pooled)  # (B, D)
        ctx = self.text_proj(text)  # (B, L, D)
        for block in self.blocks:
            h = block(h, c, ctx, text_mask)  # (B, N, D)
        out = self.final(h, c)  # (B, N, C p)
        return self.unpatchify(out, grid)  # (B, C, T, H, W)
