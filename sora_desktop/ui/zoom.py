"""UI zoom (issue 20): Ctrl+plus / Ctrl+minus / Ctrl+0 scale every text in the app.

The zoom multiplies the system's font size (captured once, so text follows the user's system
setting) into the application font; the theme's style sheet writes its text sizes relative to
that font (``em`` in resources/theme_*.qss, turned into points by ``ui.style``), so panel titles
and secondary text grow with it. The factor is kept in ``Settings.ui_zoom``.
"""

from __future__ import annotations

import logging

from PySide6.QtGui import QAction, QFont, QFontInfo, QKeySequence
from PySide6.QtWidgets import QApplication, QWidget

from sora_desktop.core.settings import UI_ZOOM_MAX, UI_ZOOM_MIN

log = logging.getLogger(__name__)

ZOOM_STEPS = (0.5, 0.67, 0.75, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)
assert ZOOM_STEPS[0] >= UI_ZOOM_MIN and ZOOM_STEPS[-1] <= UI_ZOOM_MAX
_BASE_PROPERTY = "sora_base_font_pt"
_EM_PROPERTY = "sora_em_sizes"  # a widget's sizes in em, applied again after each zoom
_REFIT_PROPERTY = "sora_refit_em"  # a widget whose refit_em() runs after each zoom
FALLBACK_POINT_SIZE = 10.0  # a font given in pixels has no point size


def base_point_size(app: QApplication) -> float:
    """The system's font size, read before the first zoom changed the application font."""
    value = app.property(_BASE_PROPERTY)
    if value is None:
        size = app.font().pointSizeF()
        value = size if size > 0 else FALLBACK_POINT_SIZE
        app.setProperty(_BASE_PROPERTY, value)
    return float(value)


def current_zoom(app: QApplication) -> float:
    return round(app.font().pointSizeF() / base_point_size(app), 2)


def apply_zoom(app: QApplication, zoom: float) -> float:
    """Scale the application font (and the theme's text sizes) to ``zoom`` x the system size."""
    from sora_desktop.ui import style

    zoom = min(UI_ZOOM_MAX, max(UI_ZOOM_MIN, float(zoom)))
    font = QFont(app.font())
    font.setPointSizeF(base_point_size(app) * zoom)
    app.setFont(font)
    style.restyle(app)  # the style sheet's sizes follow the new font
    resize_em_widgets(app)
    return zoom


def em(count: float = 1.0) -> int:
    """``count`` em in pixels: the application font's size, so a length in em grows with the
    system font and the UI zoom (a panel's minimum width, a card's height)."""
    return round(count * QFontInfo(QApplication.font()).pixelSize())


_SETTERS = {
    "min_width": QWidget.setMinimumWidth,
    "min_height": QWidget.setMinimumHeight,
    "max_height": QWidget.setMaximumHeight,
    "fixed_width": QWidget.setFixedWidth,
    "fixed_height": QWidget.setFixedHeight,
}


def size_in_em(widget: QWidget, **sizes: float) -> QWidget:
    """Give ``widget`` sizes in em (``min_width=22``, ``fixed_height=1.5`` …) instead of pixels;
    they are applied now and again after every zoom change. Returns the widget."""
    unknown = set(sizes) - set(_SETTERS)
    if unknown:
        raise ValueError(f"size_in_em: unknown size {sorted(unknown)}; allowed {sorted(_SETTERS)}")
    widget.setProperty(_EM_PROPERTY, dict(sizes))
    _apply_em(widget, sizes)
    return widget


def _apply_em(widget: QWidget, sizes: dict) -> None:
    for name, count in sizes.items():
        _SETTERS[name](widget, em(count))


def refit_on_zoom(widget: QWidget) -> None:
    """``widget.refit_em()`` (sizes it works out from the font) runs again after every zoom."""
    widget.setProperty(_REFIT_PROPERTY, True)


def resize_em_widgets(app: QApplication) -> int:
    """Apply every widget's em sizes for the current font; returns how many widgets."""
    done = 0
    for widget in app.allWidgets():
        sizes = widget.property(_EM_PROPERTY)
        if sizes:
            _apply_em(widget, sizes)
            done += 1
        if widget.property(_REFIT_PROPERTY) and hasattr(widget, "refit_em"):
            widget.refit_em()
            done += 1
    return done


def next_step(zoom: float, direction: int) -> float:
    """The next zoom step up (+1) or down (-1) from ``zoom``; stays at the ends."""
    if direction > 0:
        return next((z for z in ZOOM_STEPS if z > zoom + 1e-6), ZOOM_STEPS[-1])
    return next((z for z in reversed(ZOOM_STEPS) if z < zoom - 1e-6), ZOOM_STEPS[0])


class ZoomControl:
    """The window's Zoom in / Zoom out / Actual size actions, remembered in its settings."""

    def __init__(self, window) -> None:
        self.window = window
        K = QKeySequence.StandardKey  # noqa: N806
        self.zoom_in = self._action("Zoom &in", lambda: self.step(1), K.ZoomIn, "Ctrl+=")
        self.zoom_out = self._action("Zoom &out", lambda: self.step(-1), K.ZoomOut, "Ctrl+-")
        self.reset = self._action("&Actual size", lambda: self.set(1.0), "Ctrl+0")
        app = QApplication.instance()
        if app is not None and window.settings.ui_zoom != current_zoom(app):
            apply_zoom(app, window.settings.ui_zoom)

    def _action(self, text: str, slot, *keys) -> QAction:
        act = QAction(text, self.window)
        shortcuts: list[QKeySequence] = []
        for key in keys:
            for seq in QKeySequence.keyBindings(key) if not isinstance(key, str) else [key]:
                seq = QKeySequence(seq)
                if not seq.isEmpty() and seq not in shortcuts:
                    shortcuts.append(seq)
        act.setShortcuts(shortcuts)
        act.triggered.connect(lambda _checked=False: slot())
        self.window.addAction(act)
        return act

    @property
    def actions(self) -> list[QAction]:
        return [self.zoom_in, self.zoom_out, self.reset]

    def step(self, direction: int) -> float:
        app = QApplication.instance()
        return self.set(next_step(current_zoom(app), direction))

    def set(self, zoom: float) -> float:
        app = QApplication.instance()
        zoom = apply_zoom(app, zoom)
        if zoom != self.window.settings.ui_zoom:
            self.window.settings.ui_zoom = zoom  # the one Settings object every panel holds
            self.window._save_settings()
        self.window.status(f"Text size {round(zoom * 100)}% (Ctrl+0: actual size)", 3000)
        return zoom
