"""Prompt enhancement: short prompts become canonical captions, deterministically."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sora_desktop.engine.embedded import world
from sora_desktop.engine.enhance import (
    GENERIC_DETAIL,
    PromptEnhancer,
    RuleEnhancer,
    get_enhancer,
    parse_prompt,
)


@pytest.fixture
def enhancer() -> RuleEnhancer:
    return RuleEnhancer()


def test_the_documented_example(enhancer):
    assert (
        enhancer.enhance("red ball right")
        == "a red circle moves to the right on a black background, smooth steady motion"
    )


@pytest.mark.parametrize(
    ("prompt", "color", "shape", "motion", "background"),
    [
        ("a ball falling", None, "circle", "down", None),
        ("blue box rightward on yellow", "blue", "square", "right", "yellow"),
        ("scarlet pyramid rising against a navy blue backdrop", "red", "triangle", "up", "blue"),
        ("a golden star orbiting on a white background", "yellow", "star", "orbiting", "white"),
        ("the green cube is static", "green", "square", "still", None),
        ("a teal dot zooms in", "cyan", "circle", "growing", None),
        ("violet disc bouncing back and forth", "purple", "circle", "bouncing", None),
        ("pink square drifts toward the top left corner", "pink", "square", "up-left", None),
        ("a white orb heading to the lower right", "white", "circle", "down-right", None),
        ("a ball moving left and right", None, "circle", "bouncing", None),
        ("green box goes from top to bottom", "green", "square", "down", None),
        (
            "a red ball moving from left to right on a blue to white gradient",
            "red",
            "circle",
            "right",
            "blue",
        ),
    ],
)
def test_everyday_words_map_to_the_vocabulary(prompt, color, shape, motion, background):
    parsed = parse_prompt(prompt)
    assert len(parsed.objects) == 1
    obj = parsed.objects[0]
    assert (obj.color, obj.shape, obj.motion) == (color, shape, motion)
    assert parsed.background == background


def test_missing_background_and_motion_are_filled_in(enhancer):
    out = enhancer.enhance("a blue square")
    assert out.startswith("a blue square moves to the right on a black background")
    # the default background never hides the object
    assert "on a white background" in enhancer.enhance("a black ball")
    assert "a red square stays still on a white background" in enhancer.enhance(
        "the cube is static, white background"
    )


def test_several_objects_and_a_gradient(enhancer):
    out = enhancer.enhance("a red ball falls and a green star rises on a blue to pink gradient")
    assert out == (
        "a red circle moves down and a green star moves up on a gradient background from blue "
        "to pink from top to bottom, smooth steady motion"
    )
    horiz = parse_prompt("yellow ball, gradient from black to white from left to right")
    assert (horiz.background, horiz.background2, horiz.gradient_axis) == (
        "black",
        "white",
        "horizontal",
    )


def test_users_own_object_and_colour_words_are_kept(enhancer):
    out = enhancer.enhance("a red dog runs right")
    assert out.startswith("a red dog moves to the right")
    assert enhancer.enhance("a grey box moves left").startswith("a grey square moves to the left")
    assert enhancer.enhance("an orange ball").startswith("an orange circle")


def test_unparseable_prompt_keeps_the_words_and_gets_detail(enhancer):
    out = enhancer.enhance("Sunset over the ocean")
    assert out.startswith("Sunset over the ocean")
    assert out.endswith(GENERIC_DETAIL)
    assert enhancer.enhance(out) == out


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t", "?!", "..."])
def test_never_empty(enhancer, prompt):
    assert enhancer.enhance(prompt).strip()


def test_paraphrased_world_captions_parse_to_their_scene():
    """Every caption grammar variant the model was trained on reads back to its ground truth."""
    rng = np.random.default_rng(5)
    for _ in range(400):
        scene = world.sample_scene(rng, held_out=None)
        text = world.caption(scene, rng)
        parsed = parse_prompt(text)
        assert [(o.color, o.shape, o.motion) for o in parsed.objects] == [
            (o.color, o.shape, o.motion) for o in scene.objects
        ], text
        assert (parsed.background, parsed.background2) == (scene.background, scene.background2)
        if scene.background2:
            assert parsed.gradient_axis == scene.gradient_axis, text


def test_enhanced_caption_keeps_the_scene_and_is_a_fixed_point(enhancer):
    rng = np.random.default_rng(9)
    for _ in range(150):
        scene = world.sample_scene(rng, held_out=None)
        out = enhancer.enhance(world.caption(scene, rng))
        parsed = parse_prompt(out)
        assert [(o.color, o.shape, o.motion) for o in parsed.objects] == [
            (o.color, o.shape, o.motion) for o in scene.objects
        ]
        assert enhancer.enhance(out) == out


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_deterministic_non_empty_caption(text):
    a = RuleEnhancer().enhance(text)
    assert a.strip() and a == RuleEnhancer().enhance(text)


def test_factory():
    assert isinstance(get_enhancer(), RuleEnhancer)
    assert isinstance(get_enhancer("rule"), PromptEnhancer)
    with pytest.raises(ValueError, match="enhancer"):
        get_enhancer("nope")
    with pytest.raises(ValueError, match="prompt"):
        RuleEnhancer().enhance(None)  # type: ignore[arg-type]


def test_the_name_table_resolves_every_enhancer_lazily():
    """Enhancers are found through a name -> "module:Class" table, not by importing a module
    that registers itself: the LLM code is imported only when "llm" is asked for."""
    import subprocess
    import sys

    from sora_desktop.engine.enhance import ENHANCERS, enhancer_class

    for name in ENHANCERS:
        cls = enhancer_class(name)
        assert issubclass(cls, PromptEnhancer) and cls.name == name
    code = (
        "import sys\n"
        "from sora_desktop.engine.enhance import enhancer_class, get_enhancer\n"
        "assert 'sora_desktop.engine.enhance.llm' not in sys.modules\n"
        "assert get_enhancer().name == 'rule'\n"
        "assert 'sora_desktop.engine.enhance.llm' not in sys.modules\n"
        "assert enhancer_class('llm').__module__ == 'sora_desktop.engine.enhance.llm'\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
