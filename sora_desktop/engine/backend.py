"""The backend interface every model sits behind, and the events a generation yields.

``Backend.generate`` is a plain generator: it yields ``StepEvent`` once per denoising step, a
``LatentsReady`` with the denoised latents *before* the VAE decode (so the caller can save them
with the take: a decode that runs out of memory then costs no denoising), and finally one
``GenerationResult``. A decode that fails raises ``DecodeFailed``; ``Backend.decode_latents``
decodes saved latents again without denoising ("Retry in low memory"). The CLI, the Qt worker
and the tests all drive the same loop. Cancel is cooperative: the caller passes a
``CancelToken`` and the backend checks it every step.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from sora_desktop.core.capabilities import ModelCapabilities
from sora_desktop.core.request import GenerationRequest


class GenerationCancelled(Exception):
    """Raised inside a generation when its CancelToken was set."""


class DecodeFailed(Exception):
    """The VAE decode failed (usually out of memory) after the latents were handed out in a
    ``LatentsReady``; ``Backend.decode_latents`` can decode them again later."""


class CancelToken:
    """A thread-safe flag the UI sets and the backend polls between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise GenerationCancelled("generation cancelled")


@dataclass
class StepEvent:
    """One denoising step finished. ``preview`` is a cheap (H, W, 3) uint8 frame or None."""

    step: int  # 1-based
    total: int
    preview: np.ndarray | None = None
    segment: int = 0  # which chained segment of a long clip
    segments: int = 1


@dataclass
class LatentsReady:
    """Denoising finished; these are the latents the VAE decode starts from.

    ``latents``: named float arrays (e.g. ``{"video": ..., "audio": ...}``; a windowed clip
    uses ``"w0.video"``, ``"w1.video"``, ...) that ``Backend.decode_latents`` accepts back
    together with ``info`` (plain JSON: what the decode needs beyond the request).
    """

    latents: dict[str, np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)
    segment: int = 0
    segments: int = 1


@dataclass
class GenerationResult:
    """The finished clip: ``frames`` is (T, H, W, 3) uint8 RGB; ``audio`` (samples, channels)
    float32 in -1..1 at ``sample_rate`` when the model makes sound (LTX-2), else None."""

    frames: np.ndarray
    fps: int
    request: GenerationRequest
    info: dict[str, Any] = field(default_factory=dict)
    audio: np.ndarray | None = None
    sample_rate: int = 0


GenerationEvent = StepEvent | LatentsReady | GenerationResult


# What a loaded model accepts: the one record (core/capabilities.py) the editor, the ETA and
# the CLI read too.
BackendCapabilities = ModelCapabilities


class Backend(ABC):
    """A loaded model that turns requests into clips."""

    model_id: str

    @abstractmethod
    def capabilities(self) -> BackendCapabilities: ...

    def check_request(self, request: GenerationRequest) -> None:
        """Raise ValueError naming the field when this model cannot honour the request."""
        caps = self.capabilities()
        if not caps.model_id:
            caps = replace(caps, model_id=self.model_id)
        caps.check(request)

    @abstractmethod
    def generate(
        self, request: GenerationRequest, cancel: CancelToken | None = None
    ) -> Iterator[GenerationEvent]: ...

    def decode_latents(
        self,
        request: GenerationRequest,
        latents: dict[str, np.ndarray],
        info: dict[str, Any],
        low_memory: bool = True,
    ) -> GenerationResult:
        """Decode latents saved from a ``LatentsReady`` of ``request`` without denoising again;
        ``low_memory`` decodes in the lightest way the model has (tiled, sliced, offloaded).
        Raises ``DecodeFailed`` when it still fails."""
        raise NotImplementedError(f"{self.model_id} cannot decode saved latents")

    def unload(self) -> None:  # noqa: B027 - optional hook
        """Free memory held by the model."""
