"""FieldError: validators name the bad field; forms show the message by field, no text parsing."""

from __future__ import annotations

import pickle

import pytest

from sora_desktop.core.errors import FieldError
from sora_desktop.core.request import GenerationRequest, frames_for_seconds
from sora_desktop.core.safe_paths import UnsafePathError, check_path_text
from sora_desktop.core.settings import Settings
from tests.ui_support import (
    model_window,  # noqa: F401 (the window fixture)
    unload_models_after_module,  # noqa: F401
)


def test_field_error_is_a_value_error_with_the_old_text():
    exc = FieldError("steps", "0 is out of range; allowed 1 to 200")
    assert isinstance(exc, ValueError)
    assert (exc.field, exc.message) == ("steps", "0 is out of range; allowed 1 to 200")
    assert str(exc) == "steps: 0 is out of range; allowed 1 to 200"
    again = pickle.loads(pickle.dumps(exc))  # crosses a process boundary intact
    assert (type(again), again.field, again.message) == (FieldError, exc.field, exc.message)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: GenerationRequest(prompt="a ball", steps=0), "steps"),
        (lambda: GenerationRequest(prompt="a ball", width=70), "width"),
        (lambda: GenerationRequest(prompt="  "), "prompt"),
        (lambda: GenerationRequest(prompt="a", guidance=float("nan")), "guidance"),
        (lambda: GenerationRequest(prompt="a", extra={"k": float("inf")}), "extra"),
        (lambda: GenerationRequest.from_json("{"), "request"),
        (lambda: frames_for_seconds(-1, 8), "seconds"),
        (lambda: Settings(theme="purple"), "theme"),
        (lambda: Settings(autosave_seconds=1), "autosave_seconds"),
        (lambda: Settings(hf_endpoint="ftp://x"), "hf_endpoint"),
        (lambda: check_path_text("", "project"), "project"),
    ],
)
def test_validators_raise_field_error_naming_the_field(make, field):
    with pytest.raises(FieldError) as info:
        make()
    assert info.value.field == field
    assert str(info.value) == f"{field}: {info.value.message}"


def test_project_settings_and_path_errors_name_their_field():
    from sora_desktop.core.project import validate_project_settings

    with pytest.raises(FieldError) as info:
        validate_project_settings({"upscale": 99})
    assert info.value.field == "upscale" and "99" in info.value.message
    with pytest.raises(UnsafePathError) as bad:
        check_path_text("a\0b", "start_image")
    assert isinstance(bad.value, FieldError) and bad.value.field == "start_image"


def test_worker_message_uses_the_field_not_the_text():
    from sora_desktop.ui.worker import friendly_error

    # a model error whose message itself holds colons (a Windows path) is a model problem,
    # whatever its text: the user is sent to the model manager, not to a setting
    text = friendly_error(FieldError("model", r"C:\models\wan: has model.ckpt"))
    assert text.startswith("The model's files are missing, damaged or not safe to load")
    assert "Model manager" in text
    assert "previous shot" in friendly_error(FieldError("start_image", "no clip"))


def test_prompt_editor_marks_the_field_the_error_names(window):
    ed = window.editor
    key = ed.show_error(FieldError("seed", "C:\\x: not a seed"))
    assert key == "seed" and ed.seed_error.isVisible()
    assert ed.seed_error.text() == "C:\\x: not a seed"  # the whole message, colons and all
    assert ed.seed_spin.property("invalid") is True
    assert not ed.prompt_error.isVisible()
    # an error that names no field goes under the prompt, as it is (not cut at its first colon)
    key = ed.show_error(ValueError("C:\\clips\\a.mp4: damaged"))
    assert key == "prompt" and ed.prompt_error.text() == "C:\\clips\\a.mp4: damaged"


def test_prompt_editor_real_validation_marks_the_field(window):
    ed = window.editor
    ed.prompt_edit.setPlainText("a ball")
    ed.steps_spin.setValue(0)  # the request's validator refuses it with FieldError("steps")
    assert ed.steps_error.isVisible() and ed.steps_spin.property("invalid") is True
    assert ed.steps_error.text() == "0 is out of range; allowed 1 to 200"


def test_settings_dialog_labels_the_field(qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    from sora_desktop.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    dialog.build = lambda: (_ for _ in ()).throw(FieldError("autosave_seconds", "x: y"))
    dialog.accept()
    assert dialog.result_settings is None
    assert dialog.error.text() == "Autosave every: x: y"  # the row's label in Settings
