"""Music jobs ("Make music for this film…") stop on the queue panel's "Cancel all" and on Esc
("Cancel running job"), like shot jobs: cooperative cancel, exactly one terminal signal, the row
says "Cancelled", nothing lands on the sound track. Driven through the real window: the menu
entry, the dialog, the queue panel's button and the action's shortcut; only the engine's music
call is replaced by a slow fake that honours the cancel token at every step."""

from __future__ import annotations

import time

import pytest

from sora_desktop.core.catalog import load_catalog
from tests.ui_support import close_window, make_window

STEPS = 150  # ~4.5 s if nobody cancels: the test fails (finished, not cancelled) without the fix
STEP_S = 0.03


def _sound_entry():
    return next(e for e in load_catalog() if e.kind == "sound")


@pytest.fixture
def window(qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    entry = _sound_entry()
    monkeypatch.setattr(
        "sora_desktop.core.catalog.installed_sound_models", lambda *_a, **_k: [entry]
    )
    steps_seen = []

    def slow_music(run, token, on_load, on_step):
        import numpy as np

        for step in range(1, STEPS + 1):
            token.raise_if_cancelled()
            time.sleep(STEP_S)
            steps_seen.append(step)
            on_step(step, STEPS)
        rate = 8000
        return np.zeros((int(run.request.seconds * rate), 2), np.float32), rate

    monkeypatch.setattr("sora_desktop.studio.music._default_music", slow_music)
    w = make_window(tmp_path)
    qtbot.waitExposed(w)
    w.steps_seen = steps_seen
    yield w
    close_window(w)


def _start_music(qtbot, w) -> tuple[str, dict[str, list]]:
    """Make music through the menu entry and the dialog; the job's signals, recorded."""
    w.act_make_music.trigger()
    dlg = w.music_dialog
    dlg.prompt.setPlainText("calm piano at sunset")
    dlg.seconds.setValue(1.0)
    dlg.ok_button.click()
    assert not dlg.isVisible(), dlg.error.text()
    (job_id,) = [j for j, row in w.music_rows.items() if row.active]
    signals: dict[str, list] = {"finished": [], "failed": [], "cancelled": []}
    worker = w._music_thread.worker
    worker.finished.connect(lambda j, _p: signals["finished"].append(j))
    worker.failed.connect(lambda j, _m: signals["failed"].append(j))
    worker.cancelled.connect(lambda j: signals["cancelled"].append(j))
    qtbot.waitUntil(lambda: len(w.steps_seen) >= 3, timeout=20_000)  # it is running
    return job_id, signals


def _ended_cancelled(qtbot, w, job_id, signals) -> None:
    row = w.music_rows[job_id]
    qtbot.waitUntil(lambda: not row.active, timeout=20_000)
    assert row.detail.text() == "Cancelled"
    assert signals == {"finished": [], "failed": [], "cancelled": [job_id]}
    assert len(w.steps_seen) < STEPS  # stopped at a step, not run to the end
    qtbot.wait(300)  # no second terminal signal comes later
    assert signals["cancelled"] == [job_id] and not signals["finished"] + signals["failed"]
    assert w.project_vm.project.audio == []
    assert not w.queue_panel.cancel_all_btn.isEnabled()  # nothing left to cancel
    assert not w.act_cancel.isEnabled()


def test_cancel_all_stops_a_music_job(qtbot, window):
    w = window
    job_id, signals = _start_music(qtbot, w)
    button = w.queue_panel.cancel_all_btn
    assert button.isEnabled()  # only a music job runs: the button is still offered
    button.click()
    assert w.music_rows[job_id].detail.text() == "Stopping…"
    _ended_cancelled(qtbot, w, job_id, signals)


def test_esc_stops_a_running_music_job(qtbot, window):
    w = window
    job_id, signals = _start_music(qtbot, w)
    assert w.act_cancel.isEnabled() and w.act_cancel.shortcut().toString() == "Esc"
    w.act_cancel.trigger()
    _ended_cancelled(qtbot, w, job_id, signals)


def test_cancel_all_while_a_second_music_job_waits(qtbot, window):
    """Two music jobs (one running, one waiting on the worker's thread): both end cancelled,
    each exactly once, and the waiting one never starts."""
    w = window
    first, signals = _start_music(qtbot, w)
    w.act_make_music.trigger()
    dlg = w.music_dialog
    dlg.prompt.setPlainText("rain on a tin roof")
    dlg.ok_button.click()
    second = next(j for j, row in w.music_rows.items() if row.active and j != first)
    started = []
    w._music_thread.worker.started.connect(started.append)
    w.queue_panel.cancel_all_btn.click()
    qtbot.waitUntil(lambda: not any(r.active for r in w.music_rows.values()), timeout=20_000)
    qtbot.wait(300)
    assert sorted(signals["cancelled"]) == sorted([first, second])
    assert not signals["finished"] + signals["failed"]
    assert second not in started
