"""The backend interface every model sits behind, and the events a generation yields.

``Backend.generate`` is a plain generator: it yields ``StepEvent`` once per denoising step and
finally one ``GenerationResult``. The CLI, the Qt worker and the tests all drive the same loop.
Cancel is cooperative: the caller passes a ``CancelToken`` and the backend checks it every step.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sora_desktop.core.errors import FieldError
from sora_desktop.core.request import GenerationRequest


class GenerationCancelled(Exception):
    """Raised inside a generation when its CancelToken was set."""


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
class GenerationResult:
    """The finished clip: ``frames`` is (T, H, W, 3) uint8 RGB."""

    frames: np.ndarray
    fps: int
    request: GenerationRequest
    info: dict[str, Any] = field(default_factory=dict)


GenerationEvent = StepEvent | GenerationResult


@dataclass(frozen=True)
class BackendCapabilities:
    sizes: tuple[tuple[int, int], ...]  # allowed (width, height); empty = any multiple of 16
    max_frames: int
    supports_start_image: bool
    supports_negative_prompt: bool = True


class Backend(ABC):
    """A loaded model that turns requests into clips."""

    model_id: str

    @abstractmethod
    def capabilities(self) -> BackendCapabilities: ...

    def check_request(self, request: GenerationRequest) -> None:
        """Raise ValueError naming the field when this model cannot honour the request."""
        caps = self.capabilities()
        if caps.sizes and (request.width, request.height) not in caps.sizes:
            allowed = ", ".join(f"{w}x{h}" for w, h in caps.sizes)
            raise ValueError(
                f"width/height: {request.width}x{request.height} is not supported by "
                f"{self.model_id}; allowed: {allowed}"
            )
        if request.num_frames > caps.max_frames:
            raise ValueError(
                f"num_frames: {request.num_frames} is out of range for {self.model_id}; "
                f"allowed 1 to {caps.max_frames}"
            )
        if request.start_image is not None and not caps.supports_start_image:
            raise FieldError("start_image", f"{self.model_id} cannot start from an image")

    @abstractmethod
    def generate(
        self, request: GenerationRequest, cancel: CancelToken | None = None
    ) -> Iterator[GenerationEvent]: ...

    def unload(self) -> None:  # noqa: B027 - optional hook
        """Free memory held by the model."""
