"""Issue 23, point 7, through the real window and the real worker path (engine registry): a
slow backend held at each phase shows loading → denoising → decoding → writing in the queue
row, in order, each with its own estimate; the first estimate does not count the load time; the
text counts down between step reports; "Step N/N · about 0 s left" is gone while decoding."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine import registry
from sora_desktop.engine.backend import Backend, GenerationResult, LatentsReady, StepEvent
from sora_desktop.studio.eta import PhaseClock
from tests.ui_support import close_window, make_window, unload_models_after_module  # noqa: F401

MODEL = "test/slow-phases"
STEPS = 5
STEP_S = 1.0  # seconds per denoising step
GATE_S = 30  # a held phase is released by the test well before this


class Gates:
    def __init__(self) -> None:
        self.load = threading.Event()
        self.denoise = threading.Event()  # held after step 2
        self.decode = threading.Event()  # held after the latents
        self.write = threading.Event()  # held inside "save the clip"


class PhasedBackend(Backend):
    def __init__(self, model_id: str, gates: Gates) -> None:
        self.model_id = model_id
        self.gates = gates

    def capabilities(self):
        from sora_desktop.core.capabilities import capabilities_for

        return capabilities_for(self.model_id)

    def generate(self, request, cancel=None):
        for step in range(1, STEPS + 1):
            if step == 3:
                assert self.gates.denoise.wait(GATE_S)
            time.sleep(STEP_S)
            yield StepEvent(step, STEPS)
        yield LatentsReady({"x": np.zeros(1, np.float32)})
        assert self.gates.decode.wait(GATE_S)
        yield GenerationResult(np.full((4, 16, 16, 3), 90, np.uint8), request.fps, request)


@pytest.fixture
def setup(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    gates = Gates()

    def factory(model_id: str, device: str) -> Backend:
        assert gates.load.wait(GATE_S)  # "loading" lasts until the test lets it go
        return PhasedBackend(model_id, gates)

    monkeypatch.setitem(registry._factories, MODEL, factory)
    from sora_desktop.studio import media

    real_save = media.save_take_files  # studio.decode.finish_take calls it

    def slow_save(result, out_dir: Path, stem: str):
        assert gates.write.wait(GATE_S)
        return real_save(result, out_dir, stem)

    monkeypatch.setattr(media, "save_take_files", slow_save)
    registry.unload_all()
    w = make_window(tmp_path)  # the default generate: registry.generate on the worker thread
    yield w, gates
    for gate in (gates.load, gates.denoise, gates.decode, gates.write):
        gate.set()
    close_window(w)
    registry.unload_all()


def test_phases_are_shown_in_order_each_with_its_own_estimate(qtbot, setup):
    w, gates = setup
    shot = w.project_vm.add_shot(
        GenerationRequest("a lamp", model_id=MODEL, width=64, height=64, num_frames=9, fps=8)
    )
    job = w._generate_shot(shot.id)[0]
    panel = w.queue_panel
    seen: list[str] = []

    def text() -> str:
        row = panel.rows.get(job.id)
        t = row.detail.text() if row is not None else ""
        if t and (not seen or seen[-1] != t):
            seen.append(t)
        return t

    # 1. loading (held): no step, no number made up from nothing
    qtbot.waitUntil(lambda: text().startswith("Loading the model"), timeout=10_000)
    time.sleep(1.5)  # a long load ...
    qtbot.wait(300)
    assert text() == "Loading the model…"
    gates.load.set()

    # 2. denoising: the first step gives no estimate yet (the load time must not count) ...
    qtbot.waitUntil(lambda: text().startswith("Denoising · step 1 / 5"), timeout=10_000)
    assert text().endswith("estimating…")
    # ... the second gives one from the steps alone: 3 steps left at ~1 s a step
    qtbot.waitUntil(lambda: text().startswith("Denoising · step 2 / 5"), timeout=10_000)
    first = w.queue_vm.phase_status(job.id).seconds_left
    assert first is not None and 1.5 <= first <= 3.5 * STEP_S  # 1.5 s of loading not in it
    # 3. it counts down between step reports (held at step 2: no report comes)
    changes: list[str] = []
    w.queue_vm.job_changed.connect(lambda jid: changes.append(jid))
    before = text()
    qtbot.wait(1600)
    after = text()
    assert changes == [] and after != before and after.startswith("Denoising · step 2 / 5")
    assert w.queue_vm.phase_status(job.id).seconds_left < first - 1.0
    gates.denoise.set()

    # 4. decoding (held after the latents): the finished step count is no longer shown
    qtbot.waitUntil(lambda: text().startswith("Decoding the video"), timeout=20_000)
    qtbot.wait(600)
    assert "Step" not in text() and "step 5 / 5" not in text() and "0 s left" not in text()
    gates.decode.set()

    # 5. writing (held inside save)
    qtbot.waitUntil(lambda: text().startswith("Writing the clip"), timeout=10_000)
    gates.write.set()
    qtbot.waitUntil(lambda: job.is_terminal, timeout=10_000)
    assert job.status == "done"
    text()
    order = [t.split(" ·")[0].rstrip("…") for t in seen]
    phases = [p for i, p in enumerate(order) if i == 0 or order[i - 1] != p]
    assert phases == [
        "Waiting",
        "Loading the model",
        "Denoising",
        "Decoding the video",
        "Writing the clip",
        "Done",
    ]


def test_a_second_job_of_the_same_model_estimates_every_phase_from_the_first():
    now = [0.0]
    clock = PhaseClock(lambda: now[0])
    for phase, seconds in (("loading", 20.0), ("denoising", None), ("decoding", 8.0)):
        clock.begin("a", "m", phase)
        if phase == "denoising":
            for step in range(1, 6):
                now[0] += 2.0
                clock.step("a", step, 5)
        else:
            now[0] += seconds
    clock.begin("a", "m", "writing")
    now[0] += 1.0
    clock.end("a")
    clock.begin("b", "m", "loading")
    now[0] += 5.0
    assert clock.status("b").seconds_left == pytest.approx(15.0)  # 20 s last time, 5 s gone
    clock.step("b", 1, 5)
    assert clock.status("b").seconds_left == pytest.approx(8.0)  # 4 steps x 2 s (last rate)
    clock.begin("b", "m", "decoding")
    assert clock.status("b").seconds_left == pytest.approx(8.0)
    now[0] += 3.0
    assert clock.status("b").seconds_left == pytest.approx(5.0)
    clock.begin("b", "m", "writing")
    assert clock.status("b").seconds_left == pytest.approx(1.0)
