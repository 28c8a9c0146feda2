"""A cross-fade longer than a shot allows is said in the user's terms (issue 20: errors in the
user's terms, cross-fades in seconds): by the film's rule (core/film_joins), by the player when
a decoded clip turns out shorter than its take says, by the Export dialog, and by the editor
hand-off, which now checks the film export's rule itself. The Export dialog's film length is
the rule's too (studio/film.film_plan), also when a shot rounds to no frame at the film's rate."""

from __future__ import annotations

import pickle

import pytest

from tests.film_support import MixedShot, mixed_project, shot_frames
from tests.ui_support import (
    close_window,
    make_window,
    unload_models_after_module,  # noqa: F401
)

FADE = 4  # frames at 8 fps: 0.5 s
# shot 2's take says 16 frames (2 s), its clip file holds 2 (0.25 s)
SHORT_WORDS = "The cross-fade (0.5 s) is longer than {shot} (0.25 s); shorten it in Export."


def test_the_rule_says_seconds_and_which_shot():
    from sora_desktop.core.film_joins import CrossfadeTooLong, film_cut, join_starts

    with pytest.raises(CrossfadeTooLong) as info:
        film_cut([(16, 8), (2, 8)], 8, FADE)
    assert info.value.message == SHORT_WORDS.format(shot="the film's shot 2")
    assert info.value.field == "crossfade_frames" and info.value.shot == 1
    # a shot between two fades in and out: at most half of it (6 frames at 4 fps: 0.75 s)
    with pytest.raises(CrossfadeTooLong) as info:
        film_cut([(8, 4), (6, 4), (8, 4)], 4, 4, labels=["a", "shot 2 “a dog”", "c"])
    assert info.value.message == (
        "The cross-fade (1 s) is too long for shot 2 “a dog” (1.5 s): a shot between two others "
        "fades in and out, so at most 0.75 s fits; shorten it in Export."
    )
    # a shot left out of the film (one 24 fps frame rounds to none at 8 fps) keeps the others'
    # indexes: the one named is the caller's shot 3
    with pytest.raises(CrossfadeTooLong) as info:
        film_cut([(16, 8), (1, 24), (2, 8)], 8, FADE)
    assert info.value.shot == 2 and "the film's shot 3 (0.25 s)" in info.value.message
    # the engine, which knows no rate, says frames; a worker process gets the same error back
    with pytest.raises(CrossfadeTooLong, match=r"\(3 frames\) is too long for the film's shot 2"):
        join_starts([8, 5, 8], 3)
    again = pickle.loads(pickle.dumps(info.value))
    assert (again.message, again.shot, str(again)) == (
        info.value.message,
        2,
        str(info.value),
    )


def test_the_dialogs_film_length_is_the_exports_when_a_shot_rounds_to_nothing(tmp_path):
    from sora_desktop.studio.batch import write_film
    from sora_desktop.studio.film import film_plan

    # 2 s, then one frame of 1/24 s (no frame of an 8 fps film), then 2 s: one join of 4
    shots = [MixedShot(8, 16, 32, 32), MixedShot(24, 1, 32, 32), MixedShot(8, 16, 32, 32)]
    project = mixed_project(tmp_path / "p", shots)
    settings = project.export_settings.with_changes(crossfade_frames=FADE, upscale=1, fps=8)
    project.set_export_settings(settings)
    plan = film_plan(project, None, settings)
    out = write_film(project, tmp_path / "film", "png")
    exported = len(list(out.glob("frame_*.png")))
    assert exported == 16 + 16 - FADE
    assert plan.frames == exported


def test_the_editor_handoff_refuses_what_the_film_export_refuses(tmp_path):
    from sora_desktop.studio.timeline import TimelineError, export_timeline

    # the middle shot (6 frames) is longer than the cross-fade (4) but fades in and out
    shots = [MixedShot(8, 16, 32, 32), MixedShot(8, 6, 32, 32), MixedShot(8, 16, 32, 32)]
    project = mixed_project(tmp_path / "p", shots)
    project.set_export_settings(project.export_settings.with_changes(crossfade_frames=FADE))
    with pytest.raises(TimelineError) as info:
        export_timeline(project, tmp_path / "edit" / "film.otio")
    assert str(info.value) == (
        "The cross-fade (0.5 s) is too long for shot 2 “shot 2” (0.75 s): a shot between two "
        "others fades in and out, so at most 0.38 s fits; shorten it in Export."
    )
    assert not (tmp_path / "edit").exists() or not any((tmp_path / "edit").iterdir())


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    """Shots 1 and 3 have clips; shot 3's file holds fewer frames than its take says (a clip
    replaced or cut outside the app); shot 2 has none yet. Export's cross-fade: 0.5 s."""
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    from sora_desktop.core.project import resolve_media, save_project
    from sora_desktop.core.request import GenerationRequest
    from sora_desktop.engine.export import export_video

    project = mixed_project(tmp_path / "film", [MixedShot(8, 16, 32, 32)] * 2)
    last = project.shots[1]
    clip = resolve_media(project, last.selected.clip)
    export_video(shot_frames(1, MixedShot(8, 2, 32, 32)), clip, 8, request=last.selected.request)
    project.add_shot(GenerationRequest("not made yet", num_frames=16, fps=8), 1)
    settings = project.export_settings.with_changes(crossfade_frames=FADE, upscale=1)
    project.set_export_settings(settings)
    save_project(project, project.path)
    w = make_window(tmp_path)
    qtbot.waitExposed(w)
    assert w.open_project(project.path)
    yield w
    close_window(w)


def test_the_player_says_which_storyboard_shot_is_too_short(qtbot, window):
    window.player.source_combo.setCurrentIndex(1)  # "Whole storyboard"
    said = window.statusBar().currentMessage()
    assert said == "Cannot play the storyboard: " + SHORT_WORDS.format(shot="shot 3")


def test_a_storyboard_loading_in_the_background_says_it_too(qtbot, window, monkeypatch):
    monkeypatch.setattr("sora_desktop.ui.player.SYNC_BYTES", 0)
    window.player.source_combo.setCurrentIndex(1)
    qtbot.waitUntil(lambda: not window.player.vm.loading, timeout=10_000)
    said = window.statusBar().currentMessage()
    assert said == "Cannot play the storyboard: " + SHORT_WORDS.format(shot="the film's shot 2")


def test_the_export_says_it_and_writes_nothing(qtbot, window, tmp_path):
    dialog = window.open_export_dialog()
    dialog.scope.setCurrentIndex(dialog.scope.findData("storyboard"))
    assert dialog.crossfade.value() == pytest.approx(0.5)
    out = tmp_path / "out" / "film.mp4"
    dialog.path_edit.setText(str(out))
    dialog.export_btn.click()
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=30_000)
    assert dialog.error.text() == "Export failed: " + SHORT_WORDS.format(shot="the film's shot 2")
    assert not out.exists()
    dialog.close()
