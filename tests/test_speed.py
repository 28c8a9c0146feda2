"""The speed switches ("Faster"): one list of options, validated by name, kept in Settings and
recorded in each downloaded model's take request so a clip can be made again exactly."""

from __future__ import annotations

import pytest

from sora_desktop.core.capabilities import EMBEDDED_MODEL_ID
from sora_desktop.core.errors import FieldError
from sora_desktop.core.request import GenerationRequest
from sora_desktop.core.settings import Settings
from sora_desktop.core.speed import SpeedOptions
from sora_desktop.studio.speed import record_speed


def test_options_are_validated_by_name():
    with pytest.raises(FieldError, match="speed.cache"):
        SpeedOptions(cache="teacache")
    with pytest.raises(FieldError, match="speed.attention"):
        SpeedOptions(attention="turbo")
    with pytest.raises(FieldError, match="speed.fp8"):
        SpeedOptions(fp8="yes")  # type: ignore[arg-type]
    with pytest.raises(FieldError, match="unknown option 'warp'"):
        SpeedOptions.from_extra({"speed": {"warp": 9}})
    with pytest.raises(FieldError, match="speed.cache"):
        Settings(speed={"cache": "nope"})


def test_only_switches_that_are_on_are_recorded():
    assert SpeedOptions().into_extra({"shift": 3.0}) == {"shift": 3.0}
    on = SpeedOptions(cache="first_block", fp8=True).into_extra({"shift": 3.0})
    assert on == {
        "shift": 3.0,
        "speed": {"cache": "first_block", "attention": "native", "fp8": True, "compile": False},
    }
    assert SpeedOptions.from_extra(on) == SpeedOptions(cache="first_block", fp8=True)
    assert SpeedOptions.from_extra({}) == SpeedOptions()


def test_a_take_of_a_downloaded_model_records_the_settings_speed():
    settings = Settings(speed={"cache": "first_block"})
    wan = GenerationRequest("a fox", model_id="wan2.2-ti2v-5b")
    recorded = record_speed(wan, settings)
    assert recorded.extra["speed"]["cache"] == "first_block"
    assert GenerationRequest.from_json(recorded.to_json()) == recorded  # saved with the take
    embedded = GenerationRequest("a fox", model_id=EMBEDDED_MODEL_ID)
    assert record_speed(embedded, settings) == embedded  # no switches on the built-in model
    assert "speed" not in record_speed(wan, Settings()).extra


def test_settings_dialog_edits_the_switches(qtbot):
    from sora_desktop.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    assert not dialog.faster.isChecked()
    dialog.faster.setChecked(True)
    dialog.fp8.setChecked(True)
    built = dialog.build()
    assert built.speed_options() == SpeedOptions(cache="first_block", fp8=True)
    again = SettingsDialog(built)
    qtbot.addWidget(again)
    assert again.faster.isChecked() and again.fp8.isChecked()
