"""A layout that lines its widgets up left to right and wraps them onto the next row when the
panel is too narrow (Qt's "Flow Layout" example), so a row of choices never cuts its text at
a large text size (issue 20, UI zoom)."""

from __future__ import annotations

from PySide6.QtCore import QMargins, QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QSizePolicy, QWidget


class FlowLayout(QLayout):
    """Items keep their size hints; ``align_right`` pushes each row to the right edge."""

    def __init__(self, parent: QWidget | None = None, align_right: bool = False) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._right = align_right

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 - Qt API
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt API
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt API
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802 - Qt API
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt API
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt API
        return self._place(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 - Qt API
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        """All on one row."""
        shown = [i for i in self._items if not i.isEmpty()]
        width = sum(i.sizeHint().width() for i in shown) + self._gap() * max(0, len(shown) - 1)
        height = max((i.sizeHint().height() for i in shown), default=0)
        return QSize(width, height).grownBy(self.contentsMargins())

    def minimumSize(self) -> QSize:  # noqa: N802 - Qt API
        """The widest item (the others wrap under it)."""
        size = QSize()
        for item in self._items:
            if not item.isEmpty():
                size = size.expandedTo(item.sizeHint())
        return size.grownBy(self.contentsMargins())

    def _gap(self) -> int:
        gap = self.spacing()
        if gap < 0:
            parent = self.parentWidget()
            style = parent.style() if parent is not None else None
            gap = (
                style.layoutSpacing(
                    QSizePolicy.ControlType.ToolButton,
                    QSizePolicy.ControlType.ComboBox,
                    Qt.Orientation.Horizontal,
                )
                if style is not None
                else 6
            )
        return max(0, gap)

    def _place(self, rect: QRect, move: bool) -> int:
        """Lay the items out in ``rect`` (``move``: really); returns the height used."""
        m: QMargins = self.contentsMargins()
        area = rect.marginsRemoved(m)
        gap = self._gap()
        rows: list[list[QLayoutItem]] = [[]]
        used = 0
        for item in self._items:
            if item.isEmpty():
                continue
            w = item.sizeHint().width()
            if rows[-1] and used + gap + w > area.width():
                rows.append([])
                used = 0
            used += (gap if rows[-1] else 0) + w
            rows[-1].append(item)
        y = area.y()
        for row in rows:
            if not row:
                continue
            tall = max(i.sizeHint().height() for i in row)
            width = sum(i.sizeHint().width() for i in row) + gap * (len(row) - 1)
            x = area.x() + (max(0, area.width() - width) if self._right else 0)
            for item in row:
                hint = item.sizeHint()
                if move:
                    top = y + (tall - hint.height()) // 2
                    item.setGeometry(
                        QRect(QPoint(x, top), QSize(min(hint.width(), area.width()), hint.height()))
                    )
                x += hint.width() + gap
            y += tall + gap
        return y - gap - area.y() + m.top() + m.bottom() if y > area.y() else m.top() + m.bottom()
