"""What an export offers when it is done: "Show in folder" and "Play" (the system's player),
and a line that says whether the export carries proof of origin (signed or not, and why).

Both go through ``QDesktopServices.openUrl`` (the file manager for the folder, the default video
player for the file), so nothing is launched by name; tests patch ``openUrl`` to see the URL.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from sora_desktop.ui.style import icon

log = logging.getLogger(__name__)


class ExportDoneBar(QWidget):
    """Hidden until ``show_result(path, proof)``; then "Show in folder" opens the export's folder
    and "Play" opens the file (a PNG-frames export: its folder) with the system's default app;
    ``proof`` (studio.provenance.proof_outcome) says whether the file was signed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path: Path | None = None
        self.note = QLabel()
        self.note.setObjectName("Muted")
        self.proof = QLabel()  # "Proof of origin (C2PA): signed; ..." / "Not signed: ..."
        self.proof.setObjectName("Muted")
        self.proof.setWordWrap(True)
        self.proof.setAccessibleName("Proof of origin of the export")
        self.show_folder_btn = QPushButton(icon("open"), "Show in folder")
        self.show_folder_btn.setToolTip("Open the folder that holds the exported video")
        self.play_btn = QPushButton(icon("play"), "Play")
        self.play_btn.setToolTip("Play the exported video in your computer's video player")
        self.show_folder_btn.setAccessibleName("Show the export in its folder")
        self.play_btn.setAccessibleName("Play the exported video")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.note, 1)
        row.addWidget(self.show_folder_btn)
        row.addWidget(self.play_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(row)
        lay.addWidget(self.proof)
        self.show_folder_btn.clicked.connect(self.show_in_folder)
        self.play_btn.clicked.connect(self.play)
        self.hide()

    def show_result(self, path: str | Path, proof: str | None = None) -> None:
        self.path = Path(path)
        self.note.setText(f"Exported “{self.path.name}”.")
        self.proof.setText(proof or "")
        self.proof.setVisible(bool(proof))
        self.show()

    def clear(self) -> None:
        self.path = None
        self.hide()

    def _open(self, target: Path) -> bool:
        ok = QDesktopServices.openUrl(QUrl.fromLocalFile(str(target)))
        if not ok:
            log.warning("the system could not open %s", target)
            self.note.setText(f"Could not open {target}; open it from your file manager.")
        return bool(ok)

    def show_in_folder(self) -> bool:
        if self.path is None:
            return False
        return self._open(self.path if self.path.is_dir() else self.path.parent)

    def play(self) -> bool:
        if self.path is None:
            return False
        return self._open(self.path)
