"""Keyboard and screen-reader help for every window (issue 20).

- ``name_controls(root)`` gives each interactive widget under ``root`` an accessible name taken
  from what the user sees (its text, its form label, its tooltip, its placeholder), so a screen
  reader never says just "button" or "edit". Names set by hand are kept.
- ``tab_leaves_text_boxes(root)``: Tab in a multi-line text box moves to the next control
  instead of typing a tab character (keyboard users got stuck in the prompt box).
- ``shortcut_text`` / ``add_shortcut_tooltips``: an action's keys as the user reads them, and
  tooltips that end with them ("Generate shot (Ctrl+Enter)"), read from the actions themselves.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QBoxLayout,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollBar,
    QTextEdit,
    QToolButton,
    QWidget,
)

# What a keyboard or screen-reader user operates: these must carry an accessible name.
INTERACTIVE = (
    QAbstractButton,
    QLineEdit,
    QPlainTextEdit,
    QScrollBar,
    QTextEdit,
    QComboBox,
    QAbstractSpinBox,
    QAbstractSlider,
    QAbstractItemView,
)


def plain(text: str) -> str:
    """Visible text without mnemonics (&), ellipses and surrounding space; a heading shown
    in capitals is read in sentence case."""
    text = re.sub(r"&(?!&)", "", text or "").replace("&&", "&")
    text = text.replace("…", "").replace("...", "").strip()
    return text.capitalize() if text.isupper() and len(text) > 1 else text


def shortcut_text(action: QAction) -> str:
    """The action's keys as printed on the keyboard, e.g. "Ctrl+Enter"; "" when it has none.
    Qt calls the main Enter key "Return"; keyboards and our docs call it Enter."""
    seen: list[str] = []
    for seq in action.shortcuts():
        text = seq.toString(QKeySequence.SequenceFormat.NativeText).replace("Return", "Enter")
        if text and text not in seen:
            seen.append(text)
    return " or ".join(seen)


def add_shortcut_tooltips(actions) -> int:
    """Every action with a shortcut gets a tooltip ending with it; returns how many."""
    done = 0
    for action in actions:
        keys = shortcut_text(action)
        if not keys:
            continue
        base = action.property("plain_tip")
        if base is None:  # first time: remember the tip without keys (shortcuts may change)
            base = plain(action.toolTip()) or plain(action.text())
            action.setProperty("plain_tip", base)
        action.setToolTip(f"{base} ({keys})")
        done += 1
    return done


def keys_in_tooltip(widget: QWidget, action: QAction) -> str:
    """A button that does what ``action`` does shows the action's keys in its tooltip (any keys
    written into the tip by hand are replaced, so they can never disagree)."""
    base = widget.property("plain_tip")
    if base is None:
        base = re.sub(r"\s*\([^()]*\)$", "", widget.toolTip()) or plain(action.text())
        widget.setProperty("plain_tip", base)
    keys = shortcut_text(action)
    widget.setToolTip(f"{base} ({keys})" if keys else base)
    return widget.toolTip()


def show_keys_on_buttons(window) -> None:
    """The main window's buttons that repeat a menu action: the editor's Generate and
    Variations, the player's play and frame steps, the storyboard's Add shot."""
    pairs = [
        (window.editor.generate_btn, window.act_generate),
        (window.editor.variations_btn, window.act_variations),
        (window.player.play_btn, window.act_play),
        (window.player.prev_btn, window.act_prev),
        (window.player.next_btn, window.act_next),
        (window.storyboard.add_btn, window.act_add),
    ]
    for widget, action in pairs:
        keys_in_tooltip(widget, action)


class _EnterClicks(QObject):
    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.KeyPress and not event.modifiers():
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and obj.isEnabled():
                obj.click()
                return True
        return False


def enter_clicks(button: QAbstractButton) -> QAbstractButton:
    """Enter on a focused tool button (a tile) clicks it, as Space does; in a dialog, Enter
    would otherwise press the dialog's default button instead of the tile the user is on."""
    keeper = _EnterClicks(button)
    button.installEventFilter(keeper)
    return button


def tab_leaves_text_boxes(root: QWidget) -> None:
    for box in root.findChildren(QPlainTextEdit) + root.findChildren(QTextEdit):
        box.setTabChangesFocus(True)


