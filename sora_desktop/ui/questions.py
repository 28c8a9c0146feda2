"""A modal question with named buttons, shared by the windows that ask one."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget


def ask(parent: QWidget, title: str, text: str, buttons: list[str], default: int = 0) -> str:
    """Returns the chosen button's name; closing the box counts as the last button."""
    box = QMessageBox(
        QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton, parent
    )
    made = [box.addButton(b, QMessageBox.ButtonRole.ActionRole) for b in buttons]
    box.setDefaultButton(made[default])
    box.exec()
    clicked = box.clickedButton()
    return buttons[made.index(clicked)] if clicked in made else buttons[-1]
