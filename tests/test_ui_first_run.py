"""The first-run guide (recommendations for CPU / 8 GB / 24 GB machines, shown once, first
video, folders) and the queue's follow-ups: out-of-memory advice passes through, preflight
refuses a job that cannot fit, and the model picker follows the model manager."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from sora_desktop.core.catalog import MANIFEST_NAME, CatalogEntry, find_entry, load_catalog
from sora_desktop.core.request import EMBEDDED_MODEL_ID, GenerationRequest
from sora_desktop.core.settings import load_settings, settings_path
from sora_desktop.engine.backend import GenerationResult
from sora_desktop.engine.preflight import MemoryInfo, OutOfMemory
from sora_desktop.ui.first_run import (
    SAMPLE_PROMPT,
    FirstRunViewModel,
    Hardware,
    recommend,
)
from sora_desktop.ui.worker import friendly_error
from tests.ui_support import close_window, make_window, unload_models_after_module  # noqa: F401

CPU = Hardware("cpu", ram_gb=16.0)
GPU_8 = Hardware("cuda", "Test GPU 8", 8.0, 64.0)
GPU_24 = Hardware("cuda", "Test GPU 24", 24.0, 64.0)
WAN = "wan2.1-t2v-1.3b"


def entry(mid: str, vram: tuple[float, float, float], ram: tuple[float, float, float]):
    """A downloadable video model with GPU/RAM needs for (fast, balanced, low_vram)."""
    modes = ("fast", "balanced", "low_vram")
    return CatalogEntry.from_dict(
        {
            "id": mid,
            "name": mid.title(),
            "backend": "diffusers",
            "kind": "video",
            "repo_id": f"test/{mid}",
            "files": ["model_index.json"],
            "download_bytes": 10_000_000_000,
            "license": "Apache-2.0",
            "min_vram_gb": dict(zip(modes, vram, strict=True)),
            "min_ram_gb": dict(zip(modes, ram, strict=True)),
            "defaults": {"width": 640, "height": 480, "num_frames": 49, "fps": 8},
            "pipeline": "TestPipeline",
            "description": "test",
        }
    )


@pytest.fixture
def entries():
    embedded = load_catalog()[0]
    return [
        embedded,
        entry("small", (10, 6, 4), (8, 8, 8)),
        entry("medium", (16, 11, 8.2), (16, 32, 32)),
        entry("large", (60, 45, 24), (48, 64, 64)),
    ]


def by_id(recs):
    return {r.entry.id: r for r in recs}


# ---------------------------------------------------------------------------- recommendations
def test_cpu_only_recommends_the_builtin_model_and_says_big_ones_need_a_gpu(entries, tmp_path):
    recs = recommend(CPU, entries, tmp_path)
    assert recs[0].entry.id == EMBEDDED_MODEL_ID and recs[0].fits
    assert [r.entry.id for r in recs if r.fits] == [EMBEDDED_MODEL_ID]
    for r in recs[1:]:
        assert r.limit == "no_gpu" and "NVIDIA graphics card" in r.reason
    vm = FirstRunViewModel(_settings(tmp_path), tmp_path / "rec", entries=entries)
    vm.set_hardware(CPU)
    assert "No graphics card" in vm.summary and "need an NVIDIA graphics card" in vm.summary


def test_8gb_gpu_fits_only_what_its_memory_covers(entries, tmp_path):
    recs = by_id(recommend(GPU_8, entries, tmp_path))
    assert recs["small"].fits and recs["small"].mode == "balanced"  # fast needs 10 GB
    assert not recs["medium"].fits and recs["medium"].limit == "gpu_memory"  # 8.2 > 8
    assert "8.2 GB" in recs["medium"].reason and "yours has 8 GB" in recs["medium"].reason
    assert not recs["large"].fits
    vm = FirstRunViewModel(_settings(tmp_path), tmp_path / "rec", entries=entries)
    vm.set_hardware(GPU_8)
    assert "1 of the 3 downloadable video models fits it" in vm.summary
    order = [r.entry.id for r in recommend(GPU_8, entries, tmp_path)]
    assert order == [EMBEDDED_MODEL_ID, "small", "medium", "large"]  # fitting ones first


def test_24gb_gpu_picks_the_fastest_mode_that_fits(entries, tmp_path):
    recs = by_id(recommend(GPU_24, entries, tmp_path))
    assert (recs["small"].mode, recs["medium"].mode, recs["large"].mode) == (
        "fast",
        "fast",
        "low_vram",
    )
    assert "Low memory mode" in recs["large"].reason
    vm = FirstRunViewModel(_settings(tmp_path), tmp_path / "rec", entries=entries)
    vm.set_hardware(GPU_24)
    assert "Test GPU 24 with 24 GB" in vm.summary and "3 of the 3" in vm.summary


def test_too_little_system_memory_is_named(entries, tmp_path):
    # the card holds "medium" in every mode, but only Fast fits 16 GB of RAM
    recs = by_id(recommend(Hardware("cuda", "G", 24.0, 16.0), entries, tmp_path))
    assert recs["medium"].fits and recs["medium"].mode == "fast"
    recs = by_id(recommend(Hardware("cuda", "G", 12.0, 16.0), entries, tmp_path))
    assert not recs["medium"].fits and recs["medium"].limit == "ram"
    assert "32 GB of system memory" in recs["medium"].reason


def test_real_catalog_on_cpu_and_24gb(tmp_path):
    catalog = load_catalog()
    videos = [e for e in catalog if e.kind == "video"]
    assert len(recommend(CPU, catalog, tmp_path)) == len(videos)  # enhancers are not listed
    assert [r.entry.id for r in recommend(CPU, catalog, tmp_path) if r.fits] == [EMBEDDED_MODEL_ID]
    wan = by_id(recommend(GPU_24, catalog, tmp_path))[WAN]
    assert wan.fits and wan.mode == "fast"  # catalog: 16 GB GPU and 16 GB RAM in fast mode


def test_installed_model_is_marked(entries, tmp_path):
    _install(tmp_path / "models", entries[1])
    recs = by_id(recommend(GPU_24, entries, tmp_path / "models"))
    assert recs["small"].installed and not recs["medium"].installed


def test_hardware_is_validated():
    with pytest.raises(ValueError, match="kind"):
        Hardware("tpu")
    with pytest.raises(ValueError, match="gpu_memory_gb"):
        Hardware("cuda", "G", None)


# ---------------------------------------------------------------------------- the guide
def _settings(tmp_path: Path):
    from sora_desktop.core.settings import Settings

    return Settings(
        output_dir=str(tmp_path / "exports"),
        models_dir=str(tmp_path / "models"),
        autosave_seconds=0,
    )


@pytest.fixture
def home(monkeypatch, tmp_path):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_shown_on_first_run_only_and_again_from_help(qtbot, tmp_path, home):
    w = make_window(tmp_path)
    w.detect_hardware = lambda: CPU
    try:
        dialog = w.maybe_show_first_run()
        assert dialog is not None and dialog.isVisible()
        dialog.close()  # dismissing it in any way counts
        assert w.settings.first_run_done
        assert load_settings(settings_path()).first_run_done  # persisted
        qtbot.wait(50)  # the closed guide is deleted; Help opens a fresh one
        again = w.show_first_run()
        assert again is not dialog and again.isVisible()
        again.close()
    finally:
        close_window(w)
    # the next start: not shown
    w2 = make_window(tmp_path / "second")
    w2.settings = load_settings(settings_path())
    try:
        assert w2.maybe_show_first_run() is None
        w2.detect_hardware = lambda: CPU
        w2.act_first_run.trigger()  # Help → Getting started
        assert w2.first_run_dialog is not None and w2.first_run_dialog.isVisible()
        assert "Getting started" in [a.text().replace("&", "").rstrip("…") for a in _help(w2)]
    finally:
        w2.first_run_dialog.close()
        close_window(w2)


def _help(window):
    menu = next(m for m in window.menuBar().actions() if m.text() == "&Help").menu()
    return menu.actions()


def test_detection_runs_in_the_background(qtbot, tmp_path, home):
    release = threading.Event()
    calls = []

    def slow_detect():
        calls.append(threading.current_thread().name)
        release.wait(10)
        return GPU_8

    w = make_window(tmp_path)
    w.detect_hardware = slow_detect
    try:
        dialog = w.show_first_run()  # returns while the check still runs
        assert dialog.vm.summary == "Checking your computer…"
        assert dialog.verdict(WAN) == "Checking…"
        release.set()
        qtbot.waitUntil(lambda: dialog.vm.hardware is not None, timeout=5_000)
        assert calls == ["hardware-check"]
        assert dialog.summary_label.text().startswith("Graphics card: Test GPU 8")
        assert dialog.verdict(EMBEDDED_MODEL_ID) == "Ready"
        assert dialog.verdict("sana-video-2b") == "Fits"  # about 3 GB in low-memory mode
    finally:
        release.set()
        dialog.vm.wait_detection()
        dialog.close()
        close_window(w)


def test_a_failing_check_still_opens_the_guide(qtbot, tmp_path, home):
    def broken():
        raise RuntimeError("driver exploded")

    w = make_window(tmp_path)
    w.detect_hardware = broken
    try:
        dialog = w.show_first_run()
        qtbot.waitUntil(lambda: dialog.vm.hardware is not None, timeout=5_000)
        assert (
            "could not be checked" in dialog.vm.summary and "driver exploded" in dialog.vm.summary
        )
        assert dialog.verdict(EMBEDDED_MODEL_ID) == "Ready"
    finally:
        dialog.close()
        close_window(w)


def test_real_detection_on_this_machine_is_cpu(tmp_path):
    from sora_desktop.ui.first_run import detect_hardware

    hw = detect_hardware()  # the test machine has no GPU
    assert hw.kind in ("cpu", "mps") and hw.gpu_memory_gb is None
    assert hw.ram_gb is None or hw.ram_gb > 0


def test_folders_shown_are_the_settings_paths(qtbot, tmp_path, home):
    w = make_window(tmp_path)
    w.detect_hardware = lambda: CPU
    opened: list[Path] = []
    try:
        dialog = w.show_first_run()
        dialog.vm.opener = opened.append
        expected = {
            "projects": Path(w.settings.output_dir),
            "exports": Path(w.settings.output_dir),
            "models": Path(w.settings.models_dir),
            "settings": settings_path().parent,
            "autosave": w.autosaver.recovery_dir,
        }
        assert {f.key: f.path for f in dialog.vm.folders()} == expected
        for key, path in expected.items():
            assert dialog.folder_labels[key].text() == str(path)
        assert w.autosaver.recovery_dir.is_dir()
        assert not Path(w.settings.models_dir).exists()  # nothing is made just by looking
        dialog.folder_buttons["models"].click()
        assert Path(w.settings.models_dir).is_dir() and opened == [Path(w.settings.models_dir)]
    finally:
        dialog.close()
        close_window(w)


def _fake_generate(seen: list):
    def generate(request, cancel):
        seen.append(request)
        yield GenerationResult(np.full((4, 16, 16, 3), 120, np.uint8), request.fps, request)

    return generate


def test_make_my_first_video_queues_the_embedded_model(qtbot, tmp_path, home):
    seen: list[GenerationRequest] = []
    w = make_window(tmp_path, generate_fn=_fake_generate(seen))
    w.detect_hardware = lambda: CPU
    try:
        # another model is installed and picked; the first video still uses the built-in one
        _install(Path(w.settings.models_dir), find_entry("sana-video-2b"))
        w.editor.refresh_models()
        w.editor.model_combo.setCurrentIndex(w.editor.model_combo.findData("sana-video-2b"))
        assert w.editor.current_choice().id == "sana-video-2b"
        dialog = w.maybe_show_first_run()
        dialog.first_video_button.click()
        assert not dialog.isVisible() and w.settings.first_run_done
        jobs = w.queue_vm.jobs
        assert len(jobs) == 1
        assert jobs[0].request.model_id == EMBEDDED_MODEL_ID
        assert jobs[0].request.prompt == SAMPLE_PROMPT
        assert w.editor.prompt_edit.toPlainText() == SAMPLE_PROMPT  # the prompt box is filled
        qtbot.waitUntil(lambda: jobs[0].status == "done", timeout=20_000)
        assert seen[0].model_id == EMBEDDED_MODEL_ID
        assert w.project_vm.selected_clip(jobs[0].shot_id).is_file()
    finally:
        close_window(w)


# ---------------------------------------------------------------------------- follow-ups
def test_friendly_error_passes_the_out_of_memory_advice_through():
    advice = (
        "Wan 2.1 VACE 1.3B ran out of memory in Balanced mode. Choose Low VRAM mode, or a "
        "smaller size or fewer frames."
    )
    assert friendly_error(OutOfMemory(advice)) == advice
    # a plain runtime OOM (no advice) still gets the generic help
    generic = friendly_error(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert generic.startswith("Not enough memory") and "CUDA" not in generic
    assert "Low memory" in generic  # the mode's name as Settings shows it


def test_out_of_memory_advice_reaches_the_user(qtbot, tmp_path, home):
    advice = "Test model ran out of memory in Fast mode. Choose Balanced mode."

    def generate(request, cancel):
        raise OutOfMemory(advice)
        yield  # a generator, like a backend

    w = make_window(tmp_path, generate_fn=generate)
    try:
        jobs = w.make_first_video()
        qtbot.waitUntil(lambda: jobs[0].is_terminal, timeout=10_000)
        assert jobs[0].status == "failed"
        assert any(text == advice for _title, text in w.messages), w.messages
    finally:
        close_window(w)


def _wan_request() -> GenerationRequest:
    return GenerationRequest(
        prompt="a boat on a lake", model_id=WAN, width=832, height=480, num_frames=81, fps=16
    )


def test_preflight_refuses_a_job_that_cannot_fit_before_it_starts(qtbot, tmp_path, home):
    seen: list = []
    w = make_window(tmp_path, generate_fn=_fake_generate(seen))
    w.queue_vm.memory_probe = lambda: MemoryInfo(None, None, None, 64.0, 64.0)  # no GPU
    w.ask = lambda title, text, buttons, default=0: "Cancel"  # advice, not a wall (issue 23)
    try:
        shot = w.project_vm.add_shot(_wan_request())
        assert w._generate_shot(shot.id) == []
        assert w.queue_vm.jobs == [] and w.gen_worker.pending() == []
        assert w.project_vm.shot(shot.id).takes == []  # no doomed take left behind
        title, text = w.messages[-1]
        assert title == "This shot may not fit this computer"
        assert "No NVIDIA GPU was found" in text and "embedded model" in text
        # a GPU with room: the same shot is queued
        w.queue_vm.memory_probe = lambda: MemoryInfo("Big GPU", 40.0, 48.0, 64.0, 64.0)
        jobs = w._generate_shot(shot.id)
        assert len(jobs) == 1 and jobs[0].request.model_id == WAN
        qtbot.waitUntil(lambda: jobs[0].is_terminal, timeout=10_000)
    finally:
        close_window(w)


def test_preflight_advice_for_a_small_gpu(qtbot, tmp_path, home):
    w = make_window(tmp_path)
    w.settings.memory_mode = "fast"
    w.queue_vm.memory_probe = lambda: MemoryInfo("Small GPU", 12.0, 12.0, 64.0, 64.0)
    w.ask = lambda title, text, buttons, default=0: "Cancel"  # advice, not a wall (issue 23)
    try:
        shot = w.project_vm.add_shot(_wan_request())
        assert w._generate_shot(shot.id) == []
        text = w.messages[-1][1]
        assert "Will not fit" in text and "Choose Low memory mode" in text  # Balanced: tight
    finally:
        close_window(w)


def test_builtin_model_needs_no_memory_probe(qtbot, tmp_path, home, monkeypatch):
    import sora_desktop.engine.preflight as preflight

    def no_probe():
        raise AssertionError("the built-in model must not probe the GPU (that imports torch)")

    monkeypatch.setattr(preflight, "probe_memory", no_probe)
    w = make_window(tmp_path, generate_fn=_fake_generate([]))
    try:
        jobs = w.make_first_video()
        assert len(jobs) == 1
        qtbot.waitUntil(lambda: jobs[0].is_terminal, timeout=10_000)
    finally:
        close_window(w)


def _install(models_dir: Path, e: CatalogEntry) -> None:
    folder = e.folder(models_dir)
    folder.mkdir(parents=True)
    (folder / "model_index.json").write_text("{}")
    manifest = {
        "model_id": e.id,
        "complete": True,
        "files": [{"path": "model_index.json", "size": 2}],
    }
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))


def _choices(window) -> list[str]:
    combo = window.editor.model_combo
    return [combo.itemData(i) for i in range(combo.count())]


def test_model_picker_follows_the_model_manager(qtbot, tmp_path, home):
    w = make_window(tmp_path)
    try:
        w.open_model_manager()
        manager = w.model_manager
        cog = find_entry("sana-video-2b")
        assert "sana-video-2b" not in _choices(w)
        _install(Path(w.settings.models_dir), cog)
        assert "sana-video-2b" not in _choices(w)  # only the manager's signal refreshes it
        manager.models_changed.emit()  # what the manager sends after an install
        assert "sana-video-2b" in _choices(w)
        (cog.folder(w.settings.models_dir) / MANIFEST_NAME).unlink()  # removed
        manager.models_changed.emit()
        assert "sana-video-2b" not in _choices(w)
        assert EMBEDDED_MODEL_ID in _choices(w)
    finally:
        w.model_manager.shutdown()
        w.model_manager.close()
        close_window(w)


def test_guide_opens_the_model_manager_and_follows_installs(qtbot, tmp_path, home):
    w = make_window(tmp_path)
    w.detect_hardware = lambda: GPU_8
    try:
        dialog = w.show_first_run()
        qtbot.waitUntil(lambda: dialog.vm.hardware is not None, timeout=5_000)
        assert dialog.verdict("sana-video-2b") == "Fits"
        dialog.models_button.click()
        assert w.model_manager.isVisible()
        _install(Path(w.settings.models_dir), find_entry("sana-video-2b"))
        w.model_manager.models_changed.emit()
        assert dialog.verdict("sana-video-2b") == "Installed · fits"
        assert "sana-video-2b" in _choices(w)
    finally:
        w.model_manager.shutdown()
        w.model_manager.close()
        dialog.close()
        close_window(w)