def _form_labels(root: QWidget) -> dict[int, str]:
    """Widget id -> the text of the label in front of it (form rows and label buddies)."""
    labels: dict[int, str] = {}
    for label in root.findChildren(QLabel):
        buddy = label.buddy()
        if buddy is not None and plain(label.text()):
            labels[id(buddy)] = plain(label.text())
    for form in root.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            label_item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            field_item = form.itemAt(row, QFormLayout.ItemRole.FieldRole)
            if label_item is None or field_item is None:
                continue
            label = label_item.widget()
            if not isinstance(label, QLabel) or not plain(label.text()):
                continue
            targets = [field_item.widget()] if field_item.widget() is not None else []
            if field_item.layout() is not None:  # a row of widgets: each takes the label
                lay = field_item.layout()
                targets = [lay.itemAt(i).widget() for i in range(lay.count())]
            for target in targets:
                if target is None:
                    continue
                inner = [] if isinstance(target, INTERACTIVE) else target.findChildren(QWidget)
                for w in [target, *inner]:  # a row widget: the controls inside take the label
                    labels.setdefault(id(w), plain(label.text()))
    _section_labels(root, labels)
    return labels


def _first_widget(item) -> QWidget | None:
    """The widget of a layout item; for a row (a nested layout), its first widget."""
    if item.widget() is not None:
        return item.widget()
    lay = item.layout()
    return _first_widget(lay.itemAt(0)) if lay is not None and lay.count() else None


def _section_labels(root: QWidget, labels: dict[int, str]) -> None:
    """A heading label directly above a control (a column of widgets, or a grid)."""
    for lay in root.findChildren(QBoxLayout):
        items = [_first_widget(lay.itemAt(i)) for i in range(lay.count())]
        for before, widget in zip(items, items[1:], strict=False):
            if isinstance(before, QLabel) and widget is not None and plain(before.text()):
                labels.setdefault(id(widget), plain(before.text()))
    for grid in root.findChildren(QGridLayout):
        for i in range(grid.count()):
            label = grid.itemAt(i).widget()
            if not isinstance(label, QLabel) or not plain(label.text()):
                continue
            row, col, _rs, _cs = grid.getItemPosition(i)
            for r, c in ((row + 1, col), (row, col + 1)):
                item = grid.itemAtPosition(r, c)
                if item is not None and item.widget() is not None:
                    labels.setdefault(id(item.widget()), plain(label.text()))


def derived_name(widget: QWidget, labels: dict[int, str]) -> str:
    """The name a user would give the control, from what is on screen."""
    if isinstance(widget, QToolButton) and widget.defaultAction() is not None:
        text = plain(widget.defaultAction().text())
        if text:
            return text
    if isinstance(widget, QAbstractButton) and plain(widget.text()):
        return plain(widget.text())
    if id(widget) in labels:
        return labels[id(widget)]
    tip = plain(re.sub(r"<[^>]+>", "", widget.toolTip()))
    tip = re.sub(r"\s*\([^()]*\)$", "", tip)  # without the keys: "Play / pause (Space)"
    if tip:
        return tip.split("\n")[0].split(". ")[0]
    placeholder = getattr(widget, "placeholderText", None)
    if callable(placeholder) and plain(placeholder()):
        return plain(placeholder())
    if isinstance(widget, QLineEdit) and isinstance(widget.parent(), QComboBox):
        return plain(widget.parent().accessibleName()) or plain(widget.parent().currentText())
    if widget.objectName() and not widget.objectName().startswith("qt_"):
        words = re.sub(r"(?<=[a-z])(?=[A-Z])|_", " ", widget.objectName())
        return words.strip().capitalize()
    return ""


def _is_part_of_another(widget: QWidget) -> bool:
    """Qt's own pieces (a combo box's list, a spin box's text field, scroll bars, the toolbar's
    overflow button): the screen reader announces the control they belong to."""
    if isinstance(widget, QScrollBar) or widget.objectName().startswith("qt_"):
        return True
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, (QComboBox, QAbstractSpinBox)):
            return True
        parent = parent.parentWidget()
    return False


def interactive_widgets(root: QWidget) -> list[QWidget]:
    """The controls a user operates, without Qt's internal pieces of them."""
    found = [w for w in root.findChildren(QWidget) if isinstance(w, INTERACTIVE)]
    return [w for w in found if not _is_part_of_another(w)]


def name_controls(root: QWidget) -> list[QWidget]:
    """Name every interactive widget under ``root`` that has no accessible name yet; returns
    those for which nothing on screen gave a name (they need one set by hand)."""
    labels = _form_labels(root)
    missing = []
    for widget in interactive_widgets(root):
        if widget.accessibleName().strip():
            continue
        name = derived_name(widget, labels)
        if name:
            widget.setAccessibleName(name)
        else:
            missing.append(widget)
    return missing


def prepare(root: QWidget) -> list[QWidget]:
    """All of the above for one window or dialog."""
    tab_leaves_text_boxes(root)
    add_shortcut_tooltips(root.findChildren(QAction))
    return name_controls(root)
