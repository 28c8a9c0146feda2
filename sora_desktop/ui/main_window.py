"""The main window: prompt editor (left), player (centre), queue (right), storyboard (bottom).

It wires view-models to widgets and owns the two worker threads (generation, export), the
autosaver and the menus. Messages for the user go through ``notify`` (non-blocking) and
questions through ``ask`` (a method tests replace).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QRect, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QImage
from PySide6.QtWidgets import QMainWindow, QMessageBox, QSplitter

from sora_desktop.core import project as core_project
from sora_desktop.core import project_lock
from sora_desktop.core.autosave import RECOVERY_DELAY_S, Autosaver
from sora_desktop.core.capabilities import capabilities_for
from sora_desktop.core.settings import Settings, load_settings
from sora_desktop.studio.shots import new_shot_request
from sora_desktop.ui.accessibility import prepare as prepare_accessibility
from sora_desktop.ui.accessibility import show_keys_on_buttons
from sora_desktop.ui.farm_runner import RenderTarget
from sora_desktop.ui.first_run import FirstRunDialog, Hardware
from sora_desktop.ui.geometry import (
    DEFAULT_SIZE,
    geometry_file,
    let_panels_shrink,
    remember_window_place,
    restore_window_place,
)
from sora_desktop.ui.main_actions import MainActionsMixin
from sora_desktop.ui.main_dialogs import MainDialogsMixin
from sora_desktop.ui.main_files import PROJECT_FILTER, MainFilesMixin
from sora_desktop.ui.main_recovery import MainRecoveryMixin, local_time_text
from sora_desktop.ui.main_resume import MainResumeMixin
from sora_desktop.ui.main_sound import MainSoundMixin
from sora_desktop.ui.player import PlayerWidget
from sora_desktop.ui.prompt_editor import PromptEditor
from sora_desktop.ui.questions import ask as ask_question
from sora_desktop.ui.queue_panel import QueuePanel
from sora_desktop.ui.storyboard import StoryboardWidget
from sora_desktop.ui.style import app_icon
from sora_desktop.ui.takes_grid import TakesGridHost
from sora_desktop.ui.viewmodels import (
    FitAdvice,
    PolicyBlocked,
    ProjectViewModel,
    QueueError,
    QueueViewModel,
)
from sora_desktop.ui.worker import ExportWorker, GenerationWorker, WorkerHost

__all__ = ["PROJECT_FILTER", "MainWindow", "local_time_text"]


def model_name(model_id: str) -> str:
    """A model's name for the status bar (its catalog name, never a raw id when known)."""
    return capabilities_for(model_id).name or model_id  # the last two moved; kept here


