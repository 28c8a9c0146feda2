"""Generate → Make music for this film…: what music, how long, which model (plain words).

The length starts at the film's length (cut to what the model makes); the model list holds the
installed sound models; with none installed the dialog says where to get one and offers the
Model manager. ``request()`` builds the ``MusicRequest`` (``FieldError`` for a bad value, shown
under the form; the dialog stays open).
"""

from __future__ import annotations

import random

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sora_desktop.core.capabilities import sound_limits
from sora_desktop.core.catalog import CatalogEntry
from sora_desktop.core.errors import FieldError
from sora_desktop.core.project import MusicRequest
from sora_desktop.core.project.audio import MAX_MUSIC_PROMPT_CHARS

NO_MODEL = (
    "No music model is installed yet. Open the Model manager (Models → Model manager…) and "
    "download a model listed as “Music and sound”, then come back here."
)
DEFAULT_SECONDS = 30.0  # when there is no film yet


class MusicDialog(QDialog):
    model_manager_requested = Signal()

    def __init__(
        self,
        models: list[CatalogEntry],
        film_seconds: float | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Make music for this film")
        self.models = models
        self.film_seconds = film_seconds
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("e.g. calm piano with soft strings, slow, warm")
        self.prompt.setFixedHeight(70)
        self.model = QComboBox()
        for e in models:
            self.model.addItem(e.name, e.id)
        self.seconds = QDoubleSpinBox()
        self.seconds.setDecimals(1)
        self.seconds.setSuffix(" s")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(random.randrange(2**31))
        self.seed.setToolTip("The same description, length and seed make the same music again")
        self.note = QLabel()
        self.note.setObjectName("Muted")
        self.note.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("ErrorText")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        form = QFormLayout()
        form.addRow("Describe the music", self.prompt)
        form.addRow("Model", self.model)
        form.addRow("Length", self.seconds)
        form.addRow("Seed", self.seed)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Make music")
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        self.manager_button = QPushButton("Open the Model manager…")
        self.manager_button.clicked.connect(self._open_manager)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.note)
        lay.addWidget(self.error)
        lay.addWidget(self.manager_button)
        lay.addWidget(self.buttons)
        self.manager_button.setVisible(not models)
        self.ok_button.setEnabled(bool(models))
        self.model.currentIndexChanged.connect(self._model_changed)
        self._made: MusicRequest | None = None
        self._model_changed()

    # ------------------------------------------------------------------ state
    def entry(self) -> CatalogEntry | None:
        i = self.model.currentIndex()
        return self.models[i] if 0 <= i < len(self.models) else None

    def _model_changed(self, *_args) -> None:
        entry = self.entry()
        if entry is None:
            self.note.setText(NO_MODEL)
            for w in (self.prompt, self.model, self.seconds, self.seed):
                w.setEnabled(False)
            return
        limits = sound_limits(entry)
        self.seconds.setRange(0.1, limits.max_seconds)
        film = self.film_seconds
        want = film if film is not None else DEFAULT_SECONDS
        self.seconds.setValue(min(want, limits.max_seconds))
        if film is None:
            text = "There is no film yet: the music starts at the film's beginning."
        elif film > limits.max_seconds:
            text = (
                f"The film is {film:.1f} s long; {entry.name} makes at most "
                f"{limits.max_seconds:g} s, so the music covers the film's first "
                f"{limits.max_seconds:g} s."
            )
        else:
            text = f"The film is {film:.1f} s long; the music is laid under all of it."
        self.note.setText(
            text + " It goes on the sound track when it is ready (Edit → Undo takes it off again)."
        )

    def _open_manager(self) -> None:
        self.model_manager_requested.emit()
        self.reject()

    def request(self) -> MusicRequest:
        """The request the form describes; ``FieldError`` names a bad value."""
        entry = self.entry()
        if entry is None:
            raise FieldError("model", NO_MODEL)
        text = self.prompt.toPlainText().strip()
        if len(text) > MAX_MUSIC_PROMPT_CHARS:
            raise FieldError(
                "prompt",
                f"the description is too long (at most {MAX_MUSIC_PROMPT_CHARS} characters)",
            )
        limits = sound_limits(entry)
        return MusicRequest(
            prompt=text,
            model_id=entry.id,
            seconds=round(float(self.seconds.value()), 3),
            seed=int(self.seed.value()),
            steps=limits.steps,
            extra={"guidance": limits.guidance},
        )

    def _accept(self) -> None:
        try:
            self._made = self.request()
        except FieldError as exc:
            self.error.setText(exc.message[:1].upper() + exc.message[1:])
            self.error.setVisible(True)
            return
        self.accept()

    @property
    def made(self) -> MusicRequest | None:
        """The request once the user pressed "Make music"."""
        return self._made
