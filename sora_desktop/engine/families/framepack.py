"""FramePack (``HunyuanVideoFramepackPipeline``): image-to-video only, with an optional end
keyframe (``last_image``), long clips made by the pipeline itself in sections.

Clip length. The pipeline makes ``n = ceil(num_frames / (4W - 3))`` sections of W latent frames
(W = ``latent_window_size``, 9 for the released checkpoints) and returns ``4 * W * n + 1``
frames, whatever ``num_frames`` asked for (37 asked gives 73). So the family's frame rule is
``4W k + 1`` (PIPELINE_RULES: frame_multiple 36 = 4 * 9, read here to find W); the adapter asks
the pipeline for exactly ``n`` sections and refuses any other count with the valid ones named.

Save before decode. With ``output_type="latent"`` the pipeline returns, instead of a tensor, a
list with the growing latent history after each section (B, C, T, h, w), scaled by the VAE's
factor; the last entry holds the whole clip (the start image's latent frame included). Its own
decode is per section: each section's latents (two windows) are decoded and blended into the
video decoded so far over ``4(W - 1) + 1`` frames. ``decode`` repeats exactly that from the
saved latents (``pipe._soft_append`` does the blend), so a decode after a crash or in low
memory gives the frames the pipeline would have given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sora_desktop.core.errors import FieldError
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.families.base import Decoded, FamilyAdapter, Keyframes, to_uint8

INVERTED = "inverted_anti_drifting"  # the released FramePackI2V_HY; F1 is "vanilla"
VANILLA = "vanilla"
TEMPORAL = 4  # HunyuanVideo VAE: 4 frames per latent frame


class FramepackAdapter(FamilyAdapter):
    name = "framepack"
    # the one pipeline class serves the start image (and the end keyframe)
    i2v = "HunyuanVideoFramepackPipeline"

    # ------------------------------------------------------------------ facts
    @property
    def window(self) -> int:
        """W, latent frames per section."""
        return self.rules.frame_multiple // TEMPORAL

    @property
    def sampling(self) -> str:
        return str(self.entry.defaults.get("sampling_type", INVERTED))

    def sections(self, num_frames: int) -> int:
        """Sections for a clip of ``num_frames``; FieldError naming valid counts otherwise."""
        step = TEMPORAL * self.window
        n, rest = divmod(num_frames - 1, step)
        if n < 1 or rest:
            lower = max(1, n) * step + 1
            options = f"{lower}" if n < 1 else f"{lower} or {lower + step}"
            raise FieldError(
                "num_frames",
                f"{self.entry.name} makes clips of {step}k+1 frames ({step + 1}, "
                f"{2 * step + 1}, {3 * step + 1}...); use {options}, not {num_frames}",
            )
        return n

    # ------------------------------------------------------------------ loading
    def extra_components(self, folder: Path, dtype: Any) -> dict[str, Any]:
        """The FramePack transformer (lllyasviel/FramePackI2V_HY, in ``transformer/``) and the
        SigLIP image encoder + processor (lllyasviel/flux_redux_bfl): the main repository's
        model_index.json names HunyuanVideoPipeline, with HunyuanVideo's own transformer and
        no image encoder, so these are loaded here by their concrete classes (as diffusers'
        FramePack docs do) and handed to ``from_pretrained``."""
        import diffusers
        from transformers import SiglipImageProcessor, SiglipVisionModel

        local = {"local_files_only": True}
        weights = {"torch_dtype": dtype, "use_safetensors": True, **local}
        return {
            "transformer": diffusers.HunyuanVideoFramepackTransformer3DModel.from_pretrained(
                str(folder / "transformer"), **weights
            ),
            "image_encoder": SiglipVisionModel.from_pretrained(
                str(folder / "image_encoder"), **weights
            ),
            "feature_extractor": SiglipImageProcessor.from_pretrained(
                str(folder / "feature_extractor"), **local
            ),
        }

    # ------------------------------------------------------------------ which pipeline
    def pipeline_for(self, request: GenerationRequest) -> str:
        if request.start_image is None:
            raise FieldError(
                "start_image",
                f"{self.entry.name} makes video from an image; give a start image"
                + (" as well as the end image" if request.end_image is not None else ""),
            )
        if request.end_image is not None and self.sampling != INVERTED:
            raise FieldError("end_image", f"{self.entry.name} cannot end on a given image")
        name = super().pipeline_for(request)
        self.sections(request.num_frames)
        return name

    # ------------------------------------------------------------------ calling it
    def call_kwargs(
        self, pipe: Any, request: GenerationRequest, keys: Keyframes, common: dict[str, Any]
    ) -> dict[str, Any]:
        if keys.start is None:
            raise FieldError("start_image", f"{self.entry.name} makes video from an image")
        kwargs = super().call_kwargs(pipe, request, keys, common)
        w = self.window
        # ask for exactly n sections: n * (frames of one window) rounds up to n
        kwargs["num_frames"] = self.sections(request.num_frames) * ((w - 1) * TEMPORAL + 1)
        kwargs["latent_window_size"] = w
        kwargs["sampling_type"] = self.sampling
        # the negative prompt works only with true_cfg_scale > 1 (off: guidance-distilled)
        kwargs.pop("negative_prompt", None)
        if "prompt_template" in self.entry.defaults:
            kwargs.setdefault("prompt_template", self.entry.defaults["prompt_template"])
        return kwargs

    def total_steps(self, request: GenerationRequest) -> int:
        return request.steps * self.sections(request.num_frames)

    def latents_from_output(self, pipe: Any, output: Any) -> dict[str, Any]:
        history = output.frames
        if isinstance(history, (list, tuple)):  # one entry per section, the last one whole
            history = history[-1]
        return {"video": history}

    # ------------------------------------------------------------------ preview
    def raw_latents(self, pipe: Any, latents: Any, request: GenerationRequest | None) -> Any:
        return latents / pipe.vae.config.scaling_factor

    # ------------------------------------------------------------------ decode
    def decode(self, pipe: Any, latents: dict[str, Any], request: GenerationRequest) -> Decoded:
        video = self.section_decode(pipe, latents["video"])
        frames = to_uint8(pipe.video_processor.postprocess_video(video, output_type="np"))
        if frames.shape[0] != request.num_frames:
            raise ValueError(
                f"num_frames: the saved latents hold {frames.shape[0]} frames, "
                f"the take asks for {request.num_frames}"
            )
        return Decoded(frames)

    def section_decode(self, pipe: Any, history: Any) -> Any:
        """The whole latent history (B, C, 1 + n*W, h, w) → video (B, 3, 4*W*n + 1, H, W),
        decoded section by section and blended as the pipeline does."""
        w = self.window
        n, rest = divmod(history.shape[2] - 1, w)
        if n < 1 or rest:
            raise ValueError(
                f"latents: {history.shape[2]} latent frames is not 1 + k * {w} (a FramePack clip)"
            )
        overlap = (w - 1) * TEMPORAL + 1
        video = None
        for k in range(n):
            last = k == n - 1
            if self.sampling == INVERTED:
                # the history after section k is [L_k, ..., L_0] (the image first when last)
                part = history if last else history[:, :, history.shape[2] - (k + 1) * w :]
                chunk = part if video is None else part[:, :, : 2 * w + (1 if last else 0)]
            else:
                # the history after section k is [image, L_0, ..., L_k]
                part = history[:, :, : 1 + (k + 1) * w]
                chunk = part if video is None else part[:, :, -2 * w :]
            current = self.vae_decode(pipe, chunk / pipe.vae.config.scaling_factor)
            if video is None:
                video = current
            elif self.sampling == INVERTED:
                video = pipe._soft_append(current, video, overlap)
            else:
                video = pipe._soft_append(video, current, overlap)
        keep = (video.shape[2] - 1) // TEMPORAL * TEMPORAL + 1
        return video[:, :, :keep]


ADAPTER = FramepackAdapter
