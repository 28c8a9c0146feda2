"""Example storyboards for the built-in model (the start screen offers them; issue 20).

Each is a few shots in words the built-in model draws well (shapes, colours and motions; see
``studio.vocabulary``), so a new user gets a film that works without downloading anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from sora_desktop.core import project as core_project
from sora_desktop.core.project import Project
from sora_desktop.core.request import EMBEDDED_MODEL_ID, GenerationRequest


@dataclass(frozen=True)
class ExampleStoryboard:
    name: str
    prompts: tuple[str, ...]


EXAMPLE_STORYBOARDS: tuple[ExampleStoryboard, ...] = (
    ExampleStoryboard(
        "Bouncing ball",
        (
            "a red circle bounces up and down on a plain green background",
            "a red circle moves to the right on a plain green background",
            "a red circle shrinks on a plain green background",
        ),
    ),
    ExampleStoryboard(
        "Night sky",
        (
            "a yellow star moves to the left on a blue background",
            "a white circle grows on a black background",
            "a yellow star orbits the center on a black background",
        ),
    ),
    ExampleStoryboard(
        "Shapes dance",
        (
            "a white square grows on a purple background",
            "a pink triangle orbits the center on a black background",
        ),
    ),
)


def example_project(example: ExampleStoryboard) -> Project:
    """A new, unsaved project holding the example's shots (built-in model, fixed seeds so the
    same example gives the same film)."""
    project = core_project.new_project(example.name)
    for n, prompt in enumerate(example.prompts):
        project.add_shot(GenerationRequest(prompt, seed=n + 1, model_id=EMBEDDED_MODEL_ID))
    return project
