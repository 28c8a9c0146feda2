"""The Export dialog's "Timeline for an editor" group: write the storyboard as a timeline file
(studio/timeline.py: OpenTimelineIO, Final Cut Pro XML or a CMX EDL) with its clips in a
folder beside it, for DaVinci Resolve, Premiere, Kdenlive or Final Cut (docs/editors.md)."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sora_desktop.studio.timeline import TIMELINE_FORMATS, TimelineResult, export_timeline
from sora_desktop.ui.viewmodels import ProjectViewModel

log = logging.getLogger(__name__)


def _filters() -> str:
    return ";;".join(f"{label} (*{suffix})" for suffix, (_a, label) in TIMELINE_FORMATS.items())


class TimelineExportBox(QGroupBox):
    """A button that asks where to save and writes the timeline; a line says what happened."""

    def __init__(self, vm: ProjectViewModel, folder: Path, parent: QWidget | None = None) -> None:
        super().__init__("Timeline for an editor", parent)
        self.vm, self.folder = vm, folder
        self.result: TimelineResult | None = None
        note = QLabel(
            "One clip per shot, with cross-fades and prompts as markers: .otio (Resolve, "
            "Kdenlive), .fcpxml (Resolve, Final Cut), .edl (Premiere, any editor)."
        )
        note.setObjectName("Muted")
        note.setWordWrap(True)
        self.button = QPushButton("Export timeline…")
        self.button.setAccessibleName("Export a timeline for an editor")
        self.button.setToolTip("Write the storyboard as a timeline file with its clips beside it")
        self.button.clicked.connect(self._choose)
        self.status = QLabel(" ")
        self.status.setObjectName("Muted")
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.button)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addWidget(note)
        lay.addLayout(row)
        lay.addWidget(self.status)

    def _choose(self) -> None:
        start = str(self.folder / f"{self.vm.project.name or 'film'}.otio")
        path, _ = QFileDialog.getSaveFileName(self, "Export timeline to", start, _filters())
        if path:
            self.export_to(Path(path), overwrite=True)  # the file dialog asked about replacing

    def export_to(self, path: Path, overwrite: bool = False) -> TimelineResult | None:
        """Write the timeline to ``path``; the status line says the result or the problem."""
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self.result = export_timeline(self.vm.project, path, overwrite=overwrite)
        except (ValueError, OSError) as exc:
            self.result = None
            self.status.setText(f"Timeline not exported: {exc}")
            return None
        finally:
            QGuiApplication.restoreOverrideCursor()
        self.status.setText(f"Saved {self.result.summary()}")
        return self.result
