"""Apply the speed switches (core/speed.py) to a loaded diffusers pipeline.

Per request (cheap to switch): the transformer's cache and its attention backend. At load
(expensive or one-way): fp8 layerwise casting and torch.compile. Every switch a pipeline cannot
honour is refused with the option's name, never skipped: the request records what was used.
"""

from __future__ import annotations

import logging
from typing import Any

from sora_desktop.core.catalog import CatalogEntry
from sora_desktop.core.errors import FieldError
from sora_desktop.core.speed import ATTENTION_BACKENDS, SpeedOptions

log = logging.getLogger(__name__)

FIRST_BLOCK_THRESHOLD = 0.05  # diffusers' suggested range is 0.05-0.2; low = closest to exact


def _denoiser(pipe: Any) -> Any:
    return getattr(pipe, "transformer", None)


def apply_load_speed(pipe: Any, speed: SpeedOptions, device: Any, dtype: Any) -> None:
    import torch

    model = _denoiser(pipe)
    if speed.fp8:
        if model is None or not hasattr(model, "enable_layerwise_casting"):
            raise FieldError("speed.fp8", "this model's transformer cannot store fp8 weights")
        model.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=dtype)
    if speed.compile:
        if getattr(device, "type", str(device)) != "cuda":
            raise FieldError("speed.compile", "torch.compile is offered with a CUDA GPU only")
        if model is None:
            raise FieldError("speed.compile", "this model has no transformer to compile")
        model.compile()


def apply_request_speed(
    pipe: Any,
    speed: SpeedOptions,
    adapter: Any,
    entry: CatalogEntry,
    device: Any,
    steps: int,
) -> None:
    model = _denoiser(pipe)
    if model is None:
        if not speed.is_default:
            raise FieldError("speed", f"{entry.name} has no transformer to speed up")
        return
    _set_cache(model, speed, entry, steps)
    if speed.attention != "native" and getattr(device, "type", str(device)) != "cuda":
        raise FieldError(
            "speed.attention", f"{speed.attention} attention needs a CUDA GPU; use native"
        )
    if speed.attention == getattr(model, "_sora_attention", "native"):
        return  # diffusers warns on every switch; switch only when it changes
    if not hasattr(model, "set_attention_backend"):
        raise FieldError("speed.attention", f"{entry.name} cannot switch its attention backend")
    model.set_attention_backend(ATTENTION_BACKENDS[speed.attention])
    model._sora_attention = speed.attention


def _set_cache(model: Any, speed: SpeedOptions, entry: CatalogEntry, steps: int) -> None:
    from diffusers.hooks import FirstBlockCacheConfig, MagCacheConfig

    enabled = bool(getattr(model, "is_cache_enabled", False))
    if enabled:
        model.disable_cache()
    if speed.cache is None:
        return
    if not hasattr(model, "enable_cache"):
        raise FieldError("speed.cache", f"{entry.name}'s transformer has no cache in diffusers")
    if speed.cache == "first_block":
        threshold = float(entry.defaults.get("first_block_threshold", FIRST_BLOCK_THRESHOLD))
        config: Any = FirstBlockCacheConfig(threshold=threshold)
    else:
        ratios = entry.defaults.get("mag_ratios")
        if not ratios:
            raise FieldError(
                "speed.cache",
                f"MagCache needs measured ratios for {entry.name}, which it has not; "
                "use first_block",
            )
        config = MagCacheConfig(mag_ratios=ratios, num_inference_steps=steps)
    try:
        model.enable_cache(config)
    except ValueError as exc:  # diffusers: blocks of this model are not registered for it
        raise FieldError("speed.cache", f"{entry.name} cannot use {speed.cache}: {exc}") from exc
