"""The main window's autosave and crash recovery (a mixin of ``MainWindow``)."""

from __future__ import annotations

from pathlib import Path

from sora_desktop.core.autosave import Autosaver, RecoveryInfo
from sora_desktop.core.project import ProjectError


def local_time_text(iso: str) -> str:
    """An ISO-8601 time (the recovery copies keep UTC) in the user's own clock."""
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is None:  # a copy from an old version: it was UTC
        from datetime import timezone

        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


class MainRecoveryMixin:
    """Recovery copies of unsaved work: written after edits and on a timer, offered at start."""

    def _make_autosaver(self) -> Autosaver | None:
        try:
            return Autosaver()
        except OSError as exc:
            self.status(f"Autosave is off: {exc}")
            return None

    def _edits_made(self) -> None:
        """Restart the short recovery-copy countdown (debounced: typing keeps postponing it)."""
        if self.autosaver is not None and not self._closing and self.project_vm.dirty:
            self.recovery_timer.start()

    def _apply_autosave_interval(self) -> None:
        seconds = self.settings.autosave_seconds
        if seconds and self.autosaver is not None:
            self.autosave_timer.start(seconds * 1000)
        else:
            self.autosave_timer.stop()

    def autosave_now(self) -> Path | None:
        """Write a recovery copy if something changed since the last one."""
        if self.autosaver is None or not self.project_vm.dirty:
            return None
        project = self.project_vm.project
        mark = (id(project), self.project_vm.revision)
        if mark == self._last_autosave_mark:
            return None
        try:
            path = self.autosaver.write(project)
        except (OSError, ValueError) as exc:
            self.status(f"Autosave failed: {exc}")
            return None
        self._last_autosave_mark = mark
        return path

    def offer_recovery(self) -> bool:
        """After a crash: offer the newest unsaved work. True if a project was restored."""
        if self.autosaver is None:
            return False
        try:
            pending = self.autosaver.pending()
        except OSError:
            return False
        for info in pending:
            when = local_time_text(info.saved_at)
            extra = ""
            if info.original_is_newer:
                extra = "\n\nNote: the project file was saved after this copy."
            choice = self.ask(
                "Restore unsaved work?",
                f"Sora Desktop closed unexpectedly. Unsaved work on “{info.project_name}” "
                f"from {when} can be restored.{extra}",
                ["Restore", "Discard", "Later"],
            )
            if choice == "Restore":
                return self.restore_recovery(info)
            if choice == "Discard":
                self.autosaver.discard(info)
        return False

    def restore_recovery(self, info: RecoveryInfo) -> bool:
        try:
            project = self.autosaver.restore(info)
        except (ProjectError, OSError) as exc:
            self.notify("Could not restore", str(exc), "error")
            return False
        self._set_project(project, dirty=True)
        self.status("Restored your unsaved work. Save it to keep it.")
        return True
