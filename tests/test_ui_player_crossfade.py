"""Playing the whole storyboard shows its cross-fades (issue 20), in the real window: the
player shows the film the export makes (same frame count, same blended frames, read back from
an export by the studio's export use case), with the cross-fade the project's Export settings
hold (a change there is used by the next play), and the sound follows the film's time: the
clock and each shot's own sound sit where film_sound places them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.film_support import MixedShot, mixed_project
from tests.ui_support import (
    close_window,
    make_window,
    unload_models_after_module,  # noqa: F401
)

SHOTS = [MixedShot(8, 8, 32, 32), MixedShot(8, 8, 32, 32)]  # red, then green; 1 s each
FADE = 4  # frames


def qimage_array(image) -> np.ndarray:
    """A player's QImage (RGB888) as (H, W, 3) uint8."""
    w, h, line = image.width(), image.height(), image.bytesPerLine()
    data = np.frombuffer(image.constBits(), np.uint8, count=line * h).reshape(h, line)
    return data[:, : 3 * w].reshape(h, w, 3).copy()


def exported_frames(project, tmp_path) -> np.ndarray:
    """The film the app's Export makes (studio use case), as PNG frames read back with cv2."""
    from sora_desktop.studio.batch import write_film

    out = write_film(project, tmp_path / "film", "png")
    files = sorted(out.glob("frame_*.png"))
    return np.stack([cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files])


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    from sora_desktop.core.project import save_project

    project = mixed_project(tmp_path / "film", SHOTS)
    # what the Export dialog remembers: a 4-frame cross-fade (at the model's size, so the
    # exported frames compare pixel for pixel with the player's)
    settings = project.export_settings.with_changes(crossfade_frames=FADE, upscale=1)
    project.set_export_settings(settings)
    save_project(project, project.path)
    w = make_window(tmp_path)
    qtbot.waitExposed(w)
    assert w.open_project(project.path)
    yield w
    close_window(w)


def play_whole_storyboard(qtbot, window):
    player = window.player
    if player.source_combo.currentIndex() != 1:
        player.source_combo.setCurrentIndex(1)  # "Whole storyboard"
    else:
        window.play_storyboard(start=False)
    qtbot.waitUntil(lambda: not player.vm.loading and bool(player.vm.frames), timeout=10_000)
    return player


@pytest.mark.parametrize("background", [False, True], ids=["small", "loader-thread"])
def test_whole_storyboard_shows_the_exports_crossfades(
    qtbot, window, tmp_path, monkeypatch, background
):
    if background:  # as a storyboard of big clips loads: decoded and blended off the GUI
        monkeypatch.setattr("sora_desktop.ui.player.SYNC_BYTES", 0)
    player = play_whole_storyboard(qtbot, window)
    film = exported_frames(window.project_vm.project, tmp_path)
    assert len(film) == 8 + 8 - FADE  # the export overlaps the join
    assert len(player.vm.frames) == len(film)
    assert player.vm.fps == 8
    shown = np.stack([qimage_array(img) for img in player.vm.frames])
    assert shown.shape == film.shape
    middle = 8 - FADE + FADE // 2  # the middle of the join: both shots blended
    assert np.abs(shown[middle].astype(int) - film[middle].astype(int)).max() <= 1
    # ... and truly a blend: neither shot's own picture (red or green background)
    red, green = film[0][2, 16], film[-1][2, 16]  # background above the white square
    assert red[0] > 150 and green[1] > 150
    blended = shown[middle][2, 16].astype(int)
    assert 60 < blended[0] < 190 and 60 < blended[1] < 190
    # every frame is the export's (within rounding)
    assert np.abs(shown.astype(int) - film.astype(int)).max() <= 1
    assert player.vm.boundaries == [0, 8 - FADE]


def test_a_crossfade_changed_in_export_is_used_by_the_next_play(qtbot, window, tmp_path):
    player = play_whole_storyboard(qtbot, window)
    assert len(player.vm.frames) == 12
    vm = window.project_vm
    # what the Export dialog does with the cross-fade the user chose: 1 frame; the storyboard
    # on screen is shown again with it
    vm.set_export_settings(vm.project.export_settings.with_changes(crossfade_frames=1))
    qtbot.waitUntil(lambda: len(player.vm.frames) == 15, timeout=10_000)
    # playing one shot meanwhile, the next "Play whole storyboard" uses the new one (2 frames)
    player.source_combo.setCurrentIndex(0)
    vm.set_export_settings(vm.project.export_settings.with_changes(crossfade_frames=2))
    assert len(player.vm.frames) == 8
    window.act_play_all.trigger()
    qtbot.waitUntil(lambda: len(player.vm.frames) == 14, timeout=10_000)
    player.vm.stop()
    film = exported_frames(vm.project, tmp_path)
    shown = np.stack([qimage_array(img) for img in player.vm.frames])
    assert shown.shape == film.shape
    assert np.abs(shown.astype(int) - film.astype(int)).max() <= 1


def test_the_sound_follows_the_crossfaded_film(qtbot, window, tmp_path):
    from sora_desktop.studio.audio import audio_path, write_wav
    from sora_desktop.studio.film_sound import film_sound, mix_sources_for, shot_starts

    vm = window.project_vm
    second = vm.shots[1]
    # the second shot's take has its own sound (as LTX-2 makes)
    t = np.arange(2 * 8000) / 8000
    write_wav(audio_path(vm.selected_clip(second.id)), 0.5 * np.sin(2 * np.pi * 330 * t), 8000)
    player = play_whole_storyboard(qtbot, window)
    playback = window.audio_playback
    timing = [(s.frames, s.fps) for s in SHOTS]
    first, _count = shot_starts(timing, 8, FADE)[1]
    assert first == 8 - FADE
    # the clock: the frame where shot 2 starts is the second the export starts it at
    assert playback.clock.seconds_at(first) == pytest.approx(first / 8)
    middle = first + FADE // 2
    player.slider.setValue(middle)
    assert playback.seconds == pytest.approx(middle / 8)
    assert f"{middle / 8:.2f}s" in player.frame_label.text()
    # shot 2's own sound: where, how long and how faded the export mixes it
    sound = film_sound(vm.project, None)
    (mixed,) = mix_sources_for(sound, timing, 8, FADE)
    voice = playback.channels[f"shot:{second.id}"].voice
    assert voice.start == pytest.approx(mixed.start) and voice.start == pytest.approx(0.5)
    assert voice.duration == pytest.approx(mixed.duration)
    assert voice.fade_in == pytest.approx(mixed.fade_in) and voice.fade_in > 0
    state = playback.state()[f"shot:{second.id}"]
    assert state["target"] == pytest.approx(middle / 8 - mixed.start)
    # playing one shot: it sits at its place in the film too
    player.source_combo.setCurrentIndex(0)
    vm.select(second.id)
    window.show_selected_clip()
    qtbot.waitUntil(lambda: not player.vm.loading and len(player.vm.frames) == 8, timeout=10_000)
    assert playback.clock.seconds_at(0) == pytest.approx(mixed.start)
