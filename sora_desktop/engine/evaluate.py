"""The quality evaluator: generate clips for held-out captions and read them back from pixels.

``detect(frames)`` looks only at the pixels (no ground truth): it finds the background colour
from the frame border (both ends for a gradient), labels every pixel with the nearest palette
colour or the background, takes the largest object track as the main object and reads its
colour, its shape (contour geometry) and its motion (centroid path and area change).
``evaluate(backend, n, seed, steps)`` generates ``n`` clips from held-out captions
(``world.sample_scene(rng, held_out=True)``, paraphrased by ``world.caption``) and reports how
often each attribute matches the scene that was asked for. The same detector scored on the
ground-truth renders of those scenes is reported too, as the ceiling.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np

from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.embedded import world

PALETTE_NAMES = list(world.COLORS)
PALETTE = np.array([world.COLORS[c] for c in PALETTE_NAMES], np.float32)  # (K, 3)
DIRECTION_NAMES = list(world.DIRECTIONS)
ATTRIBUTES = ("color", "background", "direction", "motion", "shape")

SIZE = world.SIZE
GRADIENT_MIN_DIST = 60.0  # RGB distance between the two ends that makes a border a gradient
MIN_BLOB_AREA = 6  # pixels; smaller specks are edge artefacts or noise
GROW_RATIO = 1.8  # late/early area ratio that counts as growing (the world uses ~7)
STILL_SPREAD = 1.5  # px rms of the centroid path below which the object does not move
ORBIT_ROUNDNESS = 0.5  # second/first singular value of the path: a circle is ~1, a line ~0
TRIANGLE_FILL = 0.78  # area over the smallest enclosing triangle: triangle ~1, circle .6, square .5
BOUNCE_BACKTRACK = 1.4  # x path length over net x travel that means it turned back


@dataclass
class Detection:
    """What the detector read from a clip; ``found`` is False when no object was seen."""

    found: bool
    color: str | None
    shape: str | None
    motion: str | None
    background: str
    background2: str | None
    gradient_axis: str | None
    blob_counts: list[int] = field(default_factory=list)
    count_consistency: float = 1.0
    path_smoothness: float = 0.0
    path: list[tuple[float, float] | None] = field(default_factory=list)
    areas: list[float] = field(default_factory=list)

    @property
    def direction(self) -> str | None:
        return self.motion if self.motion in world.DIRECTIONS else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
#                                       background
# ---------------------------------------------------------------------------------------------


def _nearest_palette(rgb: np.ndarray) -> str:
    d = np.linalg.norm(PALETTE - np.asarray(rgb, np.float32)[None], axis=1)
    return PALETTE_NAMES[int(np.argmin(d))]


def detect_background(frames: np.ndarray) -> tuple[str, str | None, str | None, np.ndarray]:
    """(background, background2, axis, expected background image (H, W, 3) float32)."""
    f = frames.astype(np.float32)
    t, h, w, _ = f.shape
    top = np.median(f[:, 0].reshape(-1, 3), axis=0)
    bottom = np.median(f[:, -1].reshape(-1, 3), axis=0)
    left = np.median(f[:, :, 0].reshape(-1, 3), axis=0)
    right = np.median(f[:, :, -1].reshape(-1, 3), axis=0)
    d_v = float(np.linalg.norm(top - bottom))
    d_h = float(np.linalg.norm(left - right))
    if max(d_v, d_h) > GRADIENT_MIN_DIST:
        vertical = d_v >= d_h
        a, b = (top, bottom) if vertical else (left, right)
        ca, cb = _nearest_palette(a), _nearest_palette(b)
        if ca != cb:
            ramp = np.linspace(0.0, 1.0, h if vertical else w, dtype=np.float32)
            line = (1 - ramp)[:, None] * a[None] + ramp[:, None] * b[None]  # (L, 3)
            img = (
                np.broadcast_to(line[:, None], (h, w, 3))
                if vertical
                else np.broadcast_to(line[None], (h, w, 3))
            )
            return ca, cb, "vertical" if vertical else "horizontal", img.astype(np.float32)
    border = np.concatenate(
        [
            f[:, 0].reshape(-1, 3),
            f[:, -1].reshape(-1, 3),
            f[:, :, 0].reshape(-1, 3),
            f[:, :, -1].reshape(-1, 3),
        ]
    )
    colour = np.median(border, axis=0)
    img = np.broadcast_to(colour[None, None], (h, w, 3)).astype(np.float32)
    return _nearest_palette(colour), None, None, img


# ---------------------------------------------------------------------------------------------
#                                       objects
# ---------------------------------------------------------------------------------------------


def _label_pixels(frames: np.ndarray, bg_img: np.ndarray, exclude: set[str]):
    """Per pixel: -1 background, else the index into PALETTE of the nearest object colour.

    Also returns the distance to the background (T, H, W) and the squared distance to every
    palette colour (T, H, W, K), used to place object edges with sub-pixel precision.
    """
    f = frames.astype(np.float32)
    d_bg = np.sqrt(((f - bg_img[None]) ** 2).sum(-1))  # (T, H, W)
    # |f - p|^2 = |f|^2 - 2 f.p + |p|^2, as one matrix product
    d2_pal = (f * f).sum(-1, keepdims=True) - 2.0 * (f @ PALETTE.T) + (PALETTE**2).sum(-1)
    np.maximum(d2_pal, 0.0, out=d2_pal)
    for name in exclude:
        d2_pal[..., PALETTE_NAMES.index(name)] = np.inf
    best = np.argmin(d2_pal, axis=-1)
    best_d2 = np.take_along_axis(d2_pal, best[..., None], -1)[..., 0]
    labels = np.where(best_d2 < d_bg * d_bg, best, -1)
    return labels, d_bg, d2_pal


def _largest_component(mask: np.ndarray) -> tuple[np.ndarray | None, int]:
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return None, 0
    i = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return lab == i, int(stats[i, cv2.CC_STAT_AREA])


def _count_blobs(labels: np.ndarray) -> int:
    """Objects in one frame: components per colour, after an opening that removes thin edges.

    A component counts when it is at least 30 % of the largest of its colour, so crumbs of an
    object cut by an occluder do not count as new objects.
    """
    kernel = np.ones((2, 2), np.uint8)
    count = 0
    for k in np.unique(labels):
        if k < 0:
            continue
        m = cv2.morphologyEx((labels == k).astype(np.uint8), cv2.MORPH_OPEN, kernel)
        n, _, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
        areas = stats[1:, cv2.CC_STAT_AREA]
        if len(areas):
            count += int(np.sum((areas >= MIN_BLOB_AREA) & (areas >= 0.3 * areas.max())))
    return count


def classify_shape(alpha: np.ndarray) -> tuple[str, dict[str, float]] | None:
    """Shape from a soft mask (H, W) in 0..1: upsampled so the contour is sub-pixel."""
    up = cv2.resize(alpha.astype(np.float32), None, fx=4, fy=4, interpolation=cv2.INTER_LINEAR)
    mask = (up >= 0.5).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    c = max(contours, key=cv2.contourArea)
    area = float(cv2.contourArea(c))
    if area < 16 * MIN_BLOB_AREA:
        return None
    hull = cv2.convexHull(c)
    hull_area = float(cv2.contourArea(hull))
    (_, _), radius = cv2.minEnclosingCircle(c)
    solidity = area / max(hull_area, 1e-6)
    fill = area / max(math.pi * radius * radius, 1e-6)  # circle 1, square .64, triangle .41
    # A triangle fills its smallest enclosing triangle (a square fills half of it, a circle
    # 60 %), even with rounded tips, which cut the enclosing circle and inflate ``fill``.
    tri_area, _ = cv2.minEnclosingTriangle(hull.astype(np.float32))
    tri_fill = area / max(float(tri_area), 1e-6)
    perimeter = cv2.arcLength(c, True)
    vertices = len(cv2.approxPolyDP(c, 0.04 * perimeter, True))
    feats = {
        "solidity": solidity,
        "fill": fill,
        "triangle_fill": tri_fill,
        "vertices": float(vertices),
        "circularity": 4 * math.pi * area / max(perimeter * perimeter, 1e-6),
    }
    if solidity < 0.8:
        shape = "star"
    elif tri_fill > TRIANGLE_FILL:
        shape = "triangle"
    elif fill > 0.8:
        shape = "circle"
    else:
        shape = "square"
    return shape, feats


def classify_motion(path: list[tuple[float, float] | None], areas: list[float]) -> str:
    """One of world.MOTIONS from the main object's centroid path and area over time."""
    pts = [(i, p) for i, p in enumerate(path) if p is not None]
    if len(pts) < 2:
        return "still"
    idx = np.array([i for i, _ in pts], np.float32)
    xy = np.array([p for _, p in pts], np.float32)
    a = np.array([areas[i] for i, _ in pts], np.float32)
    q = max(1, len(a) // 4)
    ratio = float(a[-q:].mean() / max(a[:q].mean(), 1e-6))
    if ratio > GROW_RATIO:
        return "growing"
    if ratio < 1.0 / GROW_RATIO:
        return "shrinking"
    centred = xy - xy.mean(0)
    spread = float(np.sqrt((centred**2).sum(1).mean()))
    if spread < STILL_SPREAD:
        return "still"
    s = np.linalg.svd(centred, compute_uv=False)
    if s[1] / max(s[0], 1e-6) > ORBIT_ROUNDNESS:
        return "orbiting"
    dx = np.diff(xy[:, 0])
    x_path = float(np.abs(dx).sum())
    x_net = abs(float(xy[-1, 0] - xy[0, 0]))
    y_range = float(np.ptp(xy[:, 1]))
    x_range = float(np.ptp(xy[:, 0]))
    if x_path > BOUNCE_BACKTRACK * max(x_net, 1.0) and x_range > 2 * max(y_range, 2.0):
        return "bouncing"
    # straight motion: least-squares velocity, then the nearest of the eight directions
    t = idx - idx.mean()
    vx = float((t * centred[:, 0]).sum() / max((t * t).sum(), 1e-6))
    vy = float((t * centred[:, 1]).sum() / max((t * t).sum(), 1e-6))
    ang = math.atan2(vy, vx)
    best = max(
        DIRECTION_NAMES,
        key=lambda d: math.cos(ang - math.atan2(world.DIRECTIONS[d][1], world.DIRECTIONS[d][0])),
    )
    return best


def detect(frames: np.ndarray) -> Detection:
    """Read the main object's colour, shape and motion and the background from pixels."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames: expected (T, H, W, 3), got {tuple(frames.shape)}")
    bg, bg2, axis, bg_img = detect_background(frames)
    exclude = {bg} | ({bg2} if bg2 else set())
    labels, d_bg, d2_pal = _label_pixels(frames, bg_img, exclude)
    t_len = frames.shape[0]
    counts = [_count_blobs(labels[t]) for t in range(t_len)]
    median = float(np.median(counts))
    consistency = float(np.mean([c == median for c in counts]))

    # the main object: the colour whose largest blob is biggest on average over the clip
    present = [k for k in range(len(PALETTE_NAMES)) if np.any(labels == k)]
    best_k, best_score = None, 0.0
    for k in present:
        areas = [_largest_component(labels[t] == k)[1] for t in range(t_len)]
        score = float(np.mean(areas))
        if score > best_score:
            best_k, best_score = k, score
    if best_k is None or best_score < MIN_BLOB_AREA:
        return Detection(False, None, None, "still", bg, bg2, axis, counts, consistency, 0.0)

    path: list[tuple[float, float] | None] = []
    areas: list[float] = []
    votes: dict[str, float] = {}
    kernel = np.ones((3, 3), np.uint8)
    for t in range(t_len):
        comp, area = _largest_component(labels[t] == best_k)
        if comp is None or area < MIN_BLOB_AREA:
            path.append(None)
            areas.append(0.0)
            continue
        d_obj = np.sqrt(d2_pal[t, ..., best_k])
        # soft coverage of each pixel near the blob: 1 at the object colour, 0 at background
        alpha = d_bg[t] / np.maximum(d_bg[t] + d_obj, 1e-6)
        near = cv2.dilate(comp.astype(np.uint8), kernel) > 0
        alpha = np.where(near, alpha, 0.0)
        total = float(alpha.sum())
        ys, xs = np.mgrid[0 : alpha.shape[0], 0 : alpha.shape[1]]
        path.append((float((alpha * xs).sum() / total), float((alpha * ys).sum() / total)))
        areas.append(total)
        result = classify_shape(alpha)
        if result is not None:
            votes[result[0]] = votes.get(result[0], 0.0) + total
    shape = max(votes, key=votes.get) if votes else None
    motion = classify_motion(path, areas)
    pts = np.array([p for p in path if p is not None], np.float32)
    smooth = 0.0
    if len(pts) >= 3:
        smooth = float(np.linalg.norm(pts[2:] - 2 * pts[1:-1] + pts[:-2], axis=1).mean())
    return Detection(
        True,
        PALETTE_NAMES[best_k],
        shape,
        motion,
        bg,
        bg2,
        axis,
        counts,
        consistency,
        smooth,
        path,
        areas,
    )


# ---------------------------------------------------------------------------------------------
#                                       scoring
# ---------------------------------------------------------------------------------------------


def scene_truth(scene: world.Scene) -> dict[str, Any]:
    m = scene.main
    return {
        "color": m.color,
        "shape": m.shape,
        "motion": m.motion,
        "background": scene.background,
        "background2": scene.background2,
        "gradient_axis": scene.gradient_axis if scene.background2 else None,
    }


def score(det: Detection, scene: world.Scene) -> dict[str, bool | None]:
    """Per attribute: True/False, or None where it does not apply (direction of a non-mover)."""
    truth = scene_truth(scene)
    bg_ok = det.background == truth["background"] and det.background2 == truth["background2"]
    if truth["background2"] is not None:
        bg_ok = bg_ok and det.gradient_axis == truth["gradient_axis"]
    is_dir = truth["motion"] in world.DIRECTIONS
    return {
        "color": det.color == truth["color"],
        "background": bg_ok,
        "direction": (det.motion == truth["motion"]) if is_dir else None,
        "motion": det.motion == truth["motion"],
        "shape": det.shape == truth["shape"],
    }


def _accuracy(rows: list[dict[str, bool | None]]) -> tuple[dict[str, float], dict[str, int]]:
    acc, support = {}, {}
    for attr in ATTRIBUTES:
        vals = [r[attr] for r in rows if r[attr] is not None]
        support[attr] = len(vals)
        acc[attr] = float(np.mean(vals)) if vals else float("nan")
    return acc, support


def score_scenes(scenes: list[world.Scene], clips: list[np.ndarray]) -> dict[str, Any]:
    """Accuracy of the detector's readings of ``clips`` against the ``scenes`` they show."""
    rows, consistency, smooth = [], [], []
    for scene, clip in zip(scenes, clips, strict=True):
        det = detect(_to_world_size(clip))
        rows.append(score(det, scene))
        consistency.append(det.count_consistency)
        smooth.append(det.path_smoothness)
    acc, support = _accuracy(rows)
    return {
        "accuracy": acc,
        "support": support,
        "temporal": {
            "count_consistency": float(np.mean(consistency)) if consistency else float("nan"),
            "path_smoothness_px": float(np.mean(smooth)) if smooth else float("nan"),
        },
    }


def _to_world_size(frames: np.ndarray) -> np.ndarray:
    """The detector's pixel thresholds are for the world's 64x64 frames."""
    if frames.shape[1:3] == (SIZE, SIZE):
        return frames
    return np.stack([cv2.resize(f, (SIZE, SIZE), interpolation=cv2.INTER_AREA) for f in frames])


def held_out_set(n: int, seed: int) -> list[tuple[world.Scene, str]]:
    """``n`` held-out scenes with paraphrased captions, the same for the same seed."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        scene = world.sample_scene(rng, held_out=True)
        out.append((scene, world.caption(scene, rng)))
    return out


def evaluate(
    backend: Any,
    n: int = 200,
    seed: int = 0,
    steps: int | None = None,
    guidance: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    enhancer: Any = None,
) -> dict[str, Any]:
    """Generate ``n`` held-out clips with ``backend`` and score them; returns the report dict.

    With ``enhancer`` (a PromptEnhancer) each caption is rewritten before generation, to
    measure what prompt enhancement does to adherence.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n: expected a positive integer, got {n!r}")
    from sora_desktop.engine.backend import GenerationResult

    caps = backend.capabilities()
    width, height = caps.sizes[0] if caps.sizes else (SIZE, SIZE)
    base = GenerationRequest(
        prompt="x",
        model_id=backend.model_id,
        width=width,
        height=height,
        num_frames=world.FRAMES,
        fps=world.FPS,
    )
    if steps is not None:
        base = base.with_changes(steps=steps)
    if guidance is not None:
        base = base.with_changes(guidance=guidance)
    items = held_out_set(n, seed)
    scenes, clips, per_clip = [], [], []
    start = time.perf_counter()
    for i, (scene, text) in enumerate(items):
        prompt = enhancer.enhance(text) if enhancer is not None else text
        request = base.with_changes(prompt=prompt, seed=(seed * 1_000_003 + i) % (2**32))
        frames = None
        for event in backend.generate(request):
            if isinstance(event, GenerationResult):
                frames = event.frames
        if frames is None:
            raise RuntimeError("backend finished without a result")
        det = detect(_to_world_size(frames))
        verdict = score(det, scene)
        scenes.append(scene)
        clips.append(frames)
        per_clip.append(
            {
                "caption": text,
                "prompt": prompt,
                "seed": request.seed,
                "truth": scene_truth(scene),
                "detected": {
                    "color": det.color,
                    "shape": det.shape,
                    "motion": det.motion,
                    "background": det.background,
                    "background2": det.background2,
                    "gradient_axis": det.gradient_axis,
                },
                "correct": verdict,
                "count_consistency": det.count_consistency,
                "path_smoothness_px": det.path_smoothness,
            }
        )
        if progress is not None:
            progress(i + 1, n)
    elapsed = time.perf_counter() - start
    generated = score_scenes(scenes, clips)
    reference = score_scenes(scenes, [world.render(s) for s in scenes])
    return {
        "model_id": backend.model_id,
        "model_dir": str(getattr(backend, "model_dir", "") or ""),
        "n": n,
        "seed": seed,
        "steps": base.steps,
        "guidance": base.guidance,
        "held_out": True,
        "enhancer": getattr(enhancer, "name", None) if enhancer is not None else None,
        "seconds": elapsed,
        "seconds_per_clip": elapsed / n,
        "accuracy": generated["accuracy"],
        "support": generated["support"],
        "temporal": generated["temporal"],
        "reference": reference,
        "chance": {
            "color": 1 / 10,
            "background": None,
            "direction": 1 / 8,
            "motion": 1 / 13,
            "shape": 1 / 4,
        },
        "clips": per_clip,
    }


def report_markdown(report: dict[str, Any]) -> str:
    """A markdown table of the report: generated vs the detector on ground-truth renders."""
    ref = report.get("reference", {}).get("accuracy", {})
    lines = [
        f"Held-out evaluation of `{report['model_id']}`: {report['n']} clips, seed "
        f"{report['seed']}, {report['steps']} steps, guidance {report['guidance']}"
        + (f", prompts enhanced by `{report['enhancer']}`" if report.get("enhancer") else ""),
        "",
        "| attribute | generated | ground-truth renders | scenes |",
        "|---|---|---|---|",
    ]
    for attr in ATTRIBUTES:
        gen = report["accuracy"].get(attr, float("nan"))
        lines.append(
            f"| {attr} | {gen:.1%} | {ref.get(attr, float('nan')):.1%} | "
            f"{report['support'].get(attr, 0)} |"
        )
    tmp = report["temporal"]
    ref_t = report.get("reference", {}).get("temporal", {})
    lines.append(
        f"| temporal: blob-count consistency | {tmp['count_consistency']:.1%} | "
        f"{ref_t.get('count_consistency', float('nan')):.1%} | {report['n']} |"
    )
    lines.append(
        f"| temporal: path smoothness (px, lower is smoother) | "
        f"{tmp['path_smoothness_px']:.2f} | {ref_t.get('path_smoothness_px', float('nan')):.2f} "
        f"| {report['n']} |"
    )
    lines.append("")
    lines.append(f"{report['seconds_per_clip']:.2f} s per clip")
    return "\n".join(lines)
