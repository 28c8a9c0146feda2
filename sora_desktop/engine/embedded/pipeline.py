"""The embedded model as an engine backend: text → latent video by rectified flow → frames.

Clips longer than the model's window (its config's ``frames``) are made of chained segments:
each segment starts from the last frame of the one before (the same first-frame conditioning that
storyboard continuity uses). Only that last frame is decoded between segments; the full VAE
decode runs once, after every segment is denoised and handed out in one ``LatentsReady``:

    latents = {"w0.video": (1, C, T', h, w) float32, "w1.video": ..., ...}  # one per segment
    info = {"segments": n, "latent_shape": [C, T', h, w]}

``decode_latents`` turns exactly that back into the clip (``low_memory`` decodes a few frames
at a time); a decode that fails raises ``DecodeFailed`` with the cause chained.
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
    DecodeFailed,
    GenerationEvent,
    GenerationResult,
    LatentsReady,
    StepEvent,
)
from sora_desktop.engine.device import pick_device
from sora_desktop.engine.embedded.weights import load_checkpoint
from sora_desktop.engine.sampler import euler_sample
from sora_desktop.engine.text_encoder import TextEncoder

MAX_SEGMENTS = EMBEDDED_MAX_SEGMENTS
# Frames the low-memory decode sends through the full-resolution half of the VAE at a time.
LOW_MEMORY_DECODE_FRAMES = 4


def window_key(segment: int) -> str:
    """The ``LatentsReady`` key of one segment's latents."""
    return f"w{segment}.video"


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
    def decode(self, z: torch.Tensor, low_memory: bool = False) -> np.ndarray:
        """Normalised latent (1, C, T', h, w) → (T, H, W, 3) uint8; ``low_memory`` decodes
        ``LOW_MEMORY_DECODE_FRAMES`` frames at a time (the same frames, less memory)."""
        z = z * self.std + self.mean
        if not low_memory:
            return self._to_uint8(self.vae.decode(z)[0])  # (3, T, H, W)
        f, _, _ = self.vae.decode_time(z)  # (T, C3, h, w): cheap, at latent resolution
        parts = []
        for i in range(0, f.shape[0], LOW_MEMORY_DECODE_FRAMES):
            x = self.vae.decode_space(f[i : i + LOW_MEMORY_DECODE_FRAMES])  # (n, 3, H, W)
            parts.append(self._to_uint8(x.permute(1, 0, 2, 3)))
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
        return np.concatenate(parts)

    @torch.inference_mode()
    def last_frame(self, z: torch.Tensor) -> np.ndarray:
        """Only the last frame of ``decode(z)``: (H, W, 3) uint8 (the next segment's start)."""
        f, _, _ = self.vae.decode_time(z * self.std + self.mean)
        x = self.vae.decode_space(f[-1:])  # (1, 3, H, W)
        return self._to_uint8(x.permute(1, 0, 2, 3))[-1]

    @staticmethod
    def _to_uint8(x: torch.Tensor) -> np.ndarray:
        """(3, T, H, W) in about [-1, 1] → (T, H, W, 3) uint8."""
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
        windows: dict[str, np.ndarray] = {}
        for seg in range(segments):
            cancel.raise_if_cancelled()
            z = yield from self._segment(request, emb, mask, start, seg, segments, cancel)
            windows[window_key(seg)] = z.float().cpu().numpy()  # (1, C, T', h, w)
            if seg + 1 < segments:
                start = self.last_frame(z)
        info = {"segments": segments, "latent_shape": list(self._latent_shape())}
        # handed out before the decode: the caller saves them, so a failed decode costs no
        # denoising ("Retry in low memory" decodes them again)
        yield LatentsReady(windows, info, segments - 1, segments)
        cancel.raise_if_cancelled()
        yield self.decode_latents(request, windows, info, low_memory=False)

    def decode_latents(
        self,
        request: GenerationRequest,
        latents: dict[str, np.ndarray],
        info: dict,
        low_memory: bool = True,
    ) -> GenerationResult:
        self.check_request(request)
        segments = self.capabilities().segments(request.num_frames)
        shape = (1, *self._latent_shape())
        keys = [window_key(seg) for seg in range(segments)]
        unknown = sorted(set(latents) - set(keys) - {"audio"})
        if unknown or any(k not in latents for k in keys):
            raise ValueError(
                f"latents: these latents do not belong to this clip (expected {', '.join(keys)}; "
                f"found {', '.join(sorted(latents)) or 'nothing'})"
            )
        for key in keys:
            arr = latents[key]
            if tuple(arr.shape) != shape or arr.dtype.kind != "f":
                raise ValueError(
                    f"latents: {key} is {arr.dtype} {tuple(arr.shape)}; this model and clip need "
                    f"float {shape}"
                )
        frames: list[np.ndarray] = []
        try:
            for seg, key in enumerate(keys):
                z = torch.from_numpy(np.ascontiguousarray(latents[key], np.float32))
                clip = self.decode(z.to(self.device), low_memory=low_memory)
                frames.extend(clip if seg == 0 else clip[1:])
        except Exception as exc:  # out of memory, or any other decode error: latents survive
            raise DecodeFailed(
                f"the VAE decode failed ({type(exc).__name__}: {str(exc).strip()[:200]})"
            ) from exc
        video = np.stack(frames[: request.num_frames])
        return GenerationResult(video, request.fps, request, {"segments": segments})

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
            return x  # (1, C, T', h, w), normalised

    def unload(self) -> None:
        del self.dit, self.vae
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
