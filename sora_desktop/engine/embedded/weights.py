"""Save and load the embedded model: safetensors weights with a config.json beside them."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from sora_desktop.engine.embedded.dit import DiTConfig, VideoDiT
from sora_desktop.engine.embedded.vae import VAEConfig, VideoVAE

CONFIG_NAME = "config.json"
VAE_NAME = "vae.safetensors"
DIT_NAME = "dit.safetensors"
FORMAT_VERSION = 1
# Formats that unpickle (and can run code) when loaded; this loader never reads them.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


def _atomic_write_bytes(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    _atomic_write_bytes(out / VAE_NAME, lambda p: save_file(vae_sd, p))
    _atomic_write_bytes(out / DIT_NAME, lambda p: save_file(half, p))
    config = {
        "format_version": FORMAT_VERSION,
        "vae": vae.cfg.to_dict(),
        "dit": dit.cfg.to_dict(),
        "latent_mean": latent_mean,
        "latent_std": latent_std,
        "latent_rgb": latent_rgb,
        "sample_shift": sample_shift,
        "frames": 16,
        "fps": 8,
        "size": 64,
        "training": training,
    }
    text = json.dumps(config, indent=2)
    _atomic_write_bytes(out / CONFIG_NAME, lambda p: Path(p).write_text(text))


def _check_inside(folder: Path, file: Path) -> None:
    """Refuse a model file that is a link leading out of the model folder."""
    root, real = folder.resolve(), file.resolve()
    if not real.is_relative_to(root):
        raise ValueError(
            f"model: {file.name} in {folder} is a link to {real}, outside the model folder; "
            "refusing to load it (copy the real file into the folder)"
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
            raise ValueError(f"{field}: {value!r} is out of range; allowed 1 to {hi}")

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


def load_checkpoint(path: Path, device: str | torch.device = "cpu") -> EmbeddedCheckpoint:
    """Load a checkpoint folder; a missing or broken file gives a clear error."""
    path = Path(path)
    cfg_path = path / CONFIG_NAME
    if not cfg_path.is_file():
        raise FileNotFoundError(f"model: no {CONFIG_NAME} in {path}")
    _check_inside(path, cfg_path)
    try:
        config = json.loads(cfg_path.read_text())
        vae_cfg = VAEConfig.from_dict(config["vae"])
        dit_cfg = DiTConfig.from_dict(config["dit"])
        _check_sizes(vae_cfg, dit_cfg)
        vae = VideoVAE(vae_cfg)
        dit = VideoDiT(dit_cfg)
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise ValueError(f"model: {cfg_path} is not a valid embedded-model config ({exc})") from exc
    for module, name in ((vae, VAE_NAME), (dit, DIT_NAME)):
        file = path / name
        if not file.is_file():
            pickles = sorted(
                p.name
                for p in path.glob(f"{Path(name).stem}.*")
                if p.name.lower().endswith(PICKLE_SUFFIXES)
            )
            if pickles:
                raise ValueError(
                    f"model: {path} has {pickles[0]} instead of {name}; Sora Desktop loads only "
                    ".safetensors weights, never pickle files (they can run code)"
                )
            raise FileNotFoundError(f"model: missing weights file {file}")
        _check_inside(path, file)
        try:
            state = load_file(str(file))
        except Exception as exc:  # safetensors raises its own error types
            raise ValueError(f"model: {file} is corrupt or not safetensors ({exc})") from exc
        try:
            module.load_state_dict({k: v.float() for k, v in state.items()})
        except RuntimeError as exc:
            raise ValueError(f"model: {file} does not match its config ({exc})") from exc
    vae.eval().requires_grad_(False).to(device)
    dit.eval().requires_grad_(False).to(device)
    return EmbeddedCheckpoint(config, vae, dit)
