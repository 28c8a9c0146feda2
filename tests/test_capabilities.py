"""One capability record per model (issue 16): produced from the embedded model's config or a
catalog entry, and read by the editor, the validators, the ETA and the backends."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from sora_desktop.core import capabilities as caps_mod
from sora_desktop.core.capabilities import (
    EMBEDDED_MODEL_ID,
    ModelCapabilities,
    capabilities_for,
    capabilities_from_entry,
    embedded_capabilities,
    segments_for,
)
from sora_desktop.core.catalog import find_entry, load_catalog
from sora_desktop.core.jobs import Job, JobQueue
from sora_desktop.core.request import GenerationRequest

ROOT = Path(__file__).resolve().parents[1]
WAN = "wan2.1-t2v-1.3b"
LTX = "ltx-video-0.9.7-distilled"


def test_the_shipped_embedded_config_states_the_same_figures():
    config = json.loads((ROOT / "model" / "embedded" / "config.json").read_text())
    assert (config["size"], config["frames"], config["fps"]) == (
        caps_mod.EMBEDDED_SIZE,
        caps_mod.EMBEDDED_WINDOW,
        caps_mod.EMBEDDED_FPS,
    )
    # the request's defaults are the embedded model's
    r = GenerationRequest("x")
    assert (r.width, r.height, r.num_frames, r.fps) == (
        config["size"],
        config["size"],
        config["frames"],
        config["fps"],
    )


def test_embedded_record_comes_from_its_config(monkeypatch, tmp_path):
    shipped = embedded_capabilities()
    assert shipped.window == 16 and shipped.sizes == ((64, 64),)
    assert shipped.max_frames == 16 + 15 * 7 == 121  # 8 chained 16-frame windows
    assert shipped.frame_rule == "any" and shipped.supports_start_image
    # another checkpoint (a retrained model with 8-frame windows at 32x32) gives another record
    (tmp_path / "config.json").write_text(json.dumps({"size": 32, "frames": 8, "fps": 4}))
    monkeypatch.setenv(caps_mod.ENV_EMBEDDED_MODEL, str(tmp_path))
    other = capabilities_for(EMBEDDED_MODEL_ID)
    assert (other.window, other.sizes, other.default_fps) == (8, ((32, 32),), 4)
    assert other.max_frames == 8 + 7 * 7
    # and the editor offers what that record says
    from sora_desktop.ui.model_choices import embedded_choice, sizes_for

    choice = embedded_choice()
    assert choice.max_frames == 57
    assert [(w, h) for w, h, _ in sizes_for(choice)] == [(32, 32)]


def test_catalog_entries_give_their_pipelines_rules():
    entries = load_catalog()
    wan = capabilities_for(WAN, entries)
    assert wan.frame_rule == "4k+1" and wan.sizes == () and wan.default_size == (832, 480)
    assert wan.supports_start_image and wan.supports_end_image and not wan.supports_audio
    assert wan.window == 81  # WanPipeline's window: a longer shot is made in windows
    ltx = capabilities_from_entry(find_entry("ltx-video-0.9.7-distilled", entries))
    assert ltx.frame_rule == "8k+1" and ltx.size_multiple == 32 and ltx.supports_start_image
    wan22 = capabilities_from_entry(find_entry("wan2.2-ti2v-5b", entries))
    assert wan22.size_multiple == 32 and wan22.supports_start_image  # its "rules" key
    ltx2 = capabilities_from_entry(find_entry("ltx-2", entries))
    assert ltx2.supports_audio and ltx2.text_to_video
    framepack = capabilities_from_entry(find_entry("framepack-i2v", entries))
    assert not framepack.text_to_video and framepack.supports_end_image
    # issue 17: every video model starts from an image; one keeps a last frame, one has sound
    video = [capabilities_from_entry(e) for e in entries if e.kind == "video"]
    assert all(c.supports_start_image for c in video)
    assert any(c.supports_end_image for c in video) and any(c.supports_audio for c in video)


def test_an_entry_may_turn_its_start_image_off():
    wan = find_entry(WAN, load_catalog())
    off = capabilities_from_entry(replace(wan, supports_start_image=False))
    assert not off.supports_start_image and not off.supports_end_image
    # the model's name as the user sees it, not its id
    with pytest.raises(ValueError, match=f"start_image: {wan.name} cannot start from an image"):
        off.check(GenerationRequest("x", model_id=WAN, num_frames=81, start_image="/x.png"))


def test_the_diffusers_backend_states_the_catalog_record():
    from sora_desktop.core.capabilities import rules_for
    from sora_desktop.engine.diffusers_backend import DiffusersBackend

    for entry in load_catalog():
        if entry.backend != "diffusers" or entry.kind != "video":  # a sound model has no frames
            continue
        record = DiffusersBackend.capabilities(SimpleNamespace(entry=entry))
        assert record == capabilities_from_entry(entry)
        fam = rules_for(entry)
        # max_frames: one pass, or (a windowed model) the longest long shot
        one_pass = record.max_frames if record.window == 0 else fam.max_frames
        assert (fam.frame_multiple, fam.size_multiple, fam.max_frames) == (
            record.frame_multiple,
            record.size_multiple,
            one_pass,
        )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"num_frames": 80},
            "num_frames: 80 frames does not fit Wan 2.1 VACE 1.3B, which needs a length in "
            "steps of 4",
        ),
        # Wan continues from an image, so a long shot runs up to its windows' limit (641)
        ({"num_frames": 645}, "num_frames: 80.6 s (645 frames) is too long for"),
    ],
)
def test_one_validator_for_what_a_model_accepts(changes, field):
    wan = capabilities_for(WAN)
    ok = GenerationRequest("x", model_id=WAN, num_frames=81, width=832, height=480)
    wan.check(ok)
    with pytest.raises(ValueError, match=re.escape(field)):
        wan.check(ok.with_changes(**changes))


def test_ltx_sizes_must_be_multiples_of_32():
    ltx = capabilities_for(LTX)
    with pytest.raises(ValueError, match="width: 48 is not a multiple of 32"):
        ltx.check(GenerationRequest("x", model_id=LTX, num_frames=9, width=48))


def test_segments_use_the_models_own_window():
    embedded = GenerationRequest("x", num_frames=121)
    assert segments_for(embedded) == 8
    assert segments_for(GenerationRequest("x", num_frames=16)) == 1
    assert segments_for(GenerationRequest("x", num_frames=17)) == 2
    wan = GenerationRequest("x", model_id=WAN, num_frames=81, width=832, height=480, steps=50)
    assert segments_for(wan) == 1
    assert segments_for(wan, window=16) == 6  # what it used to count
    # the queue view-model counts steps with the same rule
    from sora_desktop.ui import viewmodels

    assert viewmodels.segments_for is segments_for


def test_eta_of_a_long_window_model():
    """An 81-frame Wan job runs in one pass of 50 steps: its ETA is 50 steps at the measured
    rate, not 6 x 50 (the embedded model's 16-frame window applied to every model)."""
    now = [0.0]
    queue = JobQueue(clock=lambda: now[0])
    queue.submit(Job("a", "s1", "t1", GenerationRequest("x", steps=10)))
    queue.mark_running("a")
    for step in range(1, 11):
        now[0] += 2.0  # 2 s a step
        queue.mark_progress("a", step)
    queue.mark_done("a", "out.mp4")

    request = GenerationRequest("x", model_id=WAN, num_frames=81, width=832, height=480, steps=50)
    wan_job = queue.submit(Job("b", "s2", "t2", request))
    assert wan_job.total == 50
    # a 121-frame embedded clip is 8 chained passes of its steps
    long_job = queue.submit(Job("c", "s3", "t3", GenerationRequest("x", num_frames=121, steps=5)))
    assert long_job.total == 40
    assert queue.eta_seconds("b") == pytest.approx(50 * 2.0)


def test_unknown_models_get_a_permissive_one_pass_record():
    record = capabilities_for("someone/unknown-model", entries=[])
    assert isinstance(record, ModelCapabilities)
    assert record.segments(500) == 1 and record.frame_rule == "any"


def test_cli_checks_the_models_record_before_loading_it(capsys, monkeypatch, tmp_path):
    """The CLI reads the same record: a clip too long for the embedded model is refused with
    the model's own limit, before minutes of loading."""
    from sora_desktop.engine import registry
    from tests.test_cli import run_main

    def no_loading(*_a, **_k):
        raise AssertionError("the model was loaded before the request was checked")

    monkeypatch.setattr(registry, "load_backend", no_loading)
    monkeypatch.chdir(tmp_path)
    code, _out, err = run_main(capsys, "generate", "a red ball", "--frames", "200")
    assert code == 2
    limit = embedded_capabilities().max_frames
    # the option, the label on screen and the limit in seconds (no code word, no model id)
    fps = embedded_capabilities().default_fps
    assert f"--frames (Duration): {200 / fps:.1f} s (200 frames) is too long for" in err
    assert f"the longest is {limit / fps:.1f} s ({limit} frames)" in err
    assert "num_frames" not in err and EMBEDDED_MODEL_ID not in err


def test_prompt_editor_reads_the_models_record(qtbot):
    """The editor's limits come from the record: the embedded model's 121 frames from its
    config, and a Wan model's 4k+1 rule and frame limit (which it did not know before)."""
    from sora_desktop.ui.model_choices import ModelChoice
    from sora_desktop.ui.prompt_editor import PromptEditor
    from sora_desktop.ui.viewmodels import ProjectViewModel

    editor = PromptEditor(ProjectViewModel(), models_dir=None)
    qtbot.addWidget(editor)
    assert editor.current_choice().max_frames == embedded_capabilities().max_frames
    editor.fps_spin.setValue(8)
    editor.duration_spin.setValue(16.0)  # 128 frames > 121
    assert editor.validate() is None
    assert "allowed up to 121 frames" in editor.duration_error.text()

    wan = capabilities_for(WAN)
    choice = ModelChoice(WAN, wan.name, "", {"width": 832, "height": 480, "fps": 16}, wan)
    editor.choices.append(choice)
    editor.model_combo.addItem(choice.name, choice.id)
    editor.model_combo.setCurrentIndex(editor.model_combo.count() - 1)
    editor.fps_spin.setValue(16)
    editor.duration_spin.setValue(5.0)  # 80 frames: not 4k+1
    assert editor.validate() is None
    text = editor.duration_error.text()  # in seconds since issue 23, with the frame counts
    assert (
        "needs a length in steps of 4 frames" in text
        and "(77 frames)" in text
        and "(81 frames)" in text
    )
    editor.duration_spin.setValue(5.06)  # 81 frames
    request = editor.validate()
    assert request is not None and request.num_frames == 81 and request.model_id == WAN
    editor.duration_spin.setValue(45.0)  # 720 frames: more than Wan's longest long shot
    assert editor.validate() is None
    assert f"allowed up to {wan.max_frames} frames" in editor.duration_error.text()


def test_a_start_image_only_family_asks_for_one():
    fp = capabilities_for("framepack-i2v")
    ok = GenerationRequest(
        "x", model_id="framepack-i2v", num_frames=37, width=832, height=480, start_image="/x.png"
    )
    fp.check(ok)
    with pytest.raises(ValueError, match="start_image: FramePack .* from a start image only"):
        fp.check(ok.with_changes(start_image=None))
