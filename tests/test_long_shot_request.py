"""Timed prompts on the request (issue 17, long shots): validated loudly, saved and loaded, read
by one rule, checked by the prompt policy, and a change marks a finished clip out of date; the
capabilities of a windowed model allow several windows."""

from __future__ import annotations

import copy
import json

import pytest

from sora_desktop.core.capabilities import (
    MAX_FRAMES,
    WINDOW_OVERLAP,
    capabilities_from_entry,
    long_shot_max_frames,
)
from sora_desktop.core.catalog import (
    CatalogEntry,
    default_catalog_path,
    find_entry,
    load_catalog,
)
from sora_desktop.core.errors import FieldError
from sora_desktop.core.project import Shot, Take
from sora_desktop.core.request import MAX_PROMPT_CHARS, GenerationRequest, TimedPrompt
from sora_desktop.studio.takes import changed_settings

LTX = "ltx-video-0.9.7-distilled"  # an LTX-Video catalog model (161-frame windows, 8k+1)


def _request(**kw) -> GenerationRequest:
    return GenerationRequest(**({"prompt": "a red fox runs", "num_frames": 40, "fps": 8} | kw))


def test_timed_prompts_round_trip_and_older_requests_still_load():
    req = _request(timed_prompts=[{"at": 1, "prompt": "a blue car"}, {"at": 2.5, "prompt": "rain"}])
    assert req.timed_prompts == (TimedPrompt(1, "a blue car"), TimedPrompt(2.5, "rain"))
    data = json.loads(req.to_json())
    assert data["timed_prompts"] == [
        {"at": 1, "prompt": "a blue car"},
        {"at": 2.5, "prompt": "rain"},
    ]
    assert GenerationRequest.from_json(req.to_json()) == req
    older = _request().to_dict()
    del older["timed_prompts"]  # a request saved before long shots
    assert GenerationRequest.from_dict(older).timed_prompts == ()


def test_the_prompt_in_force_at_a_frame():
    req = _request(timed_prompts=(TimedPrompt(1.0, "a blue car"), TimedPrompt(2.5, "rain")))
    # 8 fps: 1.0 s is frame 8, 2.5 s is frame 20
    assert [req.prompt_for_frame(f) for f in (0, 7, 8, 19, 20, 39)] == [
        "a red fox runs",
        "a red fox runs",
        "a blue car",
        "a blue car",
        "rain",
        "rain",
    ]


@pytest.mark.parametrize(
    ("timed", "message"),
    [
        ([{"at": 0, "prompt": "x"}], "prompt 1: 0 s is outside the clip"),
        ([{"at": 5, "prompt": "x"}], "prompt 1: 5 s is outside the clip; use a time after 0 s"),
        ([{"at": -1, "prompt": "x"}], "outside the clip"),
        ([{"at": 2, "prompt": "x"}, {"at": 1, "prompt": "y"}], "prompt 2: 1 s is not after"),
        ([{"at": 2, "prompt": "x"}, {"at": 2, "prompt": "y"}], "list the times in order"),
        ([{"at": 1, "prompt": "  "}], "prompt 1 at 1 s: the text must not be empty"),
        ([{"at": 1, "prompt": "y" * (MAX_PROMPT_CHARS + 1)}], f"limit is {MAX_PROMPT_CHARS}"),
        ([{"at": 1, "prompt": "\ud800"}], "not valid text"),
        ([{"at": 1, "prompt": 3}], "must be text"),
        ([{"at": True, "prompt": "x"}], "time must be a number of seconds"),
        ([{"at": "1", "prompt": "x"}], "time must be a number of seconds"),
        ([{"at": float("nan"), "prompt": "x"}], "not a usable time"),
        ([{"at": 10**400, "prompt": "x"}], "not a usable time"),
        ([{"time": 1, "prompt": "x"}], "prompt 1 must have a time in seconds and a text"),
        ([["1", "x"]], "prompt 1 must have a time in seconds and a text"),
        ("at 1 s: x", "must be a list of times and texts"),
        ([{"at": i / 10 + 0.1, "prompt": "x"} for i in range(65)], "too many"),
    ],
)
def test_bad_timed_prompts_name_the_field(timed, message):
    with pytest.raises(FieldError) as err:
        _request(timed_prompts=timed)
    assert err.value.field == "timed_prompts"
    assert message in err.value.message


