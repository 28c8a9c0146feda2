"""Text-to-audio through diffusers: the engine of "Make music for this film".

A catalog model of kind "sound" (``core/capabilities.SOUND_PIPELINES``; Stable Audio Open) is
loaded from its verified folder (the same safety checks as a video model: safetensors only, no
custom code, no links out of the folder), placed for the memory mode (Fast: all on the GPU;
Balanced: model offload; Low memory: sequential offload), and run with a step callback that
reports progress and stops at the next step once the job is cancelled (``GenerationCancelled``).
The result is float32 samples shaped (samples, channels) at the model's sample rate, exactly
``request.seconds`` long.

One model is in memory at a time: the sound model is kept after a job (the next seed or prompt
starts at once), a video model held by ``engine.registry`` is let go before it loads, and the
registry lets the sound model go (``unload_music``) before it loads a video model.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sora_desktop.core.capabilities import SOUND_PIPELINES, SoundLimits, sound_limits
from sora_desktop.core.catalog import CatalogEntry, find_entry, is_installed
from sora_desktop.core.errors import FieldError, is_out_of_memory
from sora_desktop.core.memory_modes import MEMORY_MODES, mode_name, next_lighter_mode
from sora_desktop.core.project.audio import MusicRequest
from sora_desktop.engine.backend import CancelToken, GenerationCancelled
from sora_desktop.engine.preflight import OutOfMemory

log = logging.getLogger(__name__)

StepFn = Callable[[int, int], None]  # (steps done, total)
# diffusers pipeline modules a sound model's model_index.json may name besides diffusers and
# transformers (Stable Audio's projection model lives in diffusers.pipelines.stable_audio)
PIPELINE_LIBRARIES: dict[str, frozenset[str]] = {
    "StableAudioPipeline": frozenset({"stable_audio"}),
}


@dataclass
class MusicResult:
    samples: np.ndarray  # (samples, channels) float32, about -1..1
    sample_rate: int


def sound_entry(model_id: str, models_dir: str | Path) -> CatalogEntry:
    """The installed sound model ``model_id``; ``FieldError`` on ``model`` in plain words."""
    entry = find_entry(model_id)
    if entry is None or entry.kind != "sound":
        raise FieldError("model", f"{model_id!r} is not a music model of this version")
    if not is_installed(entry, models_dir):
        raise FieldError(
            "model",
            f"{entry.name} is not installed. Open Models → Model manager to download it.",
        )
    return entry


def check_music_request(request: MusicRequest, limits: SoundLimits) -> None:
    """Refuse a length the model cannot make (``FieldError`` on ``seconds``)."""
    if request.seconds > limits.max_seconds + 1e-9:
        raise FieldError(
            "seconds",
            f"{request.seconds:g} s is longer than this model makes "
            f"(at most {limits.max_seconds:g} s)",
        )


class MusicBackend:
    """One sound model loaded from its verified folder."""

    def __init__(
        self,
        entry: CatalogEntry,
        folder: str | Path,
        device: str = "auto",
        memory_mode: str = "balanced",
        dtype: str = "auto",
    ) -> None:
        import diffusers
        import torch

        from sora_desktop.engine.device import pick_device
        from sora_desktop.engine.diffusers_backend import _pick_dtype, check_model_folder

        if entry.pipeline not in SOUND_PIPELINES:
            raise FieldError("model", f"{entry.pipeline} is not a sound pipeline")
        if memory_mode not in MEMORY_MODES:
            raise ValueError(f"memory_mode: {memory_mode!r}; allowed {', '.join(MEMORY_MODES)}")
        self.entry = entry
        self.limits = sound_limits(entry)
        self.folder = Path(folder)
        self.device = pick_device(device)
        self.memory_mode = memory_mode
        self.dtype = _pick_dtype(dtype, self.device, entry)
        self._torch = torch
        self.lock = threading.Lock()
        check_model_folder(self.folder, PIPELINE_LIBRARIES.get(entry.pipeline, frozenset()))
        cls = getattr(diffusers, entry.pipeline)
        scheduler = _scheduler_override(self.folder)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
            if scheduler is None:
                self.pipe = cls.from_pretrained(
                    str(self.folder),
                    torch_dtype=self.dtype,
                    use_safetensors=True,
                    local_files_only=True,
                )
            else:
                self.pipe = _load_parts(cls, self.folder, self.dtype, scheduler)
        self.pipe.set_progress_bar_config(disable=True)
        try:
            self._place()
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            self.unload()
            later = next_lighter_mode(memory_mode)
            hint = f"Choose {mode_name(later)} mode in Settings." if later else ""
            raise OutOfMemory(
                f"{entry.name} does not fit in GPU memory in this memory mode. {hint}".strip()
            ) from exc

    def _place(self) -> None:
        dev = self.device
        if self.memory_mode == "fast" or dev.type != "cuda":
            self.pipe.to(dev)  # offloading only makes sense with a GPU to offload from
        elif self.memory_mode == "balanced":
            self.pipe.enable_model_cpu_offload(device=dev)
        else:
            self.pipe.enable_sequential_cpu_offload(device=dev)

    @property
    def sample_rate(self) -> int:
        return int(self.pipe.vae.config.sampling_rate)

    @property
    def max_seconds(self) -> float:
        """The longest sound the loaded weights can make (and the catalog allows)."""
        cfg = self.pipe.vae.config
        hop = int(np.prod(cfg.downsampling_ratios))
        own = self.pipe.transformer.config.sample_size * hop / cfg.sampling_rate
        return min(float(own), self.limits.max_seconds)

    def generate(
        self, request: MusicRequest, cancel: CancelToken, on_step: StepFn | None = None
    ) -> MusicResult:
        """Make ``request.seconds`` of sound; ``GenerationCancelled`` at the next step once
        ``cancel`` is set."""
        torch = self._torch
        if self.pipe is None:
            raise RuntimeError("the music model was unloaded")
        limit = self.max_seconds
        if request.seconds > limit + 1e-9:
            raise FieldError(
                "seconds",
                f"{request.seconds:g} s is longer than {self.entry.name} makes (at most "
                f"{limit:g} s)",
            )
        cancel.raise_if_cancelled()
        total = request.steps

        def callback(step: int, _t: Any, _latents: Any) -> None:
            if on_step is not None:
                on_step(min(step + 1, total), total)
            cancel.raise_if_cancelled()

        guidance = float(request.extra.get("guidance", self.limits.guidance))
        generator = torch.Generator("cpu").manual_seed(request.seed)  # same sound on any device
        try:
            with torch.inference_mode():
                out = self.pipe(
                    request.prompt,
                    negative_prompt=request.negative_prompt or None,
                    audio_end_in_s=float(request.seconds),
                    num_inference_steps=total,
                    guidance_scale=guidance,
                    generator=generator,
                    callback=callback,
                    callback_steps=1,
                    output_type="pt",
                )
        except GenerationCancelled:
            raise
        except Exception as exc:
            if is_out_of_memory(exc):
                later = next_lighter_mode(self.memory_mode)
                hint = f" Choose {mode_name(later)} mode in Settings." if later else ""
                raise OutOfMemory(
                    f"{self.entry.name} ran out of memory making the music.{hint}"
                ) from exc
            raise
        cancel.raise_if_cancelled()
        audio = out.audios[0].detach().float().cpu().numpy().T  # (samples, channels)
        want = int(request.seconds * self.sample_rate)
        if audio.shape[0] < want:  # rounding in the pipeline: pad the last samples with silence
            audio = np.concatenate([audio, np.zeros((want - audio.shape[0], audio.shape[1]))])
        audio = np.ascontiguousarray(audio[:want], dtype=np.float32)
        if not np.isfinite(audio).all():
            raise RuntimeError("the music model produced invalid samples (NaN); try another seed")
        return MusicResult(audio, self.sample_rate)

    def unload(self) -> None:
        self.pipe = None
        if self.device.type == "cuda":
            self._torch.cuda.empty_cache()


def _scheduler_override(folder: Path) -> Any:
    """Stable Audio Open names ``CosineDPMSolverMultistepScheduler``, which needs the torchsde
    package; without it the model runs with ``EDMDPMSolverMultistepScheduler`` (the class the
    diffusers pipeline itself is typed with) built from the same settings. None: load as is."""
    import importlib.util
    import inspect
    import json

    path = folder / "scheduler" / "scheduler_config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None  # diffusers reports a missing or broken scheduler in its own words
    if not isinstance(config, dict):
        return None
    if config.get("_class_name") != "CosineDPMSolverMultistepScheduler":
        return None
    if importlib.util.find_spec("torchsde") is not None:
        return None
    from diffusers import EDMDPMSolverMultistepScheduler

    log.warning("torchsde is not installed: Stable Audio runs with the EDM DPM-Solver scheduler")
    known = inspect.signature(EDMDPMSolverMultistepScheduler.__init__).parameters
    return EDMDPMSolverMultistepScheduler(**{k: v for k, v in config.items() if k in known})


def _load_parts(cls: Any, folder: Path, dtype: Any, scheduler: Any) -> Any:
    """The pipeline built from its folder's components with ``scheduler`` in place of the
    saved one (``from_pretrained`` refuses a replacement for a class it cannot import).
    ``check_model_folder`` has already allowed only diffusers / transformers classes."""
    import importlib
    import json

    import torch

    index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    parts: dict[str, Any] = {"scheduler": scheduler}
    for name, value in index.items():
        if name.startswith("_") or name == "scheduler" or not isinstance(value, list):
            continue
        library, class_name = value
        if library is None or class_name is None:
            parts[name] = None
            continue
        module = (
            library
            if library in ("diffusers", "transformers")
            else f"diffusers.pipelines.{library}"
        )
        part_cls = getattr(importlib.import_module(module), class_name)
        if issubclass(part_cls, torch.nn.Module):
            parts[name] = part_cls.from_pretrained(
                str(folder / name), torch_dtype=dtype, use_safetensors=True, local_files_only=True
            )
        else:  # a tokenizer
            parts[name] = part_cls.from_pretrained(str(folder / name), local_files_only=True)
    return cls(**parts)


_held_lock = threading.Lock()
_held: dict[tuple[str, str, str, str], MusicBackend] = {}  # at most one sound model


def unload_music() -> None:
    """Let the held sound model go (a video model is about to load, or the app closes)."""
    with _held_lock:
        for key in list(_held):
            _held.pop(key).unload()


def load_music_backend(
    entry: CatalogEntry, models_dir: str | Path, device: str = "auto", memory_mode: str = "balanced"
) -> MusicBackend:
    """The sound model, loaded once and kept for the next piece (another seed, another
    prompt); a video model held by ``engine.registry`` is let go first."""
    from sora_desktop.engine import registry

    folder = entry.folder(models_dir)
    key = (entry.id, str(folder), device, memory_mode)
    with _held_lock:
        if key in _held:
            return _held[key]
    unload_music()
    registry.unload_all()  # one model in memory at a time
    backend = MusicBackend(entry, folder, device, memory_mode)
    with _held_lock:
        _held[key] = backend
    return backend


def generate_music(
    request: MusicRequest,
    cancel: CancelToken,
    models_dir: str | Path,
    device: str = "auto",
    memory_mode: str = "balanced",
    on_load: Callable[[], None] | None = None,
    on_step: StepFn | None = None,
) -> MusicResult:
    """Load (or reuse) the request's sound model and make the sound."""
    entry = sound_entry(request.model_id, models_dir)
    check_music_request(request, sound_limits(entry))
    cancel.raise_if_cancelled()
    backend = load_music_backend(entry, models_dir, device, memory_mode)
    if on_load is not None:
        on_load()
    with backend.lock:  # one piece at a time per loaded model
        return backend.generate(request, cancel, on_step)
