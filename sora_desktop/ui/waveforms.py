"""Waveforms for the audio lane, computed off the GUI thread (studio/waveform.py does the work).

``WaveformStore.peaks(path)`` answers at once from the cache, or starts the file on the one
background thread and answers None; ``ready(path)`` fires when it is there (``failed(path,
message)`` when the file is not readable sound). Each file is decoded once per change on disk.
"""

from __future__ import annotations

import logging
import queue
import threading

from PySide6.QtCore import QObject, Signal

from sora_desktop.studio.waveform import Peaks, PeaksCache

log = logging.getLogger(__name__)

_CACHE = PeaksCache()  # one per process: every lane and window shares it


class _Relay(QObject):
    done = Signal(str, object)
    failed = Signal(str, str)


class WaveformStore(QObject):
    ready = Signal(str)
    failed = Signal(str, str)

    def __init__(self, parent: QObject | None = None, cache: PeaksCache | None = None) -> None:
        super().__init__(parent)
        self.cache = cache or _CACHE
        self.errors: dict[str, str] = {}
        self._pending: set[str] = set()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._closing = threading.Event()
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_done)
        self._relay.failed.connect(self._on_failed)
        self._thread: threading.Thread | None = None

    def peaks(self, path: str) -> Peaks | None:
        found = self.cache.get(path)
        if found is not None or path in self._pending or path in self.errors:
            return found
        self._pending.add(path)
        self._queue.put(path)
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="waveforms", daemon=True)
            self._thread.start()
        return None

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def close(self) -> None:
        """Stop the background decode at its next chunk (the window is closing)."""
        self._closing.set()
        self._queue.put(None)

    def _work(self) -> None:
        relay = self._relay
        while not self._closing.is_set():
            path = self._queue.get()
            if path is None:
                return
            try:
                peaks = self.cache.peaks_for(path, cancelled=self._closing.is_set)
                if peaks is None:
                    return
                relay.done.emit(path, peaks)
            except (ValueError, OSError, MemoryError) as exc:
                try:
                    relay.failed.emit(path, str(exc) or type(exc).__name__)
                except RuntimeError:
                    return
            except RuntimeError:  # the store was deleted meanwhile: nobody to tell
                log.debug("waveform ready after its store closed", exc_info=True)
                return

    def _on_done(self, path: str, _peaks) -> None:
        self._pending.discard(path)
        self.ready.emit(path)

    def _on_failed(self, path: str, message: str) -> None:
        self._pending.discard(path)
        self.errors[path] = message
        log.info("no waveform for %s: %s", path, message)
        self.failed.emit(path, message)
