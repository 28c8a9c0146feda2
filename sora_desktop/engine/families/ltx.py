"""LTX-Video 0.9.x: ``LTXPipeline`` (text), ``LTXImageToVideoPipeline`` (start image) and
``LTXConditionPipeline`` (keyframes at frame positions, video context: 0.9.5 and later).

Latents: ``LTXPipeline``/``LTXImageToVideoPipeline`` hand back packed (B, S, D) tokens, the
condition pipeline unpacked (B, C, F, h, w); both normalised by the VAE's per-channel mean/std.
They are saved as the pipeline gave them and unpacked / denormalised at decode (the request
gives the geometry). 0.9.1+ VAEs decode with a timestep and a little noise
(``decode_timestep``/``decode_noise_scale``), mixed into the raw latents as the pipelines do;
the noise comes from the request's seed, so a decode of saved latents repeats the take.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

import torch

from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.families.base import (
    Decoded,
    FamilyAdapter,
    Keyframes,
    module_device,
    to_uint8,
)

log = logging.getLogger(__name__)

# entry.defaults passed to the pipeline when it takes them (distilled 0.9.7/0.9.8: guidance 1,
# ``timesteps`` [1000, 993, 987, 981, 975, 909, 725, 0.03], guidance_rescale 0.7,
# image_cond_noise_scale 0.0 — diffusers' LTX docs)
PASSED_DEFAULTS = ("guidance_rescale", "image_cond_noise_scale")


def end_frame_index(num_frames: int, temporal_ratio: int) -> int:
    """The frame index a clip's last keyframe goes to: the last frame, on the VAE's temporal grid
    (``LTXConditionPipeline`` places a single-image condition at pixel frame ``frame_index``;
    LTX-Video's own code wants non-zero condition frames on multiples of the temporal ratio)."""
    return (num_frames - 1) // temporal_ratio * temporal_ratio


def seeded_noise(shape: Any, seed: int, like: Any) -> Any:
    """Decode noise from the request's seed (a CPU generator: the same on every device)."""
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    return torch.randn(tuple(shape), generator=gen, dtype=torch.float32).to(like)


def accepts(pipe: Any, name: str) -> bool:
    try:
        return name in inspect.signature(pipe.__call__).parameters
    except (TypeError, ValueError):
        return False


class LTXAdapter(FamilyAdapter):
    name = "ltx"
    i2v = "LTXImageToVideoPipeline"
    condition = "LTXConditionPipeline"

    def distilled_schedule(self) -> list[float] | None:
        """A distilled model's own ``timesteps`` (entry defaults), else None."""
        schedule = self.entry.defaults.get("timesteps")
        return [float(t) for t in schedule] if isinstance(schedule, list) else None

    def pipeline_for(self, request: GenerationRequest) -> str:
        name = super().pipeline_for(request)
        # LTXPipeline / LTXImageToVideoPipeline always set sigmas and refuse ``timesteps``: a
        # distilled model runs every request (text, image, keyframes) in the condition pipeline,
        # as diffusers' docs for 0.9.7/0.9.8 distilled do
        if self.distilled_schedule() is not None and self.condition:
            return self.condition
        return name

    # ------------------------------------------------------------------ calling it
    def call_kwargs(
        self, pipe: Any, request: GenerationRequest, keys: Keyframes, common: dict[str, Any]
    ) -> dict[str, Any]:
        kwargs = dict(common)
        kwargs["frame_rate"] = request.fps
        is_condition = type(pipe).__name__ == self.condition
        if is_condition:
            conditions = self.conditions(pipe, request, keys)
            if conditions:  # none (text only): the pipeline's default, not an empty list
                kwargs["conditions"] = conditions
        elif keys.start is not None or keys.context:
            kwargs["image"] = keys.start if keys.start is not None else keys.context[-1]
        d = self.entry.defaults
        for key in PASSED_DEFAULTS:
            if key in d and accepts(pipe, key):
                kwargs[key] = d[key]
        schedule = self.distilled_schedule()
        # a distilled model's own schedule, unless the user changed the step count
        if is_condition and schedule is not None and len(schedule) == request.steps:
            kwargs["timesteps"] = schedule
        return kwargs

    def conditions(self, pipe: Any, request: GenerationRequest, keys: Keyframes) -> list[Any]:
        """``LTXVideoCondition``s: the previous window's frames (or the start image) at frame 0,
        the end image at the last frame."""
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        t = pipe.vae_temporal_compression_ratio
        out = []
        if keys.context:
            # the pipeline trims a video condition to k*t+1 frames from its start: keep the
            # *last* such run, the frames the new window continues from
            n = (len(keys.context) - 1) // t * t + 1
            frames = list(keys.context[-n:])
            if n == 1:
                out.append(LTXVideoCondition(image=frames[0], frame_index=0))
            else:
                out.append(LTXVideoCondition(video=frames, frame_index=0))
        elif keys.start is not None:
            out.append(LTXVideoCondition(image=keys.start, frame_index=0))
        if keys.end is not None:
            index = end_frame_index(request.num_frames, t)
            out.append(LTXVideoCondition(image=keys.end, frame_index=index))
        return out

    # ------------------------------------------------------------------ latents
    def geometry(self, pipe: Any, request: GenerationRequest) -> tuple[int, int, int]:
        t = pipe.vae_temporal_compression_ratio
        s = pipe.vae_spatial_compression_ratio
        return ((request.num_frames - 1) // t + 1, request.height // s, request.width // s)

    def latents_from_output(self, pipe: Any, output: Any) -> dict[str, Any]:
        return {"video": output.frames}

    def unpack(self, pipe: Any, latents: Any, request: GenerationRequest) -> Any:
        """Packed (B, S, D) tokens → (B, C, F, h, w); a condition pipeline's step latents carry
        its keyframe tokens first, which are dropped."""
        if latents.ndim != 3:
            return latents
        f, h, w = self.geometry(pipe, request)
        p, pt = pipe.transformer_spatial_patch_size, pipe.transformer_temporal_patch_size
        tokens = (f // pt) * (h // p) * (w // p)
        latents = latents[:, latents.shape[1] - tokens :]
        return pipe._unpack_latents(latents, f, h, w, p, pt)

    def raw_latents(self, pipe: Any, latents: Any, request: GenerationRequest | None) -> Any:
        if latents.ndim == 3:
            latents = self.unpack(pipe, latents, request)  # type: ignore[arg-type]
        vae = pipe.vae
        return pipe._denormalize_latents(
            latents, vae.latents_mean, vae.latents_std, vae.config.scaling_factor
        )

    # ------------------------------------------------------------------ decode
    def decode_settings(self) -> tuple[float, float]:
        """(decode_timestep, decode_noise_scale) from the entry; the scale defaults to the
        timestep, as in the pipelines."""
        d = self.entry.defaults
        t = float(d.get("decode_timestep", 0.0))
        scale = d.get("decode_noise_scale")
        return t, float(t if scale is None else scale)

    def vae_decode(self, pipe: Any, raw: Any, noise: Any = None) -> Any:
        """Raw latents → video in -1..1; a timestep-conditioned VAE gets the entry's decode
        timestep and, when ``noise`` is given, that noise mixed in at the entry's scale."""
        vae = pipe.vae
        raw = raw.to(device=module_device(vae, raw.device), dtype=vae.dtype)
        if not getattr(vae.config, "timestep_conditioning", False):
            return vae.decode(raw, return_dict=False)[0]
        t, scale = self.decode_settings()
        if noise is not None and scale:
            raw = (1 - scale) * raw + scale * noise.to(raw)
        return decode_with_timestep(vae, raw, t)

    def decode(self, pipe: Any, latents: dict[str, Any], request: GenerationRequest) -> Decoded:
        raw = self.raw_latents(pipe, latents["video"], request)
        noise = seeded_noise(raw.shape, request.seed, raw)
        video = self.vae_decode(pipe, raw, noise)
        return Decoded(to_uint8(pipe.video_processor.postprocess_video(video, output_type="np")))


def decode_with_timestep(vae: Any, raw: Any, t: float) -> Any:
    """``vae.decode(raw, timestep)`` one sample at a time: with slicing on, diffusers 0.42's LTX
    VAEs pair a batch's latents and timesteps wrongly (``for z, t in (z.split(1), ...)``)."""
    timestep = torch.full((1,), t, device=raw.device, dtype=raw.dtype)
    parts = [vae.decode(z, timestep, return_dict=False)[0] for z in raw.split(1)]
    return parts[0] if len(parts) == 1 else torch.cat(parts)


ADAPTER = LTXAdapter
