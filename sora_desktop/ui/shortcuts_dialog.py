"""Help → Keyboard shortcuts: every action's keys, read from the actions themselves (so the list
can never disagree with what the keys do)."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sora_desktop.ui.accessibility import name_controls, plain, shortcut_text


def shortcut_rows(actions) -> list[tuple[str, str]]:
    """(what it does, keys) for each action with a shortcut, in the order given, once each."""
    rows: list[tuple[str, str]] = []
    for action in actions:
        keys = shortcut_text(action)
        row = (plain(action.text()), keys)
        if keys and row[0] and row not in rows:
            rows.append(row)
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, actions: list[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.rows = shortcut_rows(actions)
        self.table = QTableWidget(len(self.rows), 2)
        self.table.setHorizontalHeaderLabels(["Action", "Keys"])
        self.table.setAccessibleName("Keyboard shortcuts")
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for r, (what, keys) in enumerate(self.rows):
            self.table.setItem(r, 0, QTableWidgetItem(what))
            self.table.setItem(r, 1, QTableWidgetItem(keys))
        self.table.resizeColumnToContents(1)
        note = QLabel("Tab and Shift+Tab move between controls; Space or Enter presses a button.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table)
        lay.addWidget(note)
        lay.addWidget(buttons)
        self.resize(460, 520)
        name_controls(self)
