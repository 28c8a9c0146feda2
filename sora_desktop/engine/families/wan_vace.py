"""Wan 2.1 VACE (1.3B / 14B): one checkpoint for text-to-video and for clips pinned to frames.

``WanVACEPipeline`` takes a control video and a mask: frames with a black mask are kept, white
ones generated. A start image, an end keyframe or the previous window's last frames are placed
at their frame positions; the rest is neutral grey to generate. This is how the 1.3B Wan model
continues a shot (the 1.3B text-to-video checkpoint has no image-to-video weights).
"""

from __future__ import annotations

from typing import Any

from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.families.base import Keyframes
from sora_desktop.engine.families.wan import WanAdapter

GREY = (127, 127, 127)  # VACE's "nothing here" (0 in the model's -1..1 range)


class WanVaceAdapter(WanAdapter):
    name = "wan-vace"
    i2v = "WanVACEPipeline"  # the same pipeline serves text, start image and keyframes

    def call_kwargs(
        self, pipe: Any, request: GenerationRequest, keys: Keyframes, common: dict[str, Any]
    ) -> dict[str, Any]:
        from PIL import Image

        kwargs = dict(common)
        n = request.num_frames
        pinned: dict[int, Any] = {}
        if keys.start is not None:
            pinned[0] = keys.start
        for i, frame in enumerate(keys.context[:n]):
            pinned[i] = frame
        if keys.end is not None:
            pinned[n - 1] = keys.end
        if pinned:
            size = (request.width, request.height)
            grey = Image.new("RGB", size, GREY)
            keep, make = Image.new("L", size, 0), Image.new("L", size, 255)
            kwargs["video"] = [pinned.get(i, grey) for i in range(n)]
            kwargs["mask"] = [keep if i in pinned else make for i in range(n)]
        return kwargs


ADAPTER = WanVaceAdapter
