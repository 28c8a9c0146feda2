"""The evaluator's detector must read ground-truth renders correctly before it judges a model."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from sora_desktop.engine.embedded import world
from sora_desktop.engine.evaluate import (
    ATTRIBUTES,
    classify_shape,
    detect,
    evaluate,
    held_out_set,
    report_markdown,
    score,
    score_scenes,
)


@pytest.fixture(scope="module")
def truth_scores() -> dict:
    rng = np.random.default_rng(2024)
    scenes = [world.sample_scene(rng, held_out=None) for _ in range(300)]
    return score_scenes(scenes, [world.render(s) for s in scenes])


@pytest.mark.parametrize("attr", ATTRIBUTES)
def test_detector_reads_ground_truth_renders(truth_scores, attr):
    assert truth_scores["support"][attr] >= 150
    assert truth_scores["accuracy"][attr] >= 0.97, truth_scores


def test_ground_truth_is_temporally_consistent(truth_scores):
    assert truth_scores["temporal"]["count_consistency"] >= 0.9
    assert truth_scores["temporal"]["path_smoothness_px"] < 2.0


def _one(shape="circle", color="red", motion="right", bg="blue", bg2=None, axis="vertical"):
    obj = world.SceneObject(shape, color, motion, 20.0, 32.0, 11.0, 2.0)
    if motion in world.DIRECTIONS:
        dx, dy = world.DIRECTIONS[motion]
        obj.x, obj.y = 32 - dx * 15, 32 - dy * 15
    else:
        obj.x = obj.y = 32.0
    return world.Scene([obj], bg, bg2, axis)


@pytest.mark.parametrize("motion", world.MOTIONS)
def test_each_motion_class(motion):
    det = detect(world.render(_one(motion=motion)))
    assert det.motion == motion


@pytest.mark.parametrize("shape", world.SHAPES)
def test_each_shape_class(shape):
    assert detect(world.render(_one(shape=shape, motion="still"))).shape == shape


@pytest.mark.parametrize("color", [c for c in world.COLORS if c != "blue"])
def test_each_colour(color):
    assert detect(world.render(_one(color=color))).color == color


def test_gradient_ends_and_axis():
    det = detect(world.render(_one(bg="black", bg2="yellow", axis="horizontal")))
    assert (det.background, det.background2, det.gradient_axis) == ("black", "yellow", "horizontal")
    det = detect(world.render(_one(bg="white", bg2="green", axis="vertical")))
    assert (det.background, det.background2, det.gradient_axis) == ("white", "green", "vertical")


def test_main_object_is_the_largest_not_the_first_drawn():
    scene = _one(color="yellow", shape="square", motion="up")
    small = world.SceneObject("star", "white", "left", 40.0, 15.0, 6.5, 2.0)
    scene.objects.append(small)
    det = detect(world.render(scene))
    assert (det.color, det.shape, det.motion) == ("yellow", "square", "up")
    assert np.median(det.blob_counts) == 2


def test_shape_is_rotation_invariant():
    for rot in np.linspace(0, math.pi, 7):
        for shape in ("square", "triangle", "star"):
            img = np.zeros((64, 64), np.uint8)
            pts = world._polygon(shape, 32, 32, 11, float(rot))
            cv2.fillPoly(img, [pts], 255, cv2.LINE_AA, world._SUB)
            assert classify_shape(img / 255.0)[0] == shape


def test_empty_clip_is_reported_as_not_found():
    det = detect(np.full((8, 64, 64, 3), 40, np.uint8))
    assert not det.found and det.color is None


def test_noise_and_blur_do_not_fool_it():
    """Generated clips are never pixel-perfect; the reading must survive mild noise and blur."""
    rng = np.random.default_rng(3)
    noise = np.random.default_rng(4)
    rows = []
    for _ in range(60):
        scene = world.sample_scene(rng, held_out=None)
        f = np.stack([cv2.GaussianBlur(x, (3, 3), 1.0) for x in world.render(scene)])
        f = np.clip(f + noise.normal(0, 15, f.shape), 0, 255).astype(np.uint8)
        rows.append(score(detect(f), scene))
    for attr in ATTRIBUTES:
        vals = [r[attr] for r in rows if r[attr] is not None]
        assert np.mean(vals) >= 0.9, attr


def test_wrong_answers_are_scored_wrong():
    scene = _one(color="red", shape="circle", motion="right")
    liar = _one(color="green", shape="star", motion="left", bg="white")
    verdict = score(detect(world.render(liar)), scene)
    assert verdict == {
        "color": False,
        "background": False,
        "direction": False,
        "motion": False,
        "shape": False,
    }


def test_held_out_set_is_held_out_and_reproducible():
    a, b = held_out_set(30, 7), held_out_set(30, 7)
    assert [t for _, t in a] == [t for _, t in b]
    assert all(world.is_held_out(s) for s, _ in a)


class _OracleBackend:
    """Returns the ground-truth render of whatever scene the caption was drawn from."""

    model_id = "test/oracle"

    def __init__(self, items):
        self.by_caption = {text: scene for scene, text in items}

    def capabilities(self):
        from sora_desktop.engine.backend import BackendCapabilities

        return BackendCapabilities(sizes=((64, 64),), max_frames=16, supports_start_image=False)

    def generate(self, request, cancel=None):
        from sora_desktop.engine.backend import GenerationResult, StepEvent

        yield StepEvent(1, 1)
        yield GenerationResult(world.render(self.by_caption[request.prompt]), 8, request)


class _BlankBackend(_OracleBackend):
    def generate(self, request, cancel=None):
        from sora_desktop.engine.backend import GenerationResult

        yield GenerationResult(np.zeros((16, 64, 64, 3), np.uint8), 8, request)


def test_evaluate_report_separates_a_perfect_model_from_a_useless_one():
    items = held_out_set(12, 3)
    perfect = evaluate(_OracleBackend(items), n=12, seed=3, steps=2)
    blank = evaluate(_BlankBackend(items), n=12, seed=3, steps=2)
    for attr in ("color", "motion", "shape"):
        assert perfect["accuracy"][attr] == 1.0
        assert blank["accuracy"][attr] <= 0.2
    assert perfect["n"] == 12 and len(perfect["clips"]) == 12 and perfect["steps"] == 2
    assert perfect["reference"]["accuracy"]["shape"] == 1.0
    json.dumps(perfect)  # the report is plain JSON
    table = report_markdown(perfect)
    assert "| shape | 100.0% |" in table and "temporal" in table


def test_evaluate_can_enhance_the_captions_first():
    from sora_desktop.engine.enhance import RuleEnhancer

    items = held_out_set(6, 11)
    enhancer = RuleEnhancer()
    oracle = _OracleBackend([(scene, enhancer.enhance(text)) for scene, text in items])
    report = evaluate(oracle, n=6, seed=11, steps=1, enhancer=enhancer)
    assert report["enhancer"] == "rule"
    assert all(c["prompt"] == enhancer.enhance(c["caption"]) for c in report["clips"])
    assert report["accuracy"]["shape"] == 1.0
    assert "enhanced by `rule`" in report_markdown(report)


@pytest.mark.parametrize("shape", ["triangle", "square", "circle"])
def test_rounded_corners_keep_the_shape(shape):
    """A decoder rounds tips by a pixel or two; a person still sees a triangle, and so must the
    detector (rounded tips shrink the enclosing circle, which once made triangles 'squares')."""
    for rot in np.linspace(0, 2 * math.pi / 3, 5):
        img = np.zeros((64, 64), np.uint8)
        if shape == "circle":
            cv2.circle(
                img,
                (32 << world._SUB, 32 << world._SUB),
                12 << world._SUB,
                255,
                -1,
                cv2.LINE_AA,
                world._SUB,
            )
        else:
            pts = world._polygon(shape, 32, 32, 12, float(rot))
            cv2.fillPoly(img, [pts], 255, cv2.LINE_AA, world._SUB)
        soft = cv2.GaussianBlur(img.astype(np.float32) / 255.0, (0, 0), 1.8)
        assert classify_shape(soft)[0] == shape, (shape, rot)
