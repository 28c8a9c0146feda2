"""HunyuanVideo (the 13B 2024 model): latents in the VAE space scaled by its factor."""

from __future__ import annotations

from typing import Any

from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.families.base import FamilyAdapter, Keyframes


class HunyuanAdapter(FamilyAdapter):
    name = "hunyuan"

    def call_kwargs(
        self, pipe: Any, request: GenerationRequest, keys: Keyframes, common: dict[str, Any]
    ) -> dict[str, Any]:
        kwargs = super().call_kwargs(pipe, request, keys, common)
        if "prompt_template" in self.entry.defaults:
            kwargs["prompt_template"] = self.entry.defaults["prompt_template"]
        return kwargs

    def raw_latents(self, pipe: Any, latents: Any, request: GenerationRequest | None) -> Any:
        return latents / pipe.vae.config.scaling_factor


ADAPTER = HunyuanAdapter
