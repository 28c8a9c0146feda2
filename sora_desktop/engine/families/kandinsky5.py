"""Kandinsky 5 (Lite / Pro): ``Kandinsky5T2VPipeline`` for text, ``Kandinsky5I2VPipeline`` for a
start image. The I2V weights are a separate checkpoint (the model's ``i2v/`` variant folder:
its own transformer). No last-frame keyframe.

Latents are channel-last, (B, F, h, w, C), multiplied by the HunyuanVideo VAE's scaling factor;
during denoising the transformer's visual conditioning adds C + 1 channels (the encoded start
frame and its mask) after the C latent channels.
"""

from __future__ import annotations

from typing import Any

from sora_desktop.core.catalog import VARIANT_I2V
from sora_desktop.core.errors import FieldError
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.families.base import FamilyAdapter

# Kandinsky5I2VPipeline.normalize_first_frame rescales the first 4 latent frames against the
# ones after them: with fewer than 5 latent frames it divides by an empty reference (NaN
# frames) or, with 1, returns a tuple instead of latents. So image-to-video needs >= 17 frames.
I2V_MIN_LATENT_FRAMES = 5


class Kandinsky5Adapter(FamilyAdapter):
    name = "kandinsky5"
    i2v = "Kandinsky5I2VPipeline"

    def pipeline_for(self, request: GenerationRequest) -> str:
        name = super().pipeline_for(request)
        if name == self.i2v and VARIANT_I2V not in self.entry.variants:
            # the T2V transformer is not trained to start from a frame: refuse, don't guess
            raise FieldError(
                "start_image",
                f"{self.entry.name} cannot start from an image: its image-to-video weights "
                "are a separate download that this model does not include",
            )
        if name == self.i2v:
            least = (I2V_MIN_LATENT_FRAMES - 1) * self.rules.frame_multiple + 1
            if request.num_frames < least:
                raise FieldError(
                    "num_frames",
                    f"{self.entry.name} needs at least {least} frames to start from an image; "
                    f"got {request.num_frames}",
                )
        return name

    def latent_channels(self, pipe: Any) -> int:
        return int(pipe.transformer.config.in_visual_dim)

    def raw_latents(self, pipe: Any, latents: Any, request: GenerationRequest | None) -> Any:
        # (B, F, h, w, C[+C+1]) -> (B, C, F, h, w) / scaling_factor, as the pipeline decodes
        c = self.latent_channels(pipe)
        return latents[..., :c].permute(0, 4, 1, 2, 3) / pipe.vae.config.scaling_factor

    def normalised_to_raw(self, pipe: Any, z: Any) -> Any:
        return z / pipe.vae.config.scaling_factor


ADAPTER = Kandinsky5Adapter
