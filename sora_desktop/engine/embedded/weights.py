"""Save and load the embedded model: safetensors weights with a config.json beside them."""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from sora_desktop.core.atomic import atomic_write_with
from sora_desktop.core.capabilities import EMBEDDED_FPS, EMBEDDED_SIZE, EMBEDDED_WINDOW
from sora_desktop.core.errors import FieldError
from sora_desktop.core.model_files import is_pickle_name
from sora_desktop.engine.embedded.dit import DiTConfig, VideoDiT
from sora_desktop.engine.embedded.vae import VAEConfig, VideoVAE

CONFIG_NAME = "config.json"
VAE_NAME = "vae.safetensors"
DIT_NAME = "dit.safetensors"
FORMAT_VERSION = 1


def save_checkpoint(
    out: Path,
    *,
    vae: VideoVAE,
    dit: VideoDiT,
    latent_mean,
    latent_std,
    latent_rgb,
    training: dict[str, Any],
    sample_shift: float = 1.0,
) -> None:
    out = Path(out)
    half = {k: v.detach().to(torch.float16).contiguous().cpu() for k, v in dit.state_dict().items()}
    vae_sd = {
        k: v.detach().to(torch.float16).contiguous().cpu() for k, v in vae.state_dict().items()
    }
    atomic_write_with(out / VAE_NAME, lambda p: save_file(vae_sd, str(p)), mode=0o644)
    atomic_write_with(out / DIT_NAME, lambda p: save_file(half, str(p)), mode=0o644)
    config = {
        "format_version": FORMAT_VERSION,
        "vae": vae.cfg.to_dict(),
        "dit": dit.cfg.to_dict(),
        "latent_mean": latent_mean,
        "latent_std": latent_std,
        "latent_rgb": latent_rgb,
        "sample_shift": sample_shift,
        # what the model was trained on (the training world's clips); read back as its
        # capability record (core/capabilities.py: embedded_capabilities)
        "frames": EMBEDDED_WINDOW,
        "fps": EMBEDDED_FPS,
        "size": EMBEDDED_SIZE,
        "training": training,
    }
    text = json.dumps(config, indent=2)
    atomic_write_with(out / CONFIG_NAME, lambda p: p.write_text(text), mode=0o644)


def _check_inside(folder: Path, file: Path) -> None:
    """Refuse a model file that is a link leading out of the model folder."""
    from sora_desktop.core.safe_paths import safe_resolve

    root, real = safe_resolve(folder, "model"), safe_resolve(file, "model")
    if not real.is_relative_to(root):
        raise FieldError(
            "model",
            f"{file.name} in {folder} is a link to {real}, outside the model folder; "
            "refusing to load it (copy the real file into the folder)",
        )


@dataclass
class EmbeddedCheckpoint:
    config: dict[str, Any]
    vae: VideoVAE
    dit: VideoDiT


# Far above any embedded model we would ship, far below what exhausts a desktop's memory: a
# hostile or damaged config.json must be refused before it allocates anything.
_LIMITS = {"width": 2048, "depth": 48, "heads": 64, "latent_channels": 64, "channel": 1024}


def _check_sizes(vae_cfg: VAEConfig, dit_cfg: DiTConfig) -> None:
    def within(field: str, value: object, hi: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= hi:
            raise FieldError(field, f"{value!r} is out of range; allowed 1 to {hi}")

    for i, c in enumerate(vae_cfg.channels):
        within(f"vae.channels[{i}]", c, _LIMITS["channel"])
    within("vae.latent_channels", vae_cfg.latent_channels, _LIMITS["latent_channels"])
    within("vae.temporal_down", vae_cfg.temporal_down, 8)
    within("dit.latent_channels", dit_cfg.latent_channels, _LIMITS["latent_channels"])
    within("dit.width", dit_cfg.width, _LIMITS["width"])
    within("dit.depth", dit_cfg.depth, _LIMITS["depth"])
    within("dit.heads", dit_cfg.heads, _LIMITS["heads"])
    within("dit.text_dim", dit_cfg.text_dim, 4096)
    for i, k in enumerate(dit_cfg.patch):
        within(f"dit.patch[{i}]", k, 8)
    if not isinstance(dit_cfg.mlp_ratio, int | float) or not 0 < dit_cfg.mlp_ratio <= 8:
        raise ValueError(f"dit.mlp_ratio: {dit_cfg.mlp_ratio!r} is out of range; allowed (0, 8]")
    if len(vae_cfg.channels) != 3 or len(dit_cfg.patch) != 3:
        raise ValueError("vae.channels and dit.patch must have three entries")


MAX_CONFIG_BYTES = 1024 * 1024
# A safetensors header is a few KB for our models; a huge one is a damaged or hostile file.
MAX_HEADER_BYTES = 16 * 1024 * 1024
_DTYPE_BYTES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}


def _finite_list(name: str, value: object, length: int, positive: bool = False) -> None:
    if not isinstance(value, list) or len(value) != length:
        raise FieldError(name, f"expected a list of {length} numbers")
    for i, x in enumerate(value):
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
            raise ValueError(f"{name}[{i}]: {x!r} is not a finite number")
        if positive and not x > 0:
            raise ValueError(f"{name}[{i}]: {x!r} must be greater than 0")


