"""The storyboard timeline: one card per shot, sized by its duration, along the bottom.

Cards are reordered by drag and drop and trimmed by dragging their right edge; both go through
the project view-model as undoable commands.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QMimeData, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QAction, QDrag, QFontMetrics, QMouseEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from sora_desktop.core.labels import status_words
from sora_desktop.studio.shots import BLANK_CARD, END_ON_NEXT_LABEL, end_on_next_blocker
from sora_desktop.ui.images import (
    ensure_side_files,
    scaled_pixmap,
    side_files,
    thumbnail_path,
)
from sora_desktop.ui.style import icon
from sora_desktop.ui.viewmodels import (
    ProjectViewModel,
    QueueViewModel,
    changed_settings,
    is_out_of_date,
)
from sora_desktop.ui.zoom import em, refit_on_zoom

MIME_SHOT = "application/x-sora-desktop-shot"
PX_PER_SECOND = 80
MIN_CARD_W, MAX_CARD_W = 200, 480
CARD_H = 196  # at the system font size; card_height() follows the font (UI zoom)
THUMB_H = 84
CARD_CHROME = 130  # margins, spacing, thumbnail and progress bar, in pixels
CARD_TEXT_EM = 4.4  # title, two prompt lines and the seed line


def card_height() -> int:
    """A card's height: the thumbnail plus its lines of text, which grow with the UI zoom."""
    return CARD_CHROME + em(CARD_TEXT_EM)


TRIM_HANDLE_PX = 8


MIN_CARD_EM = 16.7  # a short shot's card still fits its words at any zoom


def min_card_width() -> int:
    return max(MIN_CARD_W, em(MIN_CARD_EM))


def card_width(seconds: float) -> int:
    low = min_card_width()
    return int(max(low, min(max(low, MAX_CARD_W), seconds * PX_PER_SECOND)))


def _repolish(w: QWidget) -> None:
    w.style().unpolish(w)
    w.style().polish(w)


class _ElidedLabel(QLabel):
    """A one-line label that gives way to its neighbours: a long shot title ends in "…" (the
    whole title in the tooltip) so the status chip beside it is never cut off."""

    def __init__(self) -> None:
        super().__init__()
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(24)

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def _elide(self) -> None:
        fm = QFontMetrics(self.font())
        self.setText(fm.elidedText(self._full, Qt.TextElideMode.ElideRight, max(1, self.width())))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._elide()


