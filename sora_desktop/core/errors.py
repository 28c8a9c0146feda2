"""Structured errors shared by every layer.

A validator raises ``FieldError(field, message)``; a form shows ``message`` under the input
for ``field`` without parsing text. It is a ``ValueError`` (every ``except ValueError`` keeps
working) and ``str()`` stays ``"field: message"`` for logs, the CLI and older callers.
"""

from __future__ import annotations


class FieldError(ValueError):
    """A bad value for one named field (a request setting, a setting, a project option)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def __reduce__(self):  # picklable across a process boundary (a later worker process)
        return (type(self), (self.field, self.message))
