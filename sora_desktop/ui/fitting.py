"""Widgets that keep their text whole at any text size (issue 20, UI zoom): a layout that lines
its widgets up left to right and wraps them onto the next row when the panel is too narrow
(Qt's "Flow Layout" example), and a combo box that is never narrower than its longest item."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QMargins, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLayoutItem,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QStyleOptionComboBox,
    QWidget,
)

from sora_desktop.ui.zoom import em


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


class WholeTextCombo(QComboBox):
    """A combo box whose size hint fits its longest item as it is drawn (by advance, which can
    be a few pixels wider than Qt's own measure at large text sizes), in the current font."""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        hint = super().sizeHint()
        fm = self.fontMetrics()
        text = max((fm.horizontalAdvance(self.itemText(i)) for i in range(self.count())), default=0)
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        size = self.style().sizeFromContents(
            QStyle.ContentsType.CT_ComboBox, opt, QSize(text, fm.height()), self
        )
        return QSize(max(hint.width(), size.width()), hint.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return self.sizeHint()


def screen_room(widget: QWidget) -> QRect:
    """The part of ``widget``'s screen a window may use (less the task bar)."""
    screen = widget.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else QRect(0, 0, 1024, 768)


WRAP_EM = 18  # a wrapped check box's text asks for at most this width


class WrappedCheck(QWidget):
    """A check box with its text in a word-wrapping label beside it (a QCheckBox never wraps):
    a click on the text ticks the box, as on a plain check box, and the text greys out with
    it. The label is the box's buddy, so a screen reader names the box by its text."""

    def __init__(self, box: QCheckBox, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.box = box
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.label.setBuddy(box)
        self.label.setToolTip(box.toolTip())
        self.label.mouseReleaseEvent = self._clicked  # type: ignore[method-assign]
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(box, 0, Qt.AlignmentFlag.AlignTop)
        lay.addWidget(self.label, 1)
        box.installEventFilter(self)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        """One line of text up to ``WRAP_EM`` wide (a wrapping label alone asks for a narrow,
        tall block), and the height its text needs at that width."""
        text = self.label.fontMetrics().horizontalAdvance(self.label.text())
        gap = max(0, self.layout().spacing())
        width = self.box.sizeHint().width() + gap + min(text + em(0.5), em(WRAP_EM))
        return QSize(width, self.heightForWidth(width))

    def _clicked(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.box.isEnabled():
            self.box.toggle()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        if obj is self.box and event.type() == QEvent.Type.EnabledChange:
            self.label.setEnabled(self.box.isEnabled())
        return False


class FullScrollArea(QScrollArea):
    """A resizable scroll area that asks for its whole content (QScrollArea caps its wish at
    a few dozen lines), so a window holding it opens as large as its screen allows and
    scrolls only what does not fit."""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        inner = self.widget()
        if inner is None:
            return super().sizeHint()
        frame = 2 * self.frameWidth()
        bar = self.verticalScrollBar().sizeHint().width()
        hint = inner.sizeHint()
        return QSize(hint.width() + frame + bar, hint.height() + frame)


def fit_to_screen(window: QWidget) -> None:
    """Size a window to what it asks for, within its screen, and keep it on the screen."""
    room = screen_room(window)
    hint = window.sizeHint().expandedTo(window.minimumSizeHint())
    outer = window.frameGeometry()  # with its title bar and borders, once it has been shown
    frame_w, frame_h = outer.width() - window.width(), outer.height() - window.height()
    if not window.isVisible():  # not known yet: room for a title bar (fitted again when shown)
        frame_w, frame_h = max(frame_w, em(0.5)), max(frame_h, em(2.5))
    width = min(hint.width(), room.width() - frame_w)
    height = min(hint.height(), room.height() - frame_h)
    window.resize(max(width, window.minimumWidth()), max(height, window.minimumHeight()))
    geo = window.frameGeometry()
    x = min(max(geo.x(), room.x()), room.right() + 1 - geo.width())
    y = min(max(geo.y(), room.y()), room.bottom() + 1 - geo.height())
    if (x, y) != (geo.x(), geo.y()):
        window.move(max(room.x(), x), max(room.y(), y))
