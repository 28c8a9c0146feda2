"""Settings (Preferences): folders, device and memory, models (offline, mirror, access
token), theme, responsible-use options, shortcuts. The access token is stored in the keyring
on Save (``core.hub_token``), never in settings.json."""

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

from sora_desktop.core import hub_token
from sora_desktop.core.errors import FieldError
from sora_desktop.core.labels import in_words
from sora_desktop.core.memory_modes import mode_label
from sora_desktop.core.settings import DEVICES, MEMORY_MODES, PRECISIONS, THEMES, Settings
from sora_desktop.core.speed import ATTENTION_BACKENDS, SpeedOptions
from sora_desktop.ui.accessibility import prepare as prepare_accessibility
from sora_desktop.ui.farm_settings import FarmSettingsBox
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
    **{mode: mode_label(mode) for mode in MEMORY_MODES},  # the names errors use too
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
        speed = settings.speed_options()
        self.faster = QCheckBox("Faster: skip work on steps that change little (first-block cache)")
        self.faster.setChecked(speed.cache == "first_block")
        self.faster.setToolTip(
            "Downloaded models only. Slightly changes the result; each clip records it so it "
            "can be made again exactly."
        )
        self.attention = QComboBox()
        for name in ATTENTION_BACKENDS:
            self.attention.addItem(name, name)
        self.attention.setCurrentIndex(max(0, self.attention.findData(speed.attention)))
        self.attention.setToolTip("Anything but native needs a CUDA GPU and its kernels")
        self.fp8 = QCheckBox("Store model weights in fp8 (less GPU memory, slightly lower quality)")
        self.fp8.setChecked(speed.fp8)
        self.compile = QCheckBox("Compile the model with torch.compile (CUDA GPU; slow first clip)")
        self.compile.setChecked(speed.compile)
        self._speed_mag = speed.cache == "mag"
        self.watermark = QCheckBox("Add a visible “AI-generated” watermark to exports")
        self.watermark.setChecked(settings.watermark)
        # proof of origin (engine/export/provenance.py): the prompt in the signed manifest, and
        # the user's own certificate chain + key (empty: this install's own)
        self.provenance_prompt = QCheckBox(
            "Include the prompt in each MP4's signed proof of origin"
        )
        self.provenance_prompt.setChecked(settings.provenance_prompt)
        self.provenance_cert = QLineEdit(settings.provenance_cert or "")
        self.provenance_cert.setPlaceholderText("empty: this install's own certificate")
        self.provenance_cert.setAccessibleName("Signing certificate file")
        self.provenance_key = QLineEdit(settings.provenance_key or "")
        self.provenance_key.setPlaceholderText("the certificate's private key (PEM)")
        self.provenance_key.setAccessibleName("Signing key file")
        self.autosave = QSpinBox()
        self.autosave.setRange(0, 3600)
        self.autosave.setSuffix(" s")
        self.autosave.setSpecialValueText("Off")
        self.autosave.setValue(settings.autosave_seconds)
        self.offline = QCheckBox("Work offline: never download models")
        self.offline.setChecked(settings.offline)
        self.offline.setToolTip("The built-in model never uses the network either way")
        self.mirror = QLineEdit(settings.hf_endpoint or "")
        self.mirror.setPlaceholderText("https://huggingface.co (default)")
        self.mirror.setToolTip("A Hugging Face mirror to download from, e.g. https://hf-mirror.com")
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_saved = bool(settings.hf_token or hub_token.load_token())
        self.token.setPlaceholderText(
            "saved (type to replace)" if self.token_saved else "hf_… (only for gated models)"
        )
        self.token.setToolTip(f"Kept in {hub_token.where()}, never in the settings file")
        self.token_remove = QPushButton("Remove")
        self.token_remove.setToolTip("Forget the saved access token")
        self.token_remove.setEnabled(self.token_saved)
        self.token_remove.clicked.connect(self._remove_token)
        self.remove_token = False
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
        rf.addRow(self.faster)
        rf.addRow("Attention", self.attention)
        rf.addRow(self.fp8)
        rf.addRow(self.compile)

        look = QGroupBox("Appearance and responsible use")
        lv = QVBoxLayout(look)
        lf = QFormLayout()
        lf.addRow("Theme", self.theme)
        lv.addLayout(lf)
        lv.addWidget(self.watermark)
        lv.addWidget(self.provenance_prompt)
        pf = QFormLayout()
        pf.addRow("Signing certificate", self.provenance_cert)
        pf.addRow("Signing key", self.provenance_key)
        lv.addLayout(pf)
        note = QLabel(
            "Exports always carry an “AI-generated” label and their settings in their "
            "metadata. Disallowed prompts are refused before generating."
        )
        note.setObjectName("Muted")
        note.setWordWrap(True)
        note.setMinimumHeight(48)
        lv.addWidget(note)

        models = QGroupBox("Models")
        mf = QFormLayout(models)
        mf.addRow(self.offline)
        mf.addRow("Mirror", self.mirror)
        token_row = QWidget()
        tr = QHBoxLayout(token_row)
        tr.setContentsMargins(0, 0, 0, 0)
        tr.addWidget(self.token, 1)
        tr.addWidget(self.token_remove)
        mf.addRow("Access token", token_row)

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
        right.addWidget(models)
        self.farm = FarmSettingsBox(settings)  # render on this computer or a Ray cluster
        right.addWidget(self.farm)
        right.addWidget(keys)
        right.addStretch(1)
        top.addLayout(right, 2)
        lay.addLayout(top)
        lay.addWidget(self.error)
        lay.addWidget(buttons)
        prepare_accessibility(self)

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
        """The edited settings; raises FieldError naming a bad value's field."""
        return dataclasses.replace(
            self.original,
            output_dir=self.output_dir.text().strip(),
            models_dir=self.models_dir.text().strip(),
            device=self.device.currentData(),
            precision=self.precision.currentData(),
            memory_mode=self.memory.currentData(),
            speed=self._speed().to_dict(),
            theme=self.theme.currentData(),
            watermark=self.watermark.isChecked(),
            provenance_prompt=self.provenance_prompt.isChecked(),
            provenance_cert=self.provenance_cert.text().strip() or None,
            provenance_key=self.provenance_key.text().strip() or None,
            autosave_seconds=self.autosave.value(),
            offline=self.offline.isChecked(),
            hf_endpoint=self.mirror.text().strip() or None,
            render_on=self.farm.values()[0],
            ray_address=self.farm.values()[1],
        )

    def _speed(self) -> SpeedOptions:
        cache = "first_block" if self.faster.isChecked() else None
        if cache is None and self._speed_mag:  # MagCache comes from settings.json, kept as is
            cache = "mag"
        return SpeedOptions(
            cache=cache,
            attention=self.attention.currentData(),
            fp8=self.fp8.isChecked(),
            compile=self.compile.isChecked(),
        )

    def _remove_token(self) -> None:
        self.remove_token = True
        self.token.clear()
        self.token.setPlaceholderText("will be removed on Save")
        self.token_remove.setEnabled(False)

    def _store_token(self, settings: Settings) -> Settings:
        """Apply the token field to the keyring; the returned settings hold no token."""
        typed = self.token.text().strip()
        if typed:
            hub_token.save_token(typed)
        elif self.remove_token:
            hub_token.delete_token()
        elif settings.hf_token:  # a token from an old settings.json: moved to the keyring
            hub_token.save_token(settings.hf_token)
        return dataclasses.replace(settings, hf_token=None)

    def accept(self) -> None:
        try:
            self.result_settings = self._store_token(self.build())
        except hub_token.TokenStoreError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        except ValueError as exc:
            if isinstance(exc, FieldError):  # the field's label on screen (core/labels.py)
                self.error.setText(in_words(exc))
            else:
                self.error.setText(str(exc))
            self.error.show()
            return
        super().accept()
