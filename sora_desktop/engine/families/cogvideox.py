"""CogVideoX (1.0 and 1.5): latents are (B, F, C, h, w) scaled by the VAE's factor; 1.5 pads
the latent frames to its temporal patch and the decode drops the padding."""

from __future__ import annotations

from typing import Any

from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.families.base import FamilyAdapter


class CogVideoXAdapter(FamilyAdapter):
    name = "cogvideox"
    i2v = "CogVideoXImageToVideoPipeline"

    def raw_latents(self, pipe: Any, latents: Any, request: GenerationRequest | None) -> Any:
        if request is not None:
            latents = latents[:, _padding(pipe, request) :]
        return latents.permute(0, 2, 1, 3, 4) / pipe.vae.config.scaling_factor

    def normalised_to_raw(self, pipe: Any, z: Any) -> Any:
        return z / pipe.vae.config.scaling_factor


def _padding(pipe: Any, request: GenerationRequest) -> int:
    """Latent frames CogVideoX 1.5 added in front to fill its temporal patch."""
    p = getattr(pipe.transformer.config, "patch_size_t", None)
    latent_frames = (request.num_frames - 1) // pipe.vae_scale_factor_temporal + 1
    return p - latent_frames % p if p and latent_frames % p else 0


ADAPTER = CogVideoXAdapter
