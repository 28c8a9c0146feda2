"""Rectified-flow sampling, apart from the model: timesteps, Euler steps, guidance.

Convention: x_t = (1 - t) x_0 + t ε, t = 1 is pure noise, and the model predicts the
velocity v = ε - x_0. An Euler step moves x from t to t' with x += (t' - t) v.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch


def flow_timesteps(steps: int, shift: float = 1.0) -> torch.Tensor:
    """``steps + 1`` times from 1 to 0; ``shift`` > 1 spends more steps at high noise."""
    if steps < 1:
        raise ValueError(f"steps: {steps} is out of range; allowed 1 or more")
    if shift <= 0:
        raise ValueError(f"shift: {shift} must be positive")
    t = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)
    t = shift * t / (1 + (shift - 1) * t)
    return t.float()


@dataclass
class SamplerStep:
    index: int  # 1-based
    total: int
    t: float
    x: torch.Tensor  # latent after this step
    x0: torch.Tensor  # the model's current estimate of the clean latent


def euler_sample(
    velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    noise: torch.Tensor,
    steps: int,
    shift: float = 1.0,
) -> Iterator[SamplerStep]:
    """Integrate from noise (t=1) to data (t=0); yields after every step."""
    ts = flow_timesteps(steps, shift)
    x = noise
    for i in range(steps):
        t, t_next = float(ts[i]), float(ts[i + 1])
        tt = torch.full((x.shape[0],), t, dtype=x.dtype, device=x.device)
        v = velocity(x, tt)
        x0 = x - t * v
        x = x + (t_next - t) * v
        yield SamplerStep(i + 1, steps, t_next, x, x0)
