"""The sound lane under the storyboard draws the shots where the exported film has them (issue
20): with a cross-fade, a shot's card starts at the film second the export starts the shot
(studio/film_sound.shot_starts), so a sound dropped or imported under shot 2 starts with shot 2
in the film, and the player's playhead stands on the card it shows. A shot without a clip is
left out of the film: its card takes no film time (the lane greys it)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from tests.audio_support import tone_file
from tests.film_support import MixedShot, mixed_project
from tests.ui_support import (
    close_window,
    make_window,
    unload_models_after_module,  # noqa: F401
)

SHOTS = [MixedShot(8, 16, 64, 64)] * 3  # 2 s each at 8 fps
FADE = 4  # frames: 0.5 s
PX = 1 / 80  # one pixel of the lane, in seconds (the storyboard's scale)


def open_film(qtbot, tmp_path, monkeypatch, without_clip: int | None = None):
    """The window with a saved 3-shot storyboard cross-faded by FADE in Export; with
    ``without_clip``, a shot without a clip inserted at that index."""
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    from sora_desktop.core.project import save_project
    from sora_desktop.core.request import GenerationRequest

    project = mixed_project(tmp_path / "film", SHOTS)
    if without_clip is not None:
        project.add_shot(GenerationRequest("not made yet", num_frames=16, fps=8), without_clip)
    project.set_export_settings(project.export_settings.with_changes(crossfade_frames=FADE))
    save_project(project, project.path)
    w = make_window(tmp_path)
    qtbot.waitExposed(w)
    assert w.open_project(project.path)
    qtbot.waitUntil(lambda: w.audio_lane.isVisible())
    cards = w.storyboard.strip.cards
    qtbot.waitUntil(lambda: len({c.geometry().x() for c in cards}) == len(cards))  # laid out
    return w


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    w = open_film(qtbot, tmp_path, monkeypatch)
    yield w
    close_window(w)


def film_starts() -> list[float]:
    """Each shot's first film second in the export (the export's own rule)."""
    from sora_desktop.studio.film_sound import shot_starts

    places = shot_starts([(s.frames, s.fps) for s in SHOTS], 8, FADE)
    return [first / 8 for first, _count in places]


def drop_sound(qtbot, window, path, x: float):
    lane, vm = window.audio_lane, window.audio_vm
    before = len(vm.items)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(x, 30),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    lane.dropEvent(event)
    qtbot.waitUntil(lambda: len(vm.items) == before + 1, timeout=20_000)
    return vm.items[-1]


def test_cards_sit_at_the_films_seconds_and_a_dropped_sound_starts_with_its_shot(
    qtbot, window, tmp_path
):
    starts = film_starts()
    assert starts == [0.0, 1.5, 3.0]  # the cross-fades pull each shot 0.5 s earlier
    lane = window.audio_lane
    cards = window.storyboard.strip.cards
    geo = lane.lane_geometry()
    for card, start in zip(cards, starts, strict=True):
        x = card.geometry().x()
        assert geo.t_for(x) == pytest.approx(start, abs=1e-9)
        assert geo.x_for(start) == pytest.approx(x, abs=1e-6)
    # a sound dropped on shot 2's card's left edge starts where the export starts shot 2
    item = drop_sound(qtbot, window, tone_file(tmp_path / "a.wav", 1.0), cards[1].geometry().x())
    assert item.start == pytest.approx(starts[1], abs=PX)
    assert lane.item_rect(item).left() == pytest.approx(cards[1].geometry().x(), abs=1)
    # ... and so does one imported (File → Import sound…) with shot 3 selected
    vm = window.project_vm
    vm.select(vm.shots[2].id)
    window.import_sound(tone_file(tmp_path / "b.wav", 1.0))
    qtbot.waitUntil(lambda: len(window.audio_vm.items) == 2, timeout=20_000)
    assert window.audio_vm.items[-1].start == pytest.approx(starts[2], abs=1e-9)


def test_the_playhead_stands_on_the_card_the_player_shows(qtbot, window):
    player = window.player
    player.source_combo.setCurrentIndex(1)  # "Whole storyboard", as exported
    qtbot.waitUntil(lambda: not player.vm.loading and bool(player.vm.frames), timeout=10_000)
    assert len(player.vm.frames) == 3 * 16 - 2 * FADE
    first = round(film_starts()[1] * 8)  # shot 2's first film frame
    player.slider.setValue(first)
    lane, card = window.audio_lane, window.storyboard.strip.cards[1]
    assert lane.playhead == pytest.approx(first / 8)
    x = lane.lane_geometry().x_for(lane.playhead)
    assert x == pytest.approx(card.geometry().x(), abs=1)


def test_a_shot_without_a_clip_takes_no_film_time(qtbot, tmp_path, monkeypatch):
    window = open_film(qtbot, tmp_path, monkeypatch, without_clip=1)
    try:
        lane = window.audio_lane
        cards = window.storyboard.strip.cards
        assert len(cards) == 4
        geo = lane.lane_geometry()
        starts = film_starts()  # the film has the three shots with clips, as before
        # the empty card (shot 2) is one instant: where the next shot with a clip starts
        left, right = cards[1].geometry().x(), cards[2].geometry().x() - 1
        assert geo.t_for(left) == pytest.approx(starts[1]) == geo.t_for(right)
        assert geo.t_for(cards[2].geometry().x()) == pytest.approx(starts[1])
        assert geo.x_for(starts[1]) == pytest.approx(cards[2].geometry().x())
        assert geo.t_for(cards[3].geometry().x()) == pytest.approx(starts[2])
        # the lane says so under it
        assert lane.empty_cards() == [(cards[1].geometry().x(), cards[1].geometry().width())]
        # a sound dropped on the shot after it starts with that shot in the film
        item = drop_sound(qtbot, window, tone_file(tmp_path / "a.wav", 1.0), cards[2].x())
        assert item.start == pytest.approx(starts[1], abs=PX)
        # imported with the empty shot selected: where the film goes on after it
        vm = window.project_vm
        vm.select(vm.shots[1].id)
        window.import_sound(tone_file(tmp_path / "b.wav", 1.0))
        qtbot.waitUntil(lambda: len(window.audio_vm.items) == 2, timeout=20_000)
        assert window.audio_vm.items[-1].start == pytest.approx(starts[1])
    finally:
        close_window(window)


def test_the_lane_follows_a_crossfade_changed_in_export(qtbot, window):
    vm = window.project_vm
    vm.set_export_settings(vm.project.export_settings.with_changes(crossfade_frames=2))
    card = window.storyboard.strip.cards[1]
    assert window.audio_lane.lane_geometry().t_for(card.geometry().x()) == pytest.approx(1.75)
