"""The model manager window: the catalog, what is installed, download / pause / cancel / delete /
import a folder.

Downloads and imports run in a ``ModelJobWorker`` living in its own QThread; it emits plain data
(``DownloadProgress`` dataclasses, ids, messages) and never touches widgets. Pause keeps the
partial files (the next Download resumes); Cancel also deletes them. ``models_changed`` fires
after an install or a delete so pickers elsewhere can refresh.

Closing the window, or quitting the app, pauses a running job (bytes kept) and joins the thread:
the downloader answers a cancel within a fraction of a second even on a stalled link, so this
never freezes the window nor leaves a running QThread behind.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sora_desktop.core.catalog import (
    KIND_LABELS,
    CatalogEntry,
    installed_size,
    is_installed,
    load_catalog,
)
from sora_desktop.core.memory_modes import MODE_NAMES
from sora_desktop.engine.download_errors import UNEXPECTED_DOWNLOAD_ERROR
from sora_desktop.engine.downloads import (
    DownloadCancelled,
    DownloadError,
    DownloadProgress,
    HubConfig,
    ModelDownloader,
    human_bytes,
)
from sora_desktop.ui.model_badges import (
    capabilities,
    machine_from_memory,
    machine_text,
    model_fit,
)

log = logging.getLogger(__name__)

COLUMNS = (  # a prompt enhancer or a sound model says so under "Can do"
    "Model",
    "Can do",
    "On this computer",
    "Download",
    "GPU memory",
    "Licence",
    "Status",
)
STOP_WAIT_MS = 10_000  # a paused job ends in well under a second; this is a safety net
MODE_LABELS = {mode: name.lower() for mode, name in MODE_NAMES.items()}  # as in Settings


def format_eta(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return "estimating…"
    if seconds < 60:
        return f"{seconds:.0f} s left"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min left"
    return f"{seconds / 3600:.1f} h left"


def progress_text(p: DownloadProgress) -> str:
    """'1.2 GB of 17.5 GB · 35.2 MB/s · 6 min left' (or the phase when no bytes move)."""
    if p.phase == "plan":
        return "Asking the hub for the file list…"
    if p.phase == "verify":
        return f"Checking {p.file or 'files'} (SHA-256)…"
    if p.phase == "done":
        return f"Done: {human_bytes(p.total_bytes)} verified."
    speed = f"{human_bytes(p.speed_bps)}/s" if p.speed_bps > 0 else "starting…"
    return (
        f"{human_bytes(p.done_bytes)} of {human_bytes(p.total_bytes)} · {speed} · "
        f"{format_eta(p.eta_s)}"
    )


class ModelJobWorker(QObject):
    """Runs one download or import at a time in its thread; emits data only."""

    progress = Signal(object)  # DownloadProgress
    finished = Signal(str, str)  # model id, folder
    failed = Signal(str, str)  # model id, readable message
    cancelled = Signal(str, bool)  # model id, kept partial data (paused)

    _start = Signal(object, str, str)  # entry, "download" | "import", source folder

    def __init__(self, downloader_factory: Callable[[], ModelDownloader]) -> None:
        super().__init__()
        self._factory = downloader_factory
        self._cancel = threading.Event()
        self._discard = False
        self._start.connect(self._run, Qt.ConnectionType.QueuedConnection)

    def start(self, entry: CatalogEntry, kind: str = "download", source: str = "") -> None:
        self._cancel.clear()
        self._discard = False
        self._start.emit(entry, kind, source)

    def pause(self) -> None:
        self._cancel.set()

    def cancel(self) -> None:
        self._discard = True
        self._cancel.set()

    @Slot(object, str, str)
    def _run(self, entry: CatalogEntry, kind: str, source: str) -> None:
        downloader = self._factory()
        try:
            if kind == "import":
                folder = downloader.import_folder(entry, source, self.progress.emit, self._cancel)
            else:
                folder = downloader.download(entry, self.progress.emit, self._cancel)
        except DownloadCancelled:
            if self._discard and not is_installed(entry, downloader.models_dir):
                try:
                    downloader.delete(entry)
                except (DownloadError, OSError):
                    pass
            self.cancelled.emit(entry.id, not self._discard)
        except DownloadError as exc:
            self.failed.emit(entry.id, str(exc))
        except Exception:  # the window must stay up whatever happens in a job
            log.exception("model job for %s failed", entry.id)
            self.failed.emit(entry.id, UNEXPECTED_DOWNLOAD_ERROR)
        else:
            self.finished.emit(entry.id, str(folder))


class ModelManagerWindow(QDialog):
    """Catalog, installed state and download controls. ``settings`` needs models_dir,
    memory_mode, hf_endpoint, hf_token and offline."""

    models_changed = Signal()
    model_deleting = Signal(str)  # model id, confirmed: the main window cancels its jobs first
    _machine_found = Signal(object)  # Machine, from the probe thread

    def __init__(
        self,
        settings: Any,
        parent: QWidget | None = None,
        catalog_path: str | Path | None = None,
        memory_probe: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(1320, 560)
        self.settings = settings
        self.entries = load_catalog(catalog_path)
        self.busy_id: str | None = None
        # Replaceable in tests: yes/no question and folder picker.
        self.confirm: Callable[[str, str], bool] = self._ask
        # What uses a model (jobs, shots), for the delete question; the main window sets it.
        self.model_usage: Callable[[str], str] = lambda _model_id: ""
        self.pick_folder: Callable[[], str] = self._pick_folder

        self.table = QTableWidget(len(self.entries), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        # names, badges, fit and "Installed (…)" are never cut off; the licence gives way
        for col in range(len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("Licence"), QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # What this computer can run (core/fit.py): None until the memory probe answers.
        self.machine = None
        self.machine_label = QLabel("This computer: checking…")
        self.machine_label.setObjectName("Muted")
        self._machine_found.connect(self._set_machine)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_label = QLabel("")
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        self.folder_label = QLabel(f"Models folder: {self.models_dir}")

        self.btn_download = QPushButton("Download")
        self.btn_pause = QPushButton("Pause")
        self.btn_cancel = QPushButton("Cancel download")
        self.btn_delete = QPushButton("Delete")
        self.btn_import = QPushButton("Import folder…")
        self.btn_download.clicked.connect(self.download_selected)
        self.btn_pause.clicked.connect(self.pause)
        self.btn_cancel.clicked.connect(self.cancel)
        self.btn_delete.clicked.connect(self.delete_selected)
        self.btn_import.clicked.connect(self.import_selected)
        for btn, tip in (
            (self.btn_download, "Download the selected model (resumes a paused download)"),
            (self.btn_pause, "Stop for now and keep what was downloaded"),
            (self.btn_cancel, "Stop and delete what was downloaded"),
            (self.btn_delete, "Delete the selected model from disk"),
            (self.btn_import, "Install the selected model from a folder copied from elsewhere"),
        ):
            btn.setToolTip(tip)
            btn.setAccessibleName(btn.text())

        buttons = QHBoxLayout()
        for b in (self.btn_download, self.btn_pause, self.btn_cancel, self.btn_delete):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.btn_import)
        layout = QVBoxLayout(self)
        layout.addWidget(self.folder_label)
        layout.addWidget(self.machine_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.status_label)

        self._thread = QThread(self)
        self._thread.setObjectName("model-downloads")
        self.worker = ModelJobWorker(self._make_downloader)
        self.worker.moveToThread(self._thread)
        self.worker.progress.connect(self._on_progress)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.worker.cancelled.connect(self._on_cancelled)
        self._thread.start()
        app = QApplication.instance()
        if app is not None:  # quitting with the window open (or hidden) still stops the job
            app.aboutToQuit.connect(self.shutdown)

        self.refresh()
        if self.entries:
            self.table.selectRow(0)
        self._update_buttons()
        self._probe_machine(memory_probe)

    # ------------------------------------------------------------------ this computer
    def _probe_machine(self, probe: Callable[[], Any] | None) -> None:
        """A given probe (tests, a fake GPU) answers now; the real one imports torch, so it
        runs in a thread and the window opens at once."""
        if probe is not None:
            self._set_machine(machine_from_memory(probe()))
            return

        def run() -> None:
            from sora_desktop.engine.preflight import probe_memory

            try:
                self._machine_found.emit(machine_from_memory(probe_memory()))
            except RuntimeError:  # the window was closed meanwhile
                pass

        threading.Thread(target=run, name="model-manager-probe", daemon=True).start()

    @Slot(object)
    def _set_machine(self, machine) -> None:
        self.machine = machine
        self.machine_label.setText(machine_text(machine))
        self.refresh()

    def fit_of(self, entry: CatalogEntry):
        """The model's fit on this computer (None until the probe answered)."""
        if self.machine is None:
            return None
        return model_fit(entry, self.machine, getattr(self.settings, "memory_mode", "balanced"))

    # ------------------------------------------------------------------ data
    @property
    def models_dir(self) -> Path:
        return Path(self.settings.models_dir)

    def _make_downloader(self) -> ModelDownloader:
        return ModelDownloader(self.models_dir, HubConfig.from_settings(self.settings))

    def selected_entry(self) -> CatalogEntry | None:
        rows = self.table.selectionModel().selectedRows()
        return self.entries[rows[0].row()] if rows else None

    def select(self, model_id: str) -> None:
        for row, entry in enumerate(self.entries):
            if entry.id == model_id:
                self.table.selectRow(row)
                return
        raise ValueError(f"model_id: {model_id!r} is not in the catalog")

    def status_of(self, entry: CatalogEntry) -> str:
        if not entry.needs_download:
            return "Built in"
        if entry.id == self.busy_id:
            return "Downloading…"
        if is_installed(entry, self.models_dir):
            return f"Installed ({human_bytes(installed_size(entry, self.models_dir))})"
        partial = self._make_downloader().partial_bytes(entry)
        if partial:
            return f"Paused ({human_bytes(partial)} downloaded)"
        return "Not installed"

    def refresh(self) -> None:
        mode = getattr(self.settings, "memory_mode", "balanced")
        for row, e in enumerate(self.entries):
            size = "—" if not e.needs_download else human_bytes(e.download_bytes)
            if e.needs_download and e.is_estimate("download_bytes"):
                size = f"~{size}"
            vram = e.min_vram_gb.get(mode, 0.0)
            vram_text = "any" if vram == 0 else f"{vram:g} GB ({MODE_LABELS.get(mode, mode)})"
            if vram and e.is_estimate(f"min_vram_gb.{mode}"):
                vram_text = f"~{vram_text}"
            caps = capabilities(e)
            fit = self.fit_of(e)
            values = (
                e.name,
                " · ".join(caps.badges()) if caps is not None else KIND_LABELS[e.kind],
                fit.cell() if fit is not None else "checking…",
                size,
                vram_text,
                e.license,
                self.status_of(e),
            )
            for col, text in enumerate(values):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, col, item)
        self._update_buttons()

    def row_text(self, model_id: str, column: str) -> str:
        row = next(i for i, e in enumerate(self.entries) if e.id == model_id)
        return self.table.item(row, COLUMNS.index(column)).text()

    def _update_buttons(self) -> None:
        e = self.selected_entry()
        busy = self.busy_id is not None
        installed = e is not None and is_installed(e, self.models_dir)
        downloadable = e is not None and e.needs_download
        self.btn_download.setEnabled(downloadable and not busy and not installed)
        self.btn_import.setEnabled(downloadable and not busy)
        self.btn_delete.setEnabled(
            downloadable
            and not busy
            and (installed or self.models_dir.joinpath(e.folder_name).exists())
        )
        self.btn_pause.setEnabled(busy)
        self.btn_cancel.setEnabled(busy)
        if e is not None:
            self.details.setText(self.details_html(e))
            self.btn_download.setText(
                "Resume" if downloadable and self.status_of(e).startswith("Paused") else "Download"
            )

    def details_html(self, e: CatalogEntry) -> str:
        """The selected model: what it is, what it can do, its fit per memory mode, and why it
        cannot run here (it can still be downloaded)."""
        est = " Figures marked ~ are estimates." if e.estimated else ""
        parts = [f"<b>{escape(e.name)}</b> — {escape(e.description)}{est}"]
        caps = capabilities(e)
        if caps is not None:
            parts.append("Can do: " + " · ".join(caps.badges()))
        fit = self.fit_of(e)
        if fit is not None and e.needs_download:
            parts.append("On this computer: " + escape(fit.per_mode()) + " (times are estimates)")
            if fit.why_not():
                parts.append(f"<b>Why not here:</b> {escape(fit.why_not())}")
        return "<br>".join(parts)

    # ------------------------------------------------------------------ actions
    def download_selected(self) -> None:
        e = self.selected_entry()
        if e is None or not e.needs_download or self.busy_id:
            return
        self._begin(e, "download")

    def import_selected(self) -> None:
        e = self.selected_entry()
        if e is None or not e.needs_download or self.busy_id:
            return
        folder = self.pick_folder()
        if folder:
            self._begin(e, "import", folder)

    def _begin(self, entry: CatalogEntry, kind: str, source: str = "") -> None:
        self.busy_id = entry.id
        self.status_label.setText("")
        self.progress_bar.setValue(0)
        self.progress_label.setText("Starting…")
        self.refresh()
        if not self._thread.isRunning():  # shown again after being closed
            self._thread.start()
        self.worker.start(entry, kind, source)

    def pause(self) -> None:
        if self.busy_id:
            self.progress_label.setText("Pausing…")
            self.worker.pause()

    def cancel(self) -> None:
        if self.busy_id:
            self.progress_label.setText("Cancelling…")
            self.worker.cancel()

    def delete_selected(self) -> None:
        e = self.selected_entry()
        if e is None or not e.needs_download or self.busy_id:
            return
        question = f"Delete {e.name} from {self.models_dir}?"
        usage = self.model_usage(e.id)
        if usage:
            question += f"\n\n{usage}"
        if not self.confirm("Delete model", question):
            return
        self.model_deleting.emit(e.id)  # its jobs are cancelled and it is unloaded first
        try:
            freed = self._make_downloader().delete(e)
        except (DownloadError, OSError) as exc:
            from sora_desktop.studio.messages import file_problem

            why = file_problem(exc) if isinstance(exc, OSError) else str(exc)
            self.status_label.setText(f"Could not delete {e.name}: {why}")
            return
        self.status_label.setText(f"Deleted {e.name}; freed {human_bytes(freed)}.")
        self.refresh()
        self.models_changed.emit()

    # ------------------------------------------------------------------ worker signals
    @Slot(object)
    def _on_progress(self, p: DownloadProgress) -> None:
        if p.total_bytes:
            self.progress_bar.setValue(int(1000 * p.done_bytes / p.total_bytes))
        self.progress_label.setText(progress_text(p))

    @Slot(str, str)
    def _on_finished(self, model_id: str, folder: str) -> None:
        self.busy_id = None
        self.progress_bar.setValue(1000)
        name = next(e.name for e in self.entries if e.id == model_id)
        self.status_label.setText(f"{name} is installed and verified.")
        self.refresh()
        self.models_changed.emit()

    @Slot(str, str)
    def _on_failed(self, model_id: str, message: str) -> None:
        self.busy_id = None
        self.progress_label.setText("")
        self.status_label.setText(message)
        self.refresh()

    @Slot(str, bool)
    def _on_cancelled(self, model_id: str, kept: bool) -> None:
        self.busy_id = None
        self.progress_label.setText("")
        self.status_label.setText(
            "Paused; press Resume to continue where it stopped."
            if kept
            else "Download cancelled; the partial files were deleted."
        )
        self.refresh()

    # ------------------------------------------------------------------ dialogs
    def _ask(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def _pick_folder(self) -> str:
        return QFileDialog.getExistingDirectory(self, "Import a model folder")

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt name
        self.shutdown()
        super().closeEvent(event)

    def done(self, result: int) -> None:  # Esc / reject hide the dialog without closeEvent
        self.shutdown()
        super().done(result)

    def shutdown(self) -> None:
        """Pause a running job (partial data kept) and stop the worker thread; safe to repeat."""
        try:
            running = self._thread.isRunning()
        except RuntimeError:  # the window was already deleted (aboutToQuit after close)
            return
        if self.busy_id:
            self.worker.pause()
        if not running:
            return
        self._thread.quit()
        if not self._thread.wait(STOP_WAIT_MS):
            log.warning("the model download thread did not stop within %d ms", STOP_WAIT_MS)
