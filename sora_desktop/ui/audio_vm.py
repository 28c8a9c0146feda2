"""The sound track's view-model: the project's audio items (core/project/audio.py) for the
audio lane, the inspector and the player, and every edit as an undoable command on the
project's undo stack (ui/audio_commands.py)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from sora_desktop.core.project import AudioItem
from sora_desktop.ui import audio_commands as acmd
from sora_desktop.ui.viewmodels import ProjectViewModel

log = logging.getLogger(__name__)

# what each edit is called in Edit → Undo, and which edits merge when repeated
EDIT_TEXTS = {
    "start": "Move sound",
    "trim": "Trim sound",
    "volume_db": "Change sound volume",
    "fade_in": "Change fade in",
    "fade_out": "Change fade out",
    "inspector": "Edit sound",
}


class AudioViewModel(QObject):
    track_changed = Signal(str)  # a clip added, removed or changed (its id; "" when removed)
    timeline_changed = Signal()  # shots or their lengths changed: the lane's scale moves
    mute_changed = Signal(str)  # a shot's own sound muted or unmuted
    selection_changed = Signal(str)  # the selected clip on the lane ("" for none)

    def __init__(self, project_vm: ProjectViewModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project_vm = project_vm
        self.selected_id = ""
        project_vm.project_changed.connect(self._on_project)
        project_vm.shots_changed.connect(self.timeline_changed)
        project_vm.shot_changed.connect(lambda _sid: self.timeline_changed.emit())

    # ------------------------------------------------------------------ queries
    @property
    def project(self):
        return self.project_vm.project

    @property
    def items(self) -> list[AudioItem]:
        return list(self.project.audio)

    def item(self, item_id: str) -> AudioItem | None:
        try:
            return self.project.audio_item(item_id)
        except KeyError:
            return None

    def file_of(self, item: AudioItem) -> Path | None:
        from sora_desktop.core.project import ProjectError, resolve_media

        try:
            return Path(resolve_media(self.project, item.file))
        except (ProjectError, ValueError, OSError):
            return None

    def select(self, item_id: str) -> None:
        if item_id != self.selected_id:
            self.selected_id = item_id
            self.selection_changed.emit(item_id)

    # ------------------------------------------------------------------ edits (undoable)
    def add_item(self, item: AudioItem, text: str = "Add sound") -> AudioItem:
        self.project_vm.undo_stack.push(acmd.AddAudioCommand(self, item, text))
        self.select(item.id)
        return item

    def remove_item(self, item_id: str) -> None:
        if self.item(item_id) is not None:
            self.project_vm.undo_stack.push(acmd.RemoveAudioCommand(self, item_id))

    def update_item(self, item_id: str, key: str = "inspector", **changes: Any) -> bool:
        """Change a clip; ``FieldError`` (nothing pushed) for a value the model refuses. Returns
        whether anything changed. ``key`` names the kind of edit (``EDIT_TEXTS``)."""
        item = self.item(item_id)
        if item is None:
            return False
        command = acmd.UpdateAudioCommand(self, item_id, changes, EDIT_TEXTS[key], key)
        if command.new == item:
            return False
        self.project_vm.undo_stack.push(command)
        return True

    def set_mute(self, shot_id: str, value: bool) -> None:
        if self.project.shot(shot_id).mute != value:
            self.project_vm.undo_stack.push(acmd.SetShotMuteCommand(self, shot_id, value))

    # ------------------------------------------------------------------ called by commands
    def _touched(self) -> None:
        pvm = self.project_vm
        pvm.revision += 1  # the autosave and the dirty mark follow, as for shot edits
        pvm.edited.emit()

    def _track_changed(self, item_id: str) -> None:
        self._touched()
        if self.selected_id and self.item(self.selected_id) is None:
            self.select("")
        self.track_changed.emit(item_id)

    def _shot_mute_changed(self, shot_id: str) -> None:
        self._touched()
        self.project_vm.shot_changed.emit(shot_id)
        self.mute_changed.emit(shot_id)

    def _on_project(self) -> None:
        self.select("")
        self.track_changed.emit("")
        self.timeline_changed.emit()
