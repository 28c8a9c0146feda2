"""The start screen (issue 20): on a plain launch, recent projects with thumbnails, "New film"
and example storyboards; choosing one opens it.

Shown only by the app's start-up path (``start_up``), never when a project was named on the
command line, a recovery copy was offered, or the first-start guide opens; windows built
directly (tests, scripts) never see it. It is a non-modal dialog: Esc or its close button
leaves the empty Untitled project. Recent projects are read (for their first shot's thumbnail)
on a background thread, so it shows at once.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sora_desktop.studio.examples import EXAMPLE_STORYBOARDS, ExampleStoryboard, example_project
from sora_desktop.ui.accessibility import enter_clicks

log = logging.getLogger(__name__)

THUMB = QSize(128, 96)
MAX_SHOWN = 6  # recent projects shown (the File menu lists them all)


def first_thumbnail(project_file: str | Path) -> Path | None:
    """The first shot's picked take's thumbnail file, if the project and file are there."""
    from sora_desktop.core import project as core_project
    from sora_desktop.studio.media import thumbnail_path
    from sora_desktop.studio.takes import take_clip

    try:
        project = core_project.read_project_file(project_file)
        project.path = Path(project_file)
    except (core_project.ProjectError, OSError, ValueError):
        return None
    if not project.shots:
        return None
    clip = take_clip(project, project.shots[0].selected)
    thumb = thumbnail_path(clip) if clip is not None else None
    return thumb if thumb is not None and thumb.is_file() else None


class _ThumbReader(QObject):
    loaded = Signal(str, QImage)  # project file, its first shot's thumbnail

    def read(self, files: list[str]) -> None:
        def work() -> None:
            for f in files:
                thumb = first_thumbnail(f)
                image = QImage(str(thumb)) if thumb is not None else QImage()
                if not image.isNull():
                    self.loaded.emit(f, image)

        threading.Thread(target=work, name="start-screen-thumbs", daemon=True).start()


class StartScreen(QDialog):
    """Recent projects, "New film" and examples; each choice acts on ``window`` and closes."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window_ = window
        self.setObjectName("StartScreen")
        self.setWindowTitle("Welcome to Sora Desktop")
        self.setModal(False)
        self.recent: dict[str, QToolButton] = {}
        self.examples: dict[str, QPushButton] = {}

        lay = QVBoxLayout(self)
        self.new_btn = QPushButton("New film")
        self.new_btn.setDefault(True)
        self.new_btn.setToolTip("Start an empty storyboard")
        self.new_btn.clicked.connect(self.new_film)
        lay.addWidget(self.new_btn)

        files = [f for f in window.settings.recent_files if Path(f).is_file()][:MAX_SHOWN]
        lay.addWidget(QLabel("Recent projects" if files else "No recent projects yet."))
        row = QHBoxLayout()
        for f in files:
            tile = enter_clicks(QToolButton())
            tile.setObjectName("StartTile")
            tile.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # Tab reaches it; Enter/Space opens
            tile.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            tile.setIconSize(THUMB)
            blank = QPixmap(THUMB)
            blank.fill(Qt.GlobalColor.black)
            tile.setIcon(QIcon(blank))
            tile.setText(Path(f).stem)
            tile.setToolTip(f)
            tile.setAccessibleName(f"Open {Path(f).stem}")
            tile.clicked.connect(lambda _c=False, f=f: self.open_recent(f))
            row.addWidget(tile)
            self.recent[f] = tile
        row.addStretch(1)
        lay.addLayout(row)

        lay.addWidget(QLabel("Examples for the built-in model (no download needed)"))
        ex_row = QHBoxLayout()
        for example in EXAMPLE_STORYBOARDS:
            btn = QPushButton(example.name)
            btn.setToolTip("\n".join(example.prompts))
            btn.clicked.connect(lambda _c=False, e=example: self.open_example(e))
            ex_row.addWidget(btn)
            self.examples[example.name] = btn
        ex_row.addStretch(1)
        lay.addLayout(ex_row)
        close = QPushButton("Close")
        close.setToolTip("Keep the empty project (Esc)")
        close.clicked.connect(self.close)
        bottom = QWidget()
        b = QHBoxLayout(bottom)
        b.setContentsMargins(0, 0, 0, 0)
        b.addStretch(1)
        b.addWidget(close)
        lay.addWidget(bottom)

        self.reader = _ThumbReader(self)
        self.reader.loaded.connect(self._on_thumb, Qt.ConnectionType.QueuedConnection)
        if files:
            self.reader.read(files)

    def _on_thumb(self, path: str, image: QImage) -> None:
        tile = self.recent.get(path)
        if tile is None:
            return
        pix = QPixmap.fromImage(image).scaled(
            THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
        )
        tile.setIcon(QIcon(pix))
        tile.setProperty("thumbnail", True)

    # ------------------------------------------------------------------ choices
    def new_film(self) -> None:
        self.close()
        self.window_.new_project()

    def open_recent(self, path: str) -> None:
        self.close()
        self.window_.open_project(path)  # a missing or damaged file is reported by the window

    def open_example(self, example: ExampleStoryboard) -> None:
        self.close()
        if self.window_.maybe_save():
            self.window_._set_project(example_project(example), dirty=True)


def has_recovery(window) -> bool:
    """Whether the start-up will ask about a recovery copy (then no start screen)."""
    if window.autosaver is None:
        return False
    try:
        return bool(window.autosaver.pending())
    except OSError:
        return False


def start_up(window, project: str | None) -> None:
    """What follows the window's first show: a crash's recovery question first; else the project
    named on the command line; else (first start) the guide; else the start screen."""
    offered = has_recovery(window)
    if window.offer_recovery():
        return
    if project:
        window.open_project(project)
        return
    if window.maybe_show_first_run() is not None or offered:
        return
    show_start_screen(window)


def show_start_screen(window) -> StartScreen:
    screen = StartScreen(window)
    screen.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window.start_screen = screen
    screen.destroyed.connect(lambda *_: setattr(window, "start_screen", None))
    screen.show()
    return screen