class ShotCard(QFrame):
    clicked = Signal(str)
    context_requested = Signal(str, QPoint)
    trimmed = Signal(str, float)  # shot id, new seconds

    def __init__(self, shot_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.shot_id = shot_id
        self.setObjectName("ShotCard")
        # Tab reaches a card (keyboard-only use); Enter/Space selects it, the Menu key or
        # Shift+F10 opens its menu, and Delete acts on the storyboard
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setFixedHeight(card_height())
        self.setMouseTracking(True)
        self.seconds = 2.0
        self.fps = 8
        self._press: QPoint | None = None
        self._trim_start_w: int | None = None

        self.title = _ElidedLabel()
        self.title.setObjectName("ShotTitle")
        self.chip = QLabel()
        self.chip.setObjectName("StatusChip")
        self.chip.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.link = QLabel()
        self.link.setPixmap(icon("link").pixmap(14, 14))
        self.link.setToolTip("Continues from the previous shot's last frame")
        self.thumb = QLabel()
        self.thumb.setObjectName("Thumb")
        self.thumb.setFixedHeight(THUMB_H)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.prompt = QLabel()
        self.prompt.setObjectName("ShotPrompt")
        self.prompt.setWordWrap(True)
        self.prompt.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.meta = QLabel()
        self.meta.setObjectName("ShotMeta")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(6)

        head = QHBoxLayout()
        head.setSpacing(6)
        head.addWidget(self.title, 1)
        head.addWidget(self.link)
        head.addWidget(self.chip)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10 + TRIM_HANDLE_PX // 2, 8)
        lay.setSpacing(5)
        lay.addLayout(head)
        lay.addWidget(self.thumb)
        lay.addWidget(self.prompt, 1)
        lay.addWidget(self.bar)
        lay.addWidget(self.meta)
        for child in (
            self.title,
            self.chip,
            self.thumb,
            self.prompt,
            self.meta,
            self.bar,
            self.link,
        ):
            child.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.type() in (QEvent.Type.StyleChange, QEvent.Type.PaletteChange):
            self.link.setPixmap(icon("link").pixmap(14, 14))  # the theme changed: re-tint
        super().changeEvent(event)

    # ------------------------------------------------------------------ data
    def update_from(
        self,
        number: int,
        shot,
        status: str,
        fraction: float,
        thumb: str | None,
        selected: bool,
        detail: str = "",
    ) -> None:
        req = shot.request
        self.seconds, self.fps = req.seconds, req.fps
        self.setFixedWidth(card_width(self.seconds))
        title = shot.title or f"Shot {number}"
        self.title.set_full_text(f"{number}  {title}" if shot.title else title)
        self.link.setVisible(bool(shot.continue_from_previous))
        label = f"{int(fraction * 100)}%" if status == "generating" else status_words(status)
        self.chip.setText(label)
        self.setAccessibleName(f"{title}, {label}")
        self.chip.setProperty("status", status)
        _repolish(self.chip)
        self.chip.setFixedSize(self.chip.sizeHint())  # the whole word, always
        if status == "outdated":
            self.chip.setToolTip(
                "The settings changed after this clip was made "
                f"({', '.join(changed_settings(shot))}). Generate to update it."
            )
        else:
            self.chip.setToolTip("")
        self.setProperty("selected", "true" if selected else "false")
        self.setProperty("status", status)
        _repolish(self)
        self.prompt.setText(self._two_lines(req.prompt.replace("\n", " ") or BLANK_CARD))
        self.prompt.setToolTip(req.prompt)
        takes = len(shot.takes)
        take_no = ""
        if takes:
            ids = [t.id for t in shot.takes]
            pos = ids.index(shot.selected_take) + 1 if shot.selected_take in ids else 0
            plural = "take" if takes == 1 else "takes"
            take_no = f"  ·  take {pos}/{takes}" if pos else f"  ·  {takes} {plural}"
        # the seed of the clip shown (a picked variation has its own), else the shot's
        picked = shot.selected
        seed = picked.request.seed if picked is not None and picked.status == "done" else req.seed
        self.meta.setText(detail or f"{self.seconds:.1f}s  ·  seed {seed}{take_no}")
        self.bar.setVisible(status in ("queued", "generating"))
        self.bar.setValue(int(fraction * 1000))
        pix = scaled_pixmap(thumb, self.width() - 24, THUMB_H) if thumb else None
        if pix is not None:
            self.thumb.setPixmap(pix)
            self.thumb.setText("")
        else:
            self.thumb.setPixmap(QIcon_empty())
            no_clip = {"failed": "No clip", "decode_failed": "No clip", "generating": "Generating…"}
            self.thumb.setText(no_clip.get(status, ""))

    def _two_lines(self, words: str) -> str:
        """The prompt shortened with "…" to what two wrapped lines of the card can show."""
        self.prompt.ensurePolished()  # the theme's font size for prompts
        fm = QFontMetrics(self.prompt.font())
        width = max(40, self.width() - 24)
        room = 2 * fm.lineSpacing() + 2
        text = words
        for cut in range(10, width, max(4, fm.averageCharWidth() * 2)):
            text = fm.elidedText(words, Qt.TextElideMode.ElideRight, width * 2 - cut)
            self.prompt.setText(text)
            if self.prompt.heightForWidth(width) <= room:
                break
        return text

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt API
        key, mods = event.key(), event.modifiers()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space) and not mods:
            self.clicked.emit(self.shot_id)
            return
        shift_f10 = key == Qt.Key.Key_F10 and mods == Qt.KeyboardModifier.ShiftModifier
        if key == Qt.Key.Key_Menu or shift_f10:
            self.clicked.emit(self.shot_id)
            self.context_requested.emit(self.shot_id, self.mapToGlobal(self.rect().center()))
            return
        super().keyPressEvent(event)

    # ------------------------------------------------------------------ mouse
    def _on_trim_edge(self, pos: QPoint) -> bool:
        return pos.x() >= self.width() - TRIM_HANDLE_PX

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position().toPoint()
            if self._on_trim_edge(self._press):
                self._trim_start_w = self.width()
            self.clicked.emit(self.shot_id)
        elif event.button() == Qt.MouseButton.RightButton:
            self.clicked.emit(self.shot_id)
            self.context_requested.emit(self.shot_id, event.globalPosition().toPoint())
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        pos = event.position().toPoint()
        if self._press is None:
            edge = self._on_trim_edge(pos)
            self.setCursor(Qt.CursorShape.SizeHorCursor if edge else Qt.CursorShape.OpenHandCursor)
            return
        if self._trim_start_w is not None:
            low = min_card_width()
            wanted = self._trim_start_w + pos.x() - self._press.x()
            new_w = max(low, min(max(low, MAX_CARD_W), wanted))
            self.setFixedWidth(new_w)
            self.meta.setText(f"{self._seconds_for_width(new_w):.1f}s — release to trim")
            return
        if (pos - self._press).manhattanLength() < 8:
            return
        self._press = None
        drag = QDrag(self)
        mime = QMimeData()
        mime.setData(MIME_SHOT, self.shot_id.encode())
        drag.setMimeData(mime)
        drag.setPixmap(self.grab().scaled(QSize(self.width() // 2, self.height() // 2)))
        drag.setHotSpot(QPoint(10, 10))
        drag.exec(Qt.DropAction.MoveAction)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if self._trim_start_w is not None:
            seconds = self._seconds_for_width(self.width())
            self._trim_start_w = None
            self._press = None
            self.trimmed.emit(self.shot_id, seconds)
        self._press = None
        super().mouseReleaseEvent(event)

    def _seconds_for_width(self, width: int) -> float:
        # quantise to whole frames; the minimum card width still maps to real seconds
        frames = max(1, round(width / PX_PER_SECOND * self.fps))
        return frames / self.fps


def QIcon_empty():  # noqa: N802 - tiny helper returning an empty pixmap
    from PySide6.QtGui import QPixmap

    return QPixmap()


class _CardStrip(QWidget):
    """The row of cards; accepts shot drops and shows where the shot will land."""

    dropped = Signal(str, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(12, 8, 12, 10)
        self.row.setSpacing(10)
        self.marker = QFrame(self)
        self.marker.setObjectName("DropMarker")
        self.marker.setFixedWidth(4)
        self.marker.hide()
        self.cards: list[ShotCard] = []

    def drop_index(self, x: int) -> int:
        for i, card in enumerate(self.cards):
            if x < card.geometry().center().x():
                return i
        return len(self.cards)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasFormat(MIME_SHOT):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt API
        if not event.mimeData().hasFormat(MIME_SHOT):
            return
        event.acceptProposedAction()
        i = self.drop_index(event.position().toPoint().x())
        if self.cards:
            ref = self.cards[min(i, len(self.cards) - 1)].geometry()
            x = ref.left() - 7 if i < len(self.cards) else ref.right() + 3
            self.marker.setGeometry(x, ref.top(), 4, ref.height())
            self.marker.show()
            self.marker.raise_()

    def dragLeaveEvent(self, _event) -> None:  # noqa: N802 - Qt API
        self.marker.hide()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.marker.hide()
        if not event.mimeData().hasFormat(MIME_SHOT):
            return
        shot_id = bytes(event.mimeData().data(MIME_SHOT)).decode()
        self.dropped.emit(shot_id, self.drop_index(event.position().toPoint().x()))
        event.acceptProposedAction()


class StoryboardWidget(QWidget):
    """Shots as cards; emits requests that the main window routes to the queue."""

    generate_requested = Signal(str)
    variations_requested = Signal(str)
    retry_decode_requested = Signal(str, str)  # shot id, take id: "Retry in low memory"
    generate_all_requested = Signal()
    add_requested = Signal()

    def __init__(self, vm: ProjectViewModel, queue: QueueViewModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.vm, self.queue = vm, queue
        self.setObjectName("StoryboardPanel")
        title = QLabel("Storyboard")
        title.setObjectName("PanelTitle")
        self.summary = QLabel()
        self.summary.setObjectName("Muted")
        self.add_btn = QPushButton(icon("add"), "Add shot")
        self.add_btn.setToolTip("Add a shot after the selected one (Ctrl+T)")
        self.all_btn = QPushButton(icon("generate_all"), "Generate all")
        self.all_btn.setToolTip("Queue every shot in order")
        head = QHBoxLayout()
        head.setContentsMargins(12, 8, 12, 0)
        head.addWidget(title)
        head.addSpacing(10)
        head.addWidget(self.summary)
        head.addStretch(1)
        head.addWidget(self.add_btn)
        head.addWidget(self.all_btn)

        self.strip = _CardStrip()
        self.add_card = QPushButton("+\nAdd shot")
        self.add_card.setObjectName("AddShotCard")
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        # a short window (a laptop at 200 % text) scrolls the cards instead of cutting them
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.scroll.setWidget(self.strip)
        self.scroll.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        self.lanes: list[QWidget] = []
        self.refit_em()
        refit_on_zoom(self)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(head)
        lay.addWidget(self.scroll)

        self.add_btn.clicked.connect(self.add_requested)
        self.add_card.clicked.connect(self.add_requested)
        self.all_btn.clicked.connect(self.generate_all_requested)
        self.strip.dropped.connect(self._on_drop)
        vm.shots_changed.connect(self.rebuild)
        vm.project_changed.connect(self.rebuild)
        vm.shot_changed.connect(self.refresh_shot)
        vm.selection_changed.connect(lambda _id: self.refresh_all())
        queue.job_changed.connect(self._on_job_changed)
        side_files.ready.connect(self._on_side_files_ready)  # a large clip's thumbnail is made
        self.menu_extras: list = []  # callables(menu, shot) adding to a shot's menu (sound)
        self.rebuild()

    def add_lane(self, lane: QWidget) -> None:
        """A lane under the cards that scrolls with them (the sound track: ui/audio_lane.py)."""
        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.scroll.takeWidget())
        column.addWidget(lane)
        self.scroll.setWidget(body)
        self.lanes.append(lane)
        self.refit_em()

    def refit_em(self) -> None:
        """Card and strip heights for the current font (called again after a zoom)."""
        height = card_height()
        self.add_card.setFixedSize(max(110, self.add_card.sizeHint().width()), height)
        for card in self.strip.cards:
            card.setFixedHeight(height)
        self.refresh_all()  # widths, status chips and shortened prompts for the new font
        lanes = sum(lane.maximumHeight() for lane in self.lanes)
        self.scroll.setMaximumHeight(height + 34 + lanes)
        self.scroll.setMinimumHeight(min(height + 34 + lanes, em(8)))

    # ------------------------------------------------------------------ building
    def card(self, shot_id: str) -> ShotCard | None:
        return next((c for c in self.strip.cards if c.shot_id == shot_id), None)

    def rebuild(self) -> None:
        row = self.strip.row
        while row.count():
            item = row.takeAt(0)
            w = item.widget()
            if w is not None and w is not self.add_card:
                w.hide()  # gone now, not at the next event-loop turn
                w.setParent(None)
                w.deleteLater()
        self.strip.cards = []
        for shot in self.vm.shots:
            card = ShotCard(shot.id)
            card.clicked.connect(self.vm.select)
            card.context_requested.connect(self._context_menu)
            card.trimmed.connect(self._on_trim)
            self.strip.cards.append(card)
            row.addWidget(card)
        row.addWidget(self.add_card)
        row.addStretch(1)
        self.refresh_all()

    def _on_side_files_ready(self, _clip: str) -> None:
        self.refresh_all()

    def refresh_all(self) -> None:
        for card in self.strip.cards:
            self.refresh_shot(card.shot_id)
        shots = self.vm.shots
        total = sum(s.request.seconds for s in shots)
        done = sum(1 for s in shots if s.selected is not None and s.selected.status == "done")
        self.summary.setText(
            f"{len(shots)} shot{'s' if len(shots) != 1 else ''}  ·  {total:.1f}s  ·  {done} done"
        )
        self.all_btn.setEnabled(bool(shots))

    def refresh_shot(self, shot_id: str) -> None:
        card, shot = self.card(shot_id), self.vm.shot(shot_id)
        if card is None or shot is None:
            return
        status, fraction, thumb = self.display_status(shot_id)
        card.update_from(
            self.vm.shot_number(shot_id),
            shot,
            status,
            fraction,
            thumb,
            shot_id == self.vm.selected_id,
        )

    def display_status(self, shot_id: str) -> tuple[str, float, str | None]:
        shot = self.vm.shot(shot_id)
        job = self.queue.job_for_shot(shot_id)
        clip = self.vm.selected_clip(shot_id)
        thumb = thumbnail_path(clip) if clip is not None else None
        if thumb is not None and not thumb.is_file():
            try:
                ensure_side_files(clip)
            except OSError:
                pass
        thumb_s = str(thumb) if thumb is not None and thumb.is_file() else None
        if job is not None:
            return self.queue.state(job), job.fraction, thumb_s
        status = shot.status if shot is not None else "empty"
        if status == "done" and is_out_of_date(shot):
            return "outdated", 1.0, thumb_s
        return status, 1.0 if status == "done" else 0.0, thumb_s

    # ------------------------------------------------------------------ events
    def _on_job_changed(self, job_id: str) -> None:
        job = self.queue.job(job_id)
        if job is not None:
            self.refresh_shot(job.shot_id)
            if job.is_terminal:
                self.refresh_all()

    def _on_drop(self, shot_id: str, index: int) -> None:
        if self.vm.shot(shot_id) is None:
            return
        current = self.vm.project.index_of(shot_id)
        if index > current:
            index -= 1  # the card leaves its old slot first
        self.vm.move_shot(shot_id, index)

    def _on_trim(self, shot_id: str, seconds: float) -> None:
        shot = self.vm.shot(shot_id)
        if shot is None:
            return
        frames = max(1, round(seconds * shot.request.fps))
        if frames != shot.request.num_frames:
            try:
                self.vm.set_duration(shot_id, frames)
            except ValueError:
                pass
        self.refresh_shot(shot_id)

    def rename(self, shot_id: str) -> None:
        from PySide6.QtWidgets import QInputDialog

        shot = self.vm.shot(shot_id)
        if shot is None:
            return
        title, ok = QInputDialog.getText(self, "Rename shot", "Shot title:", text=shot.title)
        if ok:
            self.vm.set_title(shot_id, title.strip())

    def _context_menu(self, shot_id: str, pos: QPoint) -> None:
        self.build_menu(shot_id).exec(pos)

    def build_menu(self, shot_id: str) -> QMenu:
        shot = self.vm.shot(shot_id)
        menu = QMenu(self)
        menu.addAction(icon("generate"), "Generate", lambda: self.generate_requested.emit(shot_id))
        retry = [t for t in shot.takes if t.status == "decode_failed"]
        if retry:  # decodes the newest failed decode's saved latents: no denoising again
            take_id = retry[-1].id
            menu.addAction(
                "Retry in low memory", lambda: self.retry_decode_requested.emit(shot_id, take_id)
            )
        menu.addAction(
            icon("variations"),
            "Generate 3 variations",
            lambda: self.variations_requested.emit(shot_id),
        )
        menu.addSeparator()
        menu.addAction("Rename…", lambda: self.rename(shot_id))
        menu.addAction(icon("duplicate"), "Duplicate", lambda: self.vm.duplicate_shot(shot_id))
        menu.addAction(icon("delete"), "Delete", lambda: self.vm.delete_shot(shot_id))
        idx = self.vm.project.index_of(shot_id)
        left = menu.addAction("Move left", lambda: self.vm.move_shot(shot_id, idx - 1))
        left.setEnabled(idx > 0)
        right = menu.addAction("Move right", lambda: self.vm.move_shot(shot_id, idx + 1))
        right.setEnabled(idx < len(self.vm.shots) - 1)
        menu.addSeparator()
        cont = QAction("Continue from previous shot", menu)
        cont.setCheckable(True)
        cont.setChecked(bool(shot.continue_from_previous))
        cont.setEnabled(idx > 0)
        cont.toggled.connect(lambda on: self.vm.set_continue(shot_id, on))
        menu.addAction(cont)
        menu.addAction(self._end_on_next_action(shot, menu))
        for extra in self.menu_extras:
            extra(menu, shot)
        done = [t for t in shot.takes if t.status == "done"]
        if done:
            takes = menu.addMenu("Use take")
            for n, take in enumerate(shot.takes, 1):
                if take.status != "done":
                    continue
                act = takes.addAction(f"Take {n}  ·  seed {take.request.seed}")
                act.setCheckable(True)
                act.setChecked(take.id == shot.selected_take)
                act.triggered.connect(lambda _c=False, t=take.id: self.vm.select_take(shot_id, t))
        return menu

    def _end_on_next_action(self, shot, menu: QMenu) -> QAction:
        """The keyframe option; disabled with the reason (studio.shots) when it cannot apply,
        but always switchable off once on."""
        act = QAction(END_ON_NEXT_LABEL, menu)
        act.setCheckable(True)
        act.setChecked(bool(shot.end_on_next_shot))
        why = end_on_next_blocker(self.vm.project, shot.id)
        act.setEnabled(why is None or shot.end_on_next_shot)
        act.setToolTip(why or "End this shot on the first frame of the next shot's clip")
        act.setStatusTip(act.toolTip())
        menu.setToolTipsVisible(True)
        act.toggled.connect(lambda on, sid=shot.id: self.vm.set_end_on_next(sid, on))
        return act
