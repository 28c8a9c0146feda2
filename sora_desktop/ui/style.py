"""Themes (QSS files) and icons (SVG files tinted to the theme's text colour)."""

from __future__ import annotations

import re
from functools import lru_cache

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication

from sora_desktop.core.assets import resources_dir

ICON_COLORS = {"dark": "#c9d1d9", "light": "#30363d"}
ACCENT = "#7c6cff"
_current_theme = "dark"
_theme_applied = False
# Text sizes in the themes are in em (x the application font), so they follow the system's font
# size and the UI zoom; Qt's style sheets take points, so they are computed at apply time.
_EM_SIZE = re.compile(r"font-size:\s*([0-9]*\.?[0-9]+)em")


def sized_stylesheet(qss: str, point_size: float) -> str:
    """The theme with every ``font-size: <n>em`` written as points of ``point_size``."""
    return _EM_SIZE.sub(lambda m: f"font-size: {float(m.group(1)) * point_size:.2f}pt", qss)


def restyle(app: QApplication) -> None:
    """Apply the current theme again (after the application font changed); nothing when no
    theme was applied (tests that build widgets without one)."""
    if _theme_applied:
        apply_theme(app, _current_theme)


def theme_name(setting: str) -> str:
    """'system' follows our default look (dark), which suits watching video."""
    return "light" if setting == "light" else "dark"


def apply_theme(app: QApplication, setting: str = "dark") -> str:
    global _current_theme, _theme_applied
    name = theme_name(setting)
    _current_theme = name
    _theme_applied = True
    if app.style().name().lower() != "fusion":
        app.setStyle("Fusion")
    qss = resources_dir() / f"theme_{name}.qss"
    pal = QPalette()
    if name == "dark":
        colors = {
            QPalette.ColorRole.Window: "#14161b",
            QPalette.ColorRole.WindowText: "#e6edf3",
            QPalette.ColorRole.Base: "#0f1115",
            QPalette.ColorRole.AlternateBase: "#1b1e25",
            QPalette.ColorRole.Text: "#e6edf3",
            QPalette.ColorRole.Button: "#22262e",
            QPalette.ColorRole.ButtonText: "#e6edf3",
            QPalette.ColorRole.Highlight: ACCENT,
            QPalette.ColorRole.HighlightedText: "#ffffff",
            QPalette.ColorRole.ToolTipBase: "#22262e",
            QPalette.ColorRole.ToolTipText: "#e6edf3",
            QPalette.ColorRole.PlaceholderText: "#6e7681",
        }
    else:
        colors = {
            QPalette.ColorRole.Window: "#f3f4f7",
            QPalette.ColorRole.WindowText: "#1f2328",
            QPalette.ColorRole.Base: "#ffffff",
            QPalette.ColorRole.AlternateBase: "#eef0f4",
            QPalette.ColorRole.Text: "#1f2328",
            QPalette.ColorRole.Button: "#ffffff",
            QPalette.ColorRole.ButtonText: "#1f2328",
            QPalette.ColorRole.Highlight: ACCENT,
            QPalette.ColorRole.HighlightedText: "#ffffff",
            QPalette.ColorRole.ToolTipBase: "#ffffff",
            QPalette.ColorRole.ToolTipText: "#1f2328",
            QPalette.ColorRole.PlaceholderText: "#8c959f",
        }
    for role, color in colors.items():
        pal.setColor(role, QColor(color))
    # Palette first, style sheet second: re-polishing under the new sheet copies the palette
    # into widgets the sheet styles (scroll areas, panels). The other order left the old
    # theme's colours in those widgets until a restart.
    app.setPalette(pal)
    from sora_desktop.ui.zoom import base_point_size

    base_point_size(app)  # the system size, captured before any zoom
    text = qss.read_text(encoding="utf-8") if qss.is_file() else ""
    app.setStyleSheet(sized_stylesheet(text, app.font().pointSizeF()))
    _icon.cache_clear()
    retint_icons(app)  # a live switch: icons already shown follow the new text colour
    return name


def icon(name: str) -> QIcon:
    result = _icon(name, _current_theme)
    _icon_names[result.cacheKey()] = name
    return result


# cacheKey of every tinted icon handed out -> its name, so a theme switch can re-tint the icons
# already on buttons and actions (a QIcon copy keeps its cacheKey).
_icon_names: dict[int, str] = {}


def retint_icons(app: QApplication) -> int:
    """Give every button and action that shows one of our icons the current theme's tint."""
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QAbstractButton

    changed = 0
    targets: list = []
    for widget in app.allWidgets():
        if isinstance(widget, QAbstractButton):
            targets.append(widget)
        targets.extend(widget.actions())
    for target in targets:
        name = _icon_names.get(target.icon().cacheKey())
        if name is None and isinstance(target, QAction):
            name = target.property("icon_name") or None
        if name:
            fresh = icon(name)
            if fresh.cacheKey() != target.icon().cacheKey():
                target.setIcon(fresh)
                changed += 1
    return changed


@lru_cache(maxsize=256)
def _icon(name: str, theme: str) -> QIcon:
    path = resources_dir() / "icons" / f"{name}.svg"
    if not path.is_file():
        return QIcon()
    svg = path.read_text(encoding="utf-8").replace("currentColor", ICON_COLORS[theme])
    from PySide6.QtSvg import QSvgRenderer  # lazy: only when the first icon is drawn

    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    result = QIcon()
    for size in (16, 20, 24, 32, 48):
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        result.addPixmap(QPixmap.fromImage(image))
    return result


def app_icon() -> QIcon:
    result = QIcon()
    png = resources_dir() / "icons" / "app.png"
    svg = resources_dir() / "icons" / "app.svg"
    for path in (svg, png):
        if path.is_file():
            result.addFile(str(path))
    return result
