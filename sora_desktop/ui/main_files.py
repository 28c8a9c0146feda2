"""The main window's file operations: new, open, save, save as, recent files and the project
lock (a mixin of ``MainWindow``)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from sora_desktop.core import project as core_project
from sora_desktop.core import project_lock
from sora_desktop.core.project import PROJECT_SUFFIX, Project, ProjectError
from sora_desktop.core.settings import save_settings

PROJECT_FILTER = f"Sora Desktop projects (*{PROJECT_SUFFIX})"


class MainFilesMixin:
    """Project files of the window; questions go through ``self.ask``, messages ``self.notify``."""

    def _set_project(self, project: Project, dirty: bool = False) -> None:
        old = self.project_vm.project
        if self.autosaver is not None and old is not project:
            try:
                self.autosaver.clear(old)
            except OSError:
                pass
        if old is not project:
            project_lock.let_go(old)
        # the window holds the file's lock; another window's project opens read-only
        read_only = project_lock.hold(project)
        self.project_vm.set_project(project, dirty=dirty)
        self.player.vm.clear()
        self.show_selected_clip()
        self._last_autosave_mark = None
        if read_only:
            self.notify("Opened read-only", read_only, "warning")
        self.offer_resume()  # jobs it was still making when the app closed (main_resume.py)

    def maybe_save(self) -> bool:
        """Ask to save unsaved changes; False means the user chose to stay."""
        if not self.project_vm.dirty or not self.project_vm.shots:
            return True
        read_only = self.project_vm.project.read_only
        note = " It is open read-only (another window has it): Save As keeps them."
        note = note if read_only else ""
        choice = self.ask(
            "Save changes?",
            f"“{self.project_vm.project.name}” has changes that are not saved.{note}",
            ["Save As…" if read_only else "Save", "Don't save", "Cancel"],
        )
        if choice == "Save":
            return self.save()
        if choice == "Save As…":
            return self.save_as()
        return choice == "Don't save"

    def new_project(self) -> None:
        if self.maybe_save():
            self._set_project(core_project.new_project())

    def open_project(self, path: str | Path | None = None) -> bool:
        if not self.maybe_save():
            return False
        if path is None:
            start = self.settings.recent_files[0] if self.settings.recent_files else ""
            path, _ = QFileDialog.getOpenFileName(self, "Open project", start, PROJECT_FILTER)
            if not path:
                return False
        try:
            project = core_project.load_project(path)
        except ProjectError as exc:
            self.notify("Cannot open this project", str(exc), "error")
            if not Path(path).exists() and str(Path(path)) in self.settings.recent_files:
                self.settings.remove_recent(path)  # a moved or deleted file leaves the list
                self._save_settings()
            return False
        self._set_project(project)
        self._remember(project.path)
        for warning in project.warnings:
            self.notify("Project opened with notes", warning, "warning")
        self.status(f"Opened {Path(path).name}")
        return True

    def save(self) -> bool:
        if self.project_vm.project.path is None:
            return self.save_as()
        return self._save_to(None)

    def save_as(self, path: str | Path | None = None) -> bool:
        if path is None:
            project = self.project_vm.project
            start = str(Path(self.settings.output_dir) / f"{project.name}{PROJECT_SUFFIX}")
            if project.path is not None:
                start = str(project.path)
            path, _ = QFileDialog.getSaveFileName(self, "Save project as", start, PROJECT_FILTER)
            if not path:
                return False
        return self._save_to(Path(path))

    def _save_to(self, path: Path | None) -> bool:
        self.editor.flush()
        project = self.project_vm.project
        if path is not None and project.name == "Untitled":
            stem = Path(path).stem
            project.name = stem[: -len(PROJECT_SUFFIX)] if stem.endswith(PROJECT_SUFFIX) else stem
        project.hold_lock = True  # the saved file stays locked while this window shows it
        try:
            written = core_project.save_project(project, path)
        except (ProjectError, OSError) as exc:
            self.notify("Could not save", str(exc), "error")
            return False
        self.project_vm.mark_saved()
        if self.autosaver is not None:
            try:
                self.autosaver.clear(project)
            except OSError:
                pass
        self._remember(written)
        self.status(f"Saved {written}")
        return True

    def _remember(self, path) -> None:
        if path is None:
            return
        self.settings.add_recent(path)
        self._save_settings()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.settings.recent_files:
            self.recent_menu.addAction(Path(p).name, lambda p=p: self.open_project(p)).setToolTip(p)
        if not self.settings.recent_files:
            self.recent_menu.addAction("No recent projects").setEnabled(False)

    def _save_settings(self) -> None:
        try:
            save_settings(self.settings)
        except (OSError, ValueError) as exc:
            self.status(f"Settings could not be saved: {exc}")
