"""The embedded model as an engine backend: text → latent video by rectified flow → frames.

Clips longer than the model's window (its config's ``frames``) are made of chained segments:
each segment starts from the last frame of the one before (the same first-frame conditioning that
storyboard continuity uses).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import torch

from sora_desktop.core.capabilities import (  # noqa: F401 - embedded_model_dir kept importable
    EMBEDDED_MAX_SEGMENTS,
    embedded_capabilities,
    embedded_model_dir,
)
from sora_desktop.core.request import EMBEDDED_MODEL_ID, GenerationRequest
from sora_desktop.engine.backend import (
    Backend,
    BackendCapabilities,
    CancelToken,
    GenerationEvent,
    GenerationResult,
    StepEvent,
)
from sora_desktop.engine.device import pick_device
from sora_desktop.engine.embedded.weights import load_checkpoint
from sora_desktop.engine.sampler import euler_sample
from sora_desktop.engine.text_encoder import TextEncoder

MAX_SEGMENTS = EMBEDDED_MAX_SEGMENTS


def load_start_image(path: str, size: int) -> np.ndarray:
    """Read an image file as (size, size, 3) uint8 RGB; a clear error if it cannot be read
    (not an image, cut off, or too large: checked from its header before decoding)."""
    from sora_desktop.engine.decode import read_image

    img = read_image(path, "start_image")
    if img.shape[:2] != (size, size):
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return img


class EmbeddedBackend(Backend):
    model_id = EMBEDDED_MODEL_ID

    def __init__(
        self,
        model_dir: Path | None = None,
        device: str = "auto",
        text_encoder: TextEncoder | None = None,
    ):
        self.device = pick_device(device)
        self.model_dir = Path(model_dir) if model_dir else embedded_model_dir()
        ckpt = load_checkpoint(self.model_dir, self.device)
        self.config, self.vae, self.dit = ckpt.config, ckpt.vae, ckpt.dit
        self.text = text_encoder or TextEncoder(device=self.device)
        c = self.vae.cfg.latent_channels
        self.mean = torch.tensor(self.config["latent_mean"], device=self.device).view(1, c, 1, 1, 1)
        self.std = torch.tensor(self.config["latent_std"], device=self.device).view(1, c, 1, 1, 1)
        self.rgb = torch.tensor(self.config["latent_rgb"], device=self.device)  # (C+1, 3)
        self.size = int(self.config["size"])
        self.window = int(self.config["frames"])
        # the timestep shift the model was trained with (older checkpoints: none)
        self.shift = float(self.config.get("sample_shift", 1.0))

    def capabilities(self) -> BackendCapabilities:
        return embedded_capabilities(self.config)  # from the loaded checkpoint's config

    # ------------------------------------------------------------------ pieces
    def _latent_shape(self) -> tuple[int, int, int, int]:
        k = self.vae.cfg.temporal_down
        return (self.vae.cfg.latent_channels, self.window // k, self.size // 4, self.size // 4)

    @torch.inference_mode()
    def encode_start(self, image: np.ndarray) -> torch.Tensor:
        """(H, W, 3) uint8 → normalised start latent (1, C, 1, h, w)."""
        x = torch.from_numpy(image).to(self.device).permute(2, 0, 1).float() / 127.5 - 1.0
        x = x[None, :, None].repeat(1, 1, self.vae.cfg.temporal_down, 1, 1)  # (1, 3, k, H, W)
        mean, _ = self.vae.encode(x)
        return (mean - self.mean) / self.std

    @torch.inference_mode()
    def decode(self, z: torch.Tensor) -> np.ndarray:
        """Normalised latent (1, C, T', h, w) → (T, H, W, 3) uint8."""
        x = self.vae.decode(z * self.std + self.mean)[0]  # (3, T, H, W)
        x = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return x.permute(1, 2, 3, 0).cpu().numpy()

    def preview(self, z0: torch.Tensor) -> np.ndarray:
        """Cheap linear latent → RGB of the middle latent frame, upscaled: (H, W, 3) uint8."""
        z = (z0 * self.std + self.mean)[0, :, z0.shape[2] // 2]  # (C, h, w)
        z = z.permute(1, 2, 0)  # (h, w, C)
        rgb = torch.cat([z, torch.ones_like(z[..., :1])], -1) @ self.rgb  # (h, w, 3)
        img = ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
        return np.repeat(np.repeat(img, 4, axis=0), 4, axis=1)

    # ------------------------------------------------------------------ generation
    def generate(
        self, request: GenerationRequest, cancel: CancelToken | None = None
    ) -> Iterator[GenerationEvent]:
        self.check_request(request)
        cancel = cancel or CancelToken()
        segments = self.capabilities().segments(request.num_frames)
        start = None
        if request.start_image is not None:
            start = load_start_image(request.start_image, self.size)
        with torch.inference_mode():
            emb, mask = self.text.encode([request.prompt, request.negative_prompt])
        frames: list[np.ndarray] = []
        for seg in range(segments):
            cancel.raise_if_cancelled()
            clip = yield from self._segment(request, emb, mask, start, seg, segments, cancel)
            frames.extend(clip if seg == 0 else clip[1:])
            start = clip[-1]
        video = np.stack(frames[: request.num_frames])
        yield GenerationResult(video, request.fps, request, {"segments": segments})

    def _segment(self, request, emb, mask, start, seg, segments, cancel):
        shape = (1, *self._latent_shape())
        gen = torch.Generator(device="cpu").manual_seed(request.seed + 1_000_003 * seg)
        noise = torch.randn(shape, generator=gen).to(self.device)
        cond = torch.zeros(shape, device=self.device)
        cond_mask = torch.zeros((1, 1, *shape[2:]), device=self.device)
        if start is not None:
            cond[:, :, :1] = self.encode_start(start)
            cond_mask[:, :, :1] = 1.0
        cond2, cond_mask2 = cond.repeat(2, 1, 1, 1, 1), cond_mask.repeat(2, 1, 1, 1, 1)
        g = float(request.guidance)

        def velocity(x, t):
            if g == 1.0:
                return self.dit(x, t, emb[:1], mask[:1], cond, cond_mask)
            v = self.dit(x.repeat(2, 1, 1, 1, 1), t.repeat(2), emb, mask, cond2, cond_mask2)
            v_c, v_u = v.chunk(2)
            return v_u + g * (v_c - v_u)

        with torch.inference_mode():
            for step in euler_sample(velocity, noise, request.steps, shift=self.shift):
                cancel.raise_if_cancelled()
                yield StepEvent(step.index, step.total, self.preview(step.x0), seg, segments)
                x = step.x
            return self.decode(x)

    def unload(self) -> None:
        del self.dit, self.vae
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
