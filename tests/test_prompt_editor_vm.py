"""The prompt editor's logic runs without Qt (issue 16: the widget only lays out and forwards)."""

import subprocess
import sys

import pytest

from sora_desktop.core.capabilities import ModelCapabilities
from sora_desktop.core.errors import FieldError
from sora_desktop.core.request import GenerationRequest
from sora_desktop.ui import prompt_editor_vm as logic
from sora_desktop.ui.model_choices import ModelChoice


def _choice(max_frames: int = 40, frame_multiple: int = 1) -> ModelChoice:
    caps = ModelCapabilities(
        max_frames=max_frames, frame_multiple=frame_multiple, default_size=(64, 48)
    )
    return ModelChoice("m", "Test model", "", {"fps": 12, "guidance": 6}, caps)


def _fields(**changes) -> logic.EditorFields:
    values = dict(
        prompt="a boat",
        negative_prompt="",
        seed=7,
        steps=20,
        guidance=4.004,
        fps=8,
        seconds=2.0,
        size=None,
        choice=_choice(),
    )
    values.update(changes)
    return logic.EditorFields(**values)


def test_imports_no_qt():
    code = (
        "import sys, sora_desktop.ui.prompt_editor_vm\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'torch')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_request_from_fields():
    base = GenerationRequest("old words", seed=1)
    req = logic.request_from_fields(base, _fields(), user_words="my words")
    assert (req.prompt, req.seed, req.steps, req.fps) == ("a boat", 7, 20, 8)
    assert req.num_frames == 16  # 2 s at 8 fps
    assert (req.width, req.height) == (64, 48)  # no size chosen: the model's default
    assert req.guidance == 4.0  # two decimals, as the spin box shows
    assert req.model_id == "m" and req.original_prompt == "my words"


def test_frames_checks_name_the_duration_field():
    with pytest.raises(FieldError) as err:
        logic.frames_for(0.01, 8, _choice())
    assert logic.error_key(err.value) == "duration"
    with pytest.raises(FieldError, match="allowed up to 40 frames"):
        logic.frames_for(10.0, 8, _choice(max_frames=40))
    with pytest.raises(FieldError, match="steps of 4 frames"):
        logic.frames_for(2.0, 8, _choice(frame_multiple=4))  # 16 frames: not 4k+1
    assert logic.frames_for(2.125, 8, _choice(frame_multiple=4)) == 17


def test_every_bad_field_is_reported_at_once():
    base = GenerationRequest("ok", seed=1)
    errors = logic.field_errors(base, _fields(prompt="x" * 5000, steps=0, seconds=0.0))
    assert {logic.error_key(e) for e in errors} == {"prompt", "steps", "duration"}
    # an empty prompt is a shot not written yet (its other settings may change); Generate
    # refuses it (test_ui_new_shot)
    blank = logic.field_errors(base, _fields(prompt="", steps=0))
    assert {logic.error_key(e) for e in blank} == {"steps"}
    with pytest.raises(FieldError) as err:
        logic.request_from_fields(base, _fields(fps=0), None)
    assert logic.error_key(err.value) == "fps"


def test_model_defaults_and_labels():
    size, numbers = logic.model_defaults(_choice())
    assert size == (64, 48) and numbers == {"fps": 12, "guidance": 6.0}  # steps not named
    assert logic.commit_label("prompt") == "Edit prompt"
    assert logic.commit_label("seed") == "Change seed"
    assert logic.enhance_note("my words", "my words") is None
    assert "“my words”" in logic.enhance_note("my words", "better words")
    with pytest.raises(FieldError):
        logic.enhanced("   ")
