"""Open-weight text-to-video models (Wan, LTX-Video, CogVideoX, HunyuanVideo) through diffusers.

``DiffusersBackend`` sits behind the engine's ``Backend`` interface: ``generate`` is a generator
of ``StepEvent`` then one ``GenerationResult``. The diffusers pipeline runs in a worker thread;
its ``callback_on_step_end`` hands each step to the caller through a queue, with a cheap preview
frame, and raises ``GenerationCancelled`` when the job is cancelled, which stops the pipeline
before the (expensive) VAE decode.

Safety: only the pipeline class named by the catalog entry is used (from a fixed list), the
model folder must be a complete verified install, ``model_index.json`` may only name diffusers /
transformers classes, weights load with ``use_safetensors=True`` and nothing from the folder is
ever executed (no ``trust_remote_code``, no custom pipelines).

Previews: a linear map from latent channels to RGB, per model family. The family table below
says how to turn the pipeline's latents into the VAE's raw latent space (layout and
normalisation); the 3 x C factors themselves are *measured* from the loaded VAE once per load by
decoding a few random latents and fitting a least-squares line (``calibrate_preview``). That is
an approximation (the VAE is not linear) and is only meant as a live thumbnail.
"""

from __future__ import annotations

import json
import math
import os
import queue
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sora_desktop.core.capabilities import PIPELINE_RULES, capabilities_from_entry
from sora_desktop.core.catalog import (
    CatalogEntry,
    find_entry,
    is_installed,
    load_catalog,
)
from sora_desktop.core.errors import FieldError
from sora_desktop.core.memory_modes import MEMORY_MODES, mode_name, next_lighter_mode
from sora_desktop.core.model_files import is_pickle_name
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.backend import (
    Backend,
    BackendCapabilities,
    CancelToken,
    GenerationCancelled,
    GenerationEvent,
    GenerationResult,
    StepEvent,
)
from sora_desktop.engine.preflight import OutOfMemory, oom_advice

ALLOWED_LIBRARIES = {"diffusers", "transformers", None}
PREVIEW_MAX_SIDE = 256


@dataclass(frozen=True)
class Family:
    """How one model family lays out latents and what it accepts.

    ``frame_multiple``/``frame_offset``: num_frames must be ``k * multiple + offset``.
    ``size_multiple``: width and height must be multiples of it.
    """

    name: str
    pipeline: str
    start_image_pipeline: str | None
    frame_multiple: int
    size_multiple: int
    negative_prompt: bool = True
    max_frames: int = 257


def _family(name: str, pipeline: str) -> Family:
    rules = PIPELINE_RULES[pipeline]  # what it accepts: core/capabilities.py
    return Family(
        name,
        pipeline,
        rules.start_image_pipeline,
        rules.frame_multiple,
        rules.size_multiple,
        rules.negative_prompt,
        rules.max_frames,
    )


FAMILIES: dict[str, Family] = {
    "WanPipeline": _family("wan", "WanPipeline"),
    "LTXPipeline": _family("ltx", "LTXPipeline"),
    "CogVideoXPipeline": _family("cogvideox", "CogVideoXPipeline"),
    "HunyuanVideoPipeline": _family("hunyuan", "HunyuanVideoPipeline"),
}


# ---------------------------------------------------------------------------- safety checks
def check_model_folder(folder: Path) -> None:
    """Refuse a folder that could make diffusers run code or unpickle data."""
    if not (folder / "model_index.json").is_file():
        raise FieldError("model", f"{folder} has no model_index.json; it is not a diffusers model")
    root = folder.resolve()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in dirnames + filenames:
            entry = Path(dirpath) / name
            if entry.is_symlink() and not entry.resolve().is_relative_to(root):
                raise FieldError(
                    "model",
                    f"{entry.relative_to(folder).as_posix()} in {folder} is a link to "
                    f"{entry.resolve()}, outside the model folder; refusing to load it. Delete "
                    "the model and download it again.",
                )
    bad = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and (is_pickle_name(p.name) or p.suffix == ".py")
    )
    if bad:
        raise FieldError(
            "model",
            f"{folder} contains files Sora Desktop will not load ({', '.join(bad[:3])}); "
            "only .safetensors weights are used. Delete the model and download it again.",
        )
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:
        raise FieldError("model", f"{folder}/model_index.json is not valid JSON ({exc})") from exc
    if not isinstance(index, dict):
        raise FieldError("model", f"{folder}/model_index.json is not a diffusers model index")
    for key, value in index.items():
        if key.startswith("_") or not isinstance(value, list) or len(value) != 2:
            continue
        library, cls = value
        library_ok = (library is None or isinstance(library, str)) and library in ALLOWED_LIBRARIES
        if not library_ok or (cls is not None and not str(cls).isidentifier()):
            raise FieldError(
                "model",
                f"component {key!r} of {folder} names {library}.{cls}, which is not a "
                "diffusers or transformers class; refusing to load custom code.",
            )


