"""The main window: prompt editor (left), player (centre), queue (right), storyboard (bottom).

It wires view-models to widgets and owns the two worker threads (generation, export), the
autosaver and the menus. Messages for the user go through ``notify`` (non-blocking) and
questions through ``ask`` (a method tests replace).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QRect, QSize, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QImage,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QToolBar,
    QToolButton,
    QWidget,
)

from sora_desktop import __version__
from sora_desktop.core import logs, project_lock
from sora_desktop.core import project as core_project
from sora_desktop.core.autosave import RECOVERY_DELAY_S, Autosaver, RecoveryInfo
from sora_desktop.core.project import PROJECT_SUFFIX, Project, ProjectError
from sora_desktop.core.request import EMBEDDED_MODEL_ID, GenerationRequest
from sora_desktop.core.settings import Settings, load_settings, save_settings
from sora_desktop.ui.export_dialog import ExportDialog
from sora_desktop.ui.first_run import (
    SAMPLE_PROMPT,
    SAMPLE_SEED,
    FirstRunDialog,
    FirstRunViewModel,
    Hardware,
)
from sora_desktop.ui.geometry import (
    DEFAULT_SIZE,
    geometry_file,
    let_panels_shrink,
    remember_window_place,
    restore_window_place,
)
from sora_desktop.ui.player import PlayerWidget
from sora_desktop.ui.prompt_editor import PromptEditor
from sora_desktop.ui.queue_panel import QueuePanel
from sora_desktop.ui.settings_dialog import SettingsDialog
from sora_desktop.ui.storyboard import StoryboardWidget
from sora_desktop.ui.style import app_icon, apply_theme, icon
from sora_desktop.ui.viewmodels import (
    PolicyBlocked,
    ProjectViewModel,
    QueueError,
    QueueViewModel,
)
from sora_desktop.ui.worker import ExportWorker, GenerationWorker, WorkerHost

PROJECT_FILTER = f"Sora Desktop projects (*{PROJECT_SUFFIX})"


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


class MainWindow(QMainWindow):
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        autosaver: Autosaver | None = None,
        warm_up: bool = True,
        generate_fn=None,
    ) -> None:
        super().__init__()
        self.settings = settings or load_settings()
        self.messages: list[tuple[str, str]] = []  # (title, text) of everything shown to the user
        self._boxes: list[QMessageBox] = []
        self._closing = False
        self._last_autosave_mark: object = None
        # The first-run guide's hardware check; None = the real one. Tests pass a fake machine.
        self.detect_hardware: Callable[[], Hardware] | None = None
        self.first_run_dialog: FirstRunDialog | None = None
        self.setWindowIcon(app_icon())
        self.resize(*DEFAULT_SIZE)
        self.place_file: Path | None = geometry_file()  # None: do not remember the place

        # ---- models and workers
        self.project_vm = ProjectViewModel(core_project.new_project(), self)
        self.gen_worker = GenerationWorker(generate_fn)
        self.gen_host = WorkerHost(self.gen_worker, "generation", self)
        self.export_worker = ExportWorker()
        self.export_host = WorkerHost(self.export_worker, "export", self)
        self.queue_vm = QueueViewModel(self.project_vm, self.gen_worker, self.settings, self)

        # ---- widgets
        self.editor = PromptEditor(self.project_vm, self.settings.models_dir)
        self.player = PlayerWidget()
        self.queue_panel = QueuePanel(self.queue_vm)
        self.storyboard = StoryboardWidget(self.project_vm, self.queue_vm)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.editor)
        top.addWidget(self.player)
        top.addWidget(self.queue_panel)
        top.setStretchFactor(0, 0)
        top.setStretchFactor(1, 1)
        top.setStretchFactor(2, 0)
        top.setSizes([360, 820, 260])
        top.setChildrenCollapsible(False)
        main = QSplitter(Qt.Orientation.Vertical)
        main.addWidget(top)
        main.addWidget(self.storyboard)
        main.setStretchFactor(0, 1)
        main.setStretchFactor(1, 0)
        main.setChildrenCollapsible(False)
        self.setCentralWidget(main)
        self.splitters = (top, main)

        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        let_panels_shrink(self)

        # ---- wiring
        pvm, qvm = self.project_vm, self.queue_vm
        self.editor.generate_requested.connect(self.generate_selected)
        self.editor.variations_requested.connect(lambda: self.generate_selected(variations=True))
        self.storyboard.generate_requested.connect(self._generate_shot)
        self.storyboard.variations_requested.connect(
            lambda sid: self._generate_shot(sid, variations=True)
        )
        self.storyboard.generate_all_requested.connect(self.generate_all)
        self.storyboard.add_requested.connect(self.add_shot)
        self.queue_panel.job_activated.connect(self._select_job_shot)
        self.player.take_chosen.connect(self._on_take_chosen)
        pvm.selection_changed.connect(lambda _id: self._fill_takes())
        pvm.shot_changed.connect(lambda sid: self._fill_takes() if sid == pvm.selected_id else None)
        self.player.play_storyboard_requested.connect(self.play_storyboard)
        self.player.play_shot_requested.connect(self.show_selected_clip)
        self.player.vm.load_failed.connect(lambda m: self.status(f"Cannot play this clip: {m}"))
        pvm.selection_changed.connect(lambda _id: self.show_selected_clip())
        pvm.shot_changed.connect(self._on_shot_changed)
        pvm.dirty_changed.connect(self._update_title)
        pvm.path_changed.connect(lambda _p: self._update_title())
        pvm.undo_stack.indexChanged.connect(lambda _i: self._update_actions())
        pvm.selection_changed.connect(lambda _i: self._update_actions())
        qvm.preview_changed.connect(self._on_preview)
        qvm.job_changed.connect(self._on_job_changed)
        qvm.job_finished.connect(self._on_job_finished)
        qvm.job_failed.connect(self._on_job_failed)
        qvm.job_skipped.connect(lambda _j, note: self.status(note, 15000))
        qvm.busy_changed.connect(lambda _b: self._update_actions())
        self.gen_worker.model_ready.connect(self._on_model_ready)
        self.gen_worker.model_failed.connect(self._on_model_failed)

        # ---- autosave
        self.autosaver = autosaver if autosaver is not None else self._make_autosaver()
        self.autosave_timer = QTimer(self)
        self.autosave_timer.timeout.connect(self.autosave_now)
        self._apply_autosave_interval()
        # ...and a recovery copy about 2 s after edits stop, so a crash loses seconds, not a
        # minute (issue 15: an edit made 12 s before a crash was lost)
        self.recovery_timer = QTimer(self)
        self.recovery_timer.setSingleShot(True)
        self.recovery_timer.setInterval(int(RECOVERY_DELAY_S * 1000))
        self.recovery_timer.timeout.connect(self.autosave_now)
        pvm.edited.connect(self._edits_made)
        pvm.dirty_changed.connect(lambda _d: self._edits_made())

        self._update_title()
        self._update_actions()
        if warm_up:
            QTimer.singleShot(300, self.warm_up)

    # ================================================================== building
    def _act(self, text: str, slot, shortcut=None, icon_name: str | None = None, tip: str = ""):
        act = QAction(text, self)
        if icon_name:
            act.setIcon(icon(icon_name))
            act.setProperty("icon_name", icon_name)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setToolTip(tip)
            act.setStatusTip(tip)
        act.triggered.connect(lambda _checked=False: slot())
        self.addAction(act)
        return act

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey  # noqa: N806
        self.act_new = self._act("&New project", self.new_project, K.New, "new")
        self.act_open = self._act("&Open…", self.open_project, K.Open, "open")
        self.act_save = self._act("&Save", self.save, K.Save, "save")
        self.act_save_as = self._act("Save &As…", self.save_as, K.SaveAs)
        self.act_export = self._act(
            "&Export…",
            self.open_export_dialog,
            "Ctrl+E",
            "export",
            "Export a shot or the storyboard",
        )
        self.act_from_clip = self._act("Open settings from clip…", self.open_settings_from_clip)
        self.act_settings = self._act("Settings…", self.open_settings, K.Preferences, "settings")
        self.act_quit = self._act("&Quit", self.close, K.Quit)

        stack = self.project_vm.undo_stack
        self.act_undo = stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcut(QKeySequence(K.Undo))
        self.act_undo.setIcon(icon("undo"))
        self.act_undo.setProperty("icon_name", "undo")
        self.act_undo.setToolTip("Undo (Ctrl+Z)")
        self.act_redo = stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence(K.Redo), QKeySequence("Ctrl+Y")])
        self.act_redo.setIcon(icon("redo"))
        self.act_redo.setProperty("icon_name", "redo")
        self.act_redo.setToolTip("Redo (Ctrl+Shift+Z)")
        self.addAction(self.act_undo)
        self.addAction(self.act_redo)
        self.act_add = self._act("&Add shot", self.add_shot, "Ctrl+T", "add", "Add a shot (Ctrl+T)")
        self.act_dup = self._act("&Duplicate shot", self.duplicate_shot, "Ctrl+D", "duplicate")
        self.act_del = self._act("De&lete shot", self.delete_shot, None, "delete")
        self.act_del.setShortcuts([QKeySequence("Ctrl+Backspace"), QKeySequence("Ctrl+Delete")])
        # plain Delete removes a shot only while the storyboard has focus (not while typing)
        self._del_key = QShortcut(QKeySequence(Qt.Key.Key_Delete), self.storyboard)
        self._del_key.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self._del_key.activated.connect(self.delete_shot)

        self.act_generate = self._act(
            "&Generate shot",
            self.generate_selected,
            "Ctrl+Return",
            "generate",
            "Generate the selected shot (Ctrl+Enter)",
        )
        self.act_generate.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.act_variations = self._act(
            "Generate &variations",
            lambda: self.generate_selected(variations=True),
            "Ctrl+Shift+Return",
            "variations",
            "Three takes with new seeds; pick the best",
        )
        self.act_generate_all = self._act(
            "Generate &all shots",
            self.generate_all,
            "Ctrl+Alt+Return",
            "generate_all",
            "Queue every shot in order",
        )
        self.act_cancel = self._act(
            "&Cancel running job",
            self.cancel_running,
            "Esc",
            "cancel",
            "Stop the running job (Esc)",
        )
        self.act_play = self._act("&Play / pause", self.player.vm.toggle, "Space", "play")
        self.act_play_all = self._act("Play whole &storyboard", self.play_storyboard)
        self.act_prev = self._act("Previous frame", lambda: self.player.vm.step(-1), ",")
        self.act_next = self._act("Next frame", lambda: self.player.vm.step(1), ".")
        self.act_models = self._act("&Model manager…", self.open_model_manager, None, "models")
        self.act_models.setVisible(
            importlib.util.find_spec("sora_desktop.ui.model_manager") is not None
        )
        self.act_first_run = self._act("&Getting started…", self.show_first_run)
        self.act_about = self._act("&About Sora Desktop", self.about)
        self.act_responsible = self._act("Responsible use", self.about_responsible_use)
        self.act_log_folder = self._act("Open &log folder", self.open_log_folder)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        m = bar.addMenu("&File")
        m.addActions([self.act_new, self.act_open])
        self.recent_menu = m.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        m.addSeparator()
        m.addActions([self.act_save, self.act_save_as])
        m.addSeparator()
        m.addActions([self.act_export, self.act_from_clip])
        m.addSeparator()
        m.addActions([self.act_settings, self.act_quit])
        m = bar.addMenu("&Edit")
        m.addActions([self.act_undo, self.act_redo])
        m.addSeparator()
        m.addActions([self.act_add, self.act_dup, self.act_del])
        m = bar.addMenu("&Generate")
        m.addActions([self.act_generate, self.act_variations, self.act_generate_all])
        m.addSeparator()
        m.addAction(self.act_cancel)
        m = bar.addMenu("&Playback")
        m.addActions([self.act_play, self.act_play_all, self.act_prev, self.act_next])
        m = bar.addMenu("&Models")
        m.addAction(self.act_models)
        m.menuAction().setVisible(self.act_models.isVisible())
        m = bar.addMenu("&Help")
        m.addActions([self.act_first_run, self.act_responsible, self.act_log_folder])
        m.addAction(self.act_about)

    def _build_toolbar(self) -> None:
        tb = QToolBar("Main")
        tb.setObjectName("MainToolbar")
        tb.setMovable(False)
        tb.setIconSize(QSize(18, 18))
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.addToolBar(tb)
        icon_only = [self.act_new, self.act_open, self.act_save, self.act_undo, self.act_redo]
        icon_only += [self.act_dup, self.act_del, self.act_settings]
        tb.addActions([self.act_new, self.act_open, self.act_save])
        tb.addSeparator()
        tb.addActions([self.act_undo, self.act_redo])
        tb.addSeparator()
        tb.addActions([self.act_add, self.act_dup, self.act_del])
        tb.addSeparator()
        tb.addAction(self.act_generate)
        tb.addActions([self.act_generate_all, self.act_cancel])
        spacer = QWidget()
        spacer.setSizePolicy(
            spacer.sizePolicy().horizontalPolicy().Expanding, spacer.sizePolicy().verticalPolicy()
        )
        tb.addWidget(spacer)
        tb.addAction(self.act_export)
        if self.act_models.isVisible():
            tb.addAction(self.act_models)
        tb.addAction(self.act_settings)
        for act in icon_only:
            btn = tb.widgetForAction(act)
            if isinstance(btn, QToolButton):
                btn.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        btn = tb.widgetForAction(self.act_generate)
        if isinstance(btn, QToolButton):
            btn.setObjectName("GenerateToolButton")
        self.toolbar = tb
        # Buttons that show words while there is room; in a narrow window they show only their
        # icon (the words stay in the tooltip), so Export, Model manager and Settings at the
        # right end stay on screen. Qt's » overflow menu remains the last resort.
        labelled = [self.act_add, self.act_generate_all, self.act_cancel, self.act_export]
        labelled += [self.act_models, self.act_generate]
        self._labelled_buttons = [
            b for b in (tb.widgetForAction(a) for a in labelled) if isinstance(b, QToolButton)
        ]
        self._toolbar_full_width = tb.sizeHint().width()
        self.toolbar_compact = False

    def _fit_toolbar(self) -> None:
        if not self.toolbar_compact:  # measured with the words shown (and the current theme)
            width = self.toolbar.sizeHint().width()
            self._toolbar_full_width = max(self._toolbar_full_width, width)
        compact = self.width() < self._toolbar_full_width + 16
        if compact == self.toolbar_compact:
            return
        self.toolbar_compact = compact
        style = (
            Qt.ToolButtonStyle.ToolButtonIconOnly
            if compact
            else (Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        )
        for btn in self._labelled_buttons:
            btn.setToolButtonStyle(style)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        self._fit_toolbar()
        super().resizeEvent(event)

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.model_status = QLabel("Model not loaded yet")
        self.project_status = QLabel()
        sb.addPermanentWidget(self.project_status)
        sb.addPermanentWidget(self.model_status)

    # ================================================================== window place
    def restore_place(self) -> QRect:
        """Open where the window was last (else the default size, centred), always inside the
        available screen."""
        return restore_window_place(self, self.place_file)

    def remember_place(self) -> None:
        if self.place_file is not None:
            remember_window_place(self, self.place_file)

    # ================================================================== messages
    def notify(self, title: str, text: str, level: str = "info") -> QMessageBox:
        """Show a message without blocking (the app keeps working behind it)."""
        self.messages.append((title, text))
        icons = {
            "info": QMessageBox.Icon.Information,
            "warning": QMessageBox.Icon.Warning,
            "error": QMessageBox.Icon.Critical,
        }
        box = QMessageBox(
            icons.get(level, QMessageBox.Icon.Information),
            title,
            text,
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _r, b=box: self._boxes.remove(b) if b in self._boxes else None)
        self._boxes.append(box)
        box.show()
        return box

    def ask(self, title: str, text: str, buttons: list[str], default: int = 0) -> str:
        """A question with named buttons; returns the chosen name. Tests replace this method."""
        box = QMessageBox(
            QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton, self
        )
        made = [box.addButton(b, QMessageBox.ButtonRole.ActionRole) for b in buttons]
        box.setDefaultButton(made[default])
        box.exec()
        clicked = box.clickedButton()
        return buttons[made.index(clicked)] if clicked in made else buttons[-1]

    def status(self, text: str, ms: int = 5000) -> None:
        self.statusBar().showMessage(text, ms)

    # ================================================================== state display
    def _update_title(self, *_args) -> None:
        project = self.project_vm.project
        name = project.name
        if project.path is not None:
            name = Path(project.path).stem
        read_only = " (read-only)" if project.read_only else ""
        self.setWindowTitle(f"{name}{read_only}[*] — Sora Desktop")
        self.setWindowModified(self.project_vm.dirty)
        where = str(project.path) if project.path else "not saved yet"
        if project.read_only:  # open in another window: say so where the path is shown
            where = f"Read-only (open in another window; use Save As)  ·  {where}"
        self.project_status.setText(
            ("● Unsaved changes  ·  " if self.project_vm.dirty else "") + where
        )

    def _update_actions(self) -> None:
        has_shot = self.project_vm.selected is not None
        self.act_dup.setEnabled(has_shot)
        self.act_del.setEnabled(has_shot)
        self.act_variations.setEnabled(True)
        self.act_generate_all.setEnabled(bool(self.project_vm.shots))
        self.act_cancel.setEnabled(self.queue_vm.running() is not None)

    # ================================================================== model warm-up
    def warm_up(self) -> None:
        request = self.editor.base_request()
        self.model_status.setText("Loading model…")
        self.gen_worker.warm_up(request.model_id, self.settings.device)

    def _on_model_ready(self, model_id: str) -> None:
        self.model_status.setText(f"Model ready: {self.editor.current_choice().name}")

    def _on_model_failed(self, model_id: str, message: str) -> None:
        self.model_status.setText("Model not available")
        self.model_status.setToolTip(message)
        self.status(message.split("\n")[0], 10000)

    # ================================================================== shots
    def add_shot(self) -> None:
        request = self.editor.flush() or self.editor.base_request()
        sel = self.project_vm.selected
        index = self.project_vm.project.index_of(sel.id) + 1 if sel is not None else None
        self.project_vm.add_shot(request.with_changes(start_image=None), index)

    def duplicate_shot(self) -> None:
        if self.project_vm.selected is not None:
            self.project_vm.duplicate_shot(self.project_vm.selected_id)

    def delete_shot(self) -> None:
        shot = self.project_vm.selected
        if shot is None:
            return
        job = self.queue_vm.job_for_shot(shot.id)
        if job is not None:
            self.queue_vm.cancel(job.id)
        self.project_vm.delete_shot(shot.id)

    # ================================================================== generation
    def generate_selected(self, variations: bool = False) -> list:
        request = self.editor.flush()
        if request is None:
            self.status("Fix the highlighted setting first.")
            return []
        if self.project_vm.selected is None:
            self.project_vm.add_shot(request)
        if not variations:
            self.editor.seed_for_generate()
        return self._generate_shot(self.project_vm.selected_id, variations)

    def _generate_shot(self, shot_id: str, variations: bool = False) -> list:
        try:
            if variations:
                jobs = self.queue_vm.generate_variations(shot_id)
            else:
                jobs = [self.queue_vm.generate_shot(shot_id)]
        except PolicyBlocked as exc:
            self.editor.show_policy_message(str(exc))
            self.status("This prompt cannot be generated; see the message above Generate.")
            return []
        except (QueueError, ValueError) as exc:
            self.notify("Cannot generate this shot", str(exc), "warning")
            return []
        self.editor.hide_policy_message()
        self.status(f"Queued {len(jobs)} take{'s' if len(jobs) != 1 else ''}.")
        return jobs

    def generate_all(self) -> list:
        self.editor.flush()
        try:
            jobs = self.queue_vm.generate_all()
        except PolicyBlocked as exc:
            self.notify("A shot cannot be generated", str(exc), "warning")
            return []
        except (QueueError, ValueError) as exc:
            self.notify("Cannot generate all shots", str(exc), "warning")
            return []
        if not jobs and self.project_vm.shots:
            self.status("Every shot is already done with its current settings (or queued).")
        else:
            self.status(f"Queued {len(jobs)} shot{'s' if len(jobs) != 1 else ''}.")
        return jobs

    def cancel_running(self) -> None:
        if self.queue_vm.cancel_running():
            self.status("Cancelling… the job stops after the current step.")

    def _on_preview(self, job_id: str, image: QImage) -> None:
        """Live frames show while the user is not watching something else: for the selected
        shot, or when the player has nothing loaded."""
        if self.player.vm.playing:
            return
        job = self.queue_vm.job(job_id)
        if job is None:
            return
        if job.shot_id != self.project_vm.selected_id and self.player.vm.frames:
            if self.player.vm.preview is None:
                return
        title = self.queue_vm.titles.get(job_id, "Shot")
        text = f"{title}  ·  step {job.step} / {job.total}" if job is not None else title
        self.player.vm.show_preview(image, text)

    def _on_job_changed(self, job_id: str) -> None:
        self._update_actions()
        job = self.queue_vm.job(job_id)
        if job is not None and job.status == "running" and job.step > 0:
            self.model_status.setText(f"Model ready: {self.editor.current_choice().name}")
        if job is not None and job.is_terminal and self.player.vm.preview is not None:
            if self.queue_vm.running() is None or job.shot_id == self.project_vm.selected_id:
                self.player.vm.end_preview()

    def _on_job_finished(self, job_id: str, path: str) -> None:
        job = self.queue_vm.job(job_id)
        if job is not None and job.shot_id == self.project_vm.selected_id:
            self.show_selected_clip()
        self.status(f"{self.queue_vm.titles.get(job_id, 'Shot')} is ready.")

    def _on_job_failed(self, job_id: str, message: str) -> None:
        title = self.queue_vm.titles.get(job_id, "A shot")
        self.notify(f"{title} could not be generated", message, "error")

    def _on_shot_changed(self, shot_id: str) -> None:
        if shot_id == self.project_vm.selected_id:
            self._update_actions()

    def _select_job_shot(self, job_id: str) -> None:
        job = self.queue_vm.job(job_id)
        if job is not None and self.project_vm.shot(job.shot_id) is not None:
            self.project_vm.select(job.shot_id)

    # ================================================================== takes
    def _fill_takes(self) -> None:
        shot = self.project_vm.selected
        takes = []
        if shot is not None:
            for n, take in enumerate(shot.takes, 1):
                if take.status == "done":
                    takes.append((take.id, f"Take {n}  ·  seed {take.request.seed}"))
        self.player.set_takes(takes, shot.selected_take if shot is not None else None)

    def _on_take_chosen(self, take_id: str) -> None:
        shot = self.project_vm.selected
        if shot is not None and take_id and take_id != shot.selected_take:
            self.project_vm.select_take(shot.id, take_id)
            self.show_selected_clip()

    # ================================================================== playback
    def show_selected_clip(self) -> None:
        if self.player.whole_storyboard:
            self.play_storyboard(start=False)
            return
        shot = self.project_vm.selected
        clip = self.project_vm.selected_clip(shot.id) if shot is not None else None
        if clip is None:
            self.player.vm.clear()
            return
        try:
            self.player.vm.load_clip(clip, f"Shot {self.project_vm.shot_number(shot.id)}")
        except ValueError as exc:
            self.status(f"Cannot play this clip: {exc}")
            self.player.vm.clear()

    def play_storyboard(self, start: bool = True) -> None:
        clips = [
            c for c in (self.project_vm.selected_clip(s.id) for s in self.project_vm.shots) if c
        ]
        if not clips:
            self.status("No shot has a clip yet.")
            return
        try:
            self.player.vm.load_clips(clips, f"Storyboard  ·  {len(clips)} shots")
        except ValueError as exc:
            self.status(f"Cannot play the storyboard: {exc}")
            return
        if start:
            self.player.vm.play()

    # ================================================================== files
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

    # ================================================================== autosave / recovery
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

    # ================================================================== dialogs
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
        if old.models_dir != settings.models_dir:
            self.editor.models_dir = settings.models_dir
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
        self.model_manager = ModelManagerWindow(self.settings, self)
        self.model_manager.models_changed.connect(self.editor.refresh_models)
        if self.first_run_dialog is not None:  # opened from the guide: its list follows too
            self.model_manager.models_changed.connect(self.first_run_dialog.vm.refresh_installed)
        self.model_manager.show()

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

    # ================================================================== closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        if self._closing:
            event.accept()
            return
        if self.queue_vm.busy:
            choice = self.ask(
                "Generation in progress",
                "Shots are still being generated. Quit and cancel them?",
                ["Quit", "Keep working"],
                default=1,
            )
            if choice != "Quit":
                event.ignore()
                return
        if not self.maybe_save():
            event.ignore()
            return
        self.shutdown()
        event.accept()

    def terminate(self) -> None:
        """SIGTERM (log-out, shutdown, kill): no questions. Running exports end now (their
        ffmpeg and temp files go), and unsaved edits stay in a recovery copy that the next
        start offers, as after a crash."""
        from sora_desktop.engine.export_files import abort_running_exports

        self.export_worker.cancel_all()  # so the export ends as "cancelled", not as a failure
        abort_running_exports()
        self.autosave_now()
        self.autosaver = None  # keep the recovery copy: shutdown() would remove it
        self.shutdown()
        self.hide()

    def shutdown(self) -> None:
        """Cancel jobs, join the worker threads, remove this session's recovery copies."""
        if self._closing:
            return
        self._closing = True
        manager = getattr(self, "model_manager", None)
        if manager is not None:  # pause a download (bytes kept) and join its thread
            manager.shutdown()
        self.autosave_timer.stop()
        self.recovery_timer.stop()
        self.remember_place()
        project_lock.let_go(self.project_vm.project)
        self.player.vm.stop()
        self.queue_vm.cancel_all()
        deadline = time.monotonic() + 60
        for host in (self.gen_host, self.export_host):
            host.stop(max(1000, int((deadline - time.monotonic()) * 1000)))
        if self.autosaver is not None:
            try:
                self.autosaver.close()
            except OSError:
                pass
        self._save_settings()
