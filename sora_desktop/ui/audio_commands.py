"""Undoable sound-track edits: add, remove and change clips on the audio track, and a shot's
mute. Each command calls the Qt-free ``Project`` audio mutators (core/project) and then tells
the audio view-model what changed; widgets never edit the project directly."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QUndoCommand

from sora_desktop.core.project import AudioItem

if TYPE_CHECKING:
    from sora_desktop.ui.audio_vm import AudioViewModel


class _AudioCmd(QUndoCommand):
    def __init__(self, vm: AudioViewModel, text: str) -> None:
        super().__init__(text)
        self.vm = vm

    @property
    def project(self):
        return self.vm.project


class AddAudioCommand(_AudioCmd):
    """Put a clip on the track (an import, or a redo of one)."""

    def __init__(self, vm, item: AudioItem, text: str = "Add sound") -> None:
        super().__init__(vm, text)
        self.item, self.index = item, None

    def redo(self) -> None:
        if self.index is None:
            self.project.add_audio(self.item)
            self.index = self.project.audio_index(self.item.id)
        else:
            self.project.insert_audio(self.index, self.item)
        self.vm._track_changed(self.item.id)

    def undo(self) -> None:
        self.project.remove_audio(self.item.id)
        self.vm._track_changed("")


class RemoveAudioCommand(_AudioCmd):
    def __init__(self, vm, item_id: str) -> None:
        super().__init__(vm, "Remove sound")
        self.item_id, self.index, self.item = item_id, None, None

    def redo(self) -> None:
        self.index, self.item = self.project.remove_audio(self.item_id)
        self.vm._track_changed("")

    def undo(self) -> None:
        self.project.insert_audio(self.index, self.item)
        self.vm._track_changed(self.item_id)


class UpdateAudioCommand(_AudioCmd):
    """Change one clip (move, trim, volume, fades): one drag or one inspector OK is one undo
    step. The new item is validated before the command is pushed."""

    def __init__(self, vm, item_id: str, changes: dict[str, Any], text: str, key: str) -> None:
        super().__init__(vm, text)
        self.item_id, self.key = item_id, key
        self.old: AudioItem = vm.project.audio_item(item_id)
        self.new: AudioItem = self.old.with_changes(**changes)  # FieldError before any change

    def redo(self) -> None:
        self.project.replace_audio(self.new)
        self.vm._track_changed(self.item_id)

    def undo(self) -> None:
        self.project.replace_audio(self.old)
        self.vm._track_changed(self.item_id)


class SetShotMuteCommand(_AudioCmd):
    """Leave a shot's own sound out of the film (or put it back)."""

    def __init__(self, vm, shot_id: str, value: bool) -> None:
        super().__init__(vm, "Mute shot's sound" if value else "Unmute shot's sound")
        self.shot_id, self.new = shot_id, value
        self.old = vm.project.shot(shot_id).mute

    def redo(self) -> None:
        self.project.set_shot_mute(self.shot_id, self.new)
        self.vm._shot_mute_changed(self.shot_id)

    def undo(self) -> None:
        self.project.set_shot_mute(self.shot_id, self.old)
        self.vm._shot_mute_changed(self.shot_id)
