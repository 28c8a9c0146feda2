"""Where the main window opens: its last place and size, always inside the available screen.

The geometry lives in ``<config>/window.json`` (not settings.json: it is remembered state, and
a damaged file only costs the default placement). Logical pixels, so a changed scale factor
(150 %) or a smaller monitor cannot push the window past the screen's edges.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QComboBox, QLabel, QWidget

from sora_desktop.core.atomic import atomic_write_text
from sora_desktop.core.settings import default_paths

log = logging.getLogger(__name__)

DEFAULT_SIZE = (1440, 900)
MAX_FILE_BYTES = 4096


@dataclass(frozen=True)
class WindowPlace:
    x: int
    y: int
    width: int
    height: int
    maximized: bool = False

    def rect(self) -> QRect:
        return QRect(self.x, self.y, self.width, self.height)


def geometry_file() -> Path:
    return default_paths().config / "window.json"


def load_place(path: Path | None = None) -> WindowPlace | None:
    """The saved place, or None (first start, or a file that is not ours: default place)."""
    path = path or geometry_file()
    try:
        if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        values = [int(data[k]) for k in ("x", "y", "width", "height")]
        maximized = bool(data.get("maximized", False))
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.info("ignoring the saved window place %s: %s", path, exc)
        return None
    if values[2] <= 0 or values[3] <= 0 or any(abs(v) > 100_000 for v in values):
        return None
    return WindowPlace(*values, maximized=maximized)


def save_place(place: WindowPlace, path: Path | None = None) -> None:
    path = path or geometry_file()
    text = json.dumps(place.__dict__, indent=2)
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        log.info("could not remember the window place: %s", exc)


def fit_inside(rect: QRect, available: QRect, minimum: tuple[int, int] = (0, 0)) -> QRect:
    """``rect`` moved and shrunk so that all of it lies inside ``available``."""
    width = max(min(rect.width(), available.width()), min(minimum[0], available.width()))
    height = max(min(rect.height(), available.height()), min(minimum[1], available.height()))
    x = min(max(rect.x(), available.left()), available.right() + 1 - width)
    y = min(max(rect.y(), available.top()), available.bottom() + 1 - height)
    return QRect(x, y, width, height)


def available_rect(point: QPoint | None = None) -> QRect | None:
    """The usable area (without task bars) of the screen holding ``point``, else the primary."""
    screen = QGuiApplication.screenAt(point) if point is not None else None
    screen = screen or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else None


def default_rect(available: QRect) -> QRect:
    """The first start: the default size where it fits (90 % of the screen at most), centred."""
    width = min(DEFAULT_SIZE[0], int(available.width() * 0.9))
    height = min(DEFAULT_SIZE[1], int(available.height() * 0.9))
    rect = QRect(0, 0, width, height)
    rect.moveCenter(available.center())
    return rect


def restore_window_place(window: QWidget, place_file: Path | None) -> QRect:
    """Put ``window`` where it was last (else the default size, centred), always inside the
    available screen: another monitor, a task bar or a changed scale factor cannot push it off
    screen or make it larger than the screen."""
    place = load_place(place_file) if place_file is not None else None
    available = available_rect(place.rect().center() if place is not None else None)
    if available is None:
        return window.geometry()
    rect = place.rect() if place is not None else default_rect(available)
    hint = window.minimumSizeHint()
    rect = fit_inside(rect, available, (hint.width(), hint.height()))
    window.setGeometry(rect)
    if place is not None and place.maximized:
        window.setWindowState(window.windowState() | Qt.WindowState.WindowMaximized)
    return rect


def remember_window_place(window: QWidget, place_file: Path) -> None:
    maximized = window.isMaximized()
    rect = window.normalGeometry() if maximized else window.geometry()
    if rect.width() > 0 and rect.height() > 0:
        place = WindowPlace(rect.x(), rect.y(), rect.width(), rect.height(), maximized)
        save_place(place, place_file)


def let_panels_shrink(window) -> None:
    """The window's minimum width is the sum of the panels' minimums. Let the wide parts give
    way (elided combo boxes, a narrower frame counter, a slimmer editor) so the main window fits
    a 1600 px screen at 150 % scaling (it needed 1613 px)."""
    for combo in window.player.findChildren(QComboBox):
        # the whole text while there is room (the size hint), elided only when squeezed
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        combo.setMinimumWidth(72)  # an explicit minimum overrides the wide size hint
    frame_label = getattr(window.player, "frame_label", None)
    if isinstance(frame_label, QLabel):
        frame_label.setMinimumWidth(48)
