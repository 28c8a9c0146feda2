"""The player's sound: the track's clips and the shots' own sound, in step with the frames.

The picture leads. On every frame the player shows, the film second on screen
(``FilmClock``) says where each sound should be (``Voice``, studio/playback_sync.py); a
QtMultimedia ``QMediaPlayer`` per sound is started, paused, sought or turned up and down to
match: playing, a sound that has drifted is sought back (``DriftCheck``); paused or scrubbing,
every sound waits at the frame's place, so Play starts it there.

Without QtMultimedia (PySide6-Addons missing) or without a sound device, nothing fails: a log
line says so and the pictures play as before; ``state()`` still reports where each sound should
be (and, with QtMultimedia, where its player is, even with no device to hear it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QUrl

from sora_desktop.studio.playback_sync import (
    DriftCheck,
    FilmClock,
    Voice,
    cut_spans,
    film_spans,
    voices_for,
)
from sora_desktop.ui.audio_vm import AudioViewModel
from sora_desktop.ui.player import PlayerViewModel

log = logging.getLogger(__name__)


def _multimedia():
    """QtMultimedia's classes, or None when PySide6-Addons is not installed."""
    try:
        from PySide6 import QtMultimedia
    except ImportError:
        return None
    return QtMultimedia


@dataclass
class _Channel:
    """One sound's QMediaPlayer and what it should be doing."""

    voice: Voice
    player: object = None
    output: object = None
    target: float | None = None  # seconds into the file the picture asks for
    should_play: bool = False
    failed: str = ""
    drift: DriftCheck = field(default_factory=DriftCheck)
    seeks: int = 0

    @property
    def position(self) -> float | None:
        if self.player is None:
            return None
        return self.player.position() / 1000.0

    @property
    def playing(self) -> bool:
        if self.player is None:
            return False
        mm = _multimedia()
        return self.player.playbackState() == mm.QMediaPlayer.PlaybackState.PlayingState


class AudioPlayback(QObject):
    """Follows a ``PlayerViewModel``; ``expect(shot_ids)`` names the shots whose clips the
    player is about to show, in order (the main window calls it before loading them)."""

    def __init__(
        self, player: PlayerViewModel, audio: AudioViewModel, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.player, self.audio = player, audio
        self.mm = _multimedia()
        self.channels: dict[str, _Channel] = {}
        self.clock = FilmClock()
        self.seconds = 0.0  # the film second on screen
        self._expected: list[str] = []
        self._closed = False
        if self.mm is None:
            log.warning("QtMultimedia is not installed (PySide6-Addons): playing without sound")
        elif not self.mm.QMediaDevices.audioOutputs():
            log.info("no sound output device: the sound track plays silently")
        player.clip_changed.connect(self._on_clip)
        player.frame_changed.connect(self._on_frame)
        player.playing_changed.connect(lambda _p: self.sync())
        audio.track_changed.connect(lambda _id: self.refresh())
        audio.mute_changed.connect(lambda _id: self.refresh())
        audio.timeline_changed.connect(self.refresh)

    @property
    def available(self) -> bool:
        return self.mm is not None

    # ------------------------------------------------------------------ what plays
    def expect(self, shot_ids: list[str]) -> None:
        self._expected = list(shot_ids)

    def _on_clip(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the clock and the voices from the project, then put every sound in place."""
        if self._closed:
            return
        project = self.audio.project
        frames = len(self.player.frames)
        cut = self.player.film  # the whole storyboard, as exported: its frames are the film's
        if cut is not None:
            placed = cut_spans(cut, self._expected)
            self.clock = FilmClock.for_film(placed, cut.fps) if frames else FilmClock()
        else:  # one shot's clip, at its place in the film
            placed = film_spans(project)
            spans = {s.shot_id: s for s in placed}
            shown = [spans[sid] for sid in self._expected if sid in spans]
            bounds = list(self.player.boundaries or [0])[: len(shown)]
            self.clock = FilmClock.for_clips(bounds, frames, shown) if frames else FilmClock()
        voices = {v.key: v for v in voices_for(project, placed)}
        for key in list(self.channels):
            if key not in voices or voices[key].path != self.channels[key].voice.path:
                self._drop(key)
        for key, voice in voices.items():
            if key in self.channels:
                self.channels[key].voice = voice
            else:
                self.channels[key] = self._channel(voice)
        self.sync()

    def _channel(self, voice: Voice) -> _Channel:
        ch = _Channel(voice)
        if self.mm is None:
            return ch
        ch.output = self.mm.QAudioOutput(self)
        ch.player = self.mm.QMediaPlayer(self)
        ch.player.setAudioOutput(ch.output)
        ch.player.errorOccurred.connect(lambda _e, text, c=ch: self._on_error(c, text))
        ch.player.mediaStatusChanged.connect(lambda status, c=ch: self._on_status(c, status))
        ch.player.setSource(QUrl.fromLocalFile(voice.path))
        return ch

    def _drop(self, key: str) -> None:
        ch = self.channels.pop(key)
        if ch.player is not None:
            ch.player.stop()
            ch.player.deleteLater()
            ch.output.deleteLater()

    def _on_error(self, ch: _Channel, text: str) -> None:
        ch.failed = text or "cannot play"
        log.info("cannot play %s: %s", ch.voice.path, ch.failed)

    def _on_status(self, ch: _Channel, status) -> None:
        # a seek asked for before the file was loaded is applied once it is
        if status == self.mm.QMediaPlayer.MediaStatus.LoadedMedia and ch.target is not None:
            ch.player.setPosition(int(round(ch.target * 1000)))
            if ch.should_play:
                ch.player.play()

    # ------------------------------------------------------------------ keeping in step
    def _on_frame(self, index: int) -> None:
        self.sync(index)

    def sync(self, index: int | None = None) -> None:
        if self._closed:
            return
        index = self.player.index if index is None else index
        playing = self.player.playing and self.player.preview is None
        t = self.clock.seconds_at(index) if self.clock.segments else 0.0
        self.seconds = t
        for ch in self.channels.values():
            self._apply(ch, t, playing and bool(self.clock.segments))

    def _apply(self, ch: _Channel, t: float, playing: bool) -> None:
        voice = ch.voice
        if not voice.active(t):
            ch.target, ch.should_play = None, False
            if ch.player is not None and ch.playing:
                ch.player.pause()
            return
        target = voice.position(t)
        ch.target, ch.should_play = target, playing
        if ch.player is None or ch.failed:
            return
        ch.output.setVolume(min(1.0, voice.gain(t)))  # above 0 dB is as loud as a player goes
        if not playing:
            if ch.playing:
                ch.player.pause()
            if ch.position is None or abs(ch.position - target) > 0.001:
                self._seek(ch, target)
            return
        if not ch.playing:
            self._seek(ch, target)
            ch.player.play()
        elif ch.drift.observe(ch.position, target):
            self._seek(ch, target)

    def _seek(self, ch: _Channel, target: float) -> None:
        ch.player.setPosition(int(round(target * 1000)))
        ch.drift.reset()
        ch.seeks += 1

    # ------------------------------------------------------------------ reports and closing
    def state(self) -> dict[str, dict]:
        """Each sound: where the picture wants it (``target``, None when silent), where its
        player is (``position``), whether it plays; seconds into its file."""
        return {
            key: {
                "target": ch.target,
                "position": ch.position,
                "playing": ch.playing,
                "should_play": ch.should_play,
                "seeks": ch.seeks,
                "failed": ch.failed,
            }
            for key, ch in self.channels.items()
        }

    def close(self) -> None:
        self._closed = True
        for key in list(self.channels):
            self._drop(key)
