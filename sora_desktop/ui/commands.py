"""Undoable storyboard edits. Each command calls the Qt-free ``Project`` mutators and then tells
the view-model what changed; widgets never edit the project directly."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QUndoCommand

from sora_desktop.core.export_settings import ExportSettings
from sora_desktop.core.request import GenerationRequest

if TYPE_CHECKING:
    from sora_desktop.ui.viewmodels import ProjectViewModel

MERGE_REQUEST = 1001


class _Cmd(QUndoCommand):
    def __init__(self, vm: ProjectViewModel, text: str) -> None:
        super().__init__(text)
        self.vm = vm

    @property
    def project(self):
        return self.vm.project


class AddShotCommand(_Cmd):
    def __init__(self, vm, request: GenerationRequest, index: int | None = None) -> None:
        super().__init__(vm, "Add shot")
        self.request, self.index, self.shot = request, index, None

    def redo(self) -> None:
        if self.shot is None:
            self.shot = self.project.add_shot(self.request, self.index)
            self.index = self.project.index_of(self.shot.id)
        else:
            self.project.insert_shot(self.index, self.shot)
        self.vm._structure_changed(select=self.shot.id)

    def undo(self) -> None:
        self.project.remove_shot(self.shot.id)
        self.vm._structure_changed()


class DuplicateShotCommand(_Cmd):
    def __init__(self, vm, shot_id: str) -> None:
        super().__init__(vm, "Duplicate shot")
        self.source, self.shot, self.index = shot_id, None, None

    def redo(self) -> None:
        if self.shot is None:
            self.shot = self.project.duplicate_shot(self.source)
            self.index = self.project.index_of(self.shot.id)
        else:
            self.project.insert_shot(self.index, self.shot)
        self.vm._structure_changed(select=self.shot.id)

    def undo(self) -> None:
        self.project.remove_shot(self.shot.id)
        self.vm._structure_changed(select=self.source)


class DeleteShotCommand(_Cmd):
    def __init__(self, vm, shot_id: str) -> None:
        super().__init__(vm, "Delete shot")
        self.shot_id, self.index, self.shot = shot_id, None, None

    def redo(self) -> None:
        self.index, self.shot = self.project.remove_shot(self.shot_id)
        shots = self.project.shots
        near = shots[min(self.index, len(shots) - 1)].id if shots else None
        self.vm._structure_changed(select=near)

    def undo(self) -> None:
        self.project.insert_shot(self.index, self.shot)
        self.vm._structure_changed(select=self.shot_id)


class MoveShotCommand(_Cmd):
    def __init__(self, vm, shot_id: str, new_index: int) -> None:
        super().__init__(vm, "Move shot")
        self.shot_id, self.new_index = shot_id, new_index
        self.old_index = vm.project.index_of(shot_id)

    def redo(self) -> None:
        self.project.move_shot(self.shot_id, self.new_index)
        self.vm._structure_changed(select=self.shot_id)

    def undo(self) -> None:
        self.project.move_shot(self.shot_id, self.old_index)
        self.vm._structure_changed(select=self.shot_id)


class SetRequestCommand(_Cmd):
    """Change a shot's settings; consecutive edits of the same field on one shot merge."""

    def __init__(self, vm, shot_id: str, request: GenerationRequest, text: str, key: str) -> None:
        super().__init__(vm, text)
        self.shot_id, self.new, self.old, self.key = shot_id, request, None, key

    def id(self) -> int:
        return MERGE_REQUEST

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt API
        if not isinstance(other, SetRequestCommand):
            return False
        if other.shot_id != self.shot_id or other.key != self.key:
            return False
        self.new = other.new
        return True

    def redo(self) -> None:
        old = self.project.set_shot_request(self.shot_id, self.new)
        if self.old is None:
            self.old = old
        self.vm._shot_changed(self.shot_id)

    def undo(self) -> None:
        self.project.set_shot_request(self.shot_id, self.old)
        self.vm._shot_changed(self.shot_id)


class SelectTakeCommand(_Cmd):
    def __init__(self, vm, shot_id: str, take_id: str) -> None:
        super().__init__(vm, "Pick take")
        self.shot_id, self.new = shot_id, take_id
        self.old = vm.project.shot(shot_id).selected_take

    def redo(self) -> None:
        self.project.select_take(self.shot_id, self.new)
        self.vm._shot_changed(self.shot_id)

    def undo(self) -> None:
        if self.old is not None:
            self.project.select_take(self.shot_id, self.old)
        self.vm._shot_changed(self.shot_id)


class SetShotFieldCommand(_Cmd):
    """Plain attributes of a shot (title, continue_from_previous) via their Project setters."""

    SETTERS = {
        "title": "set_shot_title",
        "continue_from_previous": "set_continue_from_previous",
        "end_on_next_shot": "set_end_on_next_shot",
    }

    def __init__(self, vm, shot_id: str, name: str, value, text: str) -> None:
        super().__init__(vm, text)
        self.shot_id, self.name, self.new = shot_id, name, value
        self.old = getattr(vm.project.shot(shot_id), name)

    def _set(self, value) -> None:
        getattr(self.project, self.SETTERS[self.name])(self.shot_id, value)
        self.vm._shot_changed(self.shot_id)

    def redo(self) -> None:
        self._set(self.new)

    def undo(self) -> None:
        self._set(self.old)


class SetExportSettingsCommand(_Cmd):
    """Change the export options the project remembers (format, size, cross-fade...)."""

    def __init__(self, vm, settings: ExportSettings, text: str = "Change export settings") -> None:
        super().__init__(vm, text)
        self.new, self.old = settings, None

    def redo(self) -> None:
        old = self.project.set_export_settings(self.new)
        if self.old is None:
            self.old = old
        self.vm._settings_changed()

    def undo(self) -> None:
        self.project.set_export_settings(self.old)
        self.vm._settings_changed()
