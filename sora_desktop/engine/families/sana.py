"""Sana-Video: ``SanaVideoPipeline`` for text, ``SanaImageToVideoPipeline`` for a start image.
One checkpoint serves both (the released I2V example loads the same repo), so there is no
variant folder. No last-frame keyframe.

What differs from the other families:
- the frame count is passed as ``frames`` (not ``num_frames``);
- ``use_resolution_binning`` (on by default) would denoise at the nearest size of a fixed
  table and resize the decoded video back: the latents would not have the request's size and
  the user's size would be changed silently. The app offers sizes on the 32-pixel grid the
  pipeline needs, so binning is turned off;
- the negative prompt must be a string (the pipeline encodes ``""``, never ``None``);
- latents are (B, C, F, h, w) normalised by the VAE's per-channel mean/std (Wan VAE; an LTX-2
  VAE keeps them as buffers), exactly as the pipeline undoes them before its decode.
"""

from __future__ import annotations

from typing import Any

from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.families.base import FamilyAdapter, Keyframes, vae_mean_std


class SanaAdapter(FamilyAdapter):
    name = "sana"
    i2v = "SanaImageToVideoPipeline"

    def call_kwargs(
        self, pipe: Any, request: GenerationRequest, keys: Keyframes, common: dict[str, Any]
    ) -> dict[str, Any]:
        kwargs = super().call_kwargs(pipe, request, keys, common)
        kwargs.pop("last_image", None)  # pipeline_for refuses end images before this
        if "num_frames" in kwargs:
            kwargs["frames"] = kwargs.pop("num_frames")
        kwargs["negative_prompt"] = kwargs.get("negative_prompt") or ""
        kwargs["use_resolution_binning"] = False
        return kwargs

    def raw_latents(self, pipe: Any, latents: Any, request: GenerationRequest | None) -> Any:
        mean, std = vae_mean_std(pipe.vae, latents.shape[1])
        return latents * std.to(latents) + mean.to(latents)


ADAPTER = SanaAdapter
