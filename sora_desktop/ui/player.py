"""The preview player: decoded numpy frames on a QTimer, drawn scaled in a QWidget.

Tiny clips (64x64) are shown fitted to the view with nearest (crisp pixels) or smooth scaling,
or at 1:1. While a shot is being denoised the player shows the worker's live preview images.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sora_desktop.core.film_joins import FilmCut
from sora_desktop.studio.film_preview import PreviewFilm
from sora_desktop.ui.fitting import FlowLayout, WholeTextCombo
from sora_desktop.ui.images import frame_to_qimage
from sora_desktop.ui.style import icon
from sora_desktop.ui.zoom import em, refit_on_zoom, size_in_em

log = logging.getLogger(__name__)

SCALE_MODES = ("fit_smooth", "fit_pixel", "one_to_one")
FIT_MARGIN = 10  # px of canvas around a fitted clip
SCALE_LABELS = {"fit_smooth": "Fit (smooth)", "fit_pixel": "Fit (pixels)", "one_to_one": "1:1"}
# sizes in em (they grow with the text size, ui/zoom.py)
PLACEHOLDER_EM = 14  # the view's least width; the placeholder text wraps to it
MIN_VIEW_EM = 8  # the view's least height
ICON_EM = 1.5  # transport icons
TAKES_MIN_EM = 13  # the takes dropdown
WRAPPED = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap


# What the player keeps: frames scaled to fit this many pixels a side (the view is rarely
# larger; the app's own clips are 64x64), and at most this many bytes of pictures in all.
MAX_SIDE = 640
BUDGET_BYTES = 160 * 1024 * 1024
# Clips whose full decode is smaller than this load at once on the GUI thread (a few ms).
SYNC_BYTES = 16 * 1024 * 1024


class _Cancelled(Exception):
    pass


class _LoadToken:
    """Set ``cancelled`` to stop a background decode at its next frame."""

    def __init__(self) -> None:
        self.cancelled = False

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise _Cancelled


class _LoadRelay(QObject):
    """Carries a background decode's result to the GUI thread (queued signals)."""

    done = Signal(object, object, float, str, object)  # token, images, fps, title, (bounds, cut)
    failed = Signal(object, str)


def _decode(
    paths: list[Path], budget: int, token: _LoadToken | None
) -> tuple[list[QImage], float, list[int]]:
    """Frames of every clip as QImages (each converted as soon as it is decoded, so only the
    scaled pictures are ever held), the first clip's fps, and where each clip starts."""
    from sora_desktop.engine.decode import iter_video

    images: list[QImage] = []
    bounds: list[int] = []
    fps = 8.0
    for i, path in enumerate(paths):
        info, frames = iter_video(path, MAX_SIDE, budget, token)
        if i == 0:
            fps = info.fps or 8.0
        bounds.append(len(images))
        start = len(images)
        images.extend(frame_to_qimage(f) for f in frames)
        if len(images) == start:
            raise ValueError(f"path: {Path(path).name} has no decodable frames")
    return images, fps, bounds


def _decode_film(
    paths: list[Path], film: PreviewFilm, token: _LoadToken | None
) -> tuple[list[QImage], float, list[int], FilmCut]:
    """The whole storyboard as the export makes it (studio/film_preview): retimed to the
    film's rate, fitted to its frame, each join blended; a frame shown twice is one QImage."""
    from sora_desktop.studio.film_preview import decode_film

    images, cut = decode_film(paths, film, frame_to_qimage, MAX_SIDE, BUDGET_BYTES, token)
    return images, float(cut.fps), [p.first for p in cut.kept], cut


def _decoder(paths: list[Path], budget: int, film: PreviewFilm | None, storyboard: bool):
    """``decode(token) -> (images, fps, (bounds or None, cut or None))`` for a load."""

    def decode(token: _LoadToken | None):
        if film is not None:
            images, fps, bounds, cut = _decode_film(paths, film, token)
            return images, fps, (bounds, cut)
        images, fps, bounds = _decode(paths, budget, token)
        return images, fps, (bounds if storyboard else None, None)

    return decode


