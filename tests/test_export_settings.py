"""Export settings: one validated record, one set of facts for the exporter, the project file
and the export dialog, and changes only through an undoable command (issue 16)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sora_desktop.core import export_settings as facts
from sora_desktop.core.export_settings import ExportSettings
from sora_desktop.core.project import (
    Take,
    clip_relpath,
    load_project,
    new_project,
    resolve_media,
    save_project,
)
from sora_desktop.core.request import GenerationRequest


def test_settings_are_validated_and_frozen():
    s = ExportSettings(format="gif", upscale=16, upscale_method="lanczos", crossfade_frames=4)
    assert s.suffix == ".gif"
    with pytest.raises(AttributeError):
        s.upscale = 2  # type: ignore[misc]
    for bad in (
        {"upscale": 17},
        {"upscale": 0},
        {"upscale": True},
        {"format": "avi"},
        {"upscale_method": "cubic"},
        {"quality": "best"},
        {"crossfade_frames": facts.MAX_CROSSFADE_FRAMES + 1},
        {"watermark": "yes"},
    ):
        field = next(iter(bad))
        with pytest.raises(ValueError, match=field if field != "format" else "export_format"):
            ExportSettings(**bad)


def test_the_exporter_and_the_dialog_read_the_same_facts(qtbot):
    from sora_desktop.engine import export
    from sora_desktop.ui import export_dialog

    assert export.MAX_UPSCALE == facts.MAX_UPSCALE
    assert tuple(export.FORMATS) == facts.EXPORT_FORMATS
    assert set(export.INTERPOLATION) == set(facts.UPSCALE_METHODS)
    assert [k for k, _label, _suffix in export_dialog.FORMATS] == list(facts.EXPORT_FORMATS)
    # every factor the dialog offers is one the project file accepts
    for factor in export_dialog.UPSCALES:
        ExportSettings(upscale=factor)
    assert max(export_dialog.UPSCALES) == facts.MAX_UPSCALE
    # the exporter itself accepts the largest factor
    frame = np.zeros((1, 2, 2, 3), np.uint8)
    assert export.upscale_frames(frame, facts.MAX_UPSCALE).shape == (1, 32, 32, 3)


def test_a_project_remembering_16x_upscale_opens_again(tmp_path):
    p = new_project("Big")
    p.set_export_settings(ExportSettings(upscale=16, upscale_method="lanczos", format="webm"))
    path = save_project(p, tmp_path / "big.sdproj")
    assert json.loads(path.read_text())["settings"]["upscale"] == 16
    again = load_project(path)  # before issue 16: "settings: upscale: 16 is not allowed"
    assert again.export_settings.upscale == 16
    assert again.export_settings.format == "webm"


def test_a_project_with_an_upscale_beyond_the_range_is_refused(tmp_path):
    p = new_project("Too big")
    path = save_project(p, tmp_path / "p.sdproj")
    data = json.loads(path.read_text())
    data["settings"]["upscale"] = facts.MAX_UPSCALE + 1
    path.write_text(json.dumps(data))
    with pytest.raises(
        ValueError, match=f"settings: Size: {facts.MAX_UPSCALE + 1} times is not allowed"
    ):
        load_project(path)


def _project_with_a_clip(tmp_path):
    from sora_desktop.engine.export import export_video

    p = new_project("Film")
    save_project(p, tmp_path / "film.sdproj")
    request = GenerationRequest("a red ball", num_frames=3, width=16, height=16)
    shot = p.add_shot(request)
    take = p.add_take(shot.id, Take.create(request))
    rel = clip_relpath(p, shot.id, take.id)
    clip = resolve_media(p, rel)
    clip.parent.mkdir(parents=True, exist_ok=True)
    export_video(np.full((3, 16, 16, 3), 90, np.uint8), clip, fps=8, request=request)
    p.update_take(shot.id, take.id, status="done", clip=rel)
    p.select_take(shot.id, take.id)
    save_project(p)
    return p


def test_export_dialog_at_16x_then_save_and_open(qtbot, tmp_path):
    """The dialog's 16x choice goes into the project through an undoable command, is saved,
    and the saved project opens again with it."""
    from sora_desktop.ui.export_dialog import ExportDialog
    from sora_desktop.ui.viewmodels import ProjectViewModel
    from sora_desktop.ui.worker import ExportWorker

    project = _project_with_a_clip(tmp_path)
    vm = ProjectViewModel(project)
    vm.set_project(project)
    worker = ExportWorker()
    dialog = ExportDialog(vm, worker, str(tmp_path / "out"))
    qtbot.addWidget(dialog)
    assert 16 in [dialog.size.itemData(i) for i in range(dialog.size.count())]
    dialog.size.setCurrentIndex(dialog.size.findData(16))
    dialog.path_edit.setText(str(tmp_path / "out" / "big.mp4"))
    assert dialog.start() is not None
    qtbot.waitUntil(lambda: dialog.result_path is not None, timeout=60_000)

    assert vm.project.export_settings.upscale == 16
    assert vm.dirty and vm.undo_stack.count() == 1  # an undoable edit, not a silent change
    vm.undo_stack.undo()
    assert vm.project.export_settings.upscale is None  # the default: Auto (issue 20)
    vm.undo_stack.redo()
    save_project(vm.project)
    again = load_project(vm.project.path)
    assert again.export_settings.upscale == 16
    dialog.close()

    # a second dialog on the reopened project starts from the remembered 16x
    vm.set_project(again)
    dialog2 = ExportDialog(vm, worker, str(tmp_path / "out"))
    qtbot.addWidget(dialog2)
    assert dialog2.size.currentData() == 16
    dialog2.close()
