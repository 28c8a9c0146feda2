"""The storyboard's audio lane: the sound track's clips under the shot cards, with waveforms.

The lane shares the cards' scale: each card starts at the film second where the exported film
starts its shot (``playback_sync.lane_spans``: the export's rule, so with a cross-fade a shot
starts before the one ahead has ended) and a second under a card is as wide as the card makes
it (``LaneGeometry``), so a sound lines up with the shot it plays under in the film. A shot
without a clip is not in the film: its card takes no film time and the lane greys it.

Drag a clip to move it, its edges to trim it, the small squares on its top corners to fade it in
and out; right-click (or double-click) for its volume and exact values, and drop sound files on
the lane to import them there. Every change is one undoable command (through ``AudioViewModel``).
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QEvent, QLineF, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QMouseEvent, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QMenu, QWidget

from sora_desktop.core.errors import FieldError
from sora_desktop.core.project import AudioItem
from sora_desktop.core.project.audio import IMPORT_SUFFIXES
from sora_desktop.studio.playback_sync import ShotSpan, lane_spans
from sora_desktop.ui.audio_vm import AudioViewModel
from sora_desktop.ui.waveforms import WaveformStore

log = logging.getLogger(__name__)

LANE_H = 76
CLIP_MARGIN = 5  # px above and below a clip
EDGE_PX = 7  # grab zone of a clip's edges (trim)
FADE_BOX = 9  # side of the fade handles
MIN_CLIP_S = 0.1  # a trim never leaves less than this


@dataclass(frozen=True)
class LaneGeometry:
    """Seconds ↔ pixels along the storyboard. Card ``i`` spans ``xs[i]`` to ``xs[i + 1]``
    pixels (the card and the gap after it) for film seconds ``times[i]`` to ``times[i + 1]``
    (its shot's start to the next one's); before and after the shots the scale is
    ``px_per_second`` from ``xs[0]`` / the film's end. A card of no film time (a shot left out
    of the film) is one instant: a second there is drawn on the next card that has it."""

    xs: tuple[float, ...]  # len(spans) + 1 pixel positions
    times: tuple[float, ...]  # len(spans) + 1 film seconds
    px_per_second: float

    @classmethod
    def build(
        cls,
        spans: list[ShotSpan],
        cards: list[tuple[int, int]],
        spacing: int,
        origin: int,
        px_per_second: float,
    ) -> LaneGeometry:
        """``cards`` are each shot card's (left, width) in the lane's coordinates."""
        if not spans or len(cards) != len(spans):
            return cls((float(origin),), (0.0,), px_per_second)
        xs = [float(left) for left, _w in cards]
        left, width = cards[-1]
        xs.append(float(left + width + spacing))
        times = [s.start for s in spans] + [spans[-1].end]
        return cls(tuple(xs), tuple(times), px_per_second)

    def x_for(self, t: float) -> float:
        xs, ts = self.xs, self.times
        if t < ts[0]:
            return xs[0] + (t - ts[0]) * self.px_per_second
        if t >= ts[-1]:  # the film's end: right after the last card that has film time
            return xs[bisect.bisect_left(ts, ts[-1])] + (t - ts[-1]) * self.px_per_second
        i = bisect.bisect_right(ts, t) - 1
        return xs[i] + (t - ts[i]) / (ts[i + 1] - ts[i]) * (xs[i + 1] - xs[i])

    def t_for(self, x: float) -> float:
        xs, ts = self.xs, self.times
        if x <= xs[0]:
            return ts[0] + (x - xs[0]) / self.px_per_second
        if x >= xs[-1]:
            return ts[-1] + (x - xs[-1]) / self.px_per_second
        i = bisect.bisect_right(xs, x) - 1
        return ts[i] + (x - xs[i]) / (xs[i + 1] - xs[i]) * (ts[i + 1] - ts[i])

    def ts_for(self, xs: np.ndarray) -> np.ndarray:
        """``t_for`` of many pixel positions at once (painting)."""
        inner = np.interp(xs, self.xs, self.times)
        before = self.times[0] + (xs - self.xs[0]) / self.px_per_second
        after = self.times[-1] + (xs - self.xs[-1]) / self.px_per_second
        return np.where(xs < self.xs[0], before, np.where(xs > self.xs[-1], after, inner))


def lane_rows(items: list[AudioItem]) -> tuple[dict[str, int], int]:
    """Overlapping clips are drawn one above the other: each clip's row (the first one free
    where it starts, in track order) and the number of rows."""
    ends: list[float] = []  # where each row is free from
    rows: dict[str, int] = {}
    for item in items:
        row = next((r for r, end in enumerate(ends) if end <= item.start + 1e-9), len(ends))
        if row == len(ends):
            ends.append(item.end)
        else:
            ends[row] = item.end
        rows[item.id] = row
    return rows, max(1, len(ends))


def _fit_fades(changes: dict, item: AudioItem, duration: float) -> dict:
    """Shorten the fades so they still fit a clip trimmed to ``duration``."""
    fin = min(item.fade_in, duration)
    fout = min(item.fade_out, duration - fin)
    changes.update(duration=duration, fade_in=fin, fade_out=fout)
    return changes


def drag_changes(item: AudioItem, part: str, dt: float, t: float) -> dict:
    """What dragging ``part`` of ``item`` by ``dt`` seconds (the pointer now at film second
    ``t``) changes: always values the model accepts (clamped to the file and the film)."""
    if part == "body":
        return {"start": max(0.0, item.start + dt)}
    if part == "left":  # trim the start: the sound under the rest stays where it was
        d = min(max(dt, -item.trim_in, -item.start), item.duration - MIN_CLIP_S)
        changes = {"start": item.start + d, "trim_in": item.trim_in + d}
        return _fit_fades(changes, item, item.duration - d)
    if part == "right":
        longest = item.source_seconds - item.trim_in
        duration = min(max(item.duration + dt, MIN_CLIP_S), longest)
        return _fit_fades({}, item, duration)
    if part == "fade_in":
        return {"fade_in": min(max(t - item.start, 0.0), item.duration - item.fade_out)}
    if part == "fade_out":
        return {"fade_out": min(max(item.end - t, 0.0), item.duration - item.fade_in)}
    return {}


class AudioLane(QWidget):
    """The track under the cards. Emits ``import_requested(seconds)`` (menu) and
    ``files_dropped(paths, seconds)`` (drag and drop); the main window imports."""

    import_requested = Signal(float)
    files_dropped = Signal(list, float)
    music_requested = Signal()  # "Make music for this film…"

    def __init__(
        self, vm: AudioViewModel, storyboard, waveforms: WaveformStore | None = None
    ) -> None:
        super().__init__()
        self.vm, self.storyboard = vm, storyboard
        self.waveforms = waveforms or WaveformStore(self)
        self.setObjectName("AudioLane")
        self.setFixedHeight(LANE_H)
        self.setMouseTracking(True)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setToolTip("")
        self._drag: tuple[str, str, float] | None = None  # item id, part, pointer's first t
        self._preview: AudioItem | None = None  # the clip as the drag would leave it
        self.playhead: float | None = None  # the film second the player shows
        vm.track_changed.connect(lambda _id: self.update())
        # where the film has each shot: read from the project (file checks) once per change
        self._places: list[ShotSpan] | None = None
        vm.timeline_changed.connect(self._replace)
        vm.project_vm.edited.connect(self._replace)  # e.g. the cross-fade chosen in Export
        vm.selection_changed.connect(lambda _id: self.update())
        self.waveforms.ready.connect(lambda _p: self.update())
        self.waveforms.failed.connect(lambda _p, _m: self.update())

    # ------------------------------------------------------------------ geometry
    def lane_geometry(self) -> LaneGeometry:
        from sora_desktop.ui.storyboard import PX_PER_SECOND

        strip = self.storyboard.strip
        cards = [(c.geometry().x(), c.geometry().width()) for c in strip.cards]
        margins = strip.row.contentsMargins()
        spans = self.shot_places()
        return LaneGeometry.build(spans, cards, strip.row.spacing(), margins.left(), PX_PER_SECOND)

    def _replace(self) -> None:
        self._places = None
        self.update()

    def shot_places(self) -> list[ShotSpan]:
        """Each card's shot at its film place; [] (the plain scale) if that cannot be read."""
        if self._places is None:
            try:
                self._places = lane_spans(self.vm.project)
            except (ValueError, OSError):  # a project being replaced, a clip gone meanwhile
                log.debug("the lane cannot place the shots", exc_info=True)
                return []
        return self._places

    def empty_cards(self) -> list[tuple[int, int]]:
        """(left, width) of each card whose shot is not in the film (no clip yet)."""
        spans = self.shot_places()
        cards = self.storyboard.strip.cards
        if len(spans) != len(cards):
            return []
        return [
            (c.geometry().x(), c.geometry().width())
            for c, s in zip(cards, spans, strict=True)
            if s.seconds <= 0
        ]

    def item_rect(self, item: AudioItem, geo: LaneGeometry | None = None) -> QRectF:
        geo = geo or self.lane_geometry()
        x0, x1 = geo.x_for(item.start), geo.x_for(item.end)
        rows, count = lane_rows(self._shown_items())
        height = (self.height() - 2 * CLIP_MARGIN) / count
        top = CLIP_MARGIN + rows.get(item.id, 0) * height
        return QRectF(x0, top, max(2.0, x1 - x0), height - (1 if count > 1 else 0))

    def fade_handles(self, item: AudioItem, geo: LaneGeometry | None = None):
        geo = geo or self.lane_geometry()
        top = self.item_rect(item, geo).top()
        xin = geo.x_for(item.start + item.fade_in)
        xout = geo.x_for(item.end - item.fade_out)
        box = lambda x, side: QRectF(x - (FADE_BOX if side else 0), top, FADE_BOX, FADE_BOX)  # noqa: E731
        return box(xin, False), box(xout, True)

    def hit(self, pos: QPointF) -> tuple[str, str] | None:
        """(item id, part) under ``pos``: part is fade_in, fade_out, left, right or body. The
        clip drawn last (on top) wins."""
        geo = self.lane_geometry()
        for item in reversed(self._shown_items()):
            rect = self.item_rect(item, geo)
            fin, fout = self.fade_handles(item, geo)
            grow = 3
            if fin.adjusted(-grow, -grow, grow, grow).contains(pos):
                return item.id, "fade_in"
            if fout.adjusted(-grow, -grow, grow, grow).contains(pos):
                return item.id, "fade_out"
            if not rect.contains(pos):
                continue
            if pos.x() <= rect.left() + EDGE_PX:
                return item.id, "left"
            if pos.x() >= rect.right() - EDGE_PX:
                return item.id, "right"
            return item.id, "body"
        return None

    def _shown_items(self) -> list[AudioItem]:
        items = self.vm.items
        if self._preview is not None:
            items = [self._preview if i.id == self._preview.id else i for i in items]
        return items

    def set_playhead(self, seconds: float | None) -> None:
        if seconds != self.playhead:
            self.playhead = seconds
            self.update()

    # ------------------------------------------------------------------ painting
    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().base().color().darker(108))
        geo = self.lane_geometry()
        items = self._shown_items()
        self._paint_empty_cards(p)
        if not items:
            p.setPen(self.palette().placeholderText().color())
            p.drawText(
                self.rect().adjusted(int(geo.xs[0]), 0, 0, 0),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                "Sound: drop a music file here, or File → Import sound…",
            )
        for item in items:
            self._paint_item(p, item, geo)
        if self.playhead is not None:
            x = geo.x_for(self.playhead)
            p.setPen(QPen(QColor("#ff5c5c"), 2))
            p.drawLine(QLineF(x, 0, x, self.height()))

    def _paint_empty_cards(self, p: QPainter) -> None:
        """Under a shot without a clip: grey, and "not in the film" where there is room."""
        grey = self.palette().window().color().darker(125)
        grey.setAlpha(120)
        for left, width in self.empty_cards():
            band = QRectF(left, 0, width, self.height())
            p.fillRect(band, QBrush(grey, Qt.BrushStyle.BDiagPattern))
            p.setPen(self.palette().placeholderText().color())
            p.drawText(
                band.adjusted(4, 0, -4, -4),
                Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignHCenter,
                "no clip yet: not in the film",
            )

    def _paint_item(self, p: QPainter, item: AudioItem, geo: LaneGeometry) -> None:
        rect = self.item_rect(item, geo)
        selected = item.id == self.vm.selected_id
        colour = QColor("#2f6f8f") if not selected else QColor("#3b8fb8")
        colour.setAlpha(200)
        p.setPen(QPen(QColor("#9fd3ea") if selected else QColor("#1d4a60"), 1))
        p.setBrush(colour)
        p.drawRoundedRect(rect, 4, 4)
        self._paint_wave(p, item, rect, geo)
        # fades: a line from silence to full volume, and the handles
        top, bottom = rect.top() + 1, rect.bottom() - 1
        xin = geo.x_for(item.start + item.fade_in)
        xout = geo.x_for(item.end - item.fade_out)
        p.setPen(QPen(QColor("#ffd479"), 1.5))
        p.setBrush(Qt.BrushStyle.NoBrush)
        if item.fade_in > 0 or item.fade_out > 0:
            p.drawPolyline(
                QPolygonF(
                    [
                        QPointF(rect.left(), bottom),
                        QPointF(xin, top),
                        QPointF(xout, top),
                        QPointF(rect.right(), bottom),
                    ]
                )
            )
        p.setBrush(QColor("#ffd479"))
        for box in self.fade_handles(item, geo):
            p.drawRect(box)
        # name and volume
        p.setPen(QColor("#ffffff"))
        f = QFont(self.font())
        f.setPointSizeF(max(7.0, f.pointSizeF() * 0.85))
        p.setFont(f)
        label = item.name or "sound"
        if item.volume_db:
            label += f"  ·  {item.volume_db:+.1f} dB"
        text_rect = rect.adjusted(FADE_BOX + 4, 1, -FADE_BOX - 4, 0)
        p.drawText(text_rect, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft, label)

    def _paint_wave(self, p: QPainter, item: AudioItem, rect: QRectF, geo: LaneGeometry) -> None:
        path = self.vm.file_of(item)
        peaks = self.waveforms.peaks(str(path)) if path is not None else None
        if peaks is None:
            why = self.waveforms.errors.get(str(path)) if path is not None else "file missing"
            p.setPen(QColor("#cfe8f3"))
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, "no waveform" if why else "reading…")
            return
        x0 = max(int(rect.left()), 0)
        x1 = min(int(rect.right()), self.width())
        if x1 <= x0:
            return
        amps = self.column_levels(item, np.arange(x0, x1 + 1, dtype=np.float64), geo, peaks)
        mid, half = rect.center().y(), rect.height() / 2 - 2
        lines = [
            QLineF(x0 + i + 0.5, mid - a * half, x0 + i + 0.5, mid + a * half)
            for i, a in enumerate(amps)
            if a > 0.002
        ]
        p.setPen(QPen(QColor("#cfe8f3"), 1))
        if lines:
            p.drawLines(lines)

    @staticmethod
    def column_levels(item: AudioItem, xs: np.ndarray, geo: LaneGeometry, peaks) -> np.ndarray:
        """What each pixel column between neighbouring ``xs`` shows: the file's loudest peak
        there times the clip's volume and fade (so a fade or a quieter clip looks it), 0..1."""
        ts = geo.ts_for(xs)
        inside = np.clip(ts, item.start, item.end)
        levels = peaks.levels(item.trim_in + (inside - item.start))
        mids = (ts[:-1] + ts[1:]) / 2
        gain = np.array([item.gain * item.fade_gain(t) for t in mids], np.float32)
        return np.clip(levels * gain, 0.0, 1.0)

    # ------------------------------------------------------------------ mouse
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        pos = event.position()
        found = self.hit(pos)
        self.vm.select(found[0] if found else "")
        if event.button() == Qt.MouseButton.LeftButton and found:
            self._drag = (found[0], found[1], self.lane_geometry().t_for(pos.x()))
        elif event.button() == Qt.MouseButton.RightButton:
            self.build_menu(found[0] if found else "", pos.x()).exec(
                event.globalPosition().toPoint()
            )
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        pos = event.position()
        if self._drag is None:
            found = self.hit(pos)
            cursor = {
                "left": Qt.CursorShape.SizeHorCursor,
                "right": Qt.CursorShape.SizeHorCursor,
                "fade_in": Qt.CursorShape.PointingHandCursor,
                "fade_out": Qt.CursorShape.PointingHandCursor,
                "body": Qt.CursorShape.OpenHandCursor,
            }.get(found[1] if found else "", Qt.CursorShape.ArrowCursor)
            self.setCursor(cursor)
            return
        item_id, part, t0 = self._drag
        item = self.vm.item(item_id)
        if item is None:
            self._drag = None
            return
        t = self.lane_geometry().t_for(pos.x())
        try:
            self._preview = item.with_changes(**drag_changes(item, part, t - t0, t))
        except FieldError:
            return  # keep the last good preview
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if self._drag is not None:
            item_id, part, _t0 = self._drag
            preview, self._drag, self._preview = self._preview, None, None
            item = self.vm.item(item_id)
            if preview is not None and item is not None and preview != item:
                key = {"body": "start", "left": "trim", "right": "trim"}.get(part, part)
                changes = {
                    k: getattr(preview, k)
                    for k in ("start", "trim_in", "duration", "fade_in", "fade_out")
                    if getattr(preview, k) != getattr(item, k)
                }
                self.vm.update_item(item_id, key, **changes)
            self.update()
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        found = self.hit(event.position())
        if found:
            self.open_inspector(found[0])

    def event(self, event) -> bool:
        # Delete on a selected clip removes the clip, not the shot (the storyboard's shortcut)
        if event.type() == QEvent.Type.ShortcutOverride and self.vm.selected_id:
            if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
                event.accept()
                return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.vm.selected_id:
            self.vm.remove_item(self.vm.selected_id)
            return
        super().keyPressEvent(event)

    # ------------------------------------------------------------------ menu and inspector
    def build_menu(self, item_id: str, x: float) -> QMenu:
        menu = QMenu(self)
        at = max(0.0, self.lane_geometry().t_for(x))
        if item_id:
            menu.addAction("Sound clip…", lambda: self.open_inspector(item_id))
            menu.addAction("Remove", lambda: self.vm.remove_item(item_id))
            menu.addSeparator()
        menu.addAction("Import sound here…", lambda: self.import_requested.emit(at))
        menu.addAction("Make music for this film…", self.music_requested.emit)
        return menu

    def open_inspector(self, item_id: str):
        from sora_desktop.ui.audio_inspector import SoundClipDialog

        if self.vm.item(item_id) is None:
            return None
        dialog = SoundClipDialog(self.vm, item_id, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.inspector = dialog  # tests reach it here
        return dialog

    # ------------------------------------------------------------------ drops
    @staticmethod
    def sound_files(mime) -> list[str]:
        if not mime.hasUrls():
            return []
        paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
        return [p for p in paths if p.lower().endswith(IMPORT_SUFFIXES)]

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.sound_files(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self.sound_files(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt API
        files = self.sound_files(event.mimeData())
        if files:
            at = max(0.0, self.lane_geometry().t_for(event.position().x()))
            event.acceptProposedAction()
            self.files_dropped.emit(files, at)

    def point_for(self, item_id: str, part: str = "body") -> QPoint:
        """Where to grab ``part`` of a clip (tests and accessibility)."""
        item = self.vm.item(item_id)
        rect = self.item_rect(item)
        fin, fout = self.fade_handles(item)
        where = {
            "body": rect.center(),
            "left": QPointF(rect.left() + 2, rect.center().y() + 10),
            "right": QPointF(rect.right() - 2, rect.center().y() + 10),
            "fade_in": fin.center(),
            "fade_out": fout.center(),
        }[part]
        return where.toPoint()
