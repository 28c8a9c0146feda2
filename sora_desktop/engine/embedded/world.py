"""The procedural world the embedded model learns from: shapes in colours, moving on backgrounds.

Everything here is numpy + OpenCV drawing, no torch, so the trainer, the evaluator and the
prompt enhancer share one vocabulary. A ``Scene`` is the ground truth; ``render`` draws it and
``caption`` describes it with a grammar of paraphrases and synonyms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from sora_desktop.core.capabilities import EMBEDDED_FPS, EMBEDDED_SIZE, EMBEDDED_WINDOW

# the vocabulary (colours, shapes, motions, caption phrases) lives in core as plain data, so the
# editor can check a prompt without OpenCV (core/embedded_words.py)
from sora_desktop.core.embedded_words import (  # noqa: F401 - the world's names
    COLOR_SYNONYMS,
    COLORS,
    DIRECTIONS,
    MOTION_PHRASES,
    MOTIONS,
    SHAPE_SYNONYMS,
    SHAPES,
)

# the embedded model's clip shape (core/capabilities.py states it once)
SIZE = EMBEDDED_SIZE
FRAMES = EMBEDDED_WINDOW
FPS = EMBEDDED_FPS


# ---------------------------------------------------------------------------------------------
#                                       Scenes
# ---------------------------------------------------------------------------------------------


@dataclass
class SceneObject:
    shape: str
    color: str
    motion: str
    x: float  # start centre, pixels
    y: float
    radius: float
    speed: float  # pixels per frame
    phase: float = 0.0  # orbit start angle
    spin: float = 0.0  # rotation, radians per frame


@dataclass
class Scene:
    objects: list[SceneObject]
    background: str
    background2: str | None = None  # gradient end colour; None = solid
    gradient_axis: str = "vertical"
    frames: int = FRAMES
    size: int = SIZE
    extra: dict = field(default_factory=dict)

    @property
    def main(self) -> SceneObject:
        return self.objects[0]


def combo_key(shape: str, color: str, background: str, motion: str) -> int:
    """A stable hash of the main attributes; 1 in 10 combinations is held out of training."""
    text = f"{shape}|{color}|{background}|{motion}"
    h = 2166136261
    for ch in text.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h


def is_held_out(scene: Scene) -> bool:
    m = scene.main
    return combo_key(m.shape, m.color, scene.background, m.motion) % 10 == 0


def sample_scene(
    rng: np.random.Generator,
    held_out: bool | None = False,
    max_objects: int = 3,
    frames: int = FRAMES,
    size: int = SIZE,
) -> Scene:
    """Draw a random scene. ``held_out`` True/False keeps only held-out/training combos."""
    while True:
        scene = _sample_scene_once(rng, max_objects, frames, size)
        if held_out is None or is_held_out(scene) == held_out:
            return scene


def _sample_scene_once(rng: np.random.Generator, max_objects: int, frames: int, size: int) -> Scene:
    names = list(COLORS)
    background = str(rng.choice(names))
    background2 = None
    if rng.random() < 0.2:
        background2 = str(rng.choice([c for c in names if c != background]))
    n = int(rng.choice([1, 2, 3], p=[0.6, 0.28, 0.12])) if max_objects >= 3 else 1
    n = min(n, max_objects)
    taken = {background, background2}
    objects = []
    for i in range(n):
        color = str(rng.choice([c for c in names if c not in taken]))
        taken.add(color)
        shape = str(rng.choice(SHAPES))
        motion = str(rng.choice(MOTIONS))
        # the main object is the largest so captions and the evaluator agree on which is "main"
        radius = float(rng.uniform(10.0, 13.0)) if i == 0 else float(rng.uniform(6.0, 8.5))
        speed = float(rng.uniform(1.6, 2.4))
        x, y = _start_position(rng, motion, radius, speed, frames, size)
        objects.append(
            SceneObject(
                shape=shape,
                color=color,
                motion=motion,
                x=x,
                y=y,
                radius=radius,
                speed=speed,
                phase=float(rng.uniform(0, 2 * math.pi)),
                spin=0.0,
            )
        )
    axis = str(rng.choice(["vertical", "horizontal"]))
    return Scene(objects, background, background2, axis, frames, size)


def _start_position(rng, motion, radius, speed, frames, size) -> tuple[float, float]:
    travel = speed * (frames - 1)
    margin = radius + 1
    if motion in DIRECTIONS:
        dx, dy = DIRECTIONS[motion]
        # start so that the whole path stays inside the frame
        lo_x = margin - min(0.0, dx * travel)
        hi_x = size - margin - max(0.0, dx * travel)
        lo_y = margin - min(0.0, dy * travel)
        hi_y = size - margin - max(0.0, dy * travel)
        x = rng.uniform(lo_x, max(lo_x, hi_x)) if hi_x > lo_x else (lo_x + hi_x) / 2
        y = rng.uniform(lo_y, max(lo_y, hi_y)) if hi_y > lo_y else (lo_y + hi_y) / 2
        return float(x), float(y)
    c = size / 2
    return float(c + rng.uniform(-6, 6)), float(c + rng.uniform(-6, 6))


def object_state(obj: SceneObject, t: int, size: int = SIZE) -> tuple[float, float, float]:
    """Centre x, centre y and radius of ``obj`` at frame ``t``."""
    x, y, r = obj.x, obj.y, obj.radius
    if obj.motion in DIRECTIONS:
        dx, dy = DIRECTIONS[obj.motion]
        return x + dx * obj.speed * t, y + dy * obj.speed * t, r
    if obj.motion == "bouncing":
        lo, hi = r + 1, size - r - 1
        span = hi - lo
        pos = (x - lo + obj.speed * 1.6 * t) % (2 * span)
        px = lo + (pos if pos <= span else 2 * span - pos)
        return px, y, r
    if obj.motion == "growing":
        return x, y, r * (0.45 + 0.75 * t / 15.0)
    if obj.motion == "shrinking":
        return x, y, r * (1.2 - 0.75 * t / 15.0)
    if obj.motion == "orbiting":
        ang = obj.phase + 2 * math.pi * t / 16.0
        orbit = 14.0
        return size / 2 + orbit * math.cos(ang), size / 2 + orbit * math.sin(ang), r * 0.8
    return x, y, r  # still


# ---------------------------------------------------------------------------------------------
#                                       Rendering
# ---------------------------------------------------------------------------------------------

_SUB = 4  # sub-pixel bits for cv2 anti-aliased drawing


def _polygon(shape: str, cx: float, cy: float, r: float, rot: float) -> np.ndarray:
    if shape == "square":
        k, start, radii = 4, math.pi / 4, [r * 1.25]
    elif shape == "triangle":
        k, start, radii = 3, -math.pi / 2, [r * 1.3]
    elif shape == "star":
        k, start, radii = 10, -math.pi / 2, [r * 1.35, r * 0.55]
    else:
        raise ValueError(shape)
    pts = []
    for i in range(k):
        ang = start + rot + 2 * math.pi * i / k
        rad = radii[i % len(radii)]
        pts.append((cx + rad * math.cos(ang), cy + rad * math.sin(ang)))
    return np.round(np.array(pts) * (1 << _SUB)).astype(np.int32)


def background_image(scene: Scene) -> np.ndarray:
    size = scene.size
    c1 = np.array(COLORS[scene.background], np.float32)
    if scene.background2 is None:
        return np.broadcast_to(c1, (size, size, 3)).copy()
    c2 = np.array(COLORS[scene.background2], np.float32)
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
    if scene.gradient_axis == "vertical":  # background colour at top, background2 at bottom
        w = ramp[:, None, None] * np.ones((1, size, 1), np.float32)
    else:  # left to right
        w = ramp[None, :, None] * np.ones((size, 1, 1), np.float32)
    return (1 - w) * c1 + w * c2


def render(scene: Scene) -> np.ndarray:
    """Draw the scene: (T, H, W, 3) uint8 RGB."""
    bg = background_image(scene).astype(np.uint8)
    out = np.empty((scene.frames, scene.size, scene.size, 3), np.uint8)
    for t in range(scene.frames):
        img = bg.copy()
        # draw small objects first so the main object is on top
        for obj in reversed(scene.objects):
            cx, cy, r = object_state(obj, t, scene.size)
            color = tuple(int(v) for v in COLORS[obj.color])
            if obj.shape == "circle":
                center = (int(round(cx * (1 << _SUB))), int(round(cy * (1 << _SUB))))
                cv2.circle(img, center, int(round(r * (1 << _SUB))), color, -1, cv2.LINE_AA, _SUB)
            else:
                pts = _polygon(obj.shape, cx, cy, r, obj.spin * t)
                cv2.fillPoly(img, [pts], color, cv2.LINE_AA, _SUB)
        out[t] = img
    return out


# ---------------------------------------------------------------------------------------------
#                                       Captions
# ---------------------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def describe_object(obj: SceneObject, rng: np.random.Generator | None = None) -> str:
    if rng is None:
        return f"a {obj.color} {obj.shape}"
    return f"a {_pick(rng, COLOR_SYNONYMS[obj.color])} {_pick(rng, SHAPE_SYNONYMS[obj.shape])}"


def describe_background(scene: Scene, rng: np.random.Generator | None = None) -> str:
    if scene.background2 is None:
        if rng is None:
            return f"on a {scene.background} background"
        c = _pick(rng, COLOR_SYNONYMS[scene.background])
        return _pick(
            rng,
            [
                f"on a {c} background",
                f"against a {c} backdrop",
                f"over a plain {c} background",
                f"on {c}",
            ],
        )
    a, b = scene.background, scene.background2
    where = "from top to bottom" if scene.gradient_axis == "vertical" else "from left to right"
    if rng is None:
        return f"on a gradient background from {a} to {b} {where}"
    return _pick(
        rng,
        [f"on a gradient background from {a} to {b} {where}", f"on a {a} to {b} gradient {where}"],
    )


def caption(scene: Scene, rng: np.random.Generator | None = None) -> str:
    """A caption for the scene; with ``rng`` it picks paraphrases and synonyms, else canonical."""
    parts = []
    for obj in scene.objects:
        motion = (
            MOTION_PHRASES[obj.motion][0] if rng is None else _pick(rng, MOTION_PHRASES[obj.motion])
        )
        parts.append(f"{describe_object(obj, rng)} {motion}")
    subject = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    bg = describe_background(scene, rng)
    if rng is None:
        return f"{subject} {bg}"
    template = int(rng.integers(4))
    if template == 0:
        return f"{subject} {bg}"
    if template == 1:
        return f"{bg[0].upper()}{bg[1:]}, {subject}"
    if template == 2:
        return f"a video of {subject} {bg}"
    return f"{subject} {bg}."
