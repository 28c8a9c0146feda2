"""LTX-2: video with synchronised sound. ``LTX2Pipeline`` (text), ``LTX2ImageToVideoPipeline``
(start image), ``LTX2ConditionPipeline`` (keyframes at latent positions, video context).

With ``output_type="latent"`` the pipelines hand back the video latents *denormalised* (the
VAE's raw space, (B, C, F, h, w)) and the audio latents denormalised and unpacked
(B, C, L, mel). The decode is the pipelines' own tail: a timestep-conditioned VAE gets a little
noise mixed into the *normalised* latents (seeded from the request here), the audio VAE turns
the audio latents into a mel spectrogram and the vocoder that into a waveform (B, channels,
samples) at ``vocoder.config.output_sampling_rate``.

Image keyframes: the pipelines re-compress a single image with H.264 at the model's CRF (33 for
LTX-2.0 to 2.3), as the model was trained; diffusers does that with PyAV. Without PyAV the same
re-compression runs through the bundled ffmpeg and the pipeline is told ``crf=0``.
"""

from __future__ import annotations

import logging
import subprocess
from typing import Any

import numpy as np

from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.families.base import (
    Decoded,
    FamilyAdapter,
    Keyframes,
    module_device,
    to_uint8,
)
from sora_desktop.engine.families.ltx import accepts, decode_with_timestep, seeded_noise

log = logging.getLogger(__name__)

# entry.defaults handed to the pipeline when it takes them (the guidance terms of LTX-2.x, a
# distilled model's ``sigmas``)
PASSED_DEFAULTS = (
    "stg_scale",
    "modality_scale",
    "guidance_rescale",
    "audio_guidance_scale",
    "audio_stg_scale",
    "audio_modality_scale",
    "audio_guidance_rescale",
    "spatio_temporal_guidance_blocks",
    "use_cross_timestep",
    "noise_scale",
)


