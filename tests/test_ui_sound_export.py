"""The export dialog of the real window with a soundtrack: MP4 carries it, GIF says plainly it
drops it (core's one message), and the loudness choice is remembered by the project."""

from __future__ import annotations

from sora_desktop.core.export_settings import sound_dropped_message
from sora_desktop.core.project import save_project
from sora_desktop.studio.soundtrack import import_audio
from tests.film_support import MIXED, mixed_project
from tests.sound_support import RATE, export_audio, streams, tone, video_frames, write_wav
from tests.ui_support import (
    plain_window,  # noqa: F401 (the window fixture)
)


def test_export_dialog_mixes_the_soundtrack_and_warns_for_gif(qtbot, window, tmp_path):
    project = mixed_project(tmp_path / "p", MIXED[:2])
    project.add_audio(import_audio(project, write_wav(tmp_path / "t.wav", tone(2.0, 600, 0.4))))
    save_project(project)
    assert window.open_project(project.path)
    dialog = window.open_export_dialog()
    dialog.scope.setCurrentIndex(dialog.scope.findData("storyboard"))

    dialog.format.setCurrentIndex(dialog.format.findData("gif"))
    assert not dialog.sound_note.isHidden()
    assert dialog.sound_note.text() == sound_dropped_message("gif")
    dialog.format.setCurrentIndex(dialog.format.findData("mp4"))
    assert dialog.sound_note.isHidden() and dialog.loudness.isEnabled()

    dialog.loudness.setChecked(True)
    dialog.path_edit.setText(str(tmp_path / "out" / "film.mp4"))
    dialog.export_btn.click()
    qtbot.waitUntil(lambda: dialog.result_path is not None, timeout=120_000)
    out = dialog.result_path
    dialog.close()
    assert "Audio: aac" in streams(out)
    frames = video_frames(out)
    assert abs(len(export_audio(out)) - frames / 16 * RATE) <= 1024  # 16 fps: the fastest shot
    assert window.project_vm.project.export_settings.normalize_loudness is True