class PlayerViewModel(QObject):
    """What is loaded and where playback is; the widget only draws and forwards clicks."""

    frame_changed = Signal(int)
    clip_changed = Signal()
    playing_changed = Signal(bool)
    preview_changed = Signal()
    load_failed = Signal(str)  # a clip decoded in the background could not be shown

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.frames: list[QImage] = []
        self.fps = 8
        self.index = 0
        self.loop = True
        self.title = ""
        self.preview: QImage | None = None
        self.preview_text = ""
        self.boundaries: list[int] = []  # first frame index of each shot (storyboard playback)
        self.film: FilmCut | None = None  # the whole storyboard as exported (cross-fades)
        self.loading = False
        self._play_when_loaded = False  # a clip loading in the background starts when shown
        self._token: _LoadToken | None = None
        self._relay = _LoadRelay(self)
        self._relay.done.connect(self._on_loaded)
        self._relay.failed.connect(self._on_failed)
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)

    # ------------------------------------------------------------------ loading
    def load_frames(
        self,
        frames: np.ndarray | list[np.ndarray],
        fps: float,
        title: str = "",
        boundaries: list[int] | None = None,
        film: FilmCut | None = None,
    ) -> None:
        self.stop()
        self._cancel_loading()
        self.frames = [
            f if isinstance(f, QImage) else frame_to_qimage(np.asarray(f)) for f in frames
        ]
        self.fps = max(1, int(round(fps)))
        self.index = 0
        self.title = title
        self.boundaries = boundaries or [0]
        self.film = film
        self.preview = None
        self.clip_changed.emit()
        self.frame_changed.emit(0)
        self.preview_changed.emit()

    def load_clip(self, path: str | Path, title: str = "", play: bool = False) -> None:
        """Show one clip (``play``: and play it, looping while ``loop`` is on, once it is
        shown). ``ValueError`` at once for a clip refused by its header."""
        self._play_when_loaded = play
        self._load([Path(path)], title, storyboard=False)
        if play and not self.loading:
            self._play_when_loaded = False
            self.play()

    def load_clips(
        self, paths: list[Path], title: str = "", film: PreviewFilm | None = None
    ) -> None:
        """The whole storyboard in order, as one timeline; with ``film`` (the export's rate,
        fit and cross-fade: studio/film_preview.preview_film) exactly as the export makes it."""
        self._play_when_loaded = False
        self._load([Path(p) for p in paths], title, storyboard=True, film=film)

    def _load(
        self, paths: list[Path], title: str, storyboard: bool, film: PreviewFilm | None = None
    ) -> None:
        """Read the headers here (refusing absurd clips), then decode only what is shown:
        scaled to at most ``MAX_SIDE`` and within ``BUDGET_BYTES`` in all. Small clips (the
        app's own) decode here at once; anything bigger decodes on a background thread while
        the GUI keeps running, and appears when it is ready."""
        from sora_desktop.engine.decode import probe_video  # lazy: cv2

        infos = [probe_video(p) for p in paths]  # header only: ValueError before decoding
        self._cancel_loading()
        share = BUDGET_BYTES // max(1, len(paths))
        full = sum(i.frames * i.frame_bytes for i in infos)
        decode = _decoder(paths, share, film, storyboard)
        if full <= SYNC_BYTES and all(i.frames for i in infos):
            frames, fps, (bounds, cut) = decode(None)  # a few ms, joins and all
            self.load_frames(frames, fps, title, bounds, cut)
            return
        self.stop()
        self.frames, self.index, self.preview, self.film = [], 0, None, None
        self.title = f"{title}  ·  loading…" if title else "Loading…"
        self.loading = True
        self.clip_changed.emit()
        self.frame_changed.emit(0)
        self.preview_changed.emit()
        token = _LoadToken()
        self._token = token
        relay = self._relay

        def work() -> None:
            try:
                try:
                    images, fps, placed = decode(token)
                except _Cancelled:
                    return
                except (ValueError, OSError, MemoryError) as exc:
                    words = getattr(exc, "message", "") or str(exc)  # a FieldError: its words
                    relay.failed.emit(token, words or type(exc).__name__)
                    return
                relay.done.emit(token, images, fps, title, placed)
            except RuntimeError:  # the player was closed meanwhile: nobody to tell
                log.debug("clip loaded after the player closed", exc_info=True)

        threading.Thread(target=work, name="clip-loader", daemon=True).start()

    def _cancel_loading(self) -> None:
        if self._token is not None:
            self._token.cancelled = True
            self._token = None
        self.loading = False

    def _on_loaded(self, token, images, fps, title, placed) -> None:
        if token is not self._token:
            return  # a newer load (or clear) replaced this one
        self._token = None
        self.loading = False
        self.load_frames(images, fps, title, *placed)
        if self._play_when_loaded:
            self._play_when_loaded = False
            self.play()

    def _on_failed(self, token, message: str) -> None:
        if token is not self._token:
            return
        self._token = None
        self.loading = False
        self.title = ""
        self.clip_changed.emit()
        self.load_failed.emit(message)

    def clear(self) -> None:
        self.stop()
        self._cancel_loading()
        self.frames, self.index, self.title, self.preview = [], 0, "", None
        self.film = None
        self.clip_changed.emit()
        self.frame_changed.emit(0)
        self.preview_changed.emit()

    def show_preview(self, image: QImage, text: str = "") -> None:
        """A live frame from a running job; replaces the clip on screen until one is loaded."""
        self.preview = image
        self.preview_text = text
        self.preview_changed.emit()

    def end_preview(self) -> None:
        if self.preview is not None:
            self.preview = None
            self.preview_changed.emit()

    # ------------------------------------------------------------------ playback
    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    @property
    def current(self) -> QImage | None:
        if self.preview is not None:
            return self.preview
        if 0 <= self.index < len(self.frames):
            return self.frames[self.index]
        return None

    def play(self) -> None:
        if not self.frames:
            return
        if self.index >= len(self.frames) - 1 and not self.loop:
            self.seek(0)
        self.preview = None
        self._timer.start(int(1000 / self.fps))
        self.playing_changed.emit(True)

    def stop(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            self.playing_changed.emit(False)

    def toggle(self) -> None:
        self.stop() if self.playing else self.play()

    def seek(self, index: int) -> None:
        if not self.frames:
            return
        index = max(0, min(index, len(self.frames) - 1))
        if index != self.index:
            self.index = index
            self.frame_changed.emit(index)

    def step(self, delta: int) -> None:
        self.stop()
        self.seek(self.index + delta)

    def _tick(self) -> None:
        nxt = self.index + 1
        if nxt >= len(self.frames):
            if not self.loop:
                self.stop()
                return
            nxt = 0
        self.index = nxt
        self.frame_changed.emit(nxt)


class FrameView(QWidget):
    """Draws one image centred, fitted or 1:1, on a dark canvas."""

    def __init__(self, vm: PlayerViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vm = vm
        self.mode = "fit_smooth"  # small clips look best smoothly enlarged; pixels on request
        self.placeholder = "No clip yet.\nWrite a prompt and press Generate (Ctrl+Enter)."
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setObjectName("FrameView")
        self.refit_em()
        refit_on_zoom(self)
        vm.frame_changed.connect(lambda _i: self.update())
        vm.preview_changed.connect(self.update)
        vm.clip_changed.connect(self.update)

    def refit_em(self) -> None:
        """The smallest view (in em, so it grows with the text size) that still shows the
        placeholder whole, wrapped to that width."""
        width = em(PLACEHOLDER_EM)
        text = self._placeholder_bounds(QRect(0, 0, width, 10 * width))
        self.setMinimumSize(width, max(em(MIN_VIEW_EM), text.height() + 2 * em(1)))

    def _placeholder_font(self) -> QFont:
        f = QFont(self.font())
        f.setPointSizeF(f.pointSizeF() * 1.1)
        return f

    @staticmethod
    def _text_area(rect: QRect) -> QRect:
        return rect.adjusted(em(1), em(1), -em(1), -em(1))

    def _placeholder_bounds(self, rect: QRect) -> QRect:
        """Where the wrapped placeholder text lies when drawn in ``rect`` (less a margin)."""
        fm = QFontMetrics(self._placeholder_font())
        return fm.boundingRect(self._text_area(rect), WRAPPED, self.placeholder)

    def set_mode(self, mode: str) -> None:
        if mode not in SCALE_MODES:
            raise ValueError(f"mode: {mode!r} is not allowed; allowed {', '.join(SCALE_MODES)}")
        self.mode = mode
        self.update()

    def target_rect(self, image_size: QSize) -> QRect:
        w, h = image_size.width(), image_size.height()
        if self.mode == "one_to_one" or w == 0 or h == 0:
            tw, th = w, h
        else:
            m = 2 * FIT_MARGIN
            scale = min((self.width() - m) / w, (self.height() - m) / h)
            if self.mode == "fit_pixel" and scale >= 1:
                scale = int(scale)  # whole multiples keep pixels square
            tw, th = int(w * scale), int(h * scale)
        return QRect((self.width() - tw) // 2, (self.height() - th) // 2, tw, th)

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#0b0c10"))
        image = self.vm.current
        if image is None:
            p.setPen(QColor("#7d8590"))
            p.setFont(self._placeholder_font())
            p.drawText(self._text_area(self.rect()), WRAPPED, self.placeholder)
            return
        smooth = self.mode == "fit_smooth"
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        p.drawImage(self.target_rect(image.size()), image)
        if self.vm.preview is not None and self.vm.preview_text:
            p.setPen(QColor("#ffffff"))
            tall = self.fontMetrics().height() + em(0.6)
            band = QRect(0, self.height() - tall, self.width(), tall)
            p.fillRect(band, QColor(0, 0, 0, 150))
            p.drawText(band, Qt.AlignmentFlag.AlignCenter, self.vm.preview_text)


class PlayerWidget(QWidget):
    play_storyboard_requested = Signal()
    play_shot_requested = Signal()
    take_chosen = Signal(str)
    takes_grid_requested = Signal()  # "All takes…": the takes grid (ui/takes_grid.py)

    def __init__(self, vm: PlayerViewModel | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vm = vm or PlayerViewModel(self)
        self.setObjectName("Player")
        self.title = QLabel("Preview")
        self.title.setObjectName("PanelTitle")
        self.view = FrameView(self.vm)
        self.takes_label = QLabel("Take")
        self.takes_label.setObjectName("Muted")
        self.takes_combo = QComboBox()
        self.takes_combo.setToolTip("Several takes of this shot: pick the one that counts")
        size_in_em(self.takes_combo, min_width=TAKES_MIN_EM)
        self.takes_grid_btn = QToolButton()
        self.takes_grid_btn.setText("All takes…")
        self.takes_grid_btn.setToolTip("Every take of this shot side by side: click one to use it")

        self.play_btn = QToolButton()
        self.play_btn.setToolTip("Play / pause (Space)")
        self.play_btn.setObjectName("PlayButton")
        self.prev_btn = QToolButton()
        self.prev_btn.setToolTip("Previous frame (,)")
        self.next_btn = QToolButton()
        self.next_btn.setToolTip("Next frame (.)")
        self.loop_btn = QToolButton()
        self.loop_btn.setCheckable(True)
        self.loop_btn.setChecked(True)
        self.loop_btn.setToolTip("Loop")
        for btn, name in (
            (self.play_btn, "play"),
            (self.prev_btn, "step_back"),
            (self.next_btn, "step_forward"),
            (self.loop_btn, "loop"),
        ):
            btn.setIcon(icon(name))
            btn.setAutoRaise(True)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("Scrubber")
        self.frame_label = QLabel("0 / 0")
        self.frame_label.setObjectName("Muted")
        self.scale_combo = WholeTextCombo()
        for mode in SCALE_MODES:
            self.scale_combo.addItem(SCALE_LABELS[mode], mode)
        self.scale_combo.setCurrentIndex(SCALE_MODES.index(self.view.mode))
        self.scale_combo.setToolTip("How small clips are enlarged on screen")
        self.source_combo = WholeTextCombo()
        self.source_combo.addItems(["This shot", "Whole storyboard"])
        self.source_combo.setToolTip("Play the selected shot or every shot in order")

        # two rows, so the bar fits a narrow panel at a large text size (issue 20, UI zoom):
        # transport, loop, scrubber and frame counter; then the two choices, which wrap
        transport = QHBoxLayout()
        transport.addWidget(self.prev_btn)
        transport.addWidget(self.play_btn)
        transport.addWidget(self.next_btn)
        transport.addWidget(self.loop_btn)
        transport.addWidget(self.slider, 1)
        transport.addWidget(self.frame_label)
        options = FlowLayout(align_right=True)  # they wrap in a narrow panel
        options.addWidget(self.source_combo)
        options.addWidget(self.scale_combo)
        controls = QVBoxLayout()
        controls.setContentsMargins(8, 4, 8, 4)
        controls.setSpacing(2)
        controls.addLayout(transport)
        controls.addLayout(options)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        header = QHBoxLayout()
        header.setContentsMargins(10, 6, 10, 6)
        header.addWidget(self.title)
        header.addStretch(1)
        header.addWidget(self.takes_label)
        header.addWidget(self.takes_combo)
        header.addWidget(self.takes_grid_btn)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)
        bar = QWidget()
        bar.setObjectName("PlayerBar")
        bar.setLayout(controls)
        layout.addWidget(bar)

        self.play_btn.clicked.connect(self.vm.toggle)
        self.prev_btn.clicked.connect(lambda: self.vm.step(-1))
        self.next_btn.clicked.connect(lambda: self.vm.step(1))
        self.loop_btn.toggled.connect(lambda on: setattr(self.vm, "loop", on))
        self.slider.valueChanged.connect(self._on_slider)
        self.scale_combo.currentIndexChanged.connect(
            lambda i: self.view.set_mode(self.scale_combo.itemData(i))
        )
        self.source_combo.currentIndexChanged.connect(self._on_source)
        self.takes_combo.activated.connect(
            lambda i: self.take_chosen.emit(self.takes_combo.itemData(i) or "")
        )
        self.takes_grid_btn.clicked.connect(self.takes_grid_requested)
        self.set_takes([], None)
        self.vm.frame_changed.connect(self._on_frame)
        self.vm.clip_changed.connect(self._on_clip)
        self.vm.playing_changed.connect(self._on_playing)
        self.vm.preview_changed.connect(self._on_preview)
        self._on_clip()
        self.refit_em()
        refit_on_zoom(self)

    def refit_em(self) -> None:
        """Icons and the frame counter follow the text size (the counter keeps its width while
        the numbers change, wide enough for a long clip)."""
        side = em(ICON_EM)
        for btn in (self.play_btn, self.prev_btn, self.next_btn, self.loop_btn):
            btn.setIconSize(QSize(side, side))
        self._reserve_counter()

    def _reserve_counter(self) -> None:
        """The frame counter's width for the clip's last frame: it stays put while playing."""
        n = len(self.vm.frames)
        widest = self._frame_text(max(0, n - 1), n, self.vm.fps)
        self.frame_label.setMinimumWidth(self.frame_label.fontMetrics().horizontalAdvance(widest))

    def set_takes(self, takes: list[tuple[str, str]], selected: str | None) -> None:
        """The selected shot's finished takes; shown only when there is a choice."""
        self.takes_combo.blockSignals(True)
        self.takes_combo.clear()
        for take_id, label in takes:
            self.takes_combo.addItem(label, take_id)
        idx = self.takes_combo.findData(selected) if selected else -1
        self.takes_combo.setCurrentIndex(max(0, idx))
        self.takes_combo.blockSignals(False)
        self.takes_combo.setVisible(len(takes) > 1)
        self.takes_label.setVisible(len(takes) > 1)
        self.takes_grid_btn.setVisible(len(takes) > 1)

    @property
    def whole_storyboard(self) -> bool:
        return self.source_combo.currentIndex() == 1

    def _on_source(self, index: int) -> None:
        (self.play_storyboard_requested if index == 1 else self.play_shot_requested).emit()

    def _on_slider(self, value: int) -> None:
        if value != self.vm.index:
            self.vm.stop()
            self.vm.seek(value)

    def _on_frame(self, index: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        self.frame_label.setText(self._frame_text(index, len(self.vm.frames), self.vm.fps))

    @staticmethod
    def _frame_text(index: int, count: int, fps: float) -> str:
        return f"{index + 1 if count else 0} / {count}  ·  {index / fps:.2f}s"

    def _on_clip(self) -> None:
        n = len(self.vm.frames)
        self.slider.setRange(0, max(0, n - 1))
        self.slider.setEnabled(n > 1)
        for w in (self.play_btn, self.prev_btn, self.next_btn):
            w.setEnabled(n > 0)
        self.title.setText(self.vm.title or "Preview")
        self._reserve_counter()
        self._on_frame(self.vm.index)

    def _on_playing(self, playing: bool) -> None:
        self.play_btn.setIcon(icon("pause" if playing else "play"))

    def _on_preview(self) -> None:
        if self.vm.preview is not None:
            self.title.setText("Live preview")
        else:
            self.title.setText(self.vm.title or "Preview")
