"""Issue 20: exports default to at least 512 px (the built-in 64x64 model enlarged with
Lanczos), defined once in core/export_settings.py; cross-fades are shown in seconds and stored
in frames, one conversion each way."""

from __future__ import annotations

import pytest

from sora_desktop.core.capabilities import EMBEDDED_SIZE
from sora_desktop.core.export_settings import (
    DEFAULT_PROJECT_SETTINGS,
    MAX_CROSSFADE_FRAMES,
    ExportSettings,
    crossfade_frames_for,
    crossfade_seconds,
    default_upscale,
)


def test_default_settings_make_the_built_in_model_at_least_512px_with_lanczos():
    settings = ExportSettings.from_project(dict(DEFAULT_PROJECT_SETTINGS))
    w, h = EMBEDDED_SIZE, EMBEDDED_SIZE
    factor = settings.upscale_for(w, h)
    assert min(w, h) * factor >= 512
    assert factor == 8  # 64 px x 8 = 512: the smallest power of two that reaches it
    assert settings.upscale_method == "lanczos"


@pytest.mark.parametrize(
    ("size", "factor"), [((64, 64), 8), ((832, 480), 2), ((1280, 720), 1), ((20, 40), 16)]
)
def test_auto_upscale_reaches_512_on_the_short_side(size, factor):
    assert default_upscale(*size) == factor


def test_a_chosen_upscale_is_kept():
    assert ExportSettings(upscale=2).upscale_for(64, 64) == 2


@pytest.mark.parametrize("fps", [8, 12, 16, 24, 25, 30, 60])
def test_crossfade_seconds_round_trip(fps):
    for frames in range(MAX_CROSSFADE_FRAMES + 1):
        assert crossfade_frames_for(crossfade_seconds(frames, fps), fps) == frames
    assert crossfade_seconds(4, 8) == 0.5 and crossfade_frames_for(1.0, 24) == 24
    assert crossfade_frames_for(1000.0, fps) == MAX_CROSSFADE_FRAMES  # never past the limit
