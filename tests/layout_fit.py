"""What a user would see cut off: a text control smaller than its text needs, or a control
pushed past the edge of a panel that cannot scroll to it (issue 20, UI zoom)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QAbstractSpinBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QScrollArea,
    QStyle,
    QStyleOptionComboBox,
    QWidget,
)

CHECKED = (QLabel, QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox)
SLACK = 1  # rounding of fractional font metrics


def needed_size(w: QWidget) -> QSize:
    """The size ``w`` needs to show all of its text (its own chrome included)."""
    hint = w.sizeHint()
    if isinstance(w, QLabel) and w.wordWrap() and w.text():
        return QSize(w.minimumSizeHint().width(), w.heightForWidth(w.width()))
    if isinstance(w, QComboBox):
        # an elided combo's hint is a few characters wide; the text shown is what counts
        fm = w.fontMetrics()
        text_w = fm.horizontalAdvance(w.currentText())
        if not w.itemIcon(w.currentIndex()).isNull():
            text_w += w.iconSize().width() + 4
        opt = QStyleOptionComboBox()
        w.initStyleOption(opt)
        size = w.style().sizeFromContents(
            QStyle.ContentsType.CT_ComboBox, opt, QSize(text_w, fm.height()), w
        )
        return QSize(size.width(), hint.height())
    if isinstance(w, QAbstractSpinBox):
        # the hint fits the widest value of the range; the value shown is what counts
        fm = w.fontMetrics()
        widest = max(
            fm.horizontalAdvance(w.textFromValue(v) if hasattr(w, "textFromValue") else "")
            for v in (w.minimum(), w.maximum())
        )
        affix = fm.horizontalAdvance(w.prefix() + w.suffix() + " ")
        shown = fm.horizontalAdvance(w.text() + " ")
        return QSize(hint.width() - widest - affix + shown, hint.height())
    if isinstance(w, QLineEdit):
        return QSize(w.minimumSizeHint().width(), hint.height())
    return hint


def _visible_in(w: QWidget, top: QWidget) -> tuple[QRect, QWidget | None]:
    """``w``'s rect in ``top`` clipped by every ancestor, stopping at a scroll area's
    viewport (returned: the scroll area, whose content can be scrolled into view)."""
    rect = QRect(QPoint(0, 0), QWidget.size(w))
    child, parent = w, w.parentWidget()
    while parent is not None:
        rect = rect.translated(child.pos())
        area = parent.parentWidget()
        if isinstance(area, QAbstractScrollArea) and parent is area.viewport():
            return rect, area
        rect = rect.intersected(QRect(QPoint(0, 0), QWidget.size(parent)))
        if parent is top:
            break
        child, parent = parent, parent.parentWidget()
    return rect, None


def clipped(top: QWidget) -> list[str]:
    """Every visible text control under ``top`` that does not show all of its text."""
    problems = []
    for w in top.findChildren(QWidget):
        if not isinstance(w, CHECKED) or not w.isVisibleTo(top) or w.objectName().startswith("qt_"):
            continue
        if QWidget.size(w).isEmpty():
            problems.append(f"{describe(w)}: no room at all")
            continue
        if isinstance(w, QLabel) and not w.text() and w.pixmap().isNull():
            continue
        need = needed_size(w)
        if need.width() > w.width() + SLACK or need.height() > w.height() + SLACK:
            problems.append(
                f"{describe(w)}: needs {need.width()}x{need.height()}, has {w.width()}x{w.height()}"
            )
            continue
        rect, area = _visible_in(w, top)
        if area is None:
            if rect.size() != QWidget.size(w):
                problems.append(
                    f"{describe(w)}: {w.width()}x{w.height()} cut to "
                    f"{rect.width()}x{rect.height()} by its panel"
                )
            continue
        # inside a scroll area: it can be scrolled into view if the view is as large as it,
        # and horizontally only if that scroll bar is allowed
        view = QWidget.size(area.viewport())
        wide_ok = need.width() <= view.width()
        if isinstance(area, QScrollArea) and area.widget() is not None:
            from PySide6.QtCore import Qt

            no_h = area.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff
            content = area.widget()
            inside = QRect(w.mapTo(content, QPoint(0, 0)), QWidget.size(w))
            limit = QRect(QPoint(0, 0), QWidget.size(content))
            if no_h:
                limit.setWidth(min(limit.width(), view.width()))
            if not limit.contains(inside) or not wide_ok or need.height() > view.height():
                problems.append(
                    f"{describe(w)}: outside what its scroll area can show "
                    f"({inside} in {limit}, view {view.width()}x{view.height()})"
                )
    return problems


def describe(w: QWidget) -> str:
    text = ""
    for attr in ("text", "currentText"):
        if hasattr(w, attr):
            text = str(getattr(w, attr)())[:40]
            break
    chain = []
    p = w.parentWidget()
    while p is not None and len(chain) < 3:
        chain.append(type(p).__name__)
        p = p.parentWidget()
    name = w.accessibleName() or w.objectName()
    return f"{type(w).__name__} {name!r} {text!r} in {'/'.join(chain)}"


def painted_past_edges(w: QWidget) -> list[str]:
    """A widget that paints its own text (the player's "No clip yet" line): the pixels along
    its edges must all be its background colour (the top-left pixel), else text runs past them
    and is cut there."""
    image = w.grab().toImage()
    background = image.pixel(0, 0)
    width, height = image.width(), image.height()
    edges = {
        "left": [(0, y) for y in range(height)],
        "right": [(width - 1, y) for y in range(height)],
        "top": [(x, 0) for x in range(width)],
        "bottom": [(x, height - 1) for x in range(width)],
    }
    return [
        f"{describe(w)}: painting runs past its {side} edge ({width}x{height})"
        for side, points in edges.items()
        if any(image.pixel(x, y) != background for x, y in points)
    ]