def _pipeline_class(name: str):
    import diffusers

    allowed = {f.pipeline for f in FAMILIES.values()} | {
        f.start_image_pipeline for f in FAMILIES.values() if f.start_image_pipeline
    }
    if name not in allowed:
        raise ValueError(
            f"pipeline: {name!r} is not supported; allowed {', '.join(sorted(allowed))}"
        )
    return getattr(diffusers, name)


# ---------------------------------------------------------------------------- previews
def to_raw_latents(pipe: Any, family: str, latents, geometry: tuple[int, int, int]):
    """The pipeline's latents → the VAE's raw latent space, shape (B, C, F, h, w)."""
    import torch

    if family == "wan":
        cfg = pipe.vae.config
        mean = torch.tensor(cfg.latents_mean).view(1, -1, 1, 1, 1).to(latents)
        std = torch.tensor(cfg.latents_std).view(1, -1, 1, 1, 1).to(latents)
        return latents * std + mean
    if family == "ltx":
        f, h, w = geometry
        if latents.ndim == 3:  # packed (B, S, D)
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
    if family == "cogvideox":
        return latents.permute(0, 2, 1, 3, 4) / pipe.vae.config.scaling_factor
    if family == "hunyuan":
        return latents / pipe.vae.config.scaling_factor
    raise ValueError(f"family: {family!r} unknown")


def normalised_to_raw(pipe: Any, family: str, z):
    """Unit-normal latents in (B, C, F, h, w) → raw VAE latents (for calibration)."""
    if family == "cogvideox":
        return to_raw_latents(pipe, family, z.permute(0, 2, 1, 3, 4), (0, 0, 0))
    return to_raw_latents(pipe, family, z, (0, 0, 0))


def _vae_decode(pipe: Any, family: str, raw):
    import torch

    vae = pipe.vae
    raw = raw.to(device=_module_device(vae, raw.device), dtype=vae.dtype)
    if family == "ltx" and getattr(vae.config, "timestep_conditioning", False):
        t = torch.zeros(raw.shape[0], device=raw.device, dtype=raw.dtype)
        return vae.decode(raw, t, return_dict=False)[0]
    return vae.decode(raw, return_dict=False)[0]


def _module_device(module: Any, fallback):
    try:
        return next(module.parameters()).device
    except StopIteration:
        return fallback


def calibrate_preview(pipe: Any, family: str, seed: int = 0) -> np.ndarray:
    """Fit RGB ≈ [latent, 1] @ W for this model's VAE; returns W with shape (C + 1, 3).

    Decodes one small batch of random latents (1 latent frame, 8 x 8) and pools the decoded
    pixels back to latent resolution, so each latent position gives one (latent, RGB) pair.
    """
    import torch

    channels = _latent_channels(pipe, family)
    batch = max(2, math.ceil((channels + 1) * 2 / 64))
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn((batch, channels, 1, 8, 8), generator=gen)
    with torch.no_grad():
        raw = normalised_to_raw(pipe, family, z)
        video = _vae_decode(pipe, family, raw).float().cpu()  # (B, 3, F', H, W)
    img = video[:, :, 0]  # first decoded frame, (B, 3, H, W)
    pooled = torch.nn.functional.adaptive_avg_pool2d(img, (8, 8))  # (B, 3, 8, 8)
    x = raw.float().cpu()[:, :, 0].permute(0, 2, 3, 1).reshape(-1, channels)
    y = pooled.permute(0, 2, 3, 1).reshape(-1, 3)
    x1 = torch.cat([x, torch.ones(len(x), 1)], 1)
    sol = torch.linalg.lstsq(x1, y).solution  # (C + 1, 3)
    return sol.numpy()


