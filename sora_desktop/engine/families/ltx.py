"""LTX-Video 0.9.x: packed (B, S, D) latents, normalised by per-channel mean/std; 0.9.1+ VAEs
decode with a timestep and a little noise (``decode_timestep``/``decode_noise_scale``)."""

from __future__ import annotations

from typing import Any

import torch

from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.families.base import FamilyAdapter, Keyframes, module_device


class LTXAdapter(FamilyAdapter):
    name = "ltx"
    i2v = "LTXImageToVideoPipeline"
    condition = "LTXConditionPipeline"

    def call_kwargs(
        self, pipe: Any, request: GenerationRequest, keys: Keyframes, common: dict[str, Any]
    ) -> dict[str, Any]:
        kwargs = dict(common)
        kwargs["frame_rate"] = request.fps
        if type(pipe).__name__ == self.condition:
            from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

            conditions = []
            if keys.start is not None:
                conditions.append(LTXVideoCondition(image=keys.start, frame_index=0))
            if keys.end is not None:
                last = (request.num_frames - 1) // 8 * 8  # condition frames sit on 8k
                conditions.append(LTXVideoCondition(image=keys.end, frame_index=last))
            kwargs["conditions"] = conditions
        elif keys.start is not None:
            kwargs["image"] = keys.start
        for key in ("decode_timestep", "decode_noise_scale"):
            if key in self.entry.defaults:
                kwargs[key] = self.entry.defaults[key]
        return kwargs

    def geometry(self, pipe: Any, request: GenerationRequest) -> tuple[int, int, int]:
        t = pipe.vae_temporal_compression_ratio
        s = pipe.vae_spatial_compression_ratio
        return ((request.num_frames - 1) // t + 1, request.height // s, request.width // s)

    def raw_latents(self, pipe: Any, latents: Any, request: GenerationRequest | None) -> Any:
        if latents.ndim == 3:  # packed (B, S, D)
            f, h, w = self.geometry(pipe, request)  # type: ignore[arg-type]
            latents = pipe._unpack_latents(
                latents,
                f,
                h,
                w,
                pipe.transformer_spatial_patch_size,
                pipe.transformer_temporal_patch_size,
            )
        return pipe._denormalize_latents(
            latents, pipe.vae.latents_mean, pipe.vae.latents_std, pipe.vae.config.scaling_factor
        )

    def vae_decode(self, pipe: Any, raw: Any) -> Any:
        vae = pipe.vae
        raw = raw.to(device=module_device(vae, raw.device), dtype=vae.dtype)
        if getattr(vae.config, "timestep_conditioning", False):
            t = float(self.entry.defaults.get("decode_timestep", 0.0))
            scale = float(self.entry.defaults.get("decode_noise_scale", t))
            if scale:
                gen = torch.Generator(device="cpu").manual_seed(0)
                noise = torch.randn(raw.shape, generator=gen).to(raw)
                raw = (1 - scale) * raw + scale * noise
            timestep = torch.full((raw.shape[0],), t, device=raw.device, dtype=raw.dtype)
            return vae.decode(raw, timestep, return_dict=False)[0]
        return vae.decode(raw, return_dict=False)[0]


ADAPTER = LTXAdapter