class LTX2Adapter(FamilyAdapter):
    name = "ltx2"
    i2v = "LTX2ImageToVideoPipeline"
    condition = "LTX2ConditionPipeline"
    # the Hub repos' model_index.json: connectors ["ltx2", "LTX2TextConnectors"], vocoder
    # ["ltx2", "LTX2Vocoder"] (classes of diffusers.pipelines.ltx2)
    component_libraries = frozenset({"ltx2"})

    # ------------------------------------------------------------------ calling it
    def call_kwargs(
        self, pipe: Any, request: GenerationRequest, keys: Keyframes, common: dict[str, Any]
    ) -> dict[str, Any]:
        kwargs = dict(common)
        kwargs["frame_rate"] = float(request.fps)
        kind = type(pipe).__name__
        if kind == self.condition:
            kwargs["conditions"] = self.conditions(pipe, keys)
        elif keys.start is not None or keys.context:
            image = keys.start if keys.start is not None else keys.context[-1]
            image, crf = keyframe_image(pipe, image)
            kwargs["image"] = image
            if crf is not None:
                kwargs["image_crf"] = crf
        d = self.entry.defaults
        for key in PASSED_DEFAULTS:
            if key in d and accepts(pipe, key):
                kwargs[key] = d[key]
        schedule = d.get("sigmas")
        if isinstance(schedule, list) and len(schedule) == request.steps:
            kwargs["sigmas"] = [float(s) for s in schedule]
        return kwargs

    def conditions(self, pipe: Any, keys: Keyframes) -> list[Any]:
        """``LTX2VideoCondition``s. Their ``index`` is a *latent* frame index (diffusers follows
        the original LTX-2 code): 0 = the first frame, -1 = the last latent frame, whose pixel
        frames end the clip."""
        from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

        out = []
        if keys.context:
            t = pipe.vae_temporal_compression_ratio
            n = (len(keys.context) - 1) // t * t + 1  # the pipeline keeps k*t+1 frames
            frames = list(keys.context[-n:])
            if n == 1:
                image, crf = keyframe_image(pipe, frames[0])
                out.append(LTX2VideoCondition(frames=image, index=0, crf=crf))
            else:  # several frames are never re-compressed
                out.append(LTX2VideoCondition(frames=frames, index=0))
        elif keys.start is not None:
            image, crf = keyframe_image(pipe, keys.start)
            out.append(LTX2VideoCondition(frames=image, index=0, crf=crf))
        if keys.end is not None:
            image, crf = keyframe_image(pipe, keys.end)
            out.append(LTX2VideoCondition(frames=image, index=-1, crf=crf))
        return out

    # ------------------------------------------------------------------ latents
    def latents_from_output(self, pipe: Any, output: Any) -> dict[str, Any]:
        return {"video": output.frames, "audio": output.audio}

    def geometry(self, pipe: Any, request: GenerationRequest) -> tuple[int, int, int]:
        t = pipe.vae_temporal_compression_ratio
        s = pipe.vae_spatial_compression_ratio
        return ((request.num_frames - 1) // t + 1, request.height // s, request.width // s)

    def raw_latents(self, pipe: Any, latents: Any, request: GenerationRequest | None) -> Any:
        """Step latents: packed, normalised (B, S, D), keyframe tokens appended *after* the
        video's (condition pipeline) → raw (B, C, F, h, w). 5-D latents (the pipeline's latent
        output) are raw already."""
        if latents.ndim == 5:
            return latents
        f, h, w = self.geometry(pipe, request)  # type: ignore[arg-type]
        p, pt = pipe.transformer_spatial_patch_size, pipe.transformer_temporal_patch_size
        tokens = (f // pt) * (h // p) * (w // p)
        latents = pipe._unpack_latents(latents[:, :tokens], f, h, w, p, pt)
        return self.denormalise(pipe, latents)

    def normalised_to_raw(self, pipe: Any, z: Any) -> Any:
        return self.denormalise(pipe, z)

    @staticmethod
    def denormalise(pipe: Any, z: Any) -> Any:
        vae = pipe.vae
        return pipe._denormalize_latents(
            z, vae.latents_mean, vae.latents_std, vae.config.scaling_factor
        )

    # ------------------------------------------------------------------ decode
    def decode_settings(self) -> tuple[float, float]:
        d = self.entry.defaults
        t = float(d.get("decode_timestep", 0.0))
        scale = d.get("decode_noise_scale")
        return t, float(t if scale is None else scale)

    def vae_decode(self, pipe: Any, raw: Any, noise: Any = None) -> Any:
        vae = pipe.vae
        raw = raw.to(device=module_device(vae, raw.device), dtype=vae.dtype)
        if not getattr(vae.config, "timestep_conditioning", False):
            return vae.decode(raw, None, return_dict=False)[0]
        t, scale = self.decode_settings()
        if noise is not None and scale:
            # as the pipeline: the noise goes into the normalised latents
            m = vae.latents_mean.view(1, -1, 1, 1, 1).to(raw)
            s = vae.latents_std.view(1, -1, 1, 1, 1).to(raw)
            k = vae.config.scaling_factor
            z = (raw - m) * k / s
            z = (1 - scale) * z + scale * noise.to(raw)
            raw = z * s / k + m
        return decode_with_timestep(vae, raw, t)

    def decode(self, pipe: Any, latents: dict[str, Any], request: GenerationRequest) -> Decoded:
        raw = self.raw_latents(pipe, latents["video"], request)
        video = self.vae_decode(pipe, raw, seeded_noise(raw.shape, request.seed, raw))
        frames = to_uint8(pipe.video_processor.postprocess_video(video, output_type="np"))
        audio = latents.get("audio")
        if audio is None:
            return Decoded(frames)
        sound, rate = self.audio_decode(pipe, audio)
        # the vocoder may run a little past the picture; the take's sound ends with it
        sound = sound[: int(round(request.num_frames / request.fps * rate))]
        return Decoded(frames, sound, rate)

    def audio_decode(self, pipe: Any, audio: Any) -> tuple[np.ndarray, int]:
        """Raw audio latents (B, C, L, mel) → ((samples, channels) float32 in -1..1, rate)."""
        avae, vocoder = pipe.audio_vae, pipe.vocoder
        audio = audio.to(device=module_device(avae, audio.device), dtype=avae.dtype)
        mel = avae.decode(audio, return_dict=False)[0]
        mel = mel.to(device=module_device(vocoder, mel.device), dtype=vocoder.dtype)
        wave = vocoder(mel)  # (B, channels, samples)
        sound = wave[0].float().cpu().numpy().T  # (samples, channels)
        sound = np.clip(sound, -1.0, 1.0).astype(np.float32)
        return np.ascontiguousarray(sound), int(vocoder.config.output_sampling_rate)


# ---------------------------------------------------------------------------- keyframe images
def keyframe_image(pipe: Any, image: Any) -> tuple[Any, int | None]:
    """(image, crf to tell the pipeline). With PyAV the pipeline re-compresses (crf None: the
    model's default); without it the bundled ffmpeg does it here and the pipeline gets 0."""
    from diffusers.pipelines.ltx2.utils import resolve_default_image_crf
    from diffusers.utils import is_av_available

    if is_av_available():
        return image, None
    crf = resolve_default_image_crf(pipe.text_encoder)
    try:
        return h264_roundtrip(image, crf), 0
    except (OSError, RuntimeError, ValueError, subprocess.SubprocessError) as exc:
        log.warning("keyframe H.264 re-compression failed (%s); using the image as it is", exc)
        return image, 0


def h264_roundtrip(image: Any, crf: int) -> Any:
    """``image`` (PIL) encoded as one H.264 frame at ``crf`` (yuv420p, veryfast) and decoded
    back: what diffusers' ``apply_image_conditioning_crf`` does with PyAV."""
    from PIL import Image

    from sora_desktop.engine.export.ffmpeg import _ffmpeg_exe

    arr = np.asarray(image.convert("RGB"))
    h, w = arr.shape[0] // 2 * 2, arr.shape[1] // 2 * 2
    arr = np.ascontiguousarray(arr[:h, :w])
    exe = _ffmpeg_exe()
    base = [exe, "-hide_banner", "-loglevel", "error"]
    encode = base + [
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "1", "-i", "-",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
        "-f", "h264", "-",
    ]  # fmt: skip
    packed = subprocess.run(encode, input=arr.tobytes(), capture_output=True, timeout=60)
    if packed.returncode or not packed.stdout:
        raise RuntimeError(packed.stderr.decode("utf-8", "replace").strip() or "ffmpeg failed")
    decode = base + ["-f", "h264", "-i", "-", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    out = subprocess.run(decode, input=packed.stdout, capture_output=True, timeout=60)
    if out.returncode or len(out.stdout) < h * w * 3:
        raise RuntimeError(out.stderr.decode("utf-8", "replace").strip() or "ffmpeg failed")
    frame = np.frombuffer(out.stdout[: h * w * 3], np.uint8).reshape(h, w, 3)
    return Image.fromarray(frame)


ADAPTER = LTX2Adapter
