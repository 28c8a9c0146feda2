"""Export one shot or the whole storyboard; the work runs in the export worker thread."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sora_desktop.core.capabilities import embedded_capabilities
from sora_desktop.core.errors import FieldError
from sora_desktop.core.export_settings import (
    FIT_MODES,
    FORMAT_SUFFIXES,
    MAX_CROSSFADE_FRAMES,
    MIN_EXPORT_SIDE,
    QUALITIES,
    UPSCALE_CHOICES,
    ExportSettings,
    crossfade_frames_for,
    crossfade_seconds,
    default_upscale,
)
from sora_desktop.core.film_layout import COMMON_FPS
from sora_desktop.studio.film import FilmPlan, film_clips, film_plan, film_request
from sora_desktop.studio.film_sound import dropped_message, film_sound
from sora_desktop.studio.provenance import options_from_settings, proof_outcome
from sora_desktop.ui.accessibility import prepare as prepare_accessibility
from sora_desktop.ui.export_done import ExportDoneBar
from sora_desktop.ui.fitting import FullScrollArea, WholeTextCombo, WrappedCheck, fit_to_screen
from sora_desktop.ui.proof_note import ProofNote
from sora_desktop.ui.questions import ask as ask_question
from sora_desktop.ui.style import icon
from sora_desktop.ui.viewmodels import ProjectViewModel
from sora_desktop.ui.worker import ExportJob, ExportWorker
from sora_desktop.ui.zoom import refit_on_zoom

# the words for each format; the formats and their suffixes are core's (export_settings)
FORMAT_LABELS = {
    "mp4": "MP4 video (H.264) — plays everywhere",
    "webm": "WebM video (VP9) — for the web",
    "gif": "Animated GIF — for chats and slides",
    "png": "PNG frames — one image per frame",
}
FORMATS = [(key, FORMAT_LABELS[key], suffix) for key, suffix in FORMAT_SUFFIXES.items()]
UPSCALES = UPSCALE_CHOICES
METHOD_LABELS = {"nearest": "Pixel-sharp (nearest)", "lanczos": "Smooth (Lanczos)"}
FIT_LABELS = {
    "letterbox": "Letterbox — whole picture, black bars",
    "crop": "Crop — fill the frame, trim the edges",
}
assert set(FIT_LABELS) == set(FIT_MODES)


def safe_name(text: str) -> str:
    name = re.sub(r"[^\w\- ]+", "", text).strip().replace(" ", "_")
    return name or "sora_clip"


def unique_path(folder: Path, stem: str, suffix: str) -> Path:
    path = folder / f"{stem}{suffix}"
    n = 2
    while path.exists() or (not suffix and (folder / f"{stem}_frames").exists()):
        path = folder / f"{stem}-{n}{suffix}"
        n += 1
    return path


class ExportDialog(QDialog):
    def __init__(
        self,
        vm: ProjectViewModel,
        worker: ExportWorker,
        output_dir: str,
        watermark_default: bool = True,
        shot_id: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.vm, self.worker = vm, worker
        self.output_dir = Path(output_dir)
        self.shot_id = shot_id or vm.selected_id
        self.job_id: str | None = None
        self.result_path: str | None = None
        self._confirmed_path: str | None = None  # the user agreed to replace this file
        self.setWindowTitle("Export")
        self.setSizeGripEnabled(True)

        title = QLabel("Export video")
        title.setObjectName("PanelTitle")
        self.scope = WholeTextCombo()  # combo boxes never narrower than their text (zoom)
        self.scope.addItem("This shot", "shot")
        self.scope.addItem("Whole storyboard (shots in order)", "storyboard")
        self.format = WholeTextCombo()
        for key, label, _suffix in FORMATS:
            self.format.addItem(label, key)
        self.size = WholeTextCombo()
        self.method = WholeTextCombo()
        for key, label in METHOD_LABELS.items():
            self.method.addItem(label, key)
        self.quality = WholeTextCombo()
        for q in QUALITIES:
            self.quality.addItem(q.capitalize(), q)
        # shown in seconds, stored in frames (converted at the film's rate: crossfade_frames_for)
        self.crossfade = QDoubleSpinBox()
        self.crossfade.setDecimals(2)
        self.crossfade.setSingleStep(0.25)
        self.crossfade.setSuffix(" s")
        self._fade_fps = embedded_capabilities().default_fps
        self.crossfade.setToolTip("Blend the end of each shot into the start of the next")
        self.fps = WholeTextCombo()
        self.fps.setToolTip(
            "The film's frame rate. Each shot keeps its length: frames are repeated or "
            "dropped, never blended."
        )
        self.fit = WholeTextCombo()
        for key in FIT_MODES:
            self.fit.addItem(FIT_LABELS[key], key)
        self.fit.setToolTip("How a shot of another shape than the film's frame is shown")
        self.output = QLabel(" ")
        self.output.setObjectName("OutputSummary")
        self.output.setWordWrap(True)
        # check boxes whose text wraps at a large text size (ui/fitting.WrappedCheck)
        self.watermark = QCheckBox()
        self.watermark.setChecked(watermark_default)
        self.sidecar = QCheckBox()
        self.sidecar.setToolTip(
            "The prompt and settings are inside the video file anyway; the .json copy is for "
            "tools that cannot read them there"
        )
        self.loudness = QCheckBox()
        self.loudness.setToolTip("Normalise the film's sound to a standard loudness (loudnorm)")
        watermark_row = WrappedCheck(self.watermark, "Visible “AI-generated” watermark")
        sidecar_row = WrappedCheck(
            self.sidecar, "Also save the settings as a .json file beside the video"
        )
        loudness_row = WrappedCheck(self.loudness, "Even out the loudness of the sound")
        self.sound_note = QLabel()  # "A GIF cannot hold sound..." (core's one message)
        self.sound_note.setObjectName("Muted")
        self.sound_note.setWordWrap(True)
        self.sound_note.hide()
        label_note = QLabel(
            "Every export is labelled AI-generated in its metadata, with its settings."
        )
        label_note.setObjectName("Muted")
        label_note.setWordWrap(True)
        self.path_edit = QLineEdit()
        browse = QPushButton(icon("open"), "Choose…")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.status = QLabel(" ")
        self.status.setObjectName("Muted")
        self.status.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("FieldError")
        self.error.setWordWrap(True)
        self.error.hide()

        self.export_btn = QPushButton(icon("export"), "Export")
        self.export_btn.setObjectName("PrimaryButton")
        self.cancel_btn = QPushButton("Close")

        body = QWidget()  # the choices scroll; the title, progress and buttons stay in view
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("What", self.scope)
        form.addRow("Format", self.format)
        self.proof_note = ProofNote(self.format, self)  # "WebM can't carry proof of origin yet; …"
        form.addRow("", self.proof_note)
        form.addRow("Size", self.size)
        form.addRow("Frame rate", self.fps)
        form.addRow("Other shapes", self.fit)
        form.addRow("Output", self.output)
        form.addRow("Enlarge with", self.method)
        form.addRow("Quality", self.quality)
        form.addRow("Cross-fade", self.crossfade)
        form.addRow("", watermark_row)
        form.addRow("", sidecar_row)
        form.addRow("Sound", loudness_row)
        form.addRow("", self.sound_note)
        form.addRow("Save to", path_row)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_btn)
        buttons.addWidget(self.export_btn)
        inner = QVBoxLayout(body)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addLayout(form)
        inner.addWidget(label_note)
        inner.addWidget(self.error)
        from sora_desktop.ui.timeline_export import TimelineExportBox

        # for an editor; runs in the background, in the export worker's thread
        self.timeline = TimelineExportBox(vm, self.output_dir, self, export_worker=worker)
        inner.addWidget(self.timeline)
        inner.addStretch(1)
        self.scroll = FullScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab goes to the choices inside
        self.scroll.setWidget(body)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(18, 16, 18, 16)
        lay.addWidget(title)
        lay.addWidget(self.scroll, 1)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        self.done_bar = ExportDoneBar(self)  # "Show in folder" / "Play" after an export
        lay.addWidget(self.done_bar)
        lay.addLayout(buttons)

        settings = vm.project.export_settings  # validated when the project was opened
        self.format.setCurrentIndex(max(0, self.format.findData(settings.format)))
        self.method.setCurrentIndex(max(0, self.method.findData(settings.upscale_method)))
        self.fit.setCurrentIndex(max(0, self.fit.findData(settings.fit)))
        self.loudness.setChecked(settings.normalize_loudness)
        if not self.shot_id or vm.selected_clip(self.shot_id) is None:
            self.scope.setCurrentIndex(1)
        self._fill_fps(settings.fps)
        self._fill_sizes(settings.upscale)
        self._update_fade_fps()
        self.crossfade.setValue(crossfade_seconds(settings.crossfade_frames, self._fade_fps))

        self.scope.currentIndexChanged.connect(self._on_scope)
        self.fps.currentIndexChanged.connect(lambda _i: self._update_fade_fps())
        for box in (self.size, self.fps, self.fit):
            box.currentIndexChanged.connect(lambda _i: self._show_output())
        self.crossfade.valueChanged.connect(lambda _v: self._show_output())
        self.format.currentIndexChanged.connect(lambda _i: self._suggest_path())
        self.format.currentIndexChanged.connect(lambda _i: self._show_sound())
        self.export_btn.clicked.connect(self.start)
        self.cancel_btn.clicked.connect(self._cancel_or_close)
        worker.progress.connect(self._on_progress)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        worker.warned.connect(self._on_warned)
        self._warning = ""
        self._on_scope()
        prepare_accessibility(self)
        refit_on_zoom(self)

    def refit_em(self) -> None:
        """As large as the choices ask, within the screen (the rest scrolls); again after a
        change of text size."""
        if self.isVisible():
            fit_to_screen(self)

    def setVisible(self, visible: bool) -> None:  # noqa: N802 - Qt API
        appearing = visible and not self.isVisible()
        if appearing:
            fit_to_screen(self)  # sized before it appears (open(), show(), exec())
        super().setVisible(visible)
        if appearing:  # again once its title bar's height is known
            QTimer.singleShot(0, self.refit_em)

    # ------------------------------------------------------------------ choices
    def _scope_shot(self) -> str | None:
        """The shot to export, or ``None`` for the whole storyboard."""
        return self.shot_id if self.scope.currentData() == "shot" else None

    def clips(self) -> list[Path]:
        if self.scope.currentData() == "shot" and self.vm.shot(self.shot_id or "") is None:
            return []
        return film_clips(self.vm.project, self._scope_shot())

    def plan(self, settings: ExportSettings | None = None) -> FilmPlan | None:
        """The film the current choices make (frame size, rate, length), or None."""
        if self.scope.currentData() == "shot" and self.vm.shot(self.shot_id or "") is None:
            return None
        try:
            settings = settings or self.chosen_settings()
        except ValueError:
            return None
        try:
            return film_plan(self.vm.project, self._scope_shot(), settings)
        except ValueError:
            return None

    def _source_size(self) -> tuple[int, int]:
        """The film's frame before upscaling: the largest picked clip's (see film_plan)."""
        plan = self.plan(ExportSettings(upscale=1))
        if plan is None:
            shot = self.vm.shot(self.shot_id) if self.shot_id else None
            if shot is None:
                return embedded_capabilities().default_size
            return shot.request.width, shot.request.height
        return plan.width, plan.height

    def _film_fps(self) -> int:
        """The film's frame rate for the current choices (cross-fade seconds ↔ frames)."""
        fps = self.fps.currentData() if self.fps.count() else None
        plan = self.plan(ExportSettings(upscale=1, fps=fps))
        return plan.fps if plan is not None else embedded_capabilities().default_fps

    def _update_fade_fps(self) -> None:
        """The cross-fade keeps its seconds when the film's rate changes; its limit follows."""
        self._fade_fps = self._film_fps()
        self.crossfade.setMaximum(crossfade_seconds(MAX_CROSSFADE_FRAMES, self._fade_fps))

    def _fill_sizes(self, preferred: int | None = None) -> None:
        """ "Auto" first (the smallest enlargement to MIN_EXPORT_SIDE px), then each factor."""
        w, h = self._source_size()
        self.size.blockSignals(True)
        self.size.clear()
        auto = default_upscale(w, h)
        self.size.addItem(f"Auto: {w * auto} × {h * auto}  (at least {MIN_EXPORT_SIDE} px)", None)
        factors = (
            UPSCALES
            if preferred is None or preferred in UPSCALES
            else sorted({*UPSCALES, preferred})
        )
        for f in factors:
            label = f"{w * f} × {h * f}" + ("  (as generated)" if f == 1 else f"  ({f}×)")
            self.size.addItem(label, f)
        index = 0 if preferred is None else self.size.findData(preferred)
        self.size.setCurrentIndex(max(0, index))
        self.size.blockSignals(False)

    def _fill_fps(self, preferred: int | None) -> None:
        """The "Auto (N fps)" entry first, then the common rates (and a stored uncommon one)."""
        plan = self.plan(ExportSettings())
        auto = f"Auto ({plan.auto_fps} fps, the fastest shot)" if plan else "Auto"
        self.fps.blockSignals(True)
        self.fps.clear()
        self.fps.addItem(auto, None)
        for rate in sorted({*COMMON_FPS, *([preferred] if preferred else [])}):
            self.fps.addItem(f"{rate} fps", rate)
        index = 0 if preferred is None else self.fps.findData(preferred)
        self.fps.setCurrentIndex(max(0, index))
        self.fps.blockSignals(False)

    def _show_output(self) -> None:
        plan = self.plan()
        self.output.setText(plan.summary() if plan is not None else "—")
        self._show_sound()

    def _sound(self):
        """The film's sound for the current choices (None: silent)."""
        try:
            return film_sound(self.vm.project, self._scope_shot())
        except (ValueError, KeyError):
            return None

    def _show_sound(self) -> None:
        """Say plainly when the chosen format drops the film's sound."""
        sound = self._sound()
        self.loudness.setEnabled(sound is not None)
        note = dropped_message(sound, self.format.currentData())
        self.sound_note.setText(note or "")
        self.sound_note.setVisible(note is not None)

    def _on_scope(self) -> None:
        storyboard = self.scope.currentData() == "storyboard"
        self.crossfade.setEnabled(storyboard)
        # the film's frame and the "Auto" rate depend on which clips go in
        self._fill_sizes(self.size.currentData())
        self._fill_fps(self.fps.currentData())
        self._update_fade_fps()
        self._show_output()
        self._suggest_path()
        n = len(self.clips())
        if n == 0:
            self.status.setText("Nothing to export yet: generate a shot first.")
        else:
            total = len(self.vm.shots) if storyboard else 1
            missing = total - n
            text = f"{n} clip{'s' if n != 1 else ''} ready"
            if missing > 0:
                text += (
                    f"; {missing} shot{'s' if missing != 1 else ''} without a clip will be skipped"
                )
            self.status.setText(text + ".")
        self.export_btn.setEnabled(n > 0 and self.job_id is None)

    def _suggest_path(self) -> None:
        fmt = self.format.currentData()
        suffix = FORMAT_SUFFIXES[fmt]
        project = self.vm.project
        stem = safe_name(project.name if project.name != "Untitled" else "sora_storyboard")
        if self.scope.currentData() == "shot" and self.shot_id:
            stem += f"_shot{self.vm.shot_number(self.shot_id)}"
        folder = self.output_dir
        current = self.path_edit.text().strip()
        if current:
            folder = Path(current).parent
        path = unique_path(folder, stem, suffix)
        self.path_edit.setText(str(path if suffix else path.with_name(path.name + "_frames")))

    def _browse(self) -> None:
        fmt = self.format.currentData()
        if fmt == "png":
            folder = QFileDialog.getExistingDirectory(self, "Folder for the PNG frames")
            if folder:
                self.path_edit.setText(str(Path(folder) / Path(self.path_edit.text()).name))
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path_edit.text())
        if path:
            self.path_edit.setText(path)
            self._confirmed_path = str(Path(path))  # the file dialog asked about replacing it

    def ask(self, title: str, text: str, buttons: list[str], default: int = 0) -> str:
        """A question with named buttons; returns the chosen name. Tests replace this method."""
        return ask_question(self, title, text, buttons, default)

    def may_write(self, job: ExportJob) -> bool:
        """Ask before an export replaces a file that is already there (not asked twice when the
        Browse dialog asked already)."""
        from sora_desktop.engine.export import output_path_for

        target = output_path_for(job.path, job.fmt)
        try:
            exists = target.exists() and not target.is_dir()
        except (OSError, ValueError):
            return True  # the export itself reports an unusable path
        if not exists or str(target) == self._confirmed_path:
            return True
        choice = self.ask(
            "Replace the existing file?",
            f"“{target.name}” already exists in {target.parent}.\n"
            "Replacing it overwrites what is in it now.",
            ["Replace", "Cancel"],
            default=1,
        )
        if choice == "Replace":
            self._confirmed_path = str(target)
            return True
        return False

    # ------------------------------------------------------------------ running
    def build_job(self) -> ExportJob:
        clips = self.clips()
        if not clips:
            raise FieldError("clips", "nothing to export yet; generate a shot first")
        text = self.path_edit.text().strip()
        if not text:
            raise FieldError("path", "choose where to save the export")
        request = film_request(self.vm.project, self._scope_shot())
        chosen = self.chosen_settings()
        plan = film_plan(self.vm.project, self._scope_shot(), chosen)
        sound = film_sound(self.vm.project, self._scope_shot(), chosen)  # FieldError: a clip
        return ExportJob(
            job_id=uuid.uuid4().hex,
            clips=clips,
            path=Path(text),
            fps=plan.fps if plan is not None else int(request.fps),
            fit=chosen.fit,
            fmt=chosen.format,
            crossfade_frames=chosen.crossfade_frames if len(clips) > 1 else 0,
            upscale=plan.upscale if plan is not None else chosen.upscale_for(*self._source_size()),
            upscale_method=chosen.upscale_method,
            quality=chosen.quality,
            watermark=chosen.watermark,
            request=request,
            sound=sound,
            sidecar=chosen.sidecar,
            provenance=options_from_settings(),  # proof of origin (C2PA), as Settings say
        )

    def chosen_settings(self) -> ExportSettings:
        """The dialog's choices as one validated record (ValueError "field: ..." if one is not
        allowed)."""
        return ExportSettings(
            format=self.format.currentData(),
            upscale=self.size.currentData(),
            upscale_method=self.method.currentData(),
            quality=self.quality.currentData(),
            crossfade_frames=crossfade_frames_for(self.crossfade.value(), self._fade_fps),
            watermark=self.watermark.isChecked(),
            sidecar=self.sidecar.isChecked(),
            fps=self.fps.currentData(),
            fit=self.fit.currentData(),
            normalize_loudness=self.loudness.isChecked(),
        )

    def start(self) -> str | None:
        self.error.hide()
        try:
            job = self.build_job()
        except ValueError as exc:
            self.error.setText(exc.message if isinstance(exc, FieldError) else str(exc))
            self.error.show()
            self.scroll.ensureWidgetVisible(self.error)
            return None
        if not self.may_write(job):
            self.status.setText("Not exported: choose another name, or confirm Replace.")
            return None
        self.job_id = job.job_id
        self._job_fmt = job.fmt  # what the after-export line says about proof of origin
        self.result_path = None
        self.done_bar.clear()
        self.export_btn.setEnabled(False)
        self.cancel_btn.setText("Cancel")
        self.cancel_btn.setAccessibleName("Cancel")
        self.progress.setValue(0)
        self.status.setText("Exporting…")
        # remembered by the project through an undoable edit
        chosen = self.chosen_settings().with_changes(crossfade_frames=job.crossfade_frames)
        self.vm.set_export_settings(chosen)
        self.worker.submit(job)
        return job.job_id

    def _cancel_or_close(self) -> None:
        if self.job_id is not None:
            self.worker.cancel(self.job_id)
            self.status.setText("Cancelling…")
        else:
            self.reject()

    def _done(self) -> None:
        self.job_id = None
        self.cancel_btn.setText("Close")
        self.cancel_btn.setAccessibleName("Close")
        self.export_btn.setEnabled(bool(self.clips()))

    def _on_progress(self, job_id: str, fraction: float) -> None:
        if job_id == self.job_id:
            self.progress.setValue(int(fraction * 1000))

    def _on_finished(self, job_id: str, path: str) -> None:
        if job_id != self.job_id:
            return
        self.result_path = path
        self.progress.setValue(1000)
        self.status.setText(f"Saved {path}" + (f"\n{self._warning}" if self._warning else ""))
        _signed, proof = proof_outcome(self._job_fmt, [self._warning])
        self._warning = ""
        self.done_bar.show_result(path, proof)
        self._done()

    def _on_warned(self, job_id: str, message: str) -> None:
        if job_id == self.job_id:
            self._warning = message  # shown with the result: the film itself is kept

    def _on_failed(self, job_id: str, message: str) -> None:
        if job_id != self.job_id:
            return
        self.error.setText(message)
        self.error.show()
        self.status.setText("Export failed; nothing was written.")
        self._done()

    def _on_cancelled(self, job_id: str) -> None:
        if job_id != self.job_id:
            return
        self.status.setText("Export cancelled; nothing was written.")
        self.progress.setValue(0)
        self._done()

    def done(self, result: int) -> None:  # noqa: D401 - Qt API
        if self.job_id is not None:
            self.worker.cancel(self.job_id)
        self.timeline.cancel()  # a running timeline export ends, leaving nothing behind
        for sig, slot in (
            (self.worker.progress, self._on_progress),
            (self.worker.finished, self._on_finished),
            (self.worker.failed, self._on_failed),
            (self.worker.cancelled, self._on_cancelled),
            (self.worker.warned, self._on_warned),
        ):
            try:
                sig.disconnect(slot)
            except (RuntimeError, TypeError):
                pass
        super().done(result)
