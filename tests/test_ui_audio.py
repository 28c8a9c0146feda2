"""The storyboard's sound track in the real window: import (menu and drag and drop), the lane's
waveform, moving, trimming, fading and the volume of a clip, several clips, a shot's mute —
each undoable — the player's sound in step with the frames (while playing and after
scrubbing), and the track saved with the project."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QMouseEvent

from tests.audio_support import expected_peaks, tone_file
from tests.film_support import MixedShot, mixed_project
from tests.ui_support import (
    close_window,
    make_window,
    unload_models_after_module,  # noqa: F401
)

WAVE = (0xCF, 0xE8, 0xF3)  # the lane's waveform colour (ui/audio_lane.py)
SHOTS = [MixedShot(8, 16, 64, 64), MixedShot(8, 24, 64, 64)]  # 2 s and 3 s


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    project = mixed_project(tmp_path / "film", SHOTS)
    w = make_window(tmp_path)
    qtbot.waitExposed(w)
    assert w.open_project(project.path)
    yield w
    close_window(w)


def import_tone(qtbot, window, path, start=None):
    before = len(window.audio_vm.items)
    window.import_sound(path, start)
    qtbot.waitUntil(lambda: len(window.audio_vm.items) == before + 1, timeout=20_000)
    return window.audio_vm.items[-1]


def wait_waveform(qtbot, window, item):
    path = str(window.audio_vm.file_of(item))
    qtbot.waitUntil(lambda: window.waveforms.cache.get(path) is not None, timeout=20_000)
    qtbot.wait(20)
    return window.waveforms.cache.get(path)


def drag(lane, start: QPoint, end: QPoint) -> None:
    """A real press-move-release on the lane (through its event handlers)."""
    from PySide6.QtTest import QTest

    QTest.mousePress(lane, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    move = QMouseEvent(
        QMouseEvent.Type.MouseMove,
        QPointF(end),
        lane.mapToGlobal(QPointF(end)),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    lane.mouseMoveEvent(move)
    QTest.mouseRelease(lane, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


def test_import_shows_the_tone_on_the_lane_with_its_waveform(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    tone = tone_file(tmp_path / "tone.wav", 3.0)
    # File → Import sound… (the dialog answered), under the selected (first) shot
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tone), ""))
    window.act_import_sound.trigger()
    qtbot.waitUntil(lambda: len(window.audio_vm.items) == 1, timeout=20_000)
    item = window.audio_vm.items[0]
    assert item.name == "tone.wav" and item.start == 0.0
    assert item.duration == pytest.approx(3.0, abs=0.01)
    copy = window.audio_vm.file_of(item)
    assert copy.is_file() and copy.parent.name == "audio"  # copied into the media folder

    peaks = wait_waveform(qtbot, window, item)
    want = expected_peaks(3.0, peaks.per_second)
    assert np.abs(peaks.values[: len(want)] - want).max() < 0.02

    # what the lane paints: each column's waveform height follows the tone's envelope
    lane = window.audio_lane
    image = lane.grab().toImage()
    rect = lane.item_rect(item)
    geo = lane.lane_geometry()
    half = rect.height() / 2 - 2
    checked = 0
    for x in range(int(rect.left()) + 12, int(rect.right()) - 12, 7):
        t = geo.t_for(x + 0.5)
        level = float(np.interp(t - item.start, np.arange(len(want)) / peaks.per_second, want))
        lit = sum(
            1
            for y in range(int(rect.top()), int(rect.bottom()))
            if abs(image.pixelColor(x, y).red() - WAVE[0]) < 12
            and abs(image.pixelColor(x, y).blue() - WAVE[2]) < 12
        )
        assert lit == pytest.approx(2 * level * half, abs=4), f"column {x} at {t:.2f}s"
        checked += 1
    assert checked > 20
    # under the first shot's card: the lane uses the cards' scale
    card = window.storyboard.strip.cards[0]
    assert rect.left() == pytest.approx(card.geometry().left(), abs=1)


def test_move_trim_fade_and_volume_each_undo_and_redo(qtbot, window, tmp_path):
    item = import_tone(qtbot, window, tone_file(tmp_path / "tone.wav", 3.0), 0.5)
    lane, vm, stack = window.audio_lane, window.audio_vm, window.project_vm.undo_stack
    geo = lane.lane_geometry()
    qtbot.waitUntil(lambda: lane.isVisible())

    def check_step(change, field_values):
        before = vm.item(item.id)
        change()
        after = vm.item(item.id)
        assert after != before
        for name, expected in field_values(before).items():
            assert getattr(after, name) == pytest.approx(expected, abs=0.03), name
        stack.undo()
        texts = [stack.text(i) for i in range(stack.count())]
        assert vm.item(item.id) == before, texts
        stack.redo()
        assert vm.item(item.id) == after
        return after

    # move: drag the body 60 px right
    p = lane.point_for(item.id, "body")
    dt = geo.t_for(p.x() + 60) - geo.t_for(p.x())
    moved = check_step(lambda: drag(lane, p, p + QPoint(60, 0)), lambda b: {"start": b.start + dt})
    assert stack.undoText() == "Move sound"
    # trim the end: drag the right edge 40 px left
    p = lane.point_for(item.id, "right")
    dt = geo.t_for(p.x() - 40) - geo.t_for(p.x())
    check_step(lambda: drag(lane, p, p - QPoint(40, 0)), lambda b: {"duration": b.duration + dt})
    # trim the start: the left edge 30 px right skips that much of the file, and the rest of
    # the sound stays where it was on the film
    p = lane.point_for(item.id, "left")
    dt = geo.t_for(p.x() + 30) - geo.t_for(p.x())
    check_step(
        lambda: drag(lane, p, p + QPoint(30, 0)),
        lambda b: {"start": b.start + dt, "trim_in": b.trim_in + dt, "end": b.end},
    )
    # fades: the handles on the top corners
    p = lane.point_for(item.id, "fade_in")
    check_step(
        lambda: drag(lane, p, p + QPoint(50, 0)),
        lambda b: {"fade_in": geo.t_for(p.x() + 50) - b.start},
    )
    p = lane.point_for(item.id, "fade_out")
    check_step(
        lambda: drag(lane, p, p - QPoint(35, 0)),
        lambda b: {"fade_out": b.end - geo.t_for(p.x() - 35)},
    )
    # volume in the clip's inspector (double-click)
    qtbot.mouseDClick(lane, Qt.MouseButton.LeftButton, pos=lane.point_for(item.id, "body"))
    dialog = lane.inspector

    def set_volume():
        dialog.spins["volume_db"].setValue(-6.0)
        dialog.accept()

    check_step(set_volume, lambda b: {"volume_db": -6.0})
    # a value the project refuses is named, and nothing changes
    before = vm.item(item.id)
    dialog = lane.open_inspector(item.id)
    dialog.spins["fade_in"].setValue(before.duration)
    dialog.spins["fade_out"].setValue(before.duration)
    dialog.accept()
    assert dialog.isVisible() and "Fade out" in dialog.error.text()
    assert vm.item(item.id) == before
    dialog.reject()
    assert moved.start > item.start
    # the whole history undoes back to the import, then the import itself
    while stack.undoText() != "Import sound":
        stack.undo()
    assert vm.item(item.id) == item
    stack.undo()
    assert vm.items == []


def test_several_clips_by_drag_and_drop_and_remove(qtbot, window, tmp_path):
    a = tone_file(tmp_path / "a.wav", 1.5)
    b = tone_file(tmp_path / "b.wav", 2.0)
    notes = tmp_path / "notes.txt"
    notes.write_text("not sound")
    lane, vm = window.audio_lane, window.audio_vm
    geo = lane.lane_geometry()
    x = geo.x_for(1.0)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in (a, notes, b)])
    event = QDropEvent(
        QPointF(x, 30),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    lane.dropEvent(event)
    qtbot.waitUntil(lambda: len(vm.items) == 2, timeout=20_000)
    first, second = vm.items
    assert first.name == "a.wav" and first.start == pytest.approx(1.0, abs=0.02)
    assert second.name == "b.wav" and second.start == pytest.approx(first.end)  # one after another
    for item in (first, second):
        wait_waveform(qtbot, window, item)
    # each has its own place on the lane, side by side
    assert lane.item_rect(first).right() == pytest.approx(lane.item_rect(second).left(), abs=1)
    # a file that is not sound is not offered to the import
    assert lane.sound_files(mime) == [str(a), str(b)]
    # remove the first with the lane's menu; undo puts it back in its place
    vm.select(first.id)
    lane.setFocus()
    qtbot.keyClick(lane, Qt.Key.Key_Delete)
    assert [i.id for i in vm.items] == [second.id]
    window.project_vm.undo_stack.undo()
    assert vm.items == [first, second]


def test_a_file_that_is_not_sound_is_refused_in_one_sentence(qtbot, window, tmp_path):
    bad = tmp_path / "song.mp3"
    bad.write_bytes(b"\0" * 4096)
    window.import_sound(bad, 0.0)
    qtbot.waitUntil(lambda: window.imports_running == 0, timeout=20_000)
    assert window.audio_vm.items == []
    title, text = window.messages[-1]
    assert "song.mp3" in title + text and "\n" not in text
    media = window.project_vm.project.path.parent / "film_media" / "audio"
    assert not media.exists() or not any(media.iterdir())  # nothing half-written left


def test_per_shot_mute_from_the_shot_menu_is_undoable(qtbot, window):
    from sora_desktop.studio.audio import audio_path, write_wav
    from sora_desktop.ui.main_sound import MUTE_LABEL

    vm = window.project_vm
    shot = vm.shots[1]
    # the shot's take has its own sound (as LTX-2 makes): the player sounds it under the shot
    t = np.arange(3 * 8000) / 8000
    write_wav(audio_path(vm.selected_clip(shot.id)), 0.5 * np.sin(2 * np.pi * 330 * t), 8000)
    window.audio_playback.refresh()
    assert f"shot:{shot.id}" in window.audio_playback.state()

    def mute_action():
        menu = window.storyboard.build_menu(shot.id)
        return next(a for a in menu.actions() if a.text() == MUTE_LABEL)

    act = mute_action()
    assert not act.isChecked()
    act.trigger()
    assert vm.shot(shot.id).mute
    assert f"shot:{shot.id}" not in window.audio_playback.state()  # silent in the player
    assert mute_action().isChecked()
    vm.undo_stack.undo()
    assert not vm.shot(shot.id).mute
    assert f"shot:{shot.id}" in window.audio_playback.state()
    vm.undo_stack.redo()
    assert vm.shot(shot.id).mute and vm.dirty


def test_the_players_sound_follows_the_film_while_playing_and_scrubbing(qtbot, window, tmp_path):
    item = import_tone(qtbot, window, tone_file(tmp_path / "tone.wav", 4.0), 0.5)
    playback, player = window.audio_playback, window.player
    key = f"audio:{item.id}"
    player.source_combo.setCurrentIndex(1)  # whole storyboard
    assert player.vm.boundaries == [0, 16]
    # scrub (paused): the sound waits at the frame's place
    for frame, film_t in ((12, 1.5), (28, 2 + 12 / 24 * 3)):
        player.slider.setValue(frame)
        state = playback.state()[key]
        assert playback.seconds == pytest.approx(film_t)
        assert state["target"] == pytest.approx(film_t - item.start)
        assert not state["playing"]
        assert window.audio_lane.playhead == pytest.approx(film_t)  # the lane shows where
        if playback.available:
            qtbot.waitUntil(
                lambda ft=film_t: (
                    abs(playback.state()[key]["position"] - (ft - item.start)) < 0.002
                ),
                timeout=5000,
            )
    # play from there: the sound runs with the pictures
    player.slider.setValue(4)
    start_pos = 4 / 8 - item.start
    assert playback.state()[key]["target"] == pytest.approx(start_pos)
    player.vm.play()
    qtbot.waitUntil(lambda: playback.seconds > 2.2, timeout=15_000)
    state = playback.state()[key]
    assert state["should_play"] and state["target"] == pytest.approx(playback.seconds - 0.5)
    if playback.available:
        assert state["playing"]
        # the player's own position tracks the film's (its reports jitter by tens of ms)
        assert abs(state["position"] - state["target"]) < 0.3
        assert state["position"] > 1.0  # it really advanced from 0 s
    # scrub while playing stops, and the sound is put where the new frame is
    player.slider.setValue(8)
    state = playback.state()[key]
    assert not player.vm.playing and state["target"] == pytest.approx(0.5)
    if playback.available:
        qtbot.waitUntil(lambda: not playback.state()[key]["playing"], timeout=5000)
        qtbot.waitUntil(lambda: abs(playback.state()[key]["position"] - 0.5) < 0.002, timeout=5000)
    # before the clip starts on the film: silent
    player.slider.setValue(2)
    assert playback.state()[key]["target"] is None


def test_without_qtmultimedia_the_pictures_still_play(qtbot, tmp_path, monkeypatch, caplog):
    from sora_desktop.ui import audio_playback

    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(audio_playback, "_multimedia", lambda: None)
    project = mixed_project(tmp_path / "film", SHOTS)
    with caplog.at_level("WARNING", logger="sora_desktop.ui.audio_playback"):
        w = make_window(tmp_path)
    try:
        assert "QtMultimedia is not installed" in caplog.text
        w.open_project(project.path)
        item = import_tone(qtbot, w, tone_file(tmp_path / "tone.wav", 3.0), 0.0)
        w.player.source_combo.setCurrentIndex(1)
        w.player.vm.play()
        qtbot.waitUntil(lambda: w.player.vm.index >= 6, timeout=10_000)
        state = w.audio_playback.state()[f"audio:{item.id}"]
        assert state["position"] is None and state["target"] > 0  # followed, not sounded
    finally:
        close_window(w)


def test_the_track_is_saved_and_reopened(qtbot, window, tmp_path):
    a = import_tone(qtbot, window, tone_file(tmp_path / "a.wav", 2.0), 0.25)
    window.audio_vm.update_item(a.id, "volume_db", volume_db=-3.0)
    window.audio_vm.update_item(a.id, "fade_in", fade_in=0.5)
    window.audio_vm.set_mute(window.project_vm.shots[0].id, True)
    target = tmp_path / "saved" / "copy.sdproj"
    assert window.save_as(target)
    saved = window.audio_vm.items
    window.new_project()
    assert window.audio_vm.items == []
    assert window.open_project(target)
    reopened = window.audio_vm.items
    assert [i.to_dict() for i in reopened] == [i.to_dict() for i in saved]
    assert window.project_vm.shots[0].mute
    # the copy's sound file came along and draws
    path = window.audio_vm.file_of(reopened[0])
    assert path.is_file() and str(path).startswith(str(target.parent))
    wait_waveform(qtbot, window, reopened[0])
