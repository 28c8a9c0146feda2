"""The main window's sound track (a mixin of ``MainWindow``): the audio lane under the
storyboard, File → Import sound…, sound files dropped on the lane, the shot menu's mute, and
the player's sound (ui/audio_playback.py).

Importing copies and decodes the file (studio/soundtrack.import_audio): that runs on a
background thread; the clip is put on the track, as one undoable step, on the GUI thread.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog

from sora_desktop.core.project.audio import IMPORT_LABEL, IMPORT_SUFFIXES
from sora_desktop.ui.audio_lane import AudioLane
from sora_desktop.ui.audio_playback import AudioPlayback
from sora_desktop.ui.audio_vm import AudioViewModel
from sora_desktop.ui.main_music import MainMusicMixin
from sora_desktop.ui.waveforms import WaveformStore

log = logging.getLogger(__name__)

MUTE_LABEL = "Mute this shot's sound"
MUTE_TIP = "Leave the sound made with this shot's video out of the player and the film"


class _ImportRelay(QObject):
    imported = Signal(object, object)  # project it was made for, AudioItem
    failed = Signal(str, str)  # file name, message
    done = Signal()


class MainSoundMixin(MainMusicMixin):
    """Builds the sound pieces; call ``_build_sound()`` once the storyboard and menus exist."""

    def _build_sound(self) -> None:
        self.audio_vm = AudioViewModel(self.project_vm, self)
        self.waveforms = WaveformStore(self)
        self.audio_lane = AudioLane(self.audio_vm, self.storyboard, self.waveforms)
        self.storyboard.add_lane(self.audio_lane)
        self.audio_playback = AudioPlayback(self.player.vm, self.audio_vm, self)
        # the lane's playhead: the film second on screen (the playback works it out first)
        self.player.vm.frame_changed.connect(self._show_playhead)
        self.player.vm.clip_changed.connect(self._show_playhead)
        self.imports_running = 0
        self._import_relay = _ImportRelay(self)
        self._import_relay.imported.connect(self._on_sound_imported)
        self._import_relay.failed.connect(
            lambda name, why: self.notify(f"Cannot import {name}", why, "warning")
        )
        self._import_relay.done.connect(self._on_import_done)
        self.act_import_sound = self._act(
            "Import &sound…",
            self.import_sound,
            None,
            None,
            f"Put a music or sound file ({IMPORT_LABEL}) on the storyboard's sound track",
        )
        file_menu = self.menuBar().actions()[0].menu()
        file_menu.insertAction(self.act_export, self.act_import_sound)
        self.audio_lane.import_requested.connect(lambda at: self.import_sound(start=at))
        self.audio_lane.files_dropped.connect(self.import_sounds)
        self.storyboard.menu_extras.append(self._shot_sound_menu)
        self._build_music()  # Make music for this film… (main_music)

    def _show_playhead(self, *_args) -> None:
        playback = self.audio_playback
        shown = bool(playback.clock.segments) and self.player.vm.preview is None
        self.audio_lane.set_playhead(playback.seconds if shown else None)

    # ------------------------------------------------------------------ shot menu
    def _shot_sound_menu(self, menu, shot) -> None:
        act = QAction(MUTE_LABEL, menu)
        act.setCheckable(True)
        act.setChecked(bool(shot.mute))
        act.setToolTip(MUTE_TIP)
        act.setStatusTip(MUTE_TIP)
        act.toggled.connect(lambda on, sid=shot.id: self.audio_vm.set_mute(sid, on))
        menu.addAction(act)

    # ------------------------------------------------------------------ import
    def _default_start(self) -> float:
        """A new sound starts under the selected shot, where the exported film starts it (a
        shot without a clip: where the film goes on after it); else at the film's start."""
        spans = {s.shot_id: s for s in self.audio_lane.shot_places()}
        span = spans.get(self.project_vm.selected_id)
        return span.start if span is not None else 0.0

    def import_sound(self, path: str | Path | None = None, start: float | None = None) -> None:
        """File → Import sound…: ask for a file (unless given) and put it on the track at
        ``start`` seconds (default: under the selected shot)."""
        if path is None:
            patterns = " ".join(f"*{s}" for s in IMPORT_SUFFIXES)
            chosen, _ = QFileDialog.getOpenFileName(
                self, "Import sound", "", f"Sound ({patterns});;All files (*)"
            )
            if not chosen:
                return
            path = chosen
        self.import_sounds([str(path)], self._default_start() if start is None else start)

    def import_sounds(self, paths: list[str], start: float) -> None:
        """Import files one after another from ``start`` (each the next one's start is where
        the previous ends), on a background thread."""
        if self.project_vm.project.read_only:
            self.notify("Cannot import sound", "This project is read-only here; use Save As.")
            return
        from sora_desktop.studio.soundtrack import import_audio

        project, relay = self.project_vm.project, self._import_relay
        self.imports_running += 1
        self.status(f"Importing {Path(paths[0]).name}…", 10000)

        def work() -> None:
            at = start
            try:
                for path in paths:
                    try:
                        item = import_audio(project, path, at)
                    except (ValueError, OSError) as exc:
                        relay.failed.emit(Path(path).name, getattr(exc, "message", str(exc)))
                        continue
                    at = item.end
                    relay.imported.emit(project, item)
                relay.done.emit()
            except RuntimeError:  # the window closed meanwhile
                log.debug("import finished after the window closed", exc_info=True)

        threading.Thread(target=work, name="sound-import", daemon=True).start()

    def _on_sound_imported(self, project, item) -> None:
        if project is not self.project_vm.project:
            return  # another project was opened meanwhile
        try:
            self.audio_vm.add_item(item, "Import sound")
        except ValueError as exc:
            self.notify("Cannot import this sound", str(exc), "warning")
            return
        self.status(f"{item.name} is on the sound track ({item.duration:.1f} s).")

    def _on_import_done(self) -> None:
        self.imports_running -= 1

    # ------------------------------------------------------------------ closing
    def _close_sound(self) -> None:
        self._close_music()
        self.audio_playback.close()
        self.waveforms.close()
