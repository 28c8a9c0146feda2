"""The Export dialog's line beside the format when the chosen format cannot carry proof of
origin (e.g. "WebM can't carry proof of origin yet; choose MP4 to include it."). The words and
which formats carry a manifest are the studio's (studio/provenance.py, read from the C2PA
library); this only shows them."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLabel, QWidget

from sora_desktop.studio.provenance import unsigned_note


class ProofNote(QLabel):
    """Follows ``formats`` (a combo box whose item data is the export format): hidden while the
    chosen format carries a manifest, else the one-line note."""

    def __init__(self, formats: QComboBox, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Muted")
        self.setWordWrap(True)
        self.setAccessibleName("Proof of origin")
        self._formats = formats
        formats.currentIndexChanged.connect(lambda _i: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        fmt = self._formats.currentData()
        note = unsigned_note(fmt) if fmt else None
        self.setText(note or "")
        if note is None or self.parentWidget() is not None:  # never a window of its own
            self.setVisible(note is not None)