def test_a_shorter_clip_refuses_a_timed_prompt_it_no_longer_reaches():
    req = _request(timed_prompts=(TimedPrompt(4.5, "rain"),))
    with pytest.raises(FieldError, match="timed_prompts: prompt 1: 4.5 s is outside"):
        req.with_changes(num_frames=32)


def test_the_policy_reads_the_timed_prompts_too():
    from sora_desktop.core.policy import check_request, load_policy

    policy = load_policy(user_path=None)  # the shipped policy only
    ok = _request(timed_prompts=(TimedPrompt(1.0, "a blue car"),))
    assert check_request(ok, policy).allowed
    bad = _request(timed_prompts=(TimedPrompt(1.0, "celebrity porn"),))
    assert not check_request(bad, policy).allowed


def test_changed_timed_prompts_mark_a_finished_clip_out_of_date():
    made = _request(timed_prompts=(TimedPrompt(1.0, "a blue car"),))
    shot = Shot.create(made)
    take = Take.create(made)
    take.status = "done"
    shot.takes.append(take)
    shot.selected_take = take.id
    assert changed_settings(shot) == []
    shot.request = made.with_changes(timed_prompts=(TimedPrompt(1.0, "a green car"),))
    assert changed_settings(shot) == ["timed_prompts"]


def test_a_windowed_model_that_starts_from_an_image_allows_several_windows():
    ltx = capabilities_from_entry(find_entry(LTX, load_catalog()))
    assert ltx.window == 161 and ltx.supports_start_image
    assert ltx.max_frames == long_shot_max_frames(161, 8) <= MAX_FRAMES
    assert (ltx.max_frames - 1) % 8 == 0  # still on LTX's 8k+1 rule
    assert ltx.segments(161) == 1 and ltx.segments(161 + 160) == 2 and ltx.segments(169) == 2
    assert WINDOW_OVERLAP == 1
    # a model that cannot start from an image cannot chain windows: one pass, as before
    entry = find_entry(LTX, load_catalog())
    no_image = capabilities_from_entry(
        CatalogEntry.from_dict({**_entry_dict(entry), "supports_start_image": False})
    )
    assert no_image.window == 0 and no_image.max_frames == 257


def test_window_frames_in_the_catalog_entry_is_checked_against_the_frame_rule(caplog):
    entry = find_entry(LTX, load_catalog())
    small = capabilities_from_entry(
        CatalogEntry.from_dict({**_entry_dict(entry), "window_frames": 9})
    )
    assert small.window == 9 and small.max_frames == 9 + 7 * 8
    wrong = capabilities_from_entry(
        CatalogEntry.from_dict({**_entry_dict(entry), "window_frames": 10})
    )
    assert wrong.window == 161 and "window_frames" in caplog.text


def _entry_dict(entry: CatalogEntry) -> dict:
    """The entry as the catalog file states it."""
    models = json.loads(default_catalog_path().read_text(encoding="utf-8"))["models"]
    return copy.deepcopy(next(m for m in models if m["id"] == entry.id))


def test_a_timed_prompt_that_no_window_would_use_is_refused():
    ltx = capabilities_from_entry(find_entry(LTX, load_catalog()))
    base = GenerationRequest("a fox", model_id=LTX, fps=24, width=704, height=480)
    one_pass = base.with_changes(num_frames=121, timed_prompts=(TimedPrompt(3.0, "rain"),))
    with pytest.raises(FieldError, match="in one pass .* prompts over time would not be used"):
        ltx.check(one_pass)
    # windows start at 0 s and 160 / 24 = 6.67 s: a prompt from 3 s on reaches the second one
    two = base.with_changes(num_frames=321, timed_prompts=(TimedPrompt(3.0, "rain"),))
    ltx.check(two)
    assert ltx.window_starts(321) == [0, 160]
    hidden = two.with_changes(timed_prompts=(TimedPrompt(3.0, "rain"), TimedPrompt(4.0, "snow")))
    with pytest.raises(FieldError, match=r"prompt 1 at 3 s would not be used.* 0 s, 6.66667 s"):
        ltx.check(hidden)
