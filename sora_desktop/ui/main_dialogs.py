"""The main window's dialogs: export, settings, settings from a clip, the model manager, the
getting-started guide and the Help texts (a mixin of ``MainWindow``)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog

from sora_desktop import __version__
from sora_desktop.core import logs
from sora_desktop.core.capabilities import capabilities_for
from sora_desktop.core.request import EMBEDDED_MODEL_ID, GenerationRequest
from sora_desktop.core.settings import Settings
from sora_desktop.ui.export_dialog import ExportDialog
from sora_desktop.ui.first_run import SAMPLE_PROMPT, SAMPLE_SEED, FirstRunDialog, FirstRunViewModel
from sora_desktop.ui.settings_dialog import SettingsDialog
from sora_desktop.ui.style import apply_theme


class MainDialogsMixin:
    """The dialogs and windows the main window opens."""

    def make_export_dialog(self) -> ExportDialog:
        return ExportDialog(
            self.project_vm,
            self.export_worker,
            self.settings.output_dir,
            watermark_default=self.settings.watermark,
            shot_id=self.project_vm.selected_id or None,
            parent=self,
        )

    def open_export_dialog(self) -> ExportDialog:
        self.export_dialog = self.make_export_dialog()
        self.export_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.export_dialog.open()
        return self.export_dialog

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec() and dialog.result_settings is not None:
            self.apply_settings(dialog.result_settings)

    def apply_settings(self, settings: Settings) -> None:
        old = self.settings
        engine = ("device", "precision", "memory_mode", "models_dir")
        if any(getattr(old, k) != getattr(settings, k) for k in engine):
            self.gen_worker.unload_models()
            self.model_status.setText("Model will reload with the new settings")
        self.settings = settings
        self.queue_vm.settings = settings
        self.render_target.apply(settings)
        if (old.models_dir, old.memory_mode) != (settings.models_dir, settings.memory_mode):
            self.editor.models_dir = settings.models_dir
            self.editor.memory_mode = settings.memory_mode  # the model notes name the mode
            self.editor.refresh_models()
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance()
        if app is not None:
            apply_theme(app, settings.theme)  # live: palette, style sheet and icon tints
        self._apply_autosave_interval()
        self._save_settings()

    def open_settings_from_clip(self, path: str | Path | None = None) -> bool:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self,
                "Open settings from clip",
                self.settings.output_dir,
                "Clips (*.mp4 *.webm *.gif *.json);;All files (*)",
            )
            if not path:
                return False
        try:
            from sora_desktop.engine.export import request_from_file

            request = request_from_file(path)
        except (ValueError, OSError) as exc:
            self.notify("No settings in this file", str(exc), "warning")
            return False
        request = request.with_changes(start_image=None)
        shot = self.project_vm.selected
        if shot is not None:
            self.project_vm.set_request(shot.id, request, "Settings from clip")
        else:
            self.project_vm.add_shot(request)
        self.editor.load_selected()
        self.status(f"Prompt and settings restored from {Path(path).name}")
        return True

    def open_model_manager(self) -> None:
        try:
            from sora_desktop.ui.model_manager import ModelManagerWindow
        except ImportError as exc:
            self.notify("Model manager unavailable", str(exc), "warning")
            return
        current = getattr(self, "model_manager", None)
        if current is not None and (current.isVisible() or current.busy_id):
            current.show()  # one manager: two could download the same model at once
            current.raise_()
            return
        self.model_manager = ModelManagerWindow(
            self.settings, self, memory_probe=self.queue_vm.memory_probe
        )
        self.model_manager.model_usage = self.model_usage
        self.model_manager.model_deleting.connect(self.model_deleting)
        self.model_manager.models_changed.connect(self.editor.refresh_models)
        if self.first_run_dialog is not None:  # opened from the guide: its list follows too
            self.model_manager.models_changed.connect(self.first_run_dialog.vm.refresh_installed)
        self.model_manager.show()

    def _model_jobs(self, model_id: str) -> list:
        return [j for j in self.queue_vm.jobs if j.active and j.request.model_id == model_id]

    def model_usage(self, model_id: str) -> str:
        """For the delete question: the jobs that would be cancelled and the shots that use
        the model (issue 23: the question said nothing of them)."""
        lines = []
        jobs = self._model_jobs(model_id)
        if jobs:
            named = ", ".join(
                self.queue_vm.titles.get(j.id, "a shot")
                + (" (generating now)" if j.status == "running" else " (waiting)")
                for j in jobs
            )
            lines.append(f"These jobs use it and will be cancelled: {named}.")
        shots = [
            str(n) for n, s in enumerate(self.project_vm.shots, 1) if s.request.model_id == model_id
        ]
        if shots:
            which = "Shot " + shots[0] if len(shots) == 1 else "Shots " + ", ".join(shots)
            lines.append(
                f"{which} of this storyboard use it; they will show it as not installed "
                "until you pick another model or install it again."
            )
        return "\n".join(lines)

    def model_deleting(self, model_id: str) -> None:
        """The user confirmed deleting a model: cancel its jobs (each ends as cancelled, with a
        note), unload it, and stop saying it is ready."""
        name = capabilities_for(model_id).name or model_id
        for job in self._model_jobs(model_id):
            self.queue_vm.cancel(job.id, f"Cancelled: {name} was deleted")
        self.gen_worker.unload_models()
        self.model_status.setText(f"{name} deleted · no model loaded")
        self.model_status.setToolTip("")

    # ================================================================== first run
    def maybe_show_first_run(self) -> FirstRunDialog | None:
        """The getting-started guide, on the first start only (until it is dismissed)."""
        if self.settings.first_run_done or self._closing:
            return None
        return self.show_first_run()

    def show_first_run(self) -> FirstRunDialog:
        """Open the guide (Help → Getting started); the hardware check runs in the background."""
        if self.first_run_dialog is not None and self.first_run_dialog.isVisible():
            self.first_run_dialog.raise_()
            return self.first_run_dialog
        kwargs = {"detect": self.detect_hardware} if self.detect_hardware is not None else {}
        recovery = self.autosaver.recovery_dir if self.autosaver is not None else None
        vm = FirstRunViewModel(self.settings, recovery, parent=self, **kwargs)
        dialog = FirstRunDialog(vm, can_open_models=self.act_models.isVisible(), parent=self)
        vm.done.connect(self._first_run_done)
        vm.first_video_requested.connect(self.make_first_video)
        vm.models_requested.connect(self.open_model_manager)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(vm.deleteLater)
        dialog.finished.connect(lambda _r: setattr(self, "first_run_dialog", None))  # deleted next
        self.first_run_dialog = dialog
        dialog.show()
        vm.start_detection()
        return dialog

    def _first_run_done(self) -> None:
        if not self.settings.first_run_done:
            self.settings.first_run_done = True
            self._save_settings()

    def make_first_video(self, prompt: str = SAMPLE_PROMPT) -> list:
        """A new shot with the built-in model and a prompt it knows, queued at once."""
        self.editor.flush()
        request = GenerationRequest(prompt=prompt, seed=SAMPLE_SEED, model_id=EMBEDDED_MODEL_ID)
        sel = self.project_vm.selected
        index = self.project_vm.project.index_of(sel.id) + 1 if sel is not None else None
        shot = self.project_vm.add_shot(request, index)
        self.project_vm.select(shot.id)
        self.editor.load_selected()
        return self._generate_shot(shot.id)

    def about(self) -> None:
        self.notify(
            "About Sora Desktop",
            f"Sora Desktop {__version__}\nA local, offline text-to-video studio.\n"
            "Your prompts and clips never leave this computer.",
        )

    def open_log_folder(self) -> Path | None:
        """Help → Open log folder: the files a bug report needs (made if not there yet)."""
        path = logs.log_dir()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.notify("Log folder", f"{path} cannot be created: {exc.strerror or exc}", "warning")
            return None
        self.open_folder(path)
        return path

    def open_folder(self, path: Path) -> None:
        """Show a folder in the system's file manager (tests replace this)."""
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

    def about_responsible_use(self) -> None:
        self.notify(
            "Responsible use",
            "Every export is labelled “AI-generated” in its metadata together with the prompt "
            "and settings, and carries a visible watermark unless you turn it off in Settings.\n\n"
            "Prompts asking for disallowed content (for example sexual content involving minors, "
            "or realistic depictions of real people in harmful situations) are refused before "
            "anything is generated, with an explanation.",
        )