class MainWindow(
    MainActionsMixin,
    MainFilesMixin,
    MainRecoveryMixin,
    MainResumeMixin,
    MainDialogsMixin,
    MainSoundMixin,
    QMainWindow,
):
    """The pieces live in mixins by seam: actions/menus/toolbar (``main_actions``), project
    files (``main_files``), autosave and recovery (``main_recovery``) and dialogs
    (``main_dialogs``); this class lays out the window and wires generation and playback."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        autosaver: Autosaver | None = None,
        warm_up: bool = True,
        generate_fn=None,
        in_process: bool = False,
    ) -> None:
        super().__init__()
        self.settings = settings or load_settings()
        self.messages: list[tuple[str, str]] = []  # (title, text) of everything shown to the user
        self._boxes: list[QMessageBox] = []
        self._closing = False
        self._storyboard_film = None  # the PreviewFilm the whole storyboard was last shown as
        self._last_autosave_mark: object = None
        # The first-run guide's hardware check; None = the real one. Tests pass a fake machine.
        self.detect_hardware: Callable[[], Hardware] | None = None
        self.first_run_dialog: FirstRunDialog | None = None
        self.setWindowIcon(app_icon())
        self.resize(*DEFAULT_SIZE)
        self.place_file: Path | None = geometry_file()  # None: do not remember the place

        # ---- models and workers
        self.project_vm = ProjectViewModel(core_project.new_project(), self)
        # in_process: the model in the GUI's worker thread (tests that patch the engine in this
        # process); the app itself always uses the worker process
        self.gen_worker = GenerationWorker(generate_fn, in_process=in_process)
        self.gen_host = WorkerHost(self.gen_worker, "generation", self)
        self.export_worker = ExportWorker()
        self.export_host = WorkerHost(self.export_worker, "export", self)
        self.queue_vm = QueueViewModel(self.project_vm, self.gen_worker, self.settings, self)
        self.render_target = RenderTarget(self.queue_vm, self.settings)  # this computer / Ray

        # ---- widgets
        self.editor = PromptEditor(
            self.project_vm, self.settings.models_dir, memory_mode=self.settings.memory_mode
        )
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
        self._build_resume_bar()  # "shots were still waiting…" above the panels (issue 18)

        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self._build_sound()  # the sound lane, Import sound…, the player's sound (main_sound)
        let_panels_shrink(self)
        prepare_accessibility(self)  # names, Tab out of text boxes, keys in tooltips
        show_keys_on_buttons(self)  # Generate, play… buttons: the actions' keys in the tooltips
        self.editor.advanced.set_expanded(self.settings.advanced_open)
        self.editor.advanced.toggled_by_user.connect(self._remember_advanced)

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
        self.takes_grid = TakesGridHost(self)  # card menu "Compare takes…", player "All takes…"
        pvm.selection_changed.connect(lambda _id: self._fill_takes())
        pvm.shot_changed.connect(lambda sid: self._fill_takes() if sid == pvm.selected_id else None)
        self.player.play_storyboard_requested.connect(self.play_storyboard)
        self.player.play_shot_requested.connect(self.show_selected_clip)
        self.player.vm.load_failed.connect(
            lambda m: self.status(
                f"Cannot play {'the storyboard' if self.player.whole_storyboard else 'this clip'}"
                f": {m}"
            )
        )
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
        pvm.edited.connect(self._film_settings_edited)  # the storyboard shows the export's film
        pvm.dirty_changed.connect(lambda _d: self._edits_made())

        self._update_title()
        self._update_actions()
        if warm_up:
            QTimer.singleShot(300, self.warm_up)

    def _remember_advanced(self, on: bool) -> None:
        self.settings.advanced_open = on
        self._save_settings()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        self._fit_toolbar()
        super().resizeEvent(event)

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
        return ask_question(self, title, text, buttons, default)

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
        music = getattr(self, "music_rows", {})  # Esc also stops a running music job
        running_music = any(r.active and r.running for r in music.values())
        self.act_cancel.setEnabled(self.queue_vm.running() is not None or running_music)

    # ================================================================== model warm-up
    def warm_up(self) -> None:
        request = self.editor.base_request()
        self.model_status.setText("Loading model…")
        self.gen_worker.warm_up(request.model_id, self.settings.device)

    def _on_model_ready(self, model_id: str) -> None:
        self.model_status.setText(f"Model ready: {model_name(model_id)}")

    def _on_model_failed(self, model_id: str, message: str) -> None:
        self.model_status.setText("Model not available")
        self.model_status.setToolTip(message)
        self.status(message.split("\n")[0], 10000)

    # ================================================================== shots
    def add_shot(self) -> None:
        request = self.editor.flush() or self.editor.base_request()
        sel = self.project_vm.selected
        if sel is None:  # the words typed before any shot existed become that shot
            self.project_vm.add_shot(request.with_changes(start_image=None))
            return
        index = self.project_vm.project.index_of(sel.id) + 1
        self.project_vm.add_shot(new_shot_request(request), index)  # fresh seed, no prompt

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

    def _generate_shot(self, shot_id: str, variations: bool = False, force: bool = False) -> list:
        try:
            if variations:
                jobs = self.queue_vm.generate_variations(shot_id, force=force)
            else:
                jobs = [self.queue_vm.generate_shot(shot_id, force=force)]
        except FitAdvice as exc:
            again = lambda f: self._generate_shot(shot_id, variations, f)  # noqa: E731
            return self.fit_advice_answer(exc, again)
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

    def generate_all(self, force: bool = False) -> list:
        self.editor.flush()
        try:
            jobs = self.queue_vm.generate_all(force=force)
        except FitAdvice as exc:
            return self.fit_advice_answer(exc, lambda f: self.generate_all(f))
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

    def fit_advice_answer(self, advice: FitAdvice, again: Callable[[bool], list]) -> list:
        """A shot may not fit memory: advice, never a wall. "Run anyway" queues it as it is;
        "Switch to <mode>" changes the memory mode (as Settings would) and queues it."""
        switch = f"Switch to {advice.better_mode_name} mode" if advice.better_mode else ""
        buttons = ["Run anyway", *([switch] if switch else []), "Cancel"]
        title = "This shot may not fit this computer"
        text = f"{advice}\n\nYou can run it anyway: it may be slow or run out of memory."
        self.messages.append((title, text))
        answer = self.ask(title, text, buttons, default=1 if switch else 0)
        if answer == "Run anyway":
            return again(True)
        if switch and answer == switch:
            self.apply_settings(replace(self.settings, memory_mode=advice.better_mode))
            self.status(f"Memory mode: {advice.better_mode_name} (change it in Settings).")
            return again(False)
        return []

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
        running = job is not None and job.status == "running" and not job.cancel_requested
        if running and job.step > 0:  # the job's own model (not the editor's pick)
            self.model_status.setText(f"Model ready: {model_name(job.request.model_id)}")
        if job is not None and job.is_terminal and self.player.vm.preview is not None:
            if self.queue_vm.running() is None or job.shot_id == self.project_vm.selected_id:
                self.player.vm.end_preview()

    def _on_job_finished(self, job_id: str, path: str) -> None:
        job = self.queue_vm.job(job_id)
        if job is not None and job.shot_id == self.project_vm.selected_id:
            self.show_selected_clip(play=True)  # a finished clip plays (on a loop), not frame 1
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
    def show_selected_clip(self, play: bool = False) -> None:
        if self.player.whole_storyboard:
            self.play_storyboard(start=False)
            return
        shot = self.project_vm.selected
        clip = self.project_vm.selected_clip(shot.id) if shot is not None else None
        if clip is None:
            self.player.vm.clear()
            return
        self.audio_playback.expect([shot.id])
        try:
            title = f"Shot {self.project_vm.shot_number(shot.id)}"
            self.player.vm.load_clip(clip, title, play=play)
        except ValueError as exc:
            self.status(f"Cannot play this clip: {exc}")
            self.player.vm.clear()

    def play_storyboard(self, start: bool = True) -> None:
        shown = [s.id for s in self.project_vm.shots if self.project_vm.selected_clip(s.id)]
        clips = [self.project_vm.selected_clip(sid) for sid in shown]
        if not clips:
            self.status("No shot has a clip yet.")
            return
        self.audio_playback.expect(shown)
        from sora_desktop.studio.film_preview import preview_film

        film = preview_film(self.project_vm.project)  # the Export settings' cross-fade, rate, fit
        self._storyboard_film = film
        if film is not None and film.note:
            self.status(film.note)
        from sora_desktop.core.film_joins import CrossfadeTooLong

        try:
            self.player.vm.load_clips(clips, f"Storyboard  ·  {len(clips)} shots", film)
        except CrossfadeTooLong as exc:  # a clip shorter than its take says: its card's number
            shot = f"shot {self.project_vm.shot_number(shown[exc.shot])}"
            self.status(f"Cannot play the storyboard: {exc.said(shot)}")
            return
        except ValueError as exc:
            self.status(f"Cannot play the storyboard: {exc}")
            return
        if start:
            self.player.vm.play()

    def _film_settings_edited(self) -> None:
        """The Export settings changed (cross-fade, rate, fit) while the whole storyboard is
        shown: show it as the export now makes it."""
        if self.player.whole_storyboard and self.player.vm.film is not None:
            from sora_desktop.studio.film_preview import preview_film

            if preview_film(self.project_vm.project) != self._storyboard_film:
                self.play_storyboard(start=False)

    # ================================================================== closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        if self._closing:
            event.accept()
            return
        if self.queue_vm.busy:
            choice = self.ask(
                "Generation in progress",
                "Shots are still being generated. Quit and cancel them?\n"
                "Saved with the project, they are offered again when you open it.",
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
        self._close_sound()
        self.queue_vm.cancel_all()
        self.render_target.close()
        deadline = time.monotonic() + 60
        for host in (self.gen_host, self.export_host):
            host.stop(max(1000, int((deadline - time.monotonic()) * 1000)))
        if self.autosaver is not None:
            try:
                self.autosaver.close()
            except OSError:
                pass
        self._save_settings()
