"""Generate → Make music for this film… (a mixin of ``MainWindow``, through the sound mixin).

The dialog (``music_dialog.py``) builds a ``MusicRequest``; the job runs on the music worker's
thread (``music_worker.py``, the use case ``studio.music.run_music``) with a row in the queue
panel (progress, Cancel); the finished WAV goes on the sound track as a "generated" clip through
the audio view-model's undoable add. The audio lane's menu offers the same action.
"""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QVBoxLayout, QWidget

from sora_desktop.core.errors import FieldError
from sora_desktop.studio.music import MusicRun, music_item, music_run
from sora_desktop.ui.music_dialog import MusicDialog
from sora_desktop.ui.music_worker import MusicRow, MusicThread

log = logging.getLogger(__name__)

MUSIC_LABEL = "Make &music for this film…"
MUSIC_TIP = "Make music from a description with a music model and lay it under the film"


class MainMusicMixin:
    """Call ``_build_music()`` once the menus, the queue panel and the audio lane exist."""

    def _build_music(self) -> None:
        self.music_dialog: MusicDialog | None = None
        self.music_runs: dict[str, tuple[object, MusicRun]] = {}  # job id -> (project, run)
        self.music_rows: dict[str, MusicRow] = {}
        # the music is made in the generation worker process, like a shot (never in the GUI)
        self._music_thread = MusicThread(self.gen_worker.run_elsewhere)
        worker = self._music_thread.worker
        worker.phase.connect(self._music_phase)
        worker.progress.connect(self._music_progress)
        worker.finished.connect(self._music_finished)
        worker.failed.connect(self._music_failed)
        worker.cancelled.connect(self._music_cancelled)
        worker.started.connect(self._music_started)
        # "Cancel all" and Esc stop music jobs too (cooperative: each still ends once, cancelled)
        self.queue_panel.others_active = self.music_busy
        self.queue_panel.cancel_all_requested.connect(self.cancel_all_music)
        self.act_cancel.triggered.connect(self.cancel_running_music)
        self.act_make_music = self._act(MUSIC_LABEL, self.make_music, None, None, MUSIC_TIP)
        for action in self.menuBar().actions():
            if action.text().replace("&", "") == "Generate":
                menu = action.menu()
                menu.insertSeparator(menu.actions()[-1])
                menu.insertAction(menu.actions()[-2], self.act_make_music)
        self.audio_lane.music_requested.connect(self.make_music)
        # music jobs sit above the shot jobs in the queue panel
        self.music_list = QWidget()
        self.music_list_layout = QVBoxLayout(self.music_list)
        self.music_list_layout.setContentsMargins(10, 4, 10, 0)
        self.music_list_layout.setSpacing(6)
        self.music_list.setVisible(False)
        self.queue_panel.layout().insertWidget(2, self.music_list)

    # ------------------------------------------------------------------ the dialog
    def make_music(self, *_args) -> None:
        """Open the dialog (non-blocking); "Make music" queues the job."""
        if self.project_vm.project.read_only:
            self.notify("Cannot make music", "This project is read-only here; use Save As.")
            return
        from sora_desktop.core.catalog import installed_sound_models
        from sora_desktop.studio.soundtrack import film_seconds

        try:
            models = installed_sound_models(self.settings.models_dir)
        except ValueError as exc:  # a broken catalog: say so, offer nothing
            log.warning("catalog unusable for music: %s", exc)
            models = []
        try:
            film = film_seconds(self.project_vm.project)
        except (FieldError, ValueError):
            film = None
        dlg = MusicDialog(models, film, self)
        dlg.accepted.connect(lambda d=dlg: self._start_music(d))
        dlg.model_manager_requested.connect(self.open_model_manager)
        self.music_dialog = dlg
        dlg.open()

    def _start_music(self, dlg: MusicDialog) -> None:
        request = dlg.made
        if request is None:
            return
        project = self.project_vm.project
        s = self.settings
        try:
            run = music_run(project, request, s.models_dir, s.device, s.memory_mode)
        except (FieldError, ValueError) as exc:
            self.notify("Cannot make music", str(getattr(exc, "message", exc)), "warning")
            return
        self.music_runs[run.job_id] = (project, run)
        row = MusicRow(run.job_id, "Music for the film", self._music_thread.worker.cancel)
        self.music_rows[run.job_id] = row
        self.music_list_layout.insertWidget(0, row)
        self.music_list.setVisible(True)
        self._music_thread.worker.submit(run)
        self._music_changed()
        self.status("Making the music… (see the queue)")

    # ------------------------------------------------------------------ cancel
    def music_busy(self) -> bool:
        """Whether a music job is waiting or running (its row is active)."""
        return any(row.active for row in self.music_rows.values())

    def cancel_all_music(self) -> None:
        """Cancel all: every waiting or running music job."""
        for row in self.music_rows.values():
            if row.active:
                row.stopping()
        self._music_thread.worker.cancel_all()

    def cancel_running_music(self) -> None:
        """Esc ("Cancel running job"): the music job that has started, if any (the window's
        ``_update_actions`` keeps Esc enabled while one runs)."""
        running = [jid for jid, row in self.music_rows.items() if row.active and row.running]
        for jid in running:
            self.music_rows[jid].stopping()
            self._music_thread.worker.cancel(jid)
        if running:
            self.status("Cancelling… the music stops after the current step.")

    def _music_changed(self) -> None:
        self.queue_panel.update_cancel_all()
        self._update_actions()

    # ------------------------------------------------------------------ worker reports
    def _music_started(self, job_id: str) -> None:
        row = self.music_rows.get(job_id)
        if row is not None and row.active:
            row.running = True
            self._music_changed()

    def _music_phase(self, job_id: str, phase: str) -> None:
        row = self.music_rows.get(job_id)
        if row is not None:
            row.set_phase(phase)

    def _music_progress(self, job_id: str, step: int, total: int) -> None:
        row = self.music_rows.get(job_id)
        if row is not None:
            row.set_progress(step, total)

    def _music_finished(self, job_id: str, path: str) -> None:
        project, run = self.music_runs.pop(job_id, (None, None))
        row = self.music_rows.get(job_id)
        if run is None:
            return
        if project is not self.project_vm.project:  # another project was opened meanwhile
            if row is not None:
                row.end("Done (for the project that was open then)")
            self._music_changed()
            return
        try:
            item = music_item(project, run, path)
            self.audio_vm.add_item(item, "Make music")
        except (FieldError, ValueError, OSError) as exc:
            message = str(getattr(exc, "message", exc))
            if row is not None:
                row.end("Failed", message)
            self.notify("Cannot put the music on the track", message, "warning")
            self._music_changed()
            return
        if row is not None:
            row.end("Done · on the sound track")
        self._music_changed()
        self.status(f"The music is on the sound track ({item.duration:.1f} s).")

    def _music_failed(self, job_id: str, message: str) -> None:
        self.music_runs.pop(job_id, None)
        row = self.music_rows.get(job_id)
        if row is not None:
            row.end(message.split("\n")[0], message)
        self._music_changed()
        self.notify("Making the music failed", message, "warning")

    def _music_cancelled(self, job_id: str) -> None:
        self.music_runs.pop(job_id, None)
        row = self.music_rows.get(job_id)
        if row is not None:
            row.end("Cancelled")
        self._music_changed()

    def _close_music(self) -> None:
        self._music_thread.close()
