"""Preferences: folders, device and memory, theme, responsible-use options, shortcuts."""

from __future__ import annotations

import dataclasses

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sora_desktop.core.settings import DEVICES, MEMORY_MODES, PRECISIONS, THEMES, Settings
from sora_desktop.ui.style import icon

SHORTCUTS = [
    ("Play / pause", "Space"),
    ("Generate the selected shot", "Ctrl+Enter"),
    ("Cancel the running job", "Esc"),
    ("Undo / redo", "Ctrl+Z / Ctrl+Shift+Z"),
    ("Add shot", "Ctrl+T"),
    ("Duplicate shot", "Ctrl+D"),
    ("Previous / next frame", ", / ."),
    ("Export", "Ctrl+E"),
    ("Save / open", "Ctrl+S / Ctrl+O"),
]

LABELS = {
    "auto": "Automatic",
    "cuda": "NVIDIA GPU (CUDA)",
    "mps": "Apple GPU (Metal)",
    "cpu": "Processor (CPU)",
    "fp32": "Full (fp32)",
    "bf16": "Half (bf16)",
    "fp16": "Half (fp16)",
    "fast": "Fast — uses the most memory",
    "balanced": "Balanced",
    "low_vram": "Low memory — slower",
    "dark": "Dark",
    "light": "Light",
    "system": "System default",
}


def _combo(values: tuple[str, ...], current: str) -> QComboBox:
    box = QComboBox()
    for v in values:
        box.addItem(LABELS.get(v, v), v)
    box.setCurrentIndex(max(0, box.findData(current)))
    return box


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(820)
        self.original = settings
        self.result_settings: Settings | None = None

        self.output_dir = QLineEdit(settings.output_dir)
        self.models_dir = QLineEdit(settings.models_dir)
        self.device = _combo(DEVICES, settings.device)
        self.precision = _combo(PRECISIONS, settings.precision)
        self.memory = _combo(MEMORY_MODES, settings.memory_mode)
        self.theme = _combo(THEMES, settings.theme)
        self.watermark = QCheckBox("Add a visible “AI-generated” watermark to exports")
        self.watermark.setChecked(settings.watermark)
        self.autosave = QSpinBox()
        self.autosave.setRange(0, 3600)
        self.autosave.setSuffix(" s")
        self.autosave.setSpecialValueText("Off")
        self.autosave.setValue(settings.autosave_seconds)
        self.error = QLabel()
        self.error.setObjectName("FieldError")
        self.error.setWordWrap(True)
        self.error.hide()

        files = QGroupBox("Folders")
        ff = QFormLayout(files)
        ff.addRow("Exports", self._folder_row(self.output_dir))
        ff.addRow("Models", self._folder_row(self.models_dir))
        ff.addRow("Autosave every", self.autosave)

        run = QGroupBox("Generation")
        rf = QFormLayout(run)
        rf.addRow("Device", self.device)
        rf.addRow("Precision", self.precision)
        rf.addRow("Memory", self.memory)

        look = QGroupBox("Appearance and responsible use")
        lv = QVBoxLayout(look)
        lf = QFormLayout()
        lf.addRow("Theme", self.theme)
        lv.addLayout(lf)
        lv.addWidget(self.watermark)
        note = QLabel(
            "Exports always carry an “AI-generated” label and their settings in their "
            "metadata. Disallowed prompts are refused before generating."
        )
        note.setObjectName("Muted")
        note.setWordWrap(True)
        note.setMinimumHeight(48)
        lv.addWidget(note)

        keys = QGroupBox("Keyboard shortcuts")
        kf = QFormLayout(keys)
        for what, key in SHORTCUTS:
            k = QLabel(key)
            k.setObjectName("Muted")
            kf.addRow(what, k)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(18, 16, 18, 16)
        title = QLabel("Settings")
        title.setObjectName("PanelTitle")
        lay.addWidget(title)
        top = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(files)
        left.addWidget(run)
        left.addWidget(look)
        top.addLayout(left, 3)
        right = QVBoxLayout()
        right.addWidget(keys)
        right.addStretch(1)
        top.addLayout(right, 2)
        lay.addLayout(top)
        lay.addWidget(self.error)
        lay.addWidget(buttons)

    def _folder_row(self, edit: QLineEdit) -> QWidget:
        w = QWidget()
        row = QHBoxLayout(w)
        row.setContentsMargins(0, 0, 0, 0)
        edit.setMinimumWidth(220)
        row.addWidget(edit, 1)
        btn = QPushButton(icon("open"), "")
        btn.setToolTip("Choose a folder")
        btn.setFixedWidth(40)
        btn.clicked.connect(lambda: self._pick(edit))
        row.addWidget(btn)
        return w

    def _pick(self, edit: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder", edit.text())
        if folder:
            edit.setText(folder)

    def build(self) -> Settings:
        """The edited settings; raises ValueError("field: ...") for a bad value."""
        return dataclasses.replace(
            self.original,
            output_dir=self.output_dir.text().strip(),
            models_dir=self.models_dir.text().strip(),
            device=self.device.currentData(),
            precision=self.precision.currentData(),
            memory_mode=self.memory.currentData(),
            theme=self.theme.currentData(),
            watermark=self.watermark.isChecked(),
            autosave_seconds=self.autosave.value(),
        )

    def accept(self) -> None:
        try:
            self.result_settings = self.build()
        except ValueError as exc:
            field, _, msg = str(exc).partition(":")
            self.error.setText(f"{field.replace('_', ' ').capitalize()}: {msg.strip()}")
            self.error.show()
            return
        super().accept()
