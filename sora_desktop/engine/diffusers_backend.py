"""Open-weight video models (Wan, LTX-Video, LTX-2, HunyuanVideo 1.5, Kandinsky 5, Sana-Video,
FramePack, CogVideoX) through diffusers.

``DiffusersBackend`` sits behind the engine's ``Backend`` interface: ``generate`` yields a
``StepEvent`` per step, a ``LatentsReady`` with the denoised latents *before* the VAE decode
(the caller saves them with the take), then one ``GenerationResult``. The pipeline runs with
``output_type="latent"`` in a worker thread; its ``callback_on_step_end`` hands each step to the
caller through a queue with a cheap preview frame, and raises ``GenerationCancelled`` when the
job is cancelled. The decode runs after the latents were handed out, through the family's
adapter (engine/families/); when it fails (usually out of memory) ``DecodeFailed`` says the
denoising is kept, and ``decode_latents`` decodes the saved latents again in low memory.

What differs per family (which pipeline serves a start image or keyframes, call arguments,
latent layouts, decode, sound) lives in the family adapters; this module does what they share:
loading a verified folder, memory modes, speed switches, the step loop, previews, errors.

Safety: only the pipeline classes a family adapter names are used, the model folder must be a
complete verified install, ``model_index.json`` may only name diffusers / transformers classes,
weights load with ``use_safetensors=True`` and nothing from the folder is ever executed (no
``trust_remote_code``, no custom pipelines).

Previews: a linear map from latent channels to RGB. The adapter turns the pipeline's latents
into the VAE's raw latent space; the 3 x C factors themselves are *measured* from the loaded VAE
once per load by decoding a few random latents and fitting a least-squares line
(``calibrate_preview``) — an approximation (the VAE is not linear), only a live thumbnail.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import queue
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sora_desktop.core.catalog import (
    VARIANT_I2V,
    CatalogEntry,
    find_entry,
    is_installed,
    load_catalog,
)
from sora_desktop.core.errors import FieldError, is_out_of_memory
from sora_desktop.core.memory_modes import MEMORY_MODES, mode_name, next_lighter_mode
from sora_desktop.core.model_files import is_pickle_name
from sora_desktop.core.request import GenerationRequest
from sora_desktop.core.speed import SpeedOptions
from sora_desktop.engine.backend import (
    Backend,
    BackendCapabilities,
    CancelToken,
    DecodeFailed,
    GenerationCancelled,
    GenerationEvent,
    GenerationResult,
    LatentsReady,
    StepEvent,
)
from sora_desktop.engine.families import FamilyAdapter, Keyframes, adapter_for
from sora_desktop.engine.families.preview import (  # noqa: F401 - tests use them from here
    PREVIEW_MAX_SIDE,
    calibrate_preview,
    preview_frame,
)
from sora_desktop.engine.preflight import OutOfMemory, oom_advice
from sora_desktop.engine.speed import apply_load_speed, apply_request_speed

log = logging.getLogger(__name__)

ALLOWED_LIBRARIES = {"diffusers", "transformers", None}


# ---------------------------------------------------------------------------- safety checks
def check_model_folder(folder: Path, libraries: frozenset[str] = frozenset()) -> None:
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
        library_ok = (library is None or isinstance(library, str)) and (
            library in ALLOWED_LIBRARIES or library in libraries
        )
        if not library_ok or (cls is not None and not str(cls).isidentifier()):
            raise FieldError(
                "model",
                f"component {key!r} of {folder} names {library}.{cls}, which is not a "
                "diffusers or transformers class; refusing to load custom code.",
            )


def _pipeline_class(name: str, adapter: FamilyAdapter):
    import diffusers

    allowed = adapter.pipeline_names()
    if name not in allowed:
        raise ValueError(f"pipeline: {name!r} is not supported; allowed {', '.join(allowed)}")
    return getattr(diffusers, name)


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
        speed: SpeedOptions | None = None,
    ) -> None:
        """Load ``entry`` from its verified ``folder``.

        ``pipeline`` (with ``folder=None``) wraps an already built diffusers pipeline instead;
        the benchmark uses it for random-weight full-size models that are never saved.
        ``speed``: the load-time speed switches (fp8 weights, torch.compile); a request must
        ask for the same ones (they are recorded in it), the per-request ones (cache,
        attention) are applied per job.
        """
        import torch

        from sora_desktop.engine.device import pick_device

        self.adapter = adapter_for(entry)  # ValueError for a pipeline this version can't run
        if memory_mode not in MEMORY_MODES:
            raise ValueError(f"memory_mode: {memory_mode!r}; allowed {', '.join(MEMORY_MODES)}")
        self.entry = entry
        self.model_id = entry.id
        self.memory_mode = memory_mode
        self.device = pick_device(device)
        self.dtype = _pick_dtype(dtype, self.device, entry)
        self.speed = speed or SpeedOptions()
        if pipeline is not None:
            if folder is not None:
                raise ValueError("folder: give either a model folder or a pipeline, not both")
            self.folder = None
            self.pipe = pipeline
        else:
            if folder is None:
                raise ValueError("folder: a model folder is needed")
            self.folder = Path(folder)
            check_model_folder(self.folder, self.adapter.component_libraries)
            extra = self.adapter.extra_components(self.folder, self.dtype)  # FramePack
            self.pipe = self._from_pretrained(entry.pipeline, self.folder, **extra)
        self.pipe.set_progress_bar_config(disable=True)
        self._pipes: dict[str, Any] = {type(self.pipe).__name__: self.pipe}
        self._active: Any = None
        self._torch = torch
        try:
            apply_load_speed(self.pipe, self.speed, self.device, self.dtype)
            self._activate(self.pipe)
        except Exception as exc:  # e.g. the weights alone do not fit the GPU in Fast mode
            if not is_out_of_memory(exc):
                raise
            self.pipe = None
            self._pipes.clear()
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

    # ------------------------------------------------------------------ setup
    def _from_pretrained(self, name: str, folder: Path, **components: Any) -> Any:
        cls = _pipeline_class(name, self.adapter)
        with warnings.catch_warnings():
            # newer diffusers renames torch_dtype to dtype; the old name works everywhere
            warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
            return cls.from_pretrained(
                str(folder),
                torch_dtype=self.dtype,
                use_safetensors=True,
                local_files_only=True,
                **components,
            )

    def _pipe_for(self, name: str) -> Any:
        """The pipeline of class ``name``, built once from the loaded components (and the
        image-to-video variant folder's own weights, when the model has one)."""
        if name in self._pipes:
            return self._pipes[name]
        cls = _pipeline_class(name, self.adapter)
        params = inspect.signature(cls.__init__).parameters
        shared = {k: v for k, v in self.pipe.components.items() if k in params}
        # config values both classes take (Wan 2.2 TI2V: expand_timesteps, boundary_ratio)
        for key, value in self.pipe.config.items():
            if key in params and key not in shared and not key.startswith("_"):
                if not (isinstance(value, (list, tuple)) and len(value) == 2):  # a component
                    shared[key] = value
        variant = self.folder / VARIANT_I2V if self.folder is not None else None
        if variant is not None and (variant / "model_index.json").is_file():
            check_model_folder(variant, self.adapter.component_libraries)
            own = {p.name for p in variant.iterdir() if p.is_dir()}
            pipe = self._from_pretrained(
                name, variant, **{k: v for k, v in shared.items() if k not in own}
            )
            apply_load_speed(pipe, self.speed, self.device, self.dtype)
        else:
            pipe = cls(**shared)
        pipe.set_progress_bar_config(disable=True)
        self._pipes[name] = pipe
        return pipe

    def _activate(self, pipe: Any) -> None:
        """Place ``pipe`` for the memory mode (offload hooks are per pipeline: re-applied when
        the job switches between text and image pipelines that share components)."""
        if pipe is self._active:
            return
        dev = self.device
        if self.memory_mode == "fast" or dev.type != "cuda":
            pipe.to(dev)  # offloading only makes sense with a GPU to offload from
        elif self.memory_mode == "balanced":
            pipe.enable_model_cpu_offload(device=dev)
        else:
            _group_offload(pipe, dev)
        if self.memory_mode != "fast":
            self.adapter.low_memory_decode(pipe)  # tiled / sliced decode
        self._active = pipe

    def capabilities(self) -> BackendCapabilities:
        # the same record the editor and the ETA read (catalog entry + pipeline rules)
        from sora_desktop.core.capabilities import capabilities_from_entry

        return capabilities_from_entry(self.entry)

    def preview_factors(self) -> np.ndarray:
        if self._factors is None:
            self._factors = calibrate_preview(self.pipe, self.adapter)
        return self._factors

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

    def _keyframes(self, request: GenerationRequest) -> Keyframes:
        def load(path: str | None, field: str):
            return None if path is None else _load_image(path, request, field)

        return Keyframes(
            start=load(request.start_image, "start_image"), end=load(request.end_image, "end_image")
        )

    def _call_kwargs(self, request: GenerationRequest, pipe: Any) -> dict[str, Any]:
        torch = self._torch
        exec_device = getattr(pipe, "_execution_device", self.device)
        gen_device = "cpu" if torch.device(exec_device).type == "mps" else exec_device
        common: dict[str, Any] = dict(
            prompt=request.prompt,
            height=request.height,
            width=request.width,
            num_frames=request.num_frames,
            num_inference_steps=request.steps,
            guidance_scale=float(request.guidance),
            generator=torch.Generator(device=gen_device).manual_seed(request.seed),
            output_type="latent",
        )
        if self.adapter.rules.negative_prompt:
            common["negative_prompt"] = request.negative_prompt or None
        msl = self.entry.defaults.get("max_sequence_length")
        if msl:
            common["max_sequence_length"] = int(msl)
        return self.adapter.call_kwargs(pipe, request, self._keyframes(request), common)

    # ------------------------------------------------------------------ generation
    def generate(
        self, request: GenerationRequest, cancel: CancelToken | None = None
    ) -> Iterator[GenerationEvent]:
        self.check_request(request)
        cancel = cancel or CancelToken()
        speed = SpeedOptions.from_extra(request.extra)
        self._check_load_speed(speed)
        name = self.adapter.pipeline_for(request)
        pipe = self._pipe_for(name)
        shift = request.extra.get("shift", self.entry.defaults.get("shift"))
        self._apply_shift(pipe, float(shift) if shift is not None else None)
        kwargs = self._call_kwargs(request, pipe)
        try:
            factors = self.preview_factors()
        except Exception:  # noqa: BLE001 - a preview must never stop a job
            log.debug("preview calibration failed for %s", self.model_id, exc_info=True)
            factors = None
        events: queue.Queue = queue.Queue()
        stop = threading.Event()  # set when the consumer goes away
        adapter = self.adapter
        # a pipeline that restarts its step index per section (FramePack) reports sections
        per_section = request.steps
        sections = max(1, adapter.total_steps(request) // per_section)
        done = [0]

        def on_step(p, i, t, tensors):
            if cancel.cancelled or stop.is_set():
                p._interrupt = True
                raise GenerationCancelled("generation cancelled")
            preview = None
            if factors is not None:
                try:
                    raw = adapter.raw_latents(p, tensors["latents"], request)
                    preview = preview_frame(raw, factors, max(request.width, request.height))
                except Exception:  # noqa: BLE001 - a preview must never stop a job
                    preview = None
            done[0] += 1
            section = min(sections - 1, (done[0] - 1) // per_section)
            step = done[0] - section * per_section
            events.put(StepEvent(step, per_section, preview, section, sections))
            return tensors

        def run() -> None:
            try:
                with self._lock:
                    self._activate(pipe)
                    apply_request_speed(
                        pipe, speed, adapter, self.entry, self.device, request.steps
                    )
                    out = pipe(**kwargs, **adapter.step_callback_kwargs(pipe, on_step))
                    events.put(("done", adapter.latents_from_output(pipe, out)))
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
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
                latents = payload
                break
        finally:
            stop.set()
            worker.join()
        if cancel.cancelled:
            raise GenerationCancelled("generation cancelled")
        info = self._info(pipe, speed)
        yield LatentsReady(_to_numpy(latents), info)
        if cancel.cancelled:
            raise GenerationCancelled("generation cancelled")
        yield self._decode(pipe, request, latents, info)

    def decode_latents(
        self,
        request: GenerationRequest,
        latents: dict[str, np.ndarray],
        info: dict[str, Any],
        low_memory: bool = True,
    ) -> GenerationResult:
        torch = self._torch
        name = info.get("pipeline") or self.adapter.pipeline_for(request)
        pipe = self._pipe_for(str(name))
        with self._lock:
            self._activate(pipe)
            if low_memory:
                self.adapter.low_memory_decode(pipe)
            tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in latents.items()}
        return self._decode(pipe, request, tensors, {**info, "decoded_low_memory": low_memory})

    def _decode(
        self, pipe: Any, request: GenerationRequest, latents: dict[str, Any], info: dict[str, Any]
    ) -> GenerationResult:
        torch = self._torch
        try:
            with self._lock, torch.inference_mode():
                self._activate(pipe)
                decoded = self.adapter.decode(pipe, latents, request)
        except Exception as exc:
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            oom = is_out_of_memory(exc)
            log.warning("decoding %s failed (out of memory: %s)", self.model_id, oom, exc_info=True)
            what = "ran out of memory" if oom else f"failed ({exc})"
            raise DecodeFailed(
                f"Decoding the video {what}. The denoised result is kept: use "
                "\u201cRetry in low memory\u201d to decode it without generating again."
            ) from exc
        return GenerationResult(
            decoded.frames, request.fps, request, info, decoded.audio, decoded.sample_rate
        )

    def _info(self, pipe: Any, speed: SpeedOptions) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "pipeline": type(pipe).__name__,
            "memory_mode": self.memory_mode,
            "dtype": str(self.dtype).replace("torch.", ""),
            "device": str(self.device),
            "speed": speed.to_dict(),
        }

    def _check_load_speed(self, speed: SpeedOptions) -> None:
        for key in ("fp8", "compile"):
            if getattr(speed, key) != getattr(self.speed, key):
                raise FieldError(
                    f"speed.{key}",
                    f"{self.entry.name} is loaded with {key} "
                    f"{'on' if getattr(self.speed, key) else 'off'}; the request asks for "
                    f"{'on' if getattr(speed, key) else 'off'} (reload the model to change it)",
                )

    def _translate(self, exc: BaseException, request: GenerationRequest) -> BaseException:
        torch = self._torch
        if isinstance(exc, GenerationCancelled):
            return exc
        if is_out_of_memory(exc):
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            err = OutOfMemory(oom_advice(self.entry, request, self.memory_mode))
            err.__cause__ = exc
            return err
        return exc

    def unload(self) -> None:
        self.pipe = None
        self._pipes.clear()
        self._active = None
        if self.device.type == "cuda":
            self._torch.cuda.empty_cache()


def _group_offload(pipe: Any, device: Any) -> None:
    """Low memory: stream the transformer's blocks to the GPU in groups (diffusers group
    offload, faster than sequential offload at a similar peak); the rest is offloaded per
    model. Falls back to sequential offload where the pipeline has no group offload."""
    if hasattr(pipe, "enable_group_offload"):
        pipe.enable_group_offload(
            onload_device=device,
            offload_device="cpu",
            offload_type="block_level",
            num_blocks_per_group=1,
            use_stream=True,
        )
    else:
        pipe.enable_sequential_cpu_offload(device=device)


def _to_numpy(latents: dict[str, Any]) -> dict[str, np.ndarray]:
    return {k: v.detach().float().cpu().numpy() for k, v in latents.items()}


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


def _load_image(path: str, request: GenerationRequest, field: str):
    from PIL import Image

    from sora_desktop.engine.decode import read_image

    img = Image.fromarray(read_image(path, field))  # header checked before decoding
    return img.resize((request.width, request.height), Image.LANCZOS)


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
    speed_of = getattr(cfg, "speed_options", None)
    speed = speed_of() if callable(speed_of) else SpeedOptions()

    def factory(mid: str, device: str) -> Backend:
        if not is_installed(entry, models_dir):
            raise ValueError(
                f"model_id: {entry.name} is not installed (or its download is incomplete); "
                "download it in Models → Model Manager"
            )
        return DiffusersBackend(
            entry, entry.folder(models_dir), device, memory_mode, precision, speed=speed
        )

    return factory
