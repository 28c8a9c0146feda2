"""The prompt editor's note for the built-in model: the words it cannot draw, and examples.

The check itself is ``studio.vocabulary`` (shared with ``sora-desktop generate``); this widget
only shows its answer under the prompt and offers the example prompts as links that fill the
prompt when clicked.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from sora_desktop.studio.vocabulary import (
    EXAMPLE_PROMPTS,
    checks_model,
    editor_warning,
    unknown_words,
)


class VocabularyNote(QWidget):
    """Hidden unless the built-in model is chosen and the prompt has words outside its world
    (or is empty: then only the examples show)."""

    example_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.words: list[str] = []
        self.warning = QLabel()
        self.warning.setObjectName("Notice")
        self.warning.setWordWrap(True)
        self.warning.setAccessibleName("Words the built-in model cannot draw")
        self.examples = QLabel()
        self.examples.setObjectName("Muted")
        self.examples.setWordWrap(True)
        self.examples.setTextFormat(Qt.TextFormat.RichText)
        self.examples.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.examples.setOpenExternalLinks(False)
        self.examples.setAccessibleName("Example prompts the built-in model draws well")
        links = " · ".join(
            f'<a href="{i}">{escape(text)}</a>' for i, text in enumerate(EXAMPLE_PROMPTS)
        )
        self.examples.setText(f"Try one it draws well: {links}")
        self.examples.linkActivated.connect(self._on_link)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.warning)
        lay.addWidget(self.examples)
        self.hide()

    def update_for(self, model_id: str, prompt: str) -> None:
        """Show what the built-in model cannot draw in ``prompt`` (nothing for other models)."""
        checked = checks_model(model_id)
        self.words = unknown_words(prompt) if checked else []
        self.warning.setText(editor_warning(self.words))
        self.warning.setVisible(bool(self.words))
        self.setVisible(checked and (bool(self.words) or not prompt.strip()))

    def choose_example(self, index: int) -> None:
        self.example_chosen.emit(EXAMPLE_PROMPTS[index])

    def _on_link(self, href: str) -> None:
        if href.isdigit() and int(href) < len(EXAMPLE_PROMPTS):
            self.choose_example(int(href))
