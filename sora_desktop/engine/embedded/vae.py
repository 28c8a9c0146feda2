"""A small video autoencoder: 4x spatial and 2x temporal compression into a Gaussian latent.

Frames go through 2-D convolutions; time is folded into channels at the bottleneck
(two frames → one latent frame) and unfolded again in the decoder, with a temporal
convolution on each side so neighbouring latent frames share information.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------
#                                       Config
# ---------------------------------------------------------------------------------------------


@dataclass
class VAEConfig:
    channels: tuple[int, int, int] = (32, 64, 96)  # widths at 1x, 1/2x, 1/4x resolution
    latent_channels: int = 8
    temporal_down: int = 2

    @classmethod
    def preset(cls, name: str) -> VAEConfig:
        presets = {"small": cls(), "micro": cls(channels=(8, 16, 16), latent_channels=4)}
        if name not in presets:
            raise ValueError(f"vae preset: unknown {name!r}; choose from {sorted(presets)}")
        return presets[name]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> VAEConfig:
        d = dict(d)
        d["channels"] = tuple(d["channels"])
        return cls(**d)


# ---------------------------------------------------------------------------------------------
#                                       Layers
# ---------------------------------------------------------------------------------------------


def _norm(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, c), c)


class ResBlock2d(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.n1, self.c1 = _norm(c), nn.Conv2d(c, c, 3, padding=1)
        self.n2, self.c2 = _norm(c), nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        h = self.c1(F.silu(self.n1(x)))
        h = self.c2(F.silu(self.n2(h)))
        return x + h


class TemporalMix(nn.Module):
    """Residual 1-D convolution along time at every pixel: (B, C, T, H, W) → same."""

    def __init__(self, c: int):
        super().__init__()
        self.norm, self.conv = _norm(c), nn.Conv3d(c, c, (3, 1, 1), padding=(1, 0, 0))

    def forward(self, x):
        return x + self.conv(F.silu(self.norm(x)))


def _frames(x):  # (B, C, T, H, W) → (B*T, C, H, W)
    b, c, t, h, w = x.shape
    return x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w), b, t


def _video(x, b, t):  # (B*T, C, H, W) → (B, C, T, H, W)
    _, c, h, w = x.shape
    return x.reshape(b, t, c, h, w).permute(0, 2, 1, 3, 4)


# ---------------------------------------------------------------------------------------------
#                                       Autoencoder
# ---------------------------------------------------------------------------------------------


class VideoVAE(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.cfg = cfg
        c1, c2, c3 = cfg.channels
        k = cfg.temporal_down
        self.enc = nn.Sequential(
            # the encoder is lighter than the decoder: the trainer encodes thousands of clips
            nn.Conv2d(3, c1, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1),
            ResBlock2d(c2),
            nn.Conv2d(c2, c3, 3, stride=2, padding=1),
            ResBlock2d(c3),
        )
        self.enc_time = nn.Conv3d(c3, c3, (k, 1, 1), stride=(k, 1, 1))
        self.enc_mix = TemporalMix(c3)
        self.enc_out = nn.Sequential(
            _norm(c3), nn.SiLU(), nn.Conv2d(c3, 2 * cfg.latent_channels, 3, padding=1)
        )

        self.dec_in = nn.Conv2d(cfg.latent_channels, c3, 3, padding=1)
        self.dec_mix = TemporalMix(c3)
        self.dec_time = nn.Conv2d(c3, c3 * k, 1)  # one latent frame → k frames of features
        self.dec_mix2 = TemporalMix(c3)
        self.dec = nn.Sequential(
            ResBlock2d(c3),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c3, c2, 3, padding=1),
            ResBlock2d(c2),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c2, c1, 3, padding=1),
            ResBlock2d(c1),
            _norm(c1),
            nn.SiLU(),
            nn.Conv2d(c1, 3, 3, padding=1),
        )

    def encode(self, x):
        """x: (B, 3, T, H, W) in [-1, 1], T divisible by temporal_down → (mean, logvar)."""
        f, b, t = _frames(x)  # (B*T, 3, H, W)
        h = _video(self.enc(f), b, t)  # (B, C3, T, H/4, W/4)
        h = self.enc_mix(self.enc_time(h))  # (B, C3, T/k, H/4, W/4)
        f, b, t = _frames(h)  # (B*T/k, C3, h, w)
        mean, logvar = _video(self.enc_out(f), b, t).chunk(2, dim=1)  # 2 x (B, Cz, T/k, h, w)
        return mean, logvar.clamp(-20.0, 10.0)

    def decode(self, z):
        """z: (B, Cz, T', h, w) → (B, 3, T'*k, 4h, 4w) in roughly [-1, 1]."""
        f, b, t = self.decode_time(z)
        return _video(self.decode_space(f), b, t)  # (B, 3, T, H, W)

    def decode_time(self, z):
        """The decoder's cheap half, at latent resolution: (B, Cz, T', h, w) → per-frame
        features (B*T'*k, C3, h, w) plus (B, T'*k). Frames go through ``decode_space``
        independently, so they can be decoded a few at a time (low memory) or only the last."""
        k = self.cfg.temporal_down
        f, b, t = _frames(z)  # (B*T', Cz, h, w)
        h = self.dec_mix(_video(self.dec_in(f), b, t))  # (B, C3, T', h, w)
        f, b, t = _frames(h)  # (B*T', C3, h, w)
        f = self.dec_time(f)  # (B*T', C3*k, h, w)
        c = f.shape[1] // k
        f = f.reshape(b, t, k, c, *f.shape[-2:]).reshape(b * t * k, c, *f.shape[-2:])
        h = self.dec_mix2(_video(f, b, t * k))  # (B, C3, T'*k, h, w)
        return _frames(h)

    def decode_space(self, f):
        """Per-frame features (N, C3, h, w) → frames (N, 3, 4h, 4w): the full-resolution half
        of the decoder, where its memory goes."""
        return self.dec(f)

    def forward(self, x, sample: bool = True):
        mean, logvar = self.encode(x)
        z = mean + torch.randn_like(mean) * (0.5 * logvar).exp() if sample else mean
        return self.decode(z), mean, logvar
