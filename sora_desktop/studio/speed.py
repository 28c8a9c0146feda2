"""Which speed switches a take runs with: Settings' "Faster" options, recorded in its request.

A downloaded model's clip depends on them (a cache skips work, fp8 rounds weights), so the
request that reproduces the clip carries them. The built-in model has no such switches.
"""

from __future__ import annotations

from typing import Any

from sora_desktop.core.capabilities import EMBEDDED_MODEL_ID
from sora_desktop.core.request import GenerationRequest


def record_speed(request: GenerationRequest, settings: Any) -> GenerationRequest:
    """``request`` with the speed options it will run with (Settings' current ones)."""
    speed_of = getattr(settings, "speed_options", None)  # stand-in settings may lack it
    if speed_of is None or request.model_id == EMBEDDED_MODEL_ID:
        return request
    speed = speed_of()
    return request.with_changes(extra=speed.into_extra(request.extra))
