"""Issue 23 through the real window: the model manager's badges (capabilities, and the fit per
memory mode on a 12 GB GPU / 32 GB RAM machine from ``core/fit.py``), why a model cannot run here
(it can still be downloaded), "Installed (…)" never cut off, and deleting a model in use (its
jobs cancelled visibly, the model unloaded, the status bar and the editor updated)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from sora_desktop.core.catalog import MANIFEST_NAME, find_entry, load_catalog
from sora_desktop.core.fit import Machine, fit_for
from sora_desktop.core.memory_modes import MODE_NAMES
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine import registry
from sora_desktop.engine.backend import (
    Backend,
    GenerationResult,
    LatentsReady,
    StepEvent,
)
from sora_desktop.engine.preflight import MemoryInfo
from tests.ui_support import close_window, make_window, unload_models_after_module  # noqa: F401

WAN = "wan2.1-t2v-1.3b"
GPU_12_RAM_32 = MemoryInfo("NVIDIA GeForce RTX 4070", 11.5, 12.0, 30.0, 32.0)
MACHINE = Machine("NVIDIA GeForce RTX 4070", 12.0, 32.0)


def _install(models_dir: Path, model_id: str, size: int = 2) -> None:
    """An installed model as the app sees it: a folder with our manifest (``size``: the
    weights' bytes, a sparse file, so a real model's size costs no disk)."""
    entry = find_entry(model_id)
    folder = entry.folder(models_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model_index.json").write_text("{}")
    files = [{"path": "model_index.json", "size": 2}]
    if size > 2:
        with open(folder / "weights.safetensors", "wb") as f:
            f.truncate(size)
        files.append({"path": "weights.safetensors", "size": size})
    manifest = {"model_id": model_id, "complete": True, "files": files}
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _manager(w, mode: str):
    w.settings.memory_mode = mode
    w.queue_vm.memory_probe = lambda: GPU_12_RAM_32
    w.open_model_manager()
    return w.model_manager


# ------------------------------------------------------------------ badges and fit (point 2)
def test_badges_and_fit_per_mode_on_a_12_gb_gpu_with_32_gb_ram(qtbot, tmp_path, home):
    w = make_window(tmp_path)
    try:
        mm = _manager(w, "low_vram")
        assert mm.machine_label.text().startswith("This computer: NVIDIA GeForce RTX 4070 (12 GB)")
        verdicts = fit_for(find_entry(WAN), MACHINE)
        low = verdicts["low_vram"]
        assert low.verdict == "fits"  # the method's own answer for Wan 2.1 1.3B on this machine
        cell = mm.row_text(WAN, "On this computer")
        assert cell.startswith("✓ Fits · about ")
        can = mm.row_text(WAN, "Can do")
        assert "Text→video" in can and "Start image" in can and "16 fps" in can
        mm.select(WAN)
        details = mm.details.text()
        for mode in ("fast", "balanced", "low_vram"):
            assert f"{MODE_NAMES[mode]}: " in details  # a verdict for every memory mode
        assert "Why not here" not in details
        # the embedded model runs anywhere
        embedded = load_catalog()[0]
        assert mm.row_text(embedded.id, "On this computer") == "✓ Runs on any computer"
    finally:
        w.model_manager.shutdown()
        close_window(w)


def test_a_model_too_big_here_says_why_and_can_still_be_downloaded(qtbot, tmp_path, home):
    w = make_window(tmp_path)
    try:
        mm = _manager(w, "balanced")
        too_big = next(
            e
            for e in load_catalog()
            if e.kind == "video"
            and e.needs_download
            and fit_for(e, MACHINE)["balanced"].verdict == "too_big"
        )
        assert mm.row_text(too_big.id, "On this computer") == "✗ Too big"
        mm.select(too_big.id)
        details = mm.details.text()
        assert "Why not here:" in details and "You can still download it" in details
        assert fit_for(too_big, MACHINE)["balanced"].reason.split(" needs")[0] in details
        assert mm.btn_download.isEnabled()  # never a wall
    finally:
        w.model_manager.shutdown()
        close_window(w)


def test_installed_status_is_not_cut_off(qtbot, tmp_path, home):
    w = make_window(tmp_path)
    try:
        _install(Path(w.settings.models_dir), WAN, size=17 * 1024**3)  # "Installed (17.0 GB)"
        mm = _manager(w, "balanced")
        mm.refresh()
        text = mm.row_text(WAN, "Status")
        assert text.startswith("Installed (")
        heads = [mm.table.horizontalHeaderItem(i).text() for i in range(mm.table.columnCount())]
        col = heads.index("Status")
        needed = mm.table.fontMetrics().horizontalAdvance(text)
        assert mm.table.columnWidth(col) >= needed
    finally:
        w.model_manager.shutdown()
        close_window(w)


# ------------------------------------------------------------------ deleting a model in use
class SlowBackend(Backend):
    """Steps until cancelled (one every 20 ms): a job that is running when the model goes."""

    def __init__(self, model_id: str, unloaded: list) -> None:
        self.model_id = model_id
        self.unloaded = unloaded

    def capabilities(self):
        from sora_desktop.core.capabilities import capabilities_for

        return capabilities_for(self.model_id)

    def generate(self, request, cancel=None):
        total = request.steps
        for step in range(1, 10_000):
            if cancel is not None:
                cancel.raise_if_cancelled()
            time.sleep(0.02)
            yield StepEvent(min(step, total), total)
        yield LatentsReady({"x": np.zeros(1, np.float32)})
        yield GenerationResult(np.zeros((4, 16, 16, 3), np.uint8), request.fps, request)

    def unload(self) -> None:
        self.unloaded.append(self.model_id)


def test_deleting_a_model_in_use_cancels_its_jobs_and_unloads_it(
    qtbot, tmp_path, home, monkeypatch
):
    unloaded: list[str] = []
    monkeypatch.setitem(registry._factories, WAN, lambda mid, dev: SlowBackend(mid, unloaded))
    w = make_window(tmp_path)  # the real worker path: registry.generate
    terminal: dict[str, list[str]] = {}
    for name in ("finished", "failed", "cancelled"):
        getattr(w.gen_worker, name).connect(
            lambda jid, *_a, n=name: terminal.setdefault(jid, []).append(n)
        )
    try:
        _install(Path(w.settings.models_dir), WAN)
        w.editor.refresh_models()
        w.queue_vm.memory_probe = lambda: MemoryInfo("Big GPU", 80.0, 80.0, 256.0, 256.0)
        req = GenerationRequest(
            "a boat", model_id=WAN, width=64, height=64, num_frames=33, fps=16, steps=200
        )
        s1 = w.project_vm.add_shot(req)
        s2 = w.project_vm.add_shot(req.with_changes(prompt="a second boat"))
        w.project_vm.select(s2.id)
        w.ask = lambda title, text, buttons, default=0: "Run anyway"
        j1 = w._generate_shot(s1.id)[0]
        j2 = w._generate_shot(s2.id)[0]
        qtbot.waitUntil(lambda: j1.status == "running" and j1.step > 2, timeout=20_000)
        name = find_entry(WAN).name
        qtbot.waitUntil(lambda: w.model_status.text() == f"Model ready: {name}", timeout=5_000)

        mm = _manager(w, "balanced")
        asked: list[str] = []
        mm.confirm = lambda title, text: asked.append(text) or True
        mm.select(WAN)
        mm.btn_delete.click()
        text = asked[-1]
        assert "Shot 1 (generating now)" in text and "Shot 2 (waiting)" in text
        assert "Shots 1, 2 of this storyboard use it" in text

        qtbot.waitUntil(lambda: j1.is_terminal and j2.is_terminal, timeout=20_000)
        assert j1.status == j2.status == "cancelled"
        qtbot.waitUntil(lambda: len(terminal) == 2, timeout=5_000)
        assert terminal == {j1.id: ["cancelled"], j2.id: ["cancelled"]}  # one signal each
        assert w.queue_vm.notes[j1.id] == f"Cancelled: {name} was deleted"
        qtbot.waitUntil(lambda: unloaded == [WAN], timeout=10_000)  # the registry let it go
        assert not w.model_status.text().startswith("Model ready")
        assert name in w.model_status.text()
        # the editor names the model and says it is not installed (not a raw id)
        assert w.editor.model_combo.currentText() == f"{name} (not installed)"
        assert w.editor.current_choice().id == WAN
        assert "not installed" in w.editor.model_note.text()
        assert not find_entry(WAN).folder(w.settings.models_dir).exists()
    finally:
        if getattr(w, "model_manager", None) is not None:
            w.model_manager.shutdown()
        close_window(w)


def test_the_delete_question_is_plain_when_nothing_uses_the_model(qtbot, tmp_path, home):
    w = make_window(tmp_path)
    try:
        _install(Path(w.settings.models_dir), WAN)
        mm = _manager(w, "balanced")
        asked: list[str] = []
        mm.confirm = lambda title, text: asked.append(text) or False
        mm.select(WAN)
        mm.btn_delete.click()
        assert asked == [f"Delete {find_entry(WAN).name} from {mm.models_dir}?"]
        assert find_entry(WAN).folder(w.settings.models_dir).exists()  # said no: kept
    finally:
        w.model_manager.shutdown()
        close_window(w)
