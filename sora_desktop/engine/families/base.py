"""What differs between diffusers video families, behind one small interface.

``DiffusersBackend`` (engine/diffusers_backend.py) does everything the families share: loading
a verified folder, memory modes, speed switches, the step callback (cancel, preview), running
the pipeline with ``output_type="latent"`` so the latents exist *before* the VAE decode, and
turning a failed decode into ``DecodeFailed``. A ``FamilyAdapter`` says only what differs:

- which pipeline class serves a request (text, start image, start + end keyframes);
- the family's own call arguments (``image``, ``last_image``, ``conditions``, ``frame_rate``);
- how the pipeline's latent output maps to named latents, how the step callback's latents map
  to the VAE's raw latent space (the live preview), and how named latents decode to frames
  (and, for LTX-2, sound).

One module per family (wan.py, ltx.py, ...); ``engine/families/__init__.py`` maps each
``PIPELINE_RULES`` key to its module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sora_desktop.core.capabilities import PipelineRules
from sora_desktop.core.catalog import CatalogEntry
from sora_desktop.core.errors import FieldError
from sora_desktop.core.request import GenerationRequest


@dataclass(frozen=True)
class Keyframes:
    """The images a clip is pinned to, as PIL images already sized to the request.

    ``context``: the previous window's last frames, for families that continue from several
    frames (LTX condition); an adapter that takes one frame uses ``start``.
    """

    start: Any = None
    end: Any = None
    context: tuple[Any, ...] = ()


@dataclass
class Decoded:
    """What a decode gives: ``frames`` (T, H, W, 3) uint8; ``audio`` (samples, channels)
    float32 in -1..1 at ``sample_rate`` for families that make sound."""

    frames: np.ndarray
    audio: np.ndarray | None = None
    sample_rate: int = 0


class FamilyAdapter:
    """Defaults fit a family whose pipelines take ``image``/``last_image`` and whose latent
    output is (B, C, F, h, w) in the VAE's raw space; families override what differs."""

    name: ClassVar[str] = ""
    # the catalog's ``pipeline`` is the text-to-video class; these are the others
    i2v: ClassVar[str | None] = None
    condition: ClassVar[str | None] = None
    # diffusers pipeline modules (``diffusers.pipelines.<name>``, diffusers' own code) that this
    # family's model_index.json names as a component library: LTX-2's ["ltx2", "LTX2Vocoder"]
    component_libraries: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, entry: CatalogEntry, rules: PipelineRules) -> None:
        self.entry = entry
        self.rules = rules

    # ------------------------------------------------------------------ which pipeline
    def pipeline_names(self) -> tuple[str, ...]:
        """Every diffusers class this family may load (the backend allows only these)."""
        names = [self.entry.pipeline, self.i2v, self.condition]
        return tuple(dict.fromkeys(n for n in names if n))

    # ------------------------------------------------------------------ loading
    def extra_components(self, folder: Path, dtype: Any) -> dict[str, Any]:
        """Components the backend passes to ``from_pretrained`` of the main pipeline because
        the folder's model_index.json does not name them (they come from other repositories:
        the catalog's ``extra_repos``). Called after ``check_model_folder`` passed."""
        return {}

    def pipeline_for(self, request: GenerationRequest) -> str:
        """The class that serves ``request``; FieldError when the family cannot."""
        if request.end_image is not None and not self.rules.end_image:
            raise FieldError("end_image", f"{self.entry.name} cannot end on a given image")
        if request.start_image is None and request.end_image is None:
            if not self.rules.text_to_video:
                raise FieldError(
                    "start_image", f"{self.entry.name} makes video from an image; give one"
                )
            return self.entry.pipeline
        if request.end_image is not None and self.condition:
            return self.condition
        if self.i2v is None:
            raise FieldError("start_image", f"{self.entry.name} cannot start from an image")
        return self.i2v

    # ------------------------------------------------------------------ calling it
    def call_kwargs(
        self, pipe: Any, request: GenerationRequest, keys: Keyframes, common: dict[str, Any]
    ) -> dict[str, Any]:
        """The whole keyword set for ``pipe(...)``: ``common`` holds prompt, negative_prompt
        (when the family uses one), height, width, num_frames, num_inference_steps,
        guidance_scale, generator and ``output_type="latent"``; add, rename or drop here."""
        kwargs = dict(common)
        if keys.start is not None:
            kwargs["image"] = keys.start
        if keys.end is not None:
            kwargs["last_image"] = keys.end
        return kwargs

    def step_callback_kwargs(self, pipe: Any, on_step: Any) -> dict[str, Any]:
        """Call arguments that make ``pipe`` call ``on_step(pipe, i, t, {"latents": ...})``
        after every denoising step (cancel raises from it; the preview reads the latents).
        Default: diffusers' ``callback_on_step_end``; a pipeline without one (HunyuanVideo
        1.5) installs its own hook and returns {}."""
        return {"callback_on_step_end": on_step, "callback_on_step_end_tensor_inputs": ["latents"]}

    def total_steps(self, request: GenerationRequest) -> int:
        """Denoising steps a job runs in all, which its progress counts to (FramePack: the
        steps of each section times the sections; its step index restarts per section)."""
        return request.steps

    def latents_from_output(self, pipe: Any, output: Any) -> dict[str, Any]:
        """The pipeline's ``output_type="latent"`` output → named tensors (saved to disk)."""
        return {"video": output.frames}

    # ------------------------------------------------------------------ preview
    def raw_latents(self, pipe: Any, latents: Any, request: GenerationRequest) -> Any:
        """Step-callback latents → the VAE's raw latent space (B, C, F, h, w)."""
        return latents

    def normalised_to_raw(self, pipe: Any, z: Any) -> Any:
        """Unit-normal (B, C, F, h, w) latents → raw VAE latents (preview calibration)."""
        return self.raw_latents(pipe, z, None)  # type: ignore[arg-type]

    def latent_channels(self, pipe: Any) -> int:
        cfg = pipe.vae.config
        return int(getattr(cfg, "z_dim", None) or cfg.latent_channels)

    def vae_decode(self, pipe: Any, raw: Any) -> Any:
        """Raw latents (B, C, F, h, w) → video (B, 3, F', H, W) in -1..1."""
        vae = pipe.vae
        raw = raw.to(device=module_device(vae, raw.device), dtype=vae.dtype)
        return vae.decode(raw, return_dict=False)[0]

    # ------------------------------------------------------------------ decode
    def decode(self, pipe: Any, latents: dict[str, Any], request: GenerationRequest) -> Decoded:
        """Named latents (as ``latents_from_output`` gave them) → frames (and sound)."""
        video = self.vae_decode(pipe, self.raw_latents(pipe, latents["video"], request))
        return Decoded(to_uint8(pipe.video_processor.postprocess_video(video, output_type="np")))

    def low_memory_decode(self, pipe: Any) -> None:
        """Make the VAE decode in tiles / slices (less memory, a little slower)."""
        vae = pipe.vae
        for name in ("enable_tiling", "enable_slicing"):
            if hasattr(vae, name):
                getattr(vae, name)()


def vae_mean_std(vae: Any, channels: int) -> tuple[Any, Any]:
    """The VAE's per-channel latent mean and std as (1, C, 1, 1, 1), as the pipeline reads them."""
    import torch

    cls = type(vae).__name__
    if cls == "AutoencoderKLLTX2Video":
        mean, std = vae.latents_mean, vae.latents_std
    elif cls == "AutoencoderKLWan":
        mean, std = torch.tensor(vae.config.latents_mean), torch.tensor(vae.config.latents_std)
    else:
        mean, std = torch.zeros(channels), torch.ones(channels)
    return mean.view(1, -1, 1, 1, 1), std.view(1, -1, 1, 1, 1)


def module_device(module: Any, fallback: Any) -> Any:
    try:
        return next(module.parameters()).device
    except StopIteration:
        return fallback


def to_uint8(frames: Any) -> np.ndarray:
    """A pipeline's ``np`` output (1, T, H, W, 3) floats 0..1 → (T, H, W, 3) uint8."""
    video = np.asarray(frames)
    if video.ndim == 5:
        video = video[0]
    if video.dtype != np.uint8:
        video = (np.clip(video, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    return video
