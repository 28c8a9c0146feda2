"""Structured errors shared by every layer.

A validator raises ``FieldError(field, message)``; a form shows ``message`` under the input
for ``field`` without parsing text. It is a ``ValueError`` (every ``except ValueError`` keeps
working) and ``str()`` stays ``"field: message"`` for logs, the CLI and older callers.
"""

from __future__ import annotations

from typing import Any


class FieldError(ValueError):
    """A bad value for one named field (a request setting, a setting, a project option)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def __reduce__(self):  # picklable across a process boundary (a later worker process)
        return (type(self), (self.field, self.message))


def short_repr(value: Any, limit: int = 80) -> str:
    """A value for a message, cut short: a hostile file's 40 MB string must not be echoed."""
    try:
        text = repr(value)
    except ValueError:  # an int too large to print
        return "a huge number"
    if len(text) <= limit:
        return text
    size = f"{len(value)} characters" if isinstance(value, str) else f"{len(text)} characters"
    return f"{text[:limit]}... ({size})"


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says a device ran out of memory (MemoryError, torch's
    OutOfMemoryError, or a CUDA/MPS "out of memory" message); no torch import needed."""
    low = f"{type(exc).__name__} {exc}".lower()
    return isinstance(exc, MemoryError) or "out of memory" in low or "outofmemory" in low