def _check_numbers(config: dict[str, Any], vae_cfg: VAEConfig) -> None:
    """The numbers generation divides by or multiplies with: a NaN or zero ``latent_std``
    turns every clip black (NaN frames) without any error, so refuse it here."""
    c = vae_cfg.latent_channels
    _finite_list("latent_mean", config.get("latent_mean"), c)
    _finite_list("latent_std", config.get("latent_std"), c, positive=True)
    rgb = config.get("latent_rgb")
    if not isinstance(rgb, list) or len(rgb) != c + 1:
        raise FieldError("latent_rgb", f"expected {c + 1} rows of 3 numbers")
    for i, row in enumerate(rgb):
        _finite_list(f"latent_rgb[{i}]", row, 3)
    shift = config.get("sample_shift", 1.0)
    if isinstance(shift, bool) or not isinstance(shift, int | float) or not 0 < shift <= 100:
        raise FieldError("sample_shift", f"{shift!r} is out of range; allowed (0, 100]")
    for name, lo, hi in (("size", 16, 512), ("frames", 2, 64), ("fps", 1, 60)):
        value = config.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise FieldError(name, f"{value!r} is out of range; allowed {lo} to {hi}")
    if config["size"] % 16:
        raise FieldError("size", f"{config['size']} is not a multiple of 16")
    if config["frames"] % vae_cfg.temporal_down:
        raise FieldError(
            "frames",
            f"{config['frames']} is not a multiple of vae.temporal_down ({vae_cfg.temporal_down})",
        )


def check_safetensors_header(file: Path, module: torch.nn.Module) -> None:
    """Read only the header of a weights file and refuse it unless it holds exactly the
    module's tensors, with their shapes, and nothing else: an extra 1.5 GB tensor (or a header
    that lies about sizes) is refused before a byte of tensor data is loaded."""
    from sora_desktop.core.safe_paths import check_regular_file

    size = check_regular_file(file, "weights").st_size
    with open(file, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise ValueError("the file is too short to be safetensors")
        (n,) = struct.unpack("<Q", head)
        if n < 2 or n > MAX_HEADER_BYTES or 8 + n > size:
            raise ValueError(f"its header claims {n} bytes; the file is {size} bytes")
        try:
            header = json.loads(fh.read(n))
        except (ValueError, RecursionError) as exc:
            raise ValueError("its header is not valid JSON") from exc
    if not isinstance(header, dict):
        raise ValueError("its header is not a JSON object")
    header.pop("__metadata__", None)
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    extra = sorted(set(header) - set(expected))
    if extra:
        raise ValueError(
            f"it holds {len(extra)} tensor(s) the model does not use (e.g. {extra[0][:80]!r})"
        )
    missing = sorted(set(expected) - set(header))
    if missing:
        raise ValueError(f"it lacks {len(missing)} tensor(s) (e.g. {missing[0]!r})")
    end_max = 0
    for name, info in header.items():
        if not isinstance(info, dict):
            raise ValueError(f"tensor {name!r}: damaged header entry")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dtype not in _DTYPE_BYTES:
            raise ValueError(f"tensor {name!r}: dtype {dtype!r} is not a float type")
        if not isinstance(shape, list) or tuple(shape) != expected[name]:
            raise ValueError(
                f"tensor {name!r}: shape {shape!r}, the model needs {list(expected[name])}"
            )
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]
            or offsets[1] - offsets[0] != math.prod(shape) * _DTYPE_BYTES[dtype]
        ):
            raise ValueError(f"tensor {name!r}: its byte range does not match its shape")
        end_max = max(end_max, offsets[1])
    if 8 + n + end_max != size:
        raise ValueError(
            f"the file is {size} bytes but its tensors need {8 + n + end_max} "
            "(extra or missing data)"
        )


def load_checkpoint(path: Path, device: str | torch.device = "cpu") -> EmbeddedCheckpoint:
    """Load a checkpoint folder; a missing or broken file gives a clear error."""
    path = Path(path)
    cfg_path = path / CONFIG_NAME
    if not os.path.lexists(cfg_path):
        raise FileNotFoundError(f"model: no {CONFIG_NAME} in {path}")
    _check_inside(path, cfg_path)
    from sora_desktop.core.safe_paths import read_regular_file

    raw = read_regular_file(cfg_path, "model", MAX_CONFIG_BYTES)  # never blocks on a FIFO
    try:
        config = json.loads(raw.decode("utf-8"))
        if not isinstance(config, dict):
            raise ValueError("not a JSON object")
        vae_cfg = VAEConfig.from_dict(config["vae"])
        dit_cfg = DiTConfig.from_dict(config["dit"])
        _check_sizes(vae_cfg, dit_cfg)
        _check_numbers(config, vae_cfg)
        vae = VideoVAE(vae_cfg)
        dit = VideoDiT(dit_cfg)
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise FieldError(
            "model", f"{cfg_path} is not a valid embedded-model config ({exc})"
        ) from exc
    for module, name in ((vae, VAE_NAME), (dit, DIT_NAME)):
        file = path / name
        if not os.path.lexists(file):
            pickles = sorted(
                p.name for p in path.glob(f"{Path(name).stem}.*") if is_pickle_name(p.name)
            )
            if pickles:
                raise FieldError(
                    "model",
                    f"{path} has {pickles[0]} instead of {name}; Sora Desktop loads only "
                    ".safetensors weights, never pickle files (they can run code)",
                )
            raise FileNotFoundError(f"model: missing weights file {file}")
        _check_inside(path, file)
        try:
            check_safetensors_header(file, module)
        except ValueError as exc:
            raise FieldError("model", f"{file} cannot be used: {exc}") from exc
        try:
            state = load_file(str(file))
        except Exception as exc:  # safetensors raises its own error types
            raise FieldError("model", f"{file} is corrupt or not safetensors ({exc})") from exc
        try:
            module.load_state_dict({k: v.float() for k, v in state.items()})
        except RuntimeError as exc:
            raise FieldError("model", f"{file} does not match its config ({exc})") from exc
    vae.eval().requires_grad_(False).to(device)
    dit.eval().requires_grad_(False).to(device)
    return EmbeddedCheckpoint(config, vae, dit)
