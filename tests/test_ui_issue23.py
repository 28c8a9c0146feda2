"""Issue 23 through the real window: frame rules in the editor (every family), Continue disabled
with its reason for a model that cannot start from an image, a fit problem at Generate time is
advice with "Run anyway" / "Switch to <mode>", and the model note names the actual memory mode.

The catalog is the test's own (every pipeline family of ``PIPELINE_RULES``, figures chosen
here), installed by writing our manifest; the memory probe reports a fake GPU."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sora_desktop.core.capabilities import PIPELINE_RULES
from sora_desktop.core.catalog import MANIFEST_NAME, load_catalog
from sora_desktop.core.memory_modes import MODE_NAMES
from sora_desktop.core.request import EMBEDDED_MODEL_ID, GenerationRequest
from sora_desktop.engine.backend import GenerationResult
from sora_desktop.engine.preflight import MemoryInfo
from tests.tiny_models import write_catalog
from tests.ui_support import close_window, make_window, unload_models_after_module  # noqa: F401

WAN = "test/wan"
NO_IMAGE = "test/HunyuanVideoPipeline"  # its family has no image-to-video pipeline
MODES = ("fast", "balanced", "low_vram")


def _entry(mid: str, pipeline: str, vram=(16, 11, 8.2), ram=(16, 32, 32), **extra) -> dict:
    return {
        "id": mid,
        "name": f"Model {pipeline}" if mid != WAN else "Test Wan",
        "kind": "video",
        "backend": "diffusers",
        "repo_id": mid,
        "revision": "main",
        "files": ["model_index.json"],
        "download_bytes": 1000,
        "license": "Apache-2.0",
        "min_vram_gb": dict(zip(MODES, vram, strict=True)),
        "min_ram_gb": dict(zip(MODES, ram, strict=True)),
        "defaults": {"width": 64, "height": 64, "num_frames": 33, "fps": 16, "steps": 2},
        "pipeline": pipeline,
        "supports_start_image": True,
        "description": "test entry",
        **extra,
    }


def _catalog_entries() -> list[dict]:
    entries = [_entry(WAN, "WanPipeline")]
    entries += [_entry(f"test/{key}", key) for key in PIPELINE_RULES if key != "WanPipeline"]
    return entries


def _install(models_dir: Path, mid: str) -> None:
    entry = next(e for e in load_catalog() if e.id == mid)
    folder = entry.folder(models_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model_index.json").write_text("{}")
    files = [{"path": "model_index.json", "size": 2}]
    manifest = {"model_id": mid, "complete": True, "files": files}
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    catalog = write_catalog(tmp_path / "catalog.json", _catalog_entries())
    monkeypatch.setenv("SORA_DESKTOP_CATALOG", str(catalog))
    seen: list[GenerationRequest] = []

    def generate(request, cancel):
        seen.append(request)
        yield GenerationResult(np.full((4, 16, 16, 3), 120, np.uint8), request.fps, request)

    w = make_window(tmp_path, generate_fn=generate)
    w.seen = seen
    for e in load_catalog():
        if e.needs_download:
            _install(Path(w.settings.models_dir), e.id)
    w.editor.refresh_models()
    w.queue_vm.memory_probe = lambda: MemoryInfo("Test GPU 12", 12.0, 12.0, 32.0, 32.0)
    qtbot.waitExposed(w)
    yield w
    close_window(w)


def _pick(w, model_id: str) -> None:
    combo = w.editor.model_combo
    idx = combo.findData(model_id)
    assert idx >= 0, f"{model_id} is not offered"
    combo.setCurrentIndex(idx)


def _set_duration(w, seconds: float, fps: int | None = None) -> None:
    ed = w.editor
    if fps is not None:
        ed.fps_spin.setValue(fps)
    ed.duration_spin.setValue(seconds)


# ------------------------------------------------------------------ frame rules (point 3)
def test_wan_two_seconds_at_16_fps_is_marked_with_the_valid_durations_and_not_queued(window):
    w = window
    w.add_shot()
    _pick(w, WAN)
    _set_duration(w, 2.0, 16)
    ed = w.editor
    text = ed.duration_error.text()
    assert ed.duration_error.isVisibleTo(w) and ed.duration_spin.property("invalid")
    # the figures: 32 frames; 29 or 33 frames are 1.81 s / 2.06 s
    assert "32 frames" in text and "1.81 s (29 frames)" in text and "2.06 s (33 frames)" in text
    assert ed.duration_spin.value() == 2.0  # the user's value is kept, never changed silently
    assert w.generate_selected() == [] and w.queue_vm.jobs == []
    # one click takes the nearest valid duration, shown in the field
    assert ed.rules.duration_fix.isVisibleTo(w)
    assert ed.rules.duration_fix.text() == "Use 2.06 s (33 frames)"
    ed.rules.duration_fix.click()
    assert ed.duration_spin.value() == pytest.approx(2.06)
    assert not ed.duration_error.text() and not ed.rules.duration_fix.isVisibleTo(w)
    assert w.project_vm.selected.request.num_frames == 33


@pytest.mark.parametrize("family", sorted(PIPELINE_RULES))
def test_every_familys_frame_rule_is_checked_in_seconds(window, family):
    w = window
    mid = WAN if family == "WanPipeline" else f"test/{family}"
    m = PIPELINE_RULES[family].frame_multiple
    fps = 24
    w.add_shot()
    _pick(w, mid)
    bad = 2 * m + 3  # never k*m+1 for m >= 4 (m = 1 would take any count)
    assert m > 1 and (bad - 1) % m
    _set_duration(w, bad / fps, fps)
    ed = w.editor
    below, above = 2 * m + 1, 3 * m + 1
    text = ed.duration_error.text()
    assert f"{below / fps:.2f} s ({below} frames)" in text
    assert f"{above / fps:.2f} s ({above} frames)" in text
    assert w.generate_selected() == [] and w.queue_vm.jobs == []
    nearest = below if bad - below < above - bad else above
    assert ed.rules.duration_fix.text() == f"Use {nearest / fps:.2f} s ({nearest} frames)"
    ed.rules.duration_fix.click()
    assert not ed.duration_error.text()
    assert w.project_vm.selected.request.num_frames == nearest


def test_a_shot_trimmed_outside_the_editor_is_refused_before_queueing(window):
    w = window
    shot = w.project_vm.add_shot(
        GenerationRequest("a boat", model_id=WAN, width=64, height=64, num_frames=32, fps=16)
    )
    assert w._generate_shot(shot.id) == []
    title, text = w.messages[-1]
    assert "1.81 s (29 frames)" in text and "2.06 s (33 frames)" in text
    assert w.queue_vm.jobs == [] and w.project_vm.shot(shot.id).takes == []


# ------------------------------------------------------------------ continue (point 4)
def test_continue_is_disabled_with_the_reason_for_a_model_without_image_start(window):
    w = window
    w.add_shot()
    w.add_shot()  # the second shot can continue
    ed = w.editor
    _pick(w, EMBEDDED_MODEL_ID)
    assert ed.continue_check.isEnabled() and not ed.rules.continue_note.isVisibleTo(w)
    _pick(w, NO_IMAGE)
    _set_duration(w, 33 / 16, 16)  # a duration the model takes, so the change is committed
    assert w.project_vm.selected.request.model_id == NO_IMAGE
    assert not ed.continue_check.isEnabled()
    note = ed.rules.continue_note.text()
    assert ed.rules.continue_note.isVisibleTo(w) and "cannot start from an image" in note
    assert "Model HunyuanVideoPipeline" in note and ed.continue_check.toolTip() == note
    # selecting the shot again (a fresh load) keeps it disabled; another model re-enables it
    w.project_vm.select(w.project_vm.shots[0].id)
    w.project_vm.select(w.project_vm.shots[1].id)
    assert not ed.continue_check.isEnabled() and ed.rules.continue_note.isVisibleTo(w)
    _pick(w, EMBEDDED_MODEL_ID)
    assert ed.continue_check.isEnabled() and not ed.rules.continue_note.isVisibleTo(w)


def test_a_continuing_shot_on_such_a_model_is_refused_with_the_right_reason(window):
    w = window
    first = w.project_vm.add_shot(GenerationRequest("a boat", seed=1))
    req = GenerationRequest("a boat", model_id=NO_IMAGE, width=64, height=64, num_frames=33)
    second = w.project_vm.add_shot(req.with_changes(fps=16))
    w.project_vm.set_continue(second.id, True)
    w.project_vm.select(second.id)
    assert w.editor.continue_check.isEnabled()  # checked: the user can still turn it off
    assert w._generate_shot(second.id) == []
    text = w.messages[-1][1]
    assert "cannot start from an image" in text and "no finished clip" not in text
    assert first.id and w.queue_vm.jobs == []


# ------------------------------------------------------------------ fit is advice (point 2)
def _wan_shot(w):
    req = GenerationRequest("a boat", model_id=WAN, width=64, height=64, num_frames=33, fps=16)
    return w.project_vm.add_shot(req)


def test_no_gpu_is_advice_and_run_anyway_queues_the_shot(window, qtbot):
    w = window
    w.queue_vm.memory_probe = lambda: MemoryInfo(None, None, None, 64.0, 64.0)
    shot = _wan_shot(w)
    asked = []
    w.ask = lambda title, text, buttons, default=0: (
        asked.append((title, text, buttons)) or ("Cancel")
    )
    assert w._generate_shot(shot.id) == [] and w.queue_vm.jobs == []
    title, text, buttons = asked[-1]
    assert "No NVIDIA GPU" in text and buttons == ["Run anyway", "Cancel"]
    w.ask = lambda title, text, buttons, default=0: "Run anyway"
    jobs = w._generate_shot(shot.id)
    assert len(jobs) == 1 and jobs[0].request.model_id == WAN
    qtbot.waitUntil(lambda: jobs[0].is_terminal, timeout=10_000)
    assert jobs[0].status == "done" and w.seen[-1].model_id == WAN


def test_switch_to_a_mode_that_fits(window, qtbot):
    w = window
    w.settings.memory_mode = "fast"  # 16 GB in Fast; 11 GB in Balanced fits the 12 GB GPU
    w.queue_vm.memory_probe = lambda: MemoryInfo("Test GPU 12", 12.0, 12.0, 64.0, 64.0)
    shot = _wan_shot(w)
    asked = []

    def answer(title, text, buttons, default=0):
        asked.append(buttons)
        return buttons[1]

    w.ask = answer
    jobs = w._generate_shot(shot.id)
    assert asked == [["Run anyway", f"Switch to {MODE_NAMES['balanced']} mode", "Cancel"]]
    assert w.settings.memory_mode == "balanced" and w.queue_vm.settings.memory_mode == "balanced"
    assert len(jobs) == 1
    qtbot.waitUntil(lambda: jobs[0].is_terminal, timeout=10_000)


# ------------------------------------------------------------------ small (point 9)
def test_model_note_names_the_memory_mode_in_use(window):
    w = window
    w.add_shot()
    _pick(w, WAN)
    assert "in Balanced mode" in w.editor.model_note.text()
    settings = w.settings.__class__(**{**w.settings.__dict__, "memory_mode": "low_vram"})
    w.apply_settings(settings)
    _pick(w, WAN)
    note = w.editor.model_note.text()
    assert f"8.2 GB of GPU memory in {MODE_NAMES['low_vram']} mode" in note
