"""Plain data shared by the engine and the UI. Imports neither Qt nor torch."""

from sora_desktop.core.request import GenerationRequest

__all__ = ["GenerationRequest"]
