"""HunyuanVideo (the 13B 2024 model): latents in the VAE space scaled by its factor."""

from __future__ import annotations

from typing import Any

from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.families.base import FamilyAdapter


class HunyuanAdapter(FamilyAdapter):
    name = "hunyuan"

    def raw_latents(self, pipe: Any, latents: Any, request: GenerationRequest | None) -> Any:
        return latents / pipe.vae.config.scaling_factor


ADAPTER = HunyuanAdapter
