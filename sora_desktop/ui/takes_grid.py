"""The takes grid (issue 20): every take of one shot side by side, picked with a click.

Each tile shows the take's thumbnail (the file ``studio.media`` writes beside its clip), its
number, seed, status and when it was made; the picked take is marked. Clicking a finished take
picks it through ``ProjectViewModel.select_take`` (an undoable "Pick take" command). Thumbnails
are read on a background thread and handed to the GUI thread as ``QImage`` (safe across
threads), so a shot with many takes opens at once.

Opened from a shot card's menu ("Compare takes…") and from the player's "All takes…" button
beside the takes dropdown (which stays, for a quick switch).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QGridLayout,
    QLabel,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sora_desktop.core.labels import status_words
from sora_desktop.core.project import Take
from sora_desktop.studio.media import thumbnail_path
from sora_desktop.studio.takes import take_clip
from sora_desktop.ui.accessibility import enter_clicks

log = logging.getLogger(__name__)

TILE = QSize(160, 120)  # the thumbnail's box in a tile
COLUMNS = 4
OPEN_LABEL = "Compare takes…"


def take_caption(number: int, take: Take, picked: bool) -> str:
    """The words under a tile: number, seed, status and time (and the pick)."""
    from sora_desktop.ui.main_recovery import local_time_text

    status = status_words(take.status)
    mark = "  ✓ Picked" if picked else ""
    return (
        f"Take {number}{mark}\nseed {take.request.seed} · {status}\n"
        f"{local_time_text(take.created_at)}"
    )


class _ThumbLoader(QObject):
    """Reads thumbnail files off the GUI thread; ``loaded`` arrives in the GUI thread."""

    loaded = Signal(str, QImage)  # take id, image

    def load(self, items: list[tuple[str, Path]]) -> None:
        def work() -> None:
            for take_id, path in items:
                image = QImage(str(path))
                if not image.isNull():
                    self.loaded.emit(take_id, image)

        threading.Thread(target=work, name="takes-grid-thumbs", daemon=True).start()


class TakesGrid(QDialog):
    """Every take of ``shot_id``; follows the project (new takes, undo of a pick)."""

    def __init__(self, vm, shot_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vm, self.shot_id = vm, shot_id
        self.setObjectName("TakesGrid")
        self.setModal(False)
        self.tiles: dict[str, QToolButton] = {}
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.body = QWidget()
        self.grid = QGridLayout(self.body)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.body)
        lay = QVBoxLayout(self)
        lay.addWidget(self.heading)
        lay.addWidget(scroll, 1)
        self.loader = _ThumbLoader(self)
        self.loader.loaded.connect(self._on_thumb, Qt.ConnectionType.QueuedConnection)
        vm.shot_changed.connect(self._on_shot_changed)
        vm.shots_changed.connect(self._on_shots_changed)
        self.refresh()
        self.resize(self.fitting_size())

    def fitting_size(self) -> QSize:
        """Room for up to COLUMNS x 2 tiles at the current text size, inside the screen."""
        tiles = list(self.tiles.values())
        if tiles:
            tiles[0].ensurePolished()
            hint = tiles[0].sizeHint()
        else:
            hint = TILE
        cols = max(1, min(COLUMNS, len(tiles)))
        rows = max(1, min(2, -(-len(tiles) // COLUMNS)))
        gap = self.grid.spacing() + 2
        m = self.layout().contentsMargins()
        self.heading.ensurePolished()
        width = cols * (hint.width() + gap) + m.left() + m.right() + 24  # 24: a scroll bar
        height = rows * (hint.height() + gap) + m.top() + m.bottom() + 24
        height += self.heading.heightForWidth(width - m.left() - m.right()) + gap
        size = QSize(max(width, 360), height)
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is not None:
            size = size.boundedTo(screen.availableGeometry().size() * 0.9)
        return size

    # ------------------------------------------------------------------ filling
    def refresh(self) -> None:
        shot = self.vm.shot(self.shot_id)
        if shot is None:
            return
        number = self.vm.shot_number(self.shot_id)
        self.setWindowTitle(f"Takes of shot {number}")
        done = sum(t.status == "done" for t in shot.takes)
        self.heading.setText(
            f"Shot {number}: {len(shot.takes)} take{'s' if len(shot.takes) != 1 else ''}. "
            + ("Click a finished take to use it in the film." if done else "None is finished yet.")
        )
        # a keyboard user keeps their place: the tile rebuilt for the focused take gets focus
        focused = next((tid for tid, tile in self.tiles.items() if tile.hasFocus()), None)
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()  # gone now, not at the next event-loop turn
                item.widget().deleteLater()
        self.tiles = {}
        thumbs: list[tuple[str, Path]] = []
        for n, take in enumerate(shot.takes, 1):
            tile = self._tile(n, take, take.id == shot.selected_take)
            self.grid.addWidget(tile, (n - 1) // COLUMNS, (n - 1) % COLUMNS)
            if self.isVisible():
                tile.show()  # now, not at the next turn: the next Tab finds it
            self.tiles[take.id] = tile
            clip = take_clip(self.vm.project, take)
            if clip is not None and thumbnail_path(clip).is_file():
                thumbs.append((take.id, thumbnail_path(clip)))
        if focused in self.tiles:
            self.tiles[focused].setFocus(Qt.FocusReason.OtherFocusReason)
        if thumbs:
            self.loader.load(thumbs)

    def _tile(self, number: int, take: Take, picked: bool) -> QToolButton:
        tile = enter_clicks(QToolButton())
        tile.setObjectName("TakeTile")
        tile.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # Tab reaches it; Enter/Space picks
        tile.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        tile.setIconSize(TILE)
        tile.setCheckable(True)
        tile.setChecked(picked)
        tile.setAutoRaise(not picked)
        tile.setText(take_caption(number, take, picked))
        tile.setEnabled(take.status == "done")
        tile.setAccessibleName(f"Take {number}" + (", picked" if picked else ""))
        tip = "The take used in the film" if picked else "Use this take in the film"
        if take.status != "done":
            tip = take.error or status_words(take.status)
        tile.setToolTip(tip)
        blank = QPixmap(TILE)
        blank.fill(Qt.GlobalColor.black)
        tile.setIcon(QIcon(blank))
        tile.clicked.connect(lambda _c=False, t=take.id: self.pick(t))
        return tile

    def _on_thumb(self, take_id: str, image: QImage) -> None:
        tile = self.tiles.get(take_id)
        if tile is None:
            return
        pix = QPixmap.fromImage(image).scaled(
            TILE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
        )
        tile.setIcon(QIcon(pix))
        tile.setProperty("thumbnail", True)

    # ------------------------------------------------------------------ picking
    def pick(self, take_id: str) -> None:
        shot = self.vm.shot(self.shot_id)
        if shot is None:
            return
        take = next((t for t in shot.takes if t.id == take_id), None)
        if take is None or take.status != "done":
            return
        self.vm.select_take(self.shot_id, take_id)  # undoable; refresh follows shot_changed
        self.refresh()  # also when it was already the pick (the click unchecked its tile)

    def _on_shot_changed(self, shot_id: str) -> None:
        if shot_id == self.shot_id:
            self.refresh()

    def _on_shots_changed(self) -> None:
        if self.vm.shot(self.shot_id) is None:  # the shot was deleted
            self.close()
        else:
            self.refresh()


class TakesGridHost:
    """The window's entry points: the card menu item and the player's button."""

    def __init__(self, window) -> None:
        self.window = window
        self.dialog: TakesGrid | None = None
        window.storyboard.menu_extras.append(self._menu_item)
        window.player.takes_grid_requested.connect(self._open_selected)

    def _menu_item(self, menu, shot) -> None:
        act = menu.addAction(OPEN_LABEL, lambda sid=shot.id: self.open(sid))
        act.setEnabled(bool(shot.takes))

    def _open_selected(self) -> None:
        if self.window.project_vm.selected_id is not None:
            self.open(self.window.project_vm.selected_id)

    def _forget(self, dialog: TakesGrid) -> None:
        if self.dialog is dialog:
            self.dialog = None

    def open(self, shot_id: str) -> TakesGrid:
        if self.dialog is not None:
            self.dialog.close()
        dialog = TakesGrid(self.window.project_vm, shot_id, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda *_, d=dialog: self._forget(d))
        self.dialog = dialog
        dialog.show()
        return dialog
