"""'Prompts over time' in the prompt editor: a short list of (seconds, text) rows for a long shot
(issue 17). Each window of a long shot uses the prompt in force at its start (the rule is
``core.request.TimedPrompt``); the request checks the rows (times ascending, inside the clip,
text like the prompt's) and the editor shows its message under the list.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sora_desktop.core.request import MAX_PROMPT_CHARS, MAX_TIMED_PROMPTS, TimedPrompt
from sora_desktop.ui.accessibility import name_controls

HINT = (
    "A long shot is made in windows; each window uses the prompt in force at its start. "
    "The prompt above holds from 0 s."
)


class _Row(QWidget):
    def __init__(self, at: float, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.at_spin = QDoubleSpinBox()
        self.at_spin.setRange(0.0, 3600.0)
        self.at_spin.setDecimals(2)
        self.at_spin.setSingleStep(0.5)
        self.at_spin.setSuffix(" s")
        self.at_spin.setKeyboardTracking(False)  # commit when the user finishes typing
        self.at_spin.setValue(at)
        self.at_spin.setToolTip("When this prompt takes over, in seconds from the shot's start")
        self.text_edit = QLineEdit(text)
        self.text_edit.setMaxLength(MAX_PROMPT_CHARS)
        self.text_edit.setPlaceholderText("What happens from then on…")
        self.remove_btn = QToolButton()
        self.remove_btn.setText("✕")
        self.remove_btn.setToolTip("Remove this prompt")
        self.remove_btn.setAccessibleName("Remove this prompt")  # not "✕"
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.at_spin)
        row.addWidget(self.text_edit, 1)
        row.addWidget(self.remove_btn)
        name_controls(self)  # rows come and go: each names its own controls


class TimedPromptsEditor(QWidget):
    """Rows of (seconds, text); ``changed`` when a row is finished, added or removed."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[_Row] = []
        self._rows_box = QVBoxLayout()
        self._rows_box.setContentsMargins(0, 0, 0, 0)
        self.hint = QLabel(HINT)
        self.hint.setObjectName("Muted")
        self.hint.setWordWrap(True)
        self.add_btn = QPushButton("Add a prompt over time")
        self.add_btn.setToolTip("Change what the shot shows part-way through a long shot")
        self.add_btn.clicked.connect(self.add_row)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(self._rows_box)
        lay.addWidget(self.add_btn)
        lay.addWidget(self.hint)

    def values(self) -> tuple[dict, ...]:
        """The rows as the request takes them (unchecked); a row with no text yet (just added)
        is not a prompt."""
        return tuple(
            {"at": r.at_spin.value(), "prompt": r.text_edit.text()}
            for r in self.rows
            if r.text_edit.text().strip()
        )

    def set_values(self, timed: tuple[TimedPrompt, ...]) -> None:
        """Show a shot's timed prompts (no ``changed``: loading is not an edit)."""
        self.blockSignals(True)
        try:
            while self.rows:
                self._remove(self.rows[-1], notify=False)
            for item in timed:
                self._append(float(item.at), item.prompt)
        finally:
            self.blockSignals(False)

    def add_row(self) -> None:
        """A new row one second after the last one (the request says if that is past the end);
        it is committed once its text is written."""
        if len(self.rows) >= MAX_TIMED_PROMPTS:
            return
        at = self.rows[-1].at_spin.value() + 1.0 if self.rows else 1.0
        row = self._append(at, "")
        row.text_edit.setFocus()

    def _append(self, at: float, text: str) -> _Row:
        row = _Row(at, text, self)
        row.at_spin.valueChanged.connect(lambda _v: self.changed.emit())
        row.text_edit.editingFinished.connect(self.changed.emit)
        row.remove_btn.clicked.connect(lambda: self._remove(row))
        self.rows.append(row)
        self._rows_box.addWidget(row)
        self.add_btn.setEnabled(len(self.rows) < MAX_TIMED_PROMPTS)
        return row

    def _remove(self, row: _Row, notify: bool = True) -> None:
        self.rows.remove(row)
        self._rows_box.removeWidget(row)
        row.deleteLater()
        self.add_btn.setEnabled(True)
        if notify:
            self.changed.emit()
