"""HunyuanVideo 1.5 (480p): text to video, and image to video through the ``i2v`` variant.

What differs from the default family:
- the image-to-video weights (a separate transformer, a SigLIP image encoder) are a VARIANT
  folder ``<model>/i2v`` that the backend loads with the main folder's shared parts;
- guidance is a ``guider`` component, not a call argument: the request's guidance scale is set
  on the pipeline's guider before each call;
- the image-to-video pipeline takes no ``height``/``width``: it picks the size bucket
  (around the transformer's ``target_size``) closest to the image's aspect ratio. A request at
  another size is refused with the size that would be made, never silently resized;
- neither pipeline has ``callback_on_step_end``: the step hook wraps the scheduler's ``step``
  (``step_callback_kwargs``), so cancel and the live preview still see every step;
- latents come out scaled by the VAE's ``scaling_factor`` (the pipeline's tail divides by it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sora_desktop.core.errors import FieldError
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.families.base import FamilyAdapter, Keyframes

log = logging.getLogger(__name__)

I2V_PIPELINE = "HunyuanVideo15ImageToVideoPipeline"
# the call arguments the image-to-video pipeline does not take (it sizes from the image)
_I2V_DROPS = ("height", "width")
# neither pipeline takes it: the text lengths are fixed (1000 Qwen tokens, 256 ByT5 bytes)
_DROPS = ("max_sequence_length",)


class HunyuanVideo15Adapter(FamilyAdapter):
    name = "hunyuan15"
    i2v = I2V_PIPELINE

    def call_kwargs(
        self, pipe: Any, request: GenerationRequest, keys: Keyframes, common: dict[str, Any]
    ) -> dict[str, Any]:
        kwargs = {k: v for k, v in common.items() if k not in _DROPS}
        guidance = kwargs.pop("guidance_scale", None)
        if guidance is not None:
            set_guidance(pipe, float(guidance))
        if keys.start is None:
            return kwargs
        made = i2v_size(pipe, request.width, request.height)
        if made != (request.width, request.height):
            raise FieldError(
                "width",
                f"{self.entry.name} continues from an image at {made[0]}x{made[1]} for this "
                f"aspect ratio, not {request.width}x{request.height}; choose that size",
            )
        for key in _I2V_DROPS:
            kwargs.pop(key, None)
        kwargs["image"] = keys.start
        return kwargs

    def raw_latents(self, pipe: Any, latents: Any, request: GenerationRequest | None) -> Any:
        # (B, C, F, h, w) scaled latents → the VAE's raw space, as the pipeline's tail does
        return latents / pipe.vae.config.scaling_factor

    def step_callback_kwargs(self, pipe: Any, on_step: Callable[..., Any]) -> dict[str, Any]:
        install_step_hook(pipe, on_step)
        return {}


def set_guidance(pipe: Any, scale: float) -> None:
    """Give the pipeline's guider this classifier-free guidance scale (1.0 turns it off)."""
    guider = getattr(pipe, "guider", None)
    if guider is None:
        return
    if getattr(guider, "guidance_scale", None) != scale:
        pipe.guider = guider.new(guidance_scale=scale)


def i2v_size(pipe: Any, width: int, height: int) -> tuple[int, int]:
    """(width, height) the image-to-video pipeline makes from an image of this size."""
    h, w = pipe.video_processor.calculate_default_height_width(
        height=height, width=width, target_size=pipe.target_size
    )
    return int(w), int(h)


def install_step_hook(pipe: Any, on_step: Callable[..., Any]) -> None:
    """Call ``on_step(pipe, i, t, {"latents": ...})`` after every scheduler step of the next
    run (the pipelines have no step callback). A new hook replaces the previous one; an
    exception from ``on_step`` (a cancel) leaves the pipeline at once."""
    scheduler = pipe.scheduler
    plain = type(scheduler).step
    count = {"i": 0}

    def step(model_output: Any, timestep: Any, sample: Any, *args: Any, **kwargs: Any) -> Any:
        out = plain(scheduler, model_output, timestep, sample, *args, **kwargs)
        latents = out[0] if isinstance(out, tuple) else out.prev_sample
        i = count["i"]
        count["i"] += 1
        on_step(pipe, i, timestep, {"latents": latents})
        return out

    scheduler.step = step


ADAPTER = HunyuanVideo15Adapter
