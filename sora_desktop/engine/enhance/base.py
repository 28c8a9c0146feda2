"""The interface every prompt enhancer implements (the rule one, the LLM one, later others)."""

from __future__ import annotations

from abc import ABC, abstractmethod


class PromptEnhancer(ABC):
    """Rewrites a user's prompt into a detailed caption; never returns an empty string."""

    name: str = "base"

    @abstractmethod
    def enhance(self, prompt: str) -> str: ...
