"""The main window's actions, menus, toolbar and status bar (a mixin of ``MainWindow``)."""

from __future__ import annotations

import importlib.util

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QToolBar, QToolButton, QWidget

from sora_desktop.ui.style import icon
from sora_desktop.ui.zoom import ZoomControl


class MainActionsMixin:
    """Builds what the user clicks; the slots are ``MainWindow`` methods."""

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
        self.act_undo.setToolTip("Undo")
        self.act_redo = stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence(K.Redo), QKeySequence("Ctrl+Y")])
        self.act_redo.setIcon(icon("redo"))
        self.act_redo.setProperty("icon_name", "redo")
        self.act_redo.setToolTip("Redo")
        self.addAction(self.act_undo)
        self.addAction(self.act_redo)
        self.act_add = self._act("&Add shot", self.add_shot, "Ctrl+T", "add", "Add a shot")
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
            "Generate the selected shot",
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
            "Stop the running job",
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
        self.act_shortcuts = self._act("&Keyboard shortcuts…", self.show_shortcuts)
        self.zoom = ZoomControl(self)  # View → Zoom in / out / Actual size (ui/zoom.py)

        # "Retry in low memory" for a take whose decode failed (shot menu and queue row)
        self.storyboard.retry_decode_requested.connect(self.retry_decode)
        self.queue_panel.retry_decode_requested.connect(self.retry_decode)

    def show_shortcuts(self):
        """Help → Keyboard shortcuts: read from the window's actions."""
        from sora_desktop.ui.shortcuts_dialog import ShortcutsDialog

        self.shortcuts_dialog = ShortcutsDialog(self.actions(), self)
        self.shortcuts_dialog.show()
        return self.shortcuts_dialog

    def retry_decode(self, shot_id: str, take_id: str) -> list:
        """Decode the take's saved latents again in low memory, without denoising."""
        from sora_desktop.studio.shots import QueueError

        try:
            job = self.queue_vm.retry_decode(shot_id, take_id)
        except (QueueError, KeyError, ValueError) as exc:
            self.notify("Cannot retry this take", str(exc), "warning")
            return []
        self.status("Decoding the saved denoising again, in low memory…")
        return [job]

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
        m = bar.addMenu("&View")
        m.addActions(self.zoom.actions)
        m = bar.addMenu("&Models")
        m.addAction(self.act_models)
        m.menuAction().setVisible(self.act_models.isVisible())
        m = bar.addMenu("&Help")
        m.addActions([self.act_first_run, self.act_shortcuts, self.act_responsible])
        m.addAction(self.act_log_folder)
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
        if compact != self.toolbar_compact:
            self.toolbar_compact = compact
            style = (
                Qt.ToolButtonStyle.ToolButtonIconOnly
                if compact
                else (Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            )
            for btn in self._labelled_buttons:
                btn.setToolButtonStyle(style)
        if compact:
            # the window is never narrower than the icon-only toolbar (its width depends on the
            # theme's padding and the text size), so Export, Model manager and Settings stay
            # on screen rather than in the » menu
            need = self.toolbar.sizeHint().width()
            if self.minimumWidth() < need:
                self.setMinimumWidth(need)

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.model_status = QLabel("Model not loaded yet")
        self.project_status = QLabel()
        sb.addPermanentWidget(self.project_status)
        sb.addPermanentWidget(self.model_status)