def _latent_channels(pipe: Any, family: str) -> int:
    cfg = pipe.vae.config
    return int(getattr(cfg, "z_dim", None) or cfg.latent_channels)


def preview_frame(raw, factors: np.ndarray, target_side: int = PREVIEW_MAX_SIDE) -> np.ndarray:
    """Middle latent frame of raw latents (1, C, F, h, w) → (H, W, 3) uint8 via the factors.

    Upscaled by pixel repetition to about ``target_side`` (at most PREVIEW_MAX_SIDE) pixels.
    """
    import torch

    z = raw[0, :, raw.shape[2] // 2].float().cpu()  # (C, h, w)
    c, h, w = z.shape
    flat = torch.cat([z.reshape(c, -1).T, torch.ones(h * w, 1)], 1)  # (hw, C + 1)
    rgb = (flat @ torch.from_numpy(factors).float()).reshape(h, w, 3)
    img = ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    scale = max(1, min(PREVIEW_MAX_SIDE, target_side) // max(h, w))
    return np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)


# ---------------------------------------------------------------------------- the backend
class DiffusersBackend(Backend):
    """One catalog model loaded from its verified folder."""

    def __init__(
        self,
        entry: CatalogEntry,
        folder: str | Path | None,
        device: str = "auto",
        memory_mode: str = "balanced",
        dtype: str = "auto",
        pipeline: Any = None,
    ) -> None:
        """Load ``entry`` from its verified ``folder``.

        ``pipeline`` (with ``folder=None``) wraps an already built diffusers pipeline instead;
        the benchmark uses it for random-weight full-size models that are never saved.
        """
        import torch

        from sora_desktop.engine.device import pick_device

        if entry.pipeline not in FAMILIES:
            raise ValueError(f"pipeline: {entry.pipeline!r} has no diffusers backend")
        if memory_mode not in MEMORY_MODES:
            raise ValueError(
                f"memory_mode: {memory_mode!r}; allowed {', '.join(MEMORY_MODES)}"
            )
        self.entry = entry
        self.model_id = entry.id
        self.family = FAMILIES[entry.pipeline]
        self.memory_mode = memory_mode
        self.device = pick_device(device)
        self.dtype = _pick_dtype(dtype, self.device, entry)
        if pipeline is not None:
            if folder is not None:
                raise ValueError("folder: give either a model folder or a pipeline, not both")
            self.folder = None
            self.pipe = pipeline
        else:
            if folder is None:
                raise ValueError("folder: a model folder is needed")
            self.folder = Path(folder)
            check_model_folder(self.folder)
            cls = _pipeline_class(entry.pipeline)
            with warnings.catch_warnings():
                # newer diffusers renames torch_dtype to dtype; the old name works everywhere
                warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
                self.pipe = cls.from_pretrained(
                    str(self.folder),
                    torch_dtype=self.dtype,
                    use_safetensors=True,
                    local_files_only=True,
                )
        self.pipe.set_progress_bar_config(disable=True)
        self._i2v = None
        try:
            self._apply_memory_mode()
        except Exception as exc:  # e.g. the weights alone do not fit the GPU in Fast mode
            if "out of memory" not in str(exc).lower() and not isinstance(exc, MemoryError):
                raise
            self.pipe = None
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            later = next_lighter_mode(memory_mode)
            hint = (
                f"Choose {mode_name(later)} mode in Settings." if later else "Use a smaller model."
            )
            raise OutOfMemory(
                f"{entry.name} does not fit in GPU memory in this memory mode. {hint}"
            ) from exc
        self._factors: np.ndarray | None = None
        self._lock = threading.Lock()  # one job at a time per loaded pipeline
        self._torch = torch

    # ------------------------------------------------------------------ setup
    def _apply_memory_mode(self) -> None:
        pipe, dev = self.pipe, self.device
        on_gpu = dev.type == "cuda"
        if self.memory_mode == "fast" or not on_gpu:
            pipe.to(dev)  # offloading only makes sense with a GPU to offload from
        elif self.memory_mode == "balanced":
            pipe.enable_model_cpu_offload(device=dev)
        else:
            pipe.enable_sequential_cpu_offload(device=dev)
        if self.memory_mode == "low_vram":
            vae = pipe.vae
            if hasattr(vae, "enable_tiling"):
                vae.enable_tiling()
            if hasattr(vae, "enable_slicing"):
                vae.enable_slicing()

    def capabilities(self) -> BackendCapabilities:
        # the same record the editor and the ETA read (catalog entry + pipeline rules)
        return capabilities_from_entry(self.entry)

    def preview_factors(self) -> np.ndarray:
        if self._factors is None:
            self._factors = calibrate_preview(self.pipe, self.family.name)
        return self._factors

    def _start_image_pipe(self):
        if self._i2v is None:
            cls = _pipeline_class(self.family.start_image_pipeline or "")
            self._i2v = cls(**self.pipe.components)
            self._i2v.set_progress_bar_config(disable=True)
        return self._i2v

    def _apply_shift(self, pipe: Any, shift: float | None) -> None:
        if shift is None:
            return
        sched = pipe.scheduler
        cfg = sched.config
        if "flow_shift" in cfg and cfg.get("use_flow_sigmas", True):
            if float(cfg["flow_shift"]) != shift:
                pipe.scheduler = type(sched).from_config(cfg, flow_shift=shift)
        elif "shift" in cfg and not cfg.get("use_dynamic_shifting", False):
            if float(cfg["shift"]) != shift:
                pipe.scheduler = type(sched).from_config(cfg, shift=shift)

    def _call_kwargs(self, request: GenerationRequest, pipe: Any) -> dict[str, Any]:
        torch = self._torch
        fam = self.family
        exec_device = getattr(pipe, "_execution_device", self.device)
        gen_device = "cpu" if torch.device(exec_device).type == "mps" else exec_device
        kwargs: dict[str, Any] = dict(
            prompt=request.prompt,
            height=request.height,
            width=request.width,
            num_frames=request.num_frames,
            num_inference_steps=request.steps,
            guidance_scale=float(request.guidance),
            generator=torch.Generator(device=gen_device).manual_seed(request.seed),
            output_type="np",
        )
        if fam.negative_prompt:
            kwargs["negative_prompt"] = request.negative_prompt or None
        if fam.name == "ltx":
            kwargs["frame_rate"] = request.fps
        msl = self.entry.defaults.get("max_sequence_length")
        if msl:
            kwargs["max_sequence_length"] = int(msl)
        if fam.name == "hunyuan" and "prompt_template" in self.entry.defaults:
            kwargs["prompt_template"] = self.entry.defaults["prompt_template"]
        for key in ("decode_timestep", "decode_noise_scale"):
            if key in self.entry.defaults and fam.name == "ltx":
                kwargs[key] = self.entry.defaults[key]
        if request.start_image is not None:
            kwargs["image"] = _load_image(request.start_image, request.width, request.height)
        return kwargs

    # ------------------------------------------------------------------ generation
    def generate(
        self, request: GenerationRequest, cancel: CancelToken | None = None
    ) -> Iterator[GenerationEvent]:
        self.check_request(request)
        cancel = cancel or CancelToken()
        pipe = self._start_image_pipe() if request.start_image is not None else self.pipe
        shift = request.extra.get("shift", self.entry.defaults.get("shift"))
        self._apply_shift(pipe, float(shift) if shift is not None else None)
        kwargs = self._call_kwargs(request, pipe)
        geometry = self._latent_geometry(pipe, request)
        try:
            factors = self.preview_factors()
        except Exception:  # a preview must never stop a job
            factors = None
        events: queue.Queue = queue.Queue()
        stop = threading.Event()  # set when the consumer goes away
        total = request.steps

        def on_step(p, i, t, tensors):
            if cancel.cancelled or stop.is_set():
                p._interrupt = True
                raise GenerationCancelled("generation cancelled")
            preview = None
            if factors is not None:
                try:
                    raw = to_raw_latents(p, self.family.name, tensors["latents"], geometry)
                    preview = preview_frame(raw, factors, max(request.width, request.height))
                except Exception:
                    preview = None
            events.put(StepEvent(i + 1, total, preview))
            return tensors

        def run() -> None:
            try:
                with self._lock:
                    out = pipe(
                        **kwargs,
                        callback_on_step_end=on_step,
                        callback_on_step_end_tensor_inputs=["latents"],
                    )
                events.put(("done", out.frames))
            except BaseException as exc:  # handed to the consumer thread
                events.put(("error", exc))

        worker = threading.Thread(target=run, name=f"diffusers-{self.model_id}", daemon=True)
        worker.start()
        try:
            while True:
                try:
                    item = events.get(timeout=0.1)
                except queue.Empty:
                    continue
                if isinstance(item, StepEvent):
                    yield item
                    continue
                kind, payload = item
                if kind == "error":
                    raise self._translate(payload, request)
                frames = _to_uint8(payload)
                if cancel.cancelled:
                    raise GenerationCancelled("generation cancelled")
                yield GenerationResult(
                    frames,
                    request.fps,
                    request,
                    {
                        "model": self.model_id,
                        "pipeline": type(pipe).__name__,
                        "memory_mode": self.memory_mode,
                        "dtype": str(self.dtype).replace("torch.", ""),
                        "device": str(self.device),
                    },
                )
                return
        finally:
            stop.set()
            worker.join()

    def _latent_geometry(self, pipe: Any, request: GenerationRequest) -> tuple[int, int, int]:
        if self.family.name != "ltx":
            return (0, 0, 0)
        t = pipe.vae_temporal_compression_ratio
        s = pipe.vae_spatial_compression_ratio
        return ((request.num_frames - 1) // t + 1, request.height // s, request.width // s)

    def _translate(self, exc: BaseException, request: GenerationRequest) -> BaseException:
        torch = self._torch
        if isinstance(exc, GenerationCancelled):
            return exc
        oom_types: tuple[type, ...] = (MemoryError,)
        if hasattr(torch, "OutOfMemoryError"):
            oom_types += (torch.OutOfMemoryError,)
        is_oom = isinstance(exc, oom_types) or "out of memory" in str(exc).lower()
        if is_oom:
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            err = OutOfMemory(oom_advice(self.entry, request, self.memory_mode))
            err.__cause__ = exc
            return err
        return exc

    def unload(self) -> None:
        self.pipe = None
        self._i2v = None
        if self.device.type == "cuda":
            self._torch.cuda.empty_cache()


def _pick_dtype(name: str, device, entry: CatalogEntry):
    import torch

    table = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    if name in table:
        return table[name]
    if name != "auto":
        raise ValueError(f"dtype: {name!r}; allowed auto, fp32, bf16, fp16")
    if device.type != "cuda":
        return torch.float32  # half precision on a CPU is slow or unsupported
    return table.get(str(entry.defaults.get("dtype", "bf16")), torch.bfloat16)


def _load_image(path: str, width: int, height: int):
    from PIL import Image

    from sora_desktop.engine.decode import read_image

    img = Image.fromarray(read_image(path, "start_image"))  # header checked before decoding
    return img.resize((width, height), Image.LANCZOS)


def _to_uint8(frames) -> np.ndarray:
    video = np.asarray(frames)
    if video.ndim == 5:
        video = video[0]
    if video.dtype != np.uint8:
        video = (np.clip(video, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    return video


# ---------------------------------------------------------------------------- registry hook
def _settings() -> Any:
    from sora_desktop.core.settings import load_settings

    return load_settings()


def factory_for(
    model_id: str, settings: Any = None, entries: list[CatalogEntry] | None = None
) -> Callable[[str, str], Backend] | None:
    """A ``(model_id, device) -> Backend`` factory for a diffusers catalog model, else None.

    A catalog model that is not installed gets a factory that raises a ValueError telling the
    user to download it, so the message is about the model rather than an unknown id.
    """
    try:
        entry = find_entry(model_id, entries if entries is not None else load_catalog())
    except ValueError:
        return None
    if entry is None or entry.backend != "diffusers":
        return None
    cfg = settings if settings is not None else _settings()
    models_dir = Path(cfg.models_dir)
    memory_mode = getattr(cfg, "memory_mode", "balanced")
    precision = getattr(cfg, "precision", "auto")

    def factory(mid: str, device: str) -> Backend:
        if not is_installed(entry, models_dir):
            raise ValueError(
                f"model_id: {entry.name} is not installed (or its download is incomplete); "
                "download it in Models → Model Manager"
            )
        return DiffusersBackend(entry, entry.folder(models_dir), device, memory_mode, precision)

    return factory
