"""A sound clip's exact values: where it starts, its trim, length, volume and fades.

OK applies them as one undoable edit; a value the project refuses is named under the fields and
nothing changes (the dialog stays open to fix it).
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
)

from sora_desktop.core.errors import FieldError
from sora_desktop.core.project import MAX_AUDIO_SECONDS, MAX_VOLUME_DB, MIN_VOLUME_DB
from sora_desktop.ui.audio_vm import AudioViewModel

# (item field, label, unit suffix, low, high)
FIELDS = (
    ("start", "Starts at", " s", 0.0, MAX_AUDIO_SECONDS),
    ("trim_in", "Skip from the file's start", " s", 0.0, MAX_AUDIO_SECONDS),
    ("duration", "Length", " s", 0.0, MAX_AUDIO_SECONDS),
    ("volume_db", "Volume", " dB", MIN_VOLUME_DB, MAX_VOLUME_DB),
    ("fade_in", "Fade in", " s", 0.0, MAX_AUDIO_SECONDS),
    ("fade_out", "Fade out", " s", 0.0, MAX_AUDIO_SECONDS),
)


class SoundClipDialog(QDialog):
    def __init__(self, vm: AudioViewModel, item_id: str, parent=None) -> None:
        super().__init__(parent)
        self.vm, self.item_id = vm, item_id
        item = vm.item(item_id)
        self.setWindowTitle(f"Sound clip · {item.name or 'sound'}")
        form = QFormLayout()
        self.spins: dict[str, QDoubleSpinBox] = {}
        for name, label, unit, low, high in FIELDS:
            spin = QDoubleSpinBox()
            spin.setDecimals(2)
            spin.setRange(low, high)
            spin.setSingleStep(0.5 if unit == " dB" else 0.1)
            spin.setSuffix(unit)
            spin.setValue(getattr(item, name))
            form.addRow(label, spin)
            self.spins[name] = spin
        self.spins["duration"].setToolTip(
            f"The file is {item.source_seconds:.2f} s long; the clip plays part of it"
        )
        self.error = QLabel()
        self.error.setObjectName("FieldError")
        self.error.setWordWrap(True)
        self.error.hide()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.error)
        lay.addWidget(buttons)

        self._shown = self.values()  # as rounded for display: only edited fields change

    def values(self) -> dict[str, float]:
        return {name: spin.value() for name, spin in self.spins.items()}

    def accept(self) -> None:
        changes = {k: v for k, v in self.values().items() if v != self._shown[k]}
        try:
            if changes:
                self.vm.update_item(self.item_id, "inspector", **changes)
        except FieldError as exc:
            label = next((f[1] for f in FIELDS if f[0] == exc.field), exc.field)
            self.error.setText(f"{label}: {exc.message}")
            self.error.show()
            return
        super().accept()
