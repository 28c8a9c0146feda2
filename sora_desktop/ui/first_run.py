"""The first-run guide: what this computer can run, a first video in a minute, where files go.

Shown once, on the first start (``Settings.first_run_done``), and again from Help → Getting
started. ``FirstRunViewModel`` holds the logic and is tested without widgets; ``FirstRunDialog``
only displays it.

The hardware check imports torch, which takes seconds, so it runs in a background thread after
the window is shown; the guide says "Checking your computer…" meanwhile. ``recommend`` is a plain
function of the detected hardware and the catalog, so tests pass a fake machine.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from sora_desktop.core.capabilities import capabilities_from_entry
from sora_desktop.core.catalog import CatalogEntry, is_installed, load_catalog
from sora_desktop.core.memory_modes import MEMORY_MODES, MODE_NAMES
from sora_desktop.core.request import EMBEDDED_MODEL_ID
from sora_desktop.core.settings import Settings, default_paths, settings_path

# A prompt the embedded model knows well (its training captions use these words).
SAMPLE_PROMPT = "a red circle bounces up and down on a plain green background"
SAMPLE_SEED = 100
MODE_ORDER = MEMORY_MODES
# The words the Settings dialog uses for the memory modes.
MODE_WORDS = MODE_NAMES


@dataclass(frozen=True)
class Hardware:
    """What the guide needs to know about this computer.

    ``kind`` is "cuda" (an NVIDIA GPU the big models can use), "mps" (Apple graphics) or
    "cpu". ``gpu_memory_gb`` is the card's total memory (not what is free right now: the guide
    recommends by card; the check before each job uses the free memory). ``note`` explains a
    failed check.
    """

    kind: str
    gpu_name: str | None = None
    gpu_memory_gb: float | None = None
    ram_gb: float | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("cuda", "mps", "cpu"):
            raise ValueError(f"kind: {self.kind!r}; allowed cuda, mps, cpu")
        if self.kind == "cuda" and (self.gpu_memory_gb is None or self.gpu_memory_gb <= 0):
            raise ValueError("gpu_memory_gb: a CUDA GPU needs its memory in GB (> 0)")


def detect_hardware() -> Hardware:
    """Look at the GPU and memory, without torch (the GUI process never imports it; the
    probe may still take a moment: call it off the GUI thread)."""
    import platform

    from sora_desktop.engine.preflight import probe_memory

    mem = probe_memory()
    if mem.gpu_total_gb:
        return Hardware("cuda", mem.gpu_name, mem.gpu_total_gb, mem.ram_total_gb)
    # every Apple-silicon Mac has Metal graphics (torch's "mps")
    apple = sys.platform == "darwin" and platform.machine() == "arm64"
    kind = "mps" if apple else "cpu"
    return Hardware(kind, "Apple graphics" if kind == "mps" else None, None, mem.ram_total_gb)


def gb(value: float) -> str:
    """'8' for 8.0 and 8.02, '8.2' for 8.19: whole numbers stay whole."""
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"


def what_it_makes(entry: CatalogEntry) -> str:
    """One plain sentence about the clips a model makes, from its capability record."""
    caps = capabilities_from_entry(entry)
    (w, h), fps = caps.default_size, caps.default_fps
    if entry.id == EMBEDDED_MODEL_ID:
        longest = caps.max_frames // fps  # chained windows
        text = f"Small {w}×{h} clips at {fps} frames a second, up to {longest} s"
    else:
        seconds = caps.default_frames / max(1, fps)
        text = f"{w}×{h} clips of about {seconds:.0f} s at {fps} frames a second"
    if entry.supports_start_image:
        text += "; can start from a picture"
    return text + "."


def download_text(entry: CatalogEntry) -> str:
    if not entry.needs_download:
        return "No download"
    about = "about " if entry.is_estimate("download_bytes") else ""
    return f"{about}{entry.download_bytes / 1e9:.1f} GB download"


@dataclass(frozen=True)
class Recommendation:
    entry: CatalogEntry
    fits: bool
    mode: str | None  # the fastest memory mode that fits; None when it does not fit
    installed: bool
    reason: str  # plain words: why it fits or what it would need
    # What stops it: "" (fits), "no_gpu", "gpu_memory" or "ram".
    limit: str = ""

    @property
    def what(self) -> str:
        return what_it_makes(self.entry)

    @property
    def download(self) -> str:
        return download_text(self.entry)


def _least_vram(entry: CatalogEntry) -> float:
    return min(entry.min_vram_gb.values())


def recommend_one(entry: CatalogEntry, hw: Hardware, installed: bool) -> Recommendation:
    """Does ``entry`` fit ``hw``? The fastest mode whose GPU and system memory figures fit."""
    if not entry.needs_download:
        return Recommendation(
            entry, True, None, True, "Built in: no download, runs on any computer."
        )
    least = _least_vram(entry)
    if hw.kind != "cuda":
        return Recommendation(
            entry,
            False,
            None,
            installed,
            f"Needs an NVIDIA graphics card (GPU) with at least {gb(least)} GB of memory.",
            "no_gpu",
        )
    card = float(hw.gpu_memory_gb or 0)
    ram = hw.ram_gb
    vram_ok = [m for m in MODE_ORDER if entry.min_vram_gb[m] <= card]
    both_ok = [m for m in vram_ok if ram is None or entry.min_ram_gb[m] <= ram]
    if both_ok:
        mode = both_ok[0]
        slower = "" if mode == "fast" else ", slower than Fast"
        return Recommendation(
            entry,
            True,
            mode,
            installed,
            f"Fits your card in {MODE_WORDS[mode]} mode (about "
            f"{gb(entry.min_vram_gb[mode])} GB of graphics memory{slower}).",
        )
    if vram_ok:  # the card is big enough, the system memory is not
        need = min(entry.min_ram_gb[m] for m in vram_ok)
        return Recommendation(
            entry,
            False,
            None,
            installed,
            f"Needs about {gb(need)} GB of system memory (RAM); this computer has "
            f"{gb(ram or 0)} GB.",
            "ram",
        )
    return Recommendation(
        entry,
        False,
        None,
        installed,
        f"Needs a graphics card with at least {gb(least)} GB of memory; yours has {gb(card)} GB.",
        "gpu_memory",
    )


def recommend(
    hw: Hardware, entries: list[CatalogEntry], models_dir: str | Path
) -> list[Recommendation]:
    """Video models for this computer: the built-in one, then those that fit, then the rest."""
    recs = [recommend_one(e, hw, is_installed(e, models_dir)) for e in entries if e.kind == "video"]
    builtin = [r for r in recs if not r.entry.needs_download]
    fitting = [r for r in recs if r.entry.needs_download and r.fits]
    others = [r for r in recs if r.entry.needs_download and not r.fits]
    return builtin + fitting + others


def hardware_summary(hw: Hardware, recs: list[Recommendation]) -> str:
    """Two or three plain sentences: what was found and what it means."""
    ram = f" System memory: {gb(hw.ram_gb)} GB." if hw.ram_gb else ""
    big = [r for r in recs if r.entry.needs_download]
    fit = [r for r in big if r.fits]
    if hw.kind == "cuda":
        head = (
            f"Graphics card: {hw.gpu_name or 'NVIDIA GPU'} with {gb(hw.gpu_memory_gb or 0)} GB "
            f"of graphics memory.{ram}"
        )
        if fit:
            return (
                f"{head} {len(fit)} of the {len(big)} downloadable video models "
                f"{'fits' if len(fit) == 1 else 'fit'} it; they make larger, sharper videos than "
                "the built-in model but take minutes per clip."
            )
        return (
            f"{head} None of the downloadable video models fit this card; the built-in model "
            "works well on it."
        )
    if hw.kind == "mps":
        head = f"Apple graphics found.{ram} The built-in model runs on it."
    else:
        head = (
            "No graphics card for AI (NVIDIA GPU) was found, so Sora Desktop uses the "
            f"processor (CPU).{ram} The built-in model works well on it."
        )
    return (
        f"{head} The big downloadable models need an NVIDIA graphics card: without one they "
        "would take hours per clip."
    )


@dataclass(frozen=True)
class Folder:
    key: str
    label: str
    path: Path
    what: str


class FirstRunViewModel(QObject):
    """The guide's state. ``detect`` runs in a background thread; tests pass a fake one."""

    hardware_changed = Signal()
    first_video_requested = Signal(str)  # the sample prompt
    models_requested = Signal()  # open the model manager
    done = Signal()  # dismissed or first video started: do not show again

    _detected = Signal(object)  # Hardware, from the detection thread

    def __init__(
        self,
        settings: Settings,
        recovery_dir: str | Path | None = None,
        *,
        detect: Callable[[], Hardware] = detect_hardware,
        entries: list[CatalogEntry] | None = None,
        opener: Callable[[Path], object] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.recovery_dir = Path(recovery_dir) if recovery_dir else default_paths().recovery
        self._detect = detect
        try:
            self.entries = entries if entries is not None else load_catalog()
        except ValueError:  # a broken catalog still leaves the built-in model
            self.entries = []
        self.opener = opener or _open_in_file_manager
        self.hardware: Hardware | None = None
        self.recommendations: list[Recommendation] = []
        self.summary = "Checking your computer…"
        self.is_done = False
        self._thread: threading.Thread | None = None
        self._detected.connect(self.set_hardware)  # queued: emitted from another thread

    # ------------------------------------------------------------------ hardware
    def start_detection(self) -> None:
        """Check the hardware in a background thread; ``hardware_changed`` fires when done."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._run_detect, name="hardware-check")
        self._thread.start()

    def _run_detect(self) -> None:
        try:
            hw = self._detect()
        except Exception as exc:  # noqa: BLE001 - the guide must still open
            hw = Hardware("cpu", note=f"The graphics card could not be checked ({exc}).")
        try:
            self._detected.emit(hw)
        except RuntimeError:  # the guide was closed and deleted meanwhile
            pass

    def wait_detection(self, timeout: float = 60.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def set_hardware(self, hw: Hardware) -> None:
        self.hardware = hw
        self.recommendations = recommend(hw, self.entries, self.settings.models_dir)
        self.summary = hardware_summary(hw, self.recommendations)
        if hw.note:
            self.summary = f"{hw.note} {self.summary}"
        self.hardware_changed.emit()

    def refresh_installed(self) -> None:
        """Re-read which models are installed (the model manager changed them)."""
        if self.hardware is not None:
            self.set_hardware(self.hardware)

    # ------------------------------------------------------------------ folders
    def folders(self) -> list[Folder]:
        """Where things go, read from the settings in use (so the guide never guesses)."""
        out = Path(self.settings.output_dir)
        return [
            Folder(
                "projects",
                "Projects",
                out,
                "Save As suggests this folder. Each project's clips go in a “<name>_media” "
                "folder beside it.",
            ),
            Folder(
                "exports",
                "Exported videos",
                out,
                "File → Export saves here unless you pick another place.",
            ),
            Folder(
                "models",
                "Downloaded models",
                Path(self.settings.models_dir),
                "The model manager downloads here. The big models take tens of GB each.",
            ),
            Folder(
                "settings",
                "Settings",
                settings_path().parent,
                f"Your choices, in {settings_path().name}.",
            ),
            Folder(
                "autosave",
                "Autosave",
                self.recovery_dir,
                "Recovery copies of unsaved work, offered after a crash. Never over your file.",
            ),
        ]

    def folder(self, key: str) -> Folder:
        for f in self.folders():
            if f.key == key:
                return f
        raise KeyError(f"no folder named {key!r}")

    def open_folder(self, key: str) -> Path:
        """Create the folder if needed (nothing is made until used) and show it."""
        path = self.folder(key).path
        path.mkdir(parents=True, exist_ok=True)
        self.opener(path)
        return path

    # ------------------------------------------------------------------ actions
    def make_first_video(self) -> None:
        self.dismiss()
        self.first_video_requested.emit(SAMPLE_PROMPT)

    def open_models(self) -> None:
        self.models_requested.emit()

    def dismiss(self) -> None:
        if not self.is_done:  # closing after "Make my first video" must not report twice
            self.is_done = True
            self.done.emit()


def _open_in_file_manager(path: Path) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def _section(text: str) -> QLabel:
    lab = QLabel(text.upper())
    lab.setObjectName("SectionLabel")
    return lab


def _muted(text: str = "") -> QLabel:
    lab = QLabel(text)
    lab.setObjectName("Muted")
    lab.setWordWrap(True)
    return lab


class FirstRunDialog(QDialog):
    """Displays a ``FirstRunViewModel``. Any way of closing it counts as dismissing it."""

    def __init__(self, vm: FirstRunViewModel, *, can_open_models: bool = True, parent=None) -> None:
        super().__init__(parent)
        self.vm = vm
        self.setWindowTitle("Getting started — Sora Desktop")
        self.setObjectName("FirstRunDialog")
        self.resize(780, 860)

        body = QWidget()
        body.setObjectName("Panel")
        lay = QVBoxLayout(body)
        lay.setContentsMargins(22, 18, 22, 18)
        lay.setSpacing(8)
        title = QLabel("Welcome to Sora Desktop")
        title.setObjectName("PanelTitle")
        lay.addWidget(title)
        lay.addWidget(
            _muted(
                "Sora Desktop turns a sentence into a short video, here on this computer. "
                "Nothing you type or make is uploaded."
            )
        )

        # -- first video: the quickest way to see it work, so it comes first
        lay.addWidget(_section("Your first video"))
        row = QHBoxLayout()
        self.first_video_button = QPushButton("Make my first video")
        self.first_video_button.setObjectName("PrimaryButton")
        self.first_video_button.setToolTip(f"Generates “{SAMPLE_PROMPT}” with the built-in model")
        self.first_video_button.clicked.connect(vm.make_first_video)
        row.addWidget(self.first_video_button)
        row.addWidget(
            _muted(
                f"Uses the built-in model with the prompt “{SAMPLE_PROMPT}”. No download; "
                "the clip is ready in under a minute. Then change the words and press Generate."
            ),
            1,
        )
        lay.addLayout(row)

        # -- this computer and the models that fit it
        lay.addWidget(_section("Your computer"))
        self.summary_label = QLabel(vm.summary)
        self.summary_label.setWordWrap(True)
        lay.addWidget(self.summary_label)
        lay.addWidget(_section("Models for this computer"))
        self.models_box = QVBoxLayout()
        self.models_box.setSpacing(6)
        lay.addLayout(self.models_box)
        self.model_rows: dict[str, tuple[QLabel, QLabel]] = {}  # id -> (verdict, details)
        models_row = QHBoxLayout()
        self.models_button = QPushButton("Open the model manager…")
        self.models_button.setToolTip("Download, pause, delete or import models")
        self.models_button.clicked.connect(vm.open_models)
        self.models_button.setVisible(can_open_models)
        models_row.addWidget(self.models_button)
        models_row.addWidget(_muted("Then pick it in the Model box at the top left."), 1)
        lay.addLayout(models_row)

        # -- where files go
        lay.addWidget(_section("Where your files go"))
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(2)
        grid.setColumnStretch(1, 1)
        self.folder_labels: dict[str, QLabel] = {}
        self.folder_buttons: dict[str, QPushButton] = {}
        for i, folder in enumerate(vm.folders()):
            name = QLabel(f"<b>{folder.label}</b>")
            path = QLabel(str(folder.path))
            path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            path.setToolTip(folder.what)
            what = _muted(folder.what)
            button = QPushButton("Open")
            button.setToolTip(f"Show {folder.path} in the file manager")
            button.setAccessibleName(f"Open the {folder.label.lower()} folder")
            button.clicked.connect(lambda _c=False, k=folder.key: vm.open_folder(k))
            r = 3 * i  # name + path, what it is for, a gap
            grid.addWidget(name, r, 0)
            grid.addWidget(path, r, 1)
            grid.addWidget(button, r, 2, 2, 1, Qt.AlignmentFlag.AlignVCenter)
            grid.addWidget(what, r + 1, 1)
            grid.setRowMinimumHeight(r + 2, 8)
            self.folder_labels[folder.key] = path
            self.folder_buttons[folder.key] = button
        lay.addLayout(grid)
        lay.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)

        footer = QHBoxLayout()
        footer.setContentsMargins(22, 8, 22, 14)
        footer.addWidget(_muted("Open this guide again any time from Help → Getting started."), 1)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        footer.addWidget(self.close_button)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll, 1)
        outer.addLayout(footer)

        vm.hardware_changed.connect(self.refresh)
        vm.first_video_requested.connect(lambda _p: self.accept())
        self.finished.connect(lambda _r: vm.dismiss())
        self._fill_models()

    # ------------------------------------------------------------------ display
    def _fill_models(self) -> None:
        while self.models_box.count():
            item = self.models_box.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.model_rows.clear()
        recs = self.vm.recommendations
        if not recs:  # still checking: list the models without a verdict
            entries = [e for e in self.vm.entries if e.kind == "video"]
            rows = [(e, None) for e in entries]
        else:
            rows = [(r.entry, r) for r in recs]
        for entry, rec in rows:
            self.models_box.addWidget(self._model_row(entry, rec))

    def _model_row(self, entry: CatalogEntry, rec: Recommendation | None) -> QWidget:
        row = QFrame()
        row.setObjectName("JobRow")
        lay = QGridLayout(row)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.setHorizontalSpacing(10)
        lay.setVerticalSpacing(1)
        lay.setColumnStretch(0, 1)
        name = QLabel(f"<b>{entry.name}</b>")
        chip_text, status = verdict(entry, rec)
        chip = QLabel(chip_text)
        chip.setObjectName("StatusChip")
        chip.setProperty("status", status)
        what = what_it_makes(entry)
        if entry.needs_download:
            what = f"{what[:-1]} · {download_text(entry)}"
        reason = rec.reason if rec is not None else ""
        details = _muted(what + (f"\n{reason}" if reason else ""))
        lay.addWidget(name, 0, 0)
        lay.addWidget(chip, 0, 1, Qt.AlignmentFlag.AlignRight)
        lay.addWidget(details, 1, 0, 1, 2)
        self.model_rows[entry.id] = (chip, details)
        return row

    def refresh(self) -> None:
        self.summary_label.setText(self.vm.summary)
        self._fill_models()

    def verdict(self, model_id: str) -> str:
        return self.model_rows[model_id][0].text()


LIMIT_WORDS = {"no_gpu": "Needs a GPU", "gpu_memory": "Too big", "ram": "Needs more RAM"}


def verdict(entry: CatalogEntry, rec: Recommendation | None) -> tuple[str, str]:
    """The short chip text and its StatusChip style for one model row."""
    if rec is None:
        return "Checking…", "empty"
    if not entry.needs_download:
        return "Ready", "done"
    if rec.fits:
        return ("Installed · fits" if rec.installed else "Fits"), "done"
    return LIMIT_WORDS.get(rec.limit, "Does not fit"), "empty"
