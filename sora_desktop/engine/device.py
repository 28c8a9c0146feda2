"""Pick the compute device: CUDA, then Apple MPS, then CPU, unless the user names one."""

from __future__ import annotations

import torch

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")


def pick_device(preference: str = "auto") -> torch.device:
    if preference not in DEVICE_CHOICES and not preference.startswith("cuda:"):
        raise ValueError(f"device: {preference!r} is not one of {', '.join(DEVICE_CHOICES)}")
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device: CUDA was asked for but no CUDA GPU is available; use 'cpu'")
    if preference == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError("device: Apple MPS was asked for but is not available; use 'cpu'")
    return torch.device(preference)
