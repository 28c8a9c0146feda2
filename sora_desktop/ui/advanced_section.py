"""The prompt editor's "Advanced" section (issue 20: plain words first): the technical settings
(steps, guidance, seed) fold away under one button, closed by default. The user's choice is
remembered (``Settings.advanced_open``, wired by the main window); a field error inside it opens
it, so a problem is never hidden."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

ADVANCED_HINT = (
    "Steps, guidance and seed. The presets set them for you; device and precision are in Settings."
)


class AdvancedSection(QWidget):
    """A header button that shows or hides ``body``; ``toggled_by_user(open)`` on clicks."""

    toggled_by_user = Signal(bool)

    def __init__(self, title: str = "Advanced", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.button = QToolButton()
        self.button.setText(title)
        self.button.setCheckable(True)
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.button.setToolTip(ADVANCED_HINT)
        self.button.setAccessibleName(f"{title} settings")
        self.button.clicked.connect(self._clicked)
        self.body = QWidget()
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(0, 0, 0, 0)
        self.body_layout.setSpacing(4)
        hint = QLabel(ADVANCED_HINT)
        hint.setObjectName("Muted")
        hint.setWordWrap(True)
        self.body_layout.addWidget(hint)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 0)
        lay.setSpacing(4)
        lay.addWidget(self.button)
        lay.addWidget(self.body)
        self.set_expanded(False)

    @property
    def expanded(self) -> bool:
        return self.button.isChecked()

    def set_expanded(self, on: bool) -> None:
        self.button.setChecked(on)
        self.button.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.body.setVisible(on)

    def reveal(self, widget: QWidget) -> None:
        """Open the section when ``widget`` (an error under a field) lies inside it."""
        if not self.expanded and self.body.isAncestorOf(widget):
            self.set_expanded(True)

    def _clicked(self, on: bool) -> None:
        self.set_expanded(on)
        self.toggled_by_user.emit(on)
