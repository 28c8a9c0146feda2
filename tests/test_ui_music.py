"""Generate → Make music for this film… in the real window: the tiny Stable Audio model installed
from the fake hub by the real downloader; the dialog starts at the film's length; the job shows
in the queue panel with its progress; the music lands on the sound track as one undoable
"generated" clip; the exported film carries it. Without a music model the dialog says where to
get one; the model manager lists the model as a sound model and the video choices leave it out.
"""

from __future__ import annotations

import numpy as np
import pytest
import tiny_stable_audio as tsa

from sora_desktop.core.catalog import KIND_LABELS
from tests.film_support import MIXED, mixed_project
from tests.sound_support import RATE, export_audio, streams
from tests.ui_support import close_window, make_window

FILM = MIXED[:1]  # one shot: 16 frames at 8 fps
FILM_SECONDS = FILM[0].frames / FILM[0].fps


@pytest.fixture
def window(qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    _models, catalog = tsa.install(tmp_path / "hub", models=tmp_path / "models")
    monkeypatch.setenv("SORA_DESKTOP_CATALOG", str(catalog))
    w = make_window(tmp_path, worker_process=True)  # music is made in the worker process
    qtbot.waitExposed(w)
    yield w
    close_window(w)


def _menu_texts(menu) -> list[str]:
    return [a.text().replace("&", "") for a in menu.actions()]


def test_make_music_puts_it_on_the_track_and_in_the_film(qtbot, window, tmp_path):
    w = window
    project = mixed_project(tmp_path / "p", FILM)
    assert w.open_project(project.path)
    generate = next(a.menu() for a in w.menuBar().actions() if a.text() == "&Generate")
    assert "Make music for this film…" in _menu_texts(generate)
    lane_menu = w.audio_lane.build_menu("", 10.0)
    assert "Make music for this film…" in _menu_texts(lane_menu)

    lane_menu.actions()[-1].trigger()  # the lane's entry opens the same dialog
    dlg = w.music_dialog
    assert dlg is not None and dlg.isVisible()
    assert [dlg.model.itemData(i) for i in range(dlg.model.count())] == [tsa.MODEL_ID]
    assert dlg.seconds.value() == pytest.approx(FILM_SECONDS)
    assert dlg.seconds.maximum() == pytest.approx(tsa.MAX_SECONDS)
    dlg.ok_button.click()  # no description yet: said under the form, the dialog stays
    assert dlg.isVisible() and not dlg.error.isHidden()
    dlg.prompt.setPlainText("calm piano at sunset")
    dlg.seed.setValue(5)
    seen = []
    w._music_thread.worker.progress.connect(lambda _j, s, t: seen.append((s, t)))
    dlg.ok_button.click()
    assert not dlg.isVisible()

    rows = list(w.music_rows.values())
    assert len(rows) == 1 and not w.music_list.isHidden()
    qtbot.waitUntil(lambda: bool(w.project_vm.project.audio), timeout=120_000)
    item = w.project_vm.project.audio[0]
    # made in the generation worker process, like a shot (the GUI process loads no model)
    import os

    assert w.gen_worker.process is not None and w.gen_worker.process.pid not in (None, os.getpid())
    assert item.kind == "generated"
    assert item.request.prompt == "calm piano at sunset" and item.request.seed == 5
    assert item.request.seconds == pytest.approx(FILM_SECONDS)
    assert item.start == 0 and item.duration == pytest.approx(FILM_SECONDS)
    assert rows[0].detail.text().startswith("Done") and not rows[0].active
    steps = tsa.entry()["defaults"]["steps"]
    assert seen == [(i, steps) for i in range(1, steps + 1)]  # the queue row's progress

    w.project_vm.undo_stack.undo()  # one undoable step
    assert w.project_vm.project.audio == []
    w.project_vm.undo_stack.redo()
    assert w.project_vm.project.audio == [item]

    dialog = w.open_export_dialog()
    dialog.scope.setCurrentIndex(dialog.scope.findData("storyboard"))
    dialog.format.setCurrentIndex(dialog.format.findData("mp4"))
    dialog.path_edit.setText(str(tmp_path / "out" / "film.mp4"))
    dialog.export_btn.click()
    qtbot.waitUntil(lambda: dialog.result_path is not None, timeout=120_000)
    out = dialog.result_path
    dialog.close()
    assert "Audio: aac" in streams(out)
    pcm = export_audio(out)
    assert abs(len(pcm) - FILM_SECONDS * RATE) <= 1024
    middle = pcm[int(0.8 * RATE) : int(1.2 * RATE)]  # past the fade in: the music is heard
    assert float(np.sqrt(np.mean(np.square(middle.astype(np.float64))))) > 1e-3


def test_no_music_model_points_to_the_model_manager(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    w = make_window(tmp_path)  # the shipped catalog, nothing installed
    try:
        w.act_make_music.trigger()
        dlg = w.music_dialog
        assert dlg.model.count() == 0 and not dlg.ok_button.isEnabled()
        assert "Model manager" in dlg.note.text()
        assert not dlg.manager_button.isHidden()
        dlg.close()
    finally:
        close_window(w)


def test_model_manager_lists_it_as_sound_and_video_choices_leave_it_out(qtbot, window):
    from sora_desktop.ui.model_choices import model_choices

    w = window
    w.open_model_manager()
    manager = w.model_manager
    try:
        assert manager.row_text(tsa.MODEL_ID, "Can do") == KIND_LABELS["sound"]
        assert manager.status_of(next(e for e in manager.entries if e.id == tsa.MODEL_ID))
    finally:
        manager.shutdown()
    ids = [c.id for c in model_choices(w.settings.models_dir)]
    assert tsa.MODEL_ID not in ids and ids  # installed, yet not a video model choice
