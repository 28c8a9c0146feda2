import json

import pytest

from sora_desktop.core.request import MAX_PROMPT_CHARS, GenerationRequest


def test_defaults_are_valid_and_round_trip():
    req = GenerationRequest("a red circle moves right", seed=7, negative_prompt="blurry")
    again = GenerationRequest.from_json(req.to_json())
    assert again == req
    assert json.loads(req.to_json())["version"] == 1


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "   \n"}, "prompt"),
        ({"prompt": "x" * 10_000}, "prompt"),
        ({"negative_prompt": "x" * (MAX_PROMPT_CHARS + 1)}, "negative_prompt"),
        ({"width": 65}, "width"),
        ({"height": 0}, "height"),
        ({"width": 100_000}, "width"),
        ({"num_frames": 0}, "num_frames"),
        ({"fps": 0}, "fps"),
        ({"steps": 0}, "steps"),
        ({"steps": 5000}, "steps"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**40}, "seed"),
        ({"guidance": -1.0}, "guidance"),
        ({"guidance": float("nan")}, "guidance"),
        ({"steps": 2.5}, "steps"),
        ({"steps": True}, "steps"),
        ({"model_id": ""}, "model_id"),
    ],
)
def test_invalid_values_name_the_field(changes, field):
    kwargs = {"prompt": "a cat"} | changes
    with pytest.raises(ValueError) as err:
        # a new shot's unwritten prompt ("") is stored, but no request that can run has it
        GenerationRequest(**kwargs).validate()
    assert str(err.value).startswith(f"{field}:")


def test_ten_thousand_character_prompt_message_names_the_limit():
    with pytest.raises(ValueError, match=str(MAX_PROMPT_CHARS)):
        GenerationRequest("y" * 10_000)


def test_newer_request_version_is_refused():
    data = GenerationRequest("a").to_dict() | {"version": 99}
    with pytest.raises(ValueError, match="newer"):
        GenerationRequest.from_dict(data)


@pytest.mark.parametrize("text", ["", "[]", "{", '{"seed": 1}', '{"prompt": 3}'])
def test_bad_json_gives_value_error(text):
    with pytest.raises(ValueError):
        GenerationRequest.from_json(text)


def test_seconds_from_frames_and_fps():
    assert GenerationRequest("a", num_frames=16, fps=8).seconds == 2.0
