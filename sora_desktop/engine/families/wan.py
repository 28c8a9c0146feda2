"""Wan 2.1 / 2.2: ``WanPipeline`` for text, ``WanImageToVideoPipeline`` for a start image and
(Wan 2.1) a last-frame keyframe; Wan 2.2 TI2V-5B runs image-to-video with the same weights
(``expand_timesteps``: the first latent frame is the image, the rest denoised)."""

from __future__ import annotations

from typing import Any

from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.families.base import FamilyAdapter, Keyframes, vae_mean_std


class WanAdapter(FamilyAdapter):
    name = "wan"
    i2v = "WanImageToVideoPipeline"

    def call_kwargs(
        self, pipe: Any, request: GenerationRequest, keys: Keyframes, common: dict[str, Any]
    ) -> dict[str, Any]:
        kwargs = super().call_kwargs(pipe, request, keys, common)
        if keys.end is not None and keys.start is None:
            raise ValueError("end_image: Wan needs a start image to end on a given frame")
        return kwargs

    def raw_latents(self, pipe: Any, latents: Any, request: GenerationRequest | None) -> Any:
        # WanPipeline: raw = latents * std + mean (it divides by 1 / std)
        mean, std = vae_mean_std(pipe.vae, latents.shape[1])
        return latents * std.to(latents) + mean.to(latents)


ADAPTER = WanAdapter
