"""Live previews for diffusers models: a linear map from latent channels to RGB.

The family adapter turns the pipeline's latents into the VAE's raw latent space; the 3 x C
factors are *measured* from the loaded VAE once per load by decoding a few random latents and
fitting a least-squares line (``calibrate_preview``). An approximation (the VAE is not linear),
only meant as a live thumbnail.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sora_desktop.engine.families.base import FamilyAdapter

PREVIEW_MAX_SIDE = 256


def calibrate_preview(pipe: Any, adapter: FamilyAdapter, seed: int = 0) -> np.ndarray:
    """Fit RGB ≈ [latent, 1] @ W for this model's VAE; returns W with shape (C + 1, 3).

    Decodes one small batch of random latents (1 latent frame, 8 x 8) and pools the decoded
    pixels back to latent resolution, so each latent position gives one (latent, RGB) pair.
    """
    import torch

    channels = adapter.latent_channels(pipe)
    batch = max(2, math.ceil((channels + 1) * 2 / 64))
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn((batch, channels, 1, 8, 8), generator=gen)
    with torch.no_grad():
        raw = adapter.normalised_to_raw(pipe, z)
        video = adapter.vae_decode(pipe, raw).float().cpu()  # (B, 3, F', H, W)
    img = video[:, :, 0]  # first decoded frame, (B, 3, H, W)
    pooled = torch.nn.functional.adaptive_avg_pool2d(img, (8, 8))  # (B, 3, 8, 8)
    x = raw.float().cpu()[:, :, 0].permute(0, 2, 3, 1).reshape(-1, channels)
    y = pooled.permute(0, 2, 3, 1).reshape(-1, 3)
    x1 = torch.cat([x, torch.ones(len(x), 1)], 1)
    sol = torch.linalg.lstsq(x1, y).solution  # (C + 1, 3)
    return sol.numpy()


def preview_frame(raw, factors: np.ndarray, target_side: int = PREVIEW_MAX_SIDE) -> np.ndarray:
    """Middle latent frame of raw latents (1, C, F, h, w) → (H, W, 3) uint8 via the factors.

    Upscaled by pixel repetition to about ``target_side`` (at most PREVIEW_MAX_SIDE) pixels.
    """
    import torch

    z = raw[0, :, raw.shape[2] // 2].float().cpu()  # (C, h, w)
    c, h, w = z.shape
    flat = torch.cat([z.reshape(c, -1).T, torch.ones(h * w, 1)], 1)  # (hw, C + 1)
    rgb = (flat @ torch.from_numpy(factors).float()).reshape(h, w, 3)
    img = ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    scale = max(1, min(PREVIEW_MAX_SIDE, target_side) // max(h, w))
    return np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)
