"""The prompt editor: the selected shot's prompt and settings, with inline validation.

Every change builds a ``GenerationRequest``; if the request refuses a value, its ValueError text
is shown under the field it names and nothing is committed. Valid changes become undoable edits
of the selected shot. With no shot yet, the editor holds a draft that "Generate" turns into one.
"""

from __future__ import annotations

import random

from PySide6.QtCore import QSize, QTimer, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QSpinBox,
    QWidget,
)

from sora_desktop.core.errors import FieldError
from sora_desktop.core.request import MAX_PROMPT_CHARS, MAX_SEED, GenerationRequest
from sora_desktop.ui import prompt_editor_vm as logic
from sora_desktop.ui.model_choices import (  # noqa: F401 - the model list lives there now
    ModelChoice,
    model_choices,
    sizes_for,
    unknown_choice,
)
from sora_desktop.ui.prompt_editor_form import build_form
from sora_desktop.ui.prompt_editor_vm import FIELD_NAMES, PRESETS  # noqa: F401 - moved there
from sora_desktop.ui.style import icon
from sora_desktop.ui.viewmodels import ProjectViewModel


class PromptEditor(QWidget):
    generate_requested = Signal()
    variations_requested = Signal()

    def __init__(
        self, vm: ProjectViewModel, models_dir: str | None = None, parent=None, memory_mode=""
    ) -> None:
        super().__init__(parent)
        self.vm = vm
        self.setObjectName("PromptPanel")
        self._loading = False
        self._committing = False
        self._user_words: str | None = None  # the prompt before "Enhance"
        self.draft = GenerationRequest(
            "a red circle bounces up and down on a plain green background", seed=42
        )
        self.models_dir = models_dir
        self.memory_mode = memory_mode or "balanced"  # the model notes name it (issue 23)
        self.choices = model_choices(models_dir, self.memory_mode)

        build_form(self)  # the fields and their layout (ui/prompt_editor_form.py)

        self.errors = {
            "prompt": self.prompt_error,
            "negative": self.negative_error,
            "seed": self.seed_error,
            "duration": self.duration_error,
            "fps": self.fps_error,
            "size": self.size_error,
            "steps": self.steps_error,
            "guidance": self.guidance_error,
            "model": self.model_error,
            "timed": self.timed_error,
        }
        self.inputs = {
            "prompt": self.prompt_edit,
            "negative": self.negative_edit,
            "seed": self.seed_spin,
            "duration": self.duration_spin,
            "fps": self.fps_spin,
            "size": self.size_combo,
            "steps": self.steps_spin,
            "guidance": self.guidance_spin,
            "model": self.model_combo,
            "timed": self.timed_edit,
        }

        # Numbers commit when the user finishes (Enter, Tab, leaving the field, the arrows),
        # not per keystroke: typing "30" must not commit the "3" on the way (issue 15). The
        # shot keeps its last valid value until a valid one is entered.
        for spin in self.spins():
            spin.setKeyboardTracking(False)

        # text commits are debounced a little so typing stays smooth
        self._text_timer = QTimer(self)
        self._text_timer.setSingleShot(True)
        self._text_timer.setInterval(250)
        self._text_timer.timeout.connect(lambda: self._changed("prompt"))

        self.prompt_edit.textChanged.connect(self._on_prompt_text)
        self.negative_edit.textChanged.connect(lambda: self._changed("negative_prompt"))
        self.seed_spin.valueChanged.connect(lambda _v: self._changed("seed"))
        self.duration_spin.valueChanged.connect(lambda _v: self._changed("duration"))
        self.fps_spin.valueChanged.connect(lambda _v: self._changed("fps"))
        self.steps_spin.valueChanged.connect(lambda _v: self._changed("steps"))
        self.guidance_spin.valueChanged.connect(lambda _v: self._changed("guidance"))
        self.size_combo.currentIndexChanged.connect(lambda _i: self._changed("size"))
        self.timed_edit.changed.connect(lambda: self._changed("timed_prompts"))
        self.model_combo.currentIndexChanged.connect(self._on_model)
        self.preset_combo.activated.connect(self._on_preset)
        self.seed_dice.clicked.connect(self.randomize_seed)
        self.seed_lock.toggled.connect(
            lambda on: self.seed_lock.setIcon(icon("lock" if on else "unlock"))
        )
        self.vocabulary_note.example_chosen.connect(self.use_example)
        self.enhance_btn.clicked.connect(self.enhance)
        self.revert_btn.clicked.connect(self.revert_enhance)
        self.continue_check.toggled.connect(self._on_continue)
        self.generate_btn.clicked.connect(self.generate_requested)
        self.variations_btn.clicked.connect(self.variations_requested)

        vm.selection_changed.connect(lambda _id: self.load_selected())
        vm.shot_changed.connect(self._on_shot_changed)
        vm.project_changed.connect(self.load_selected)
        self.load_selected()

    def spins(self) -> list[QSpinBox | QDoubleSpinBox]:
        return [
            self.seed_spin,
            self.duration_spin,
            self.fps_spin,
            self.steps_spin,
            self.guidance_spin,
        ]

    # ------------------------------------------------------------------ loading
    def current_choice(self) -> ModelChoice:
        return logic.choice_for(self.choices, self.model_combo.currentData())

    def load_selected(self) -> None:
        shot = self.vm.selected
        if shot is None:
            self.heading.setText("New shot")
            self.load_request(self.draft, continue_from=False, can_continue=False)
        else:
            number = self.vm.shot_number(shot.id)
            self.heading.setText(f"Shot {number}" + (f" — {shot.title}" if shot.title else ""))
            self.load_request(shot.request, shot.continue_from_previous, number > 1)

    def _on_shot_changed(self, shot_id: str) -> None:
        if shot_id == self.vm.selected_id and not self._committing:
            self.load_selected()

    def load_request(self, req: GenerationRequest, continue_from: bool, can_continue: bool) -> None:
        self._loading = True
        try:
            idx = self.model_combo.findData(req.model_id)
            if idx < 0:  # a project made with a model that is not installed here
                self.choices.append(unknown_choice(req.model_id))
                self.model_combo.addItem(self.choices[-1].name, req.model_id)
                idx = self.model_combo.count() - 1
            self.model_combo.setCurrentIndex(idx)
            self._fill_sizes(req.width, req.height)
            self.model_note.setText(self.current_choice().note)
            if self.prompt_edit.toPlainText() != req.prompt:
                self.prompt_edit.setPlainText(req.prompt)
            if self.negative_edit.toPlainText() != req.negative_prompt:
                self.negative_edit.setPlainText(req.negative_prompt)
            self.seed_spin.setValue(req.seed)
            self.fps_spin.setValue(req.fps)
            self.duration_spin.setValue(req.num_frames / req.fps)
            self.steps_spin.setValue(req.steps)
            self.guidance_spin.setValue(float(req.guidance))
            self.timed_edit.set_values(req.timed_prompts)
            self.continue_check.setChecked(continue_from)
            self._can_continue = can_continue
            self.rules.update_continue(can_continue)
            self._user_words = req.original_prompt if req.original_prompt != req.prompt else None
            self._show_enhance_note()
            self._update_count()
            self._clear_errors()
        finally:
            self._loading = False

    def refresh_models(self) -> None:
        """Re-read the installed models (after the model manager changed them)."""
        current = self.model_combo.currentData()
        self.choices = model_choices(self.models_dir, self.memory_mode)
        self._loading = True
        try:
            self.model_combo.clear()
            for c in self.choices:
                self.model_combo.addItem(icon("models"), c.name, c.id)
            idx = self.model_combo.findData(current)
            self.model_combo.setCurrentIndex(max(0, idx))
        finally:
            self._loading = False
        self.load_selected()

    def _fill_sizes(self, width: int, height: int) -> None:
        self.size_combo.blockSignals(True)
        self.size_combo.clear()
        sizes = sizes_for(self.current_choice())
        if (width, height) not in [(w, h) for w, h, _ in sizes]:
            sizes.append((width, height, f"{width} × {height}"))
        for w, h, label in sizes:
            self.size_combo.addItem(label, (w, h))
        self.size_combo.setCurrentIndex([(w, h) for w, h, _ in sizes].index((width, height)))
        self.size_combo.blockSignals(False)

    # ------------------------------------------------------------------ building requests
    def base_request(self) -> GenerationRequest:
        shot = self.vm.selected
        return shot.request if shot is not None else self.draft

    def fields(self) -> logic.EditorFields:
        """What the inputs hold now, for the checks in ``prompt_editor_vm``."""
        return logic.EditorFields(
            prompt=self.prompt_edit.toPlainText(),
            negative_prompt=self.negative_edit.toPlainText(),
            seed=self.seed_spin.value(),
            steps=self.steps_spin.value(),
            guidance=self.guidance_spin.value(),
            fps=self.fps_spin.value(),
            seconds=self.duration_spin.value(),
            size=self.size_combo.currentData(),
            choice=self.current_choice(),
            timed_prompts=self.timed_edit.values(),
        )

    def build_request(self) -> GenerationRequest:
        """The request the fields describe; raises FieldError("field", "...") if one is invalid."""
        return logic.request_from_fields(self.base_request(), self.fields(), self._user_words)

    def _clear_errors(self) -> None:
        for name, lab in self.errors.items():
            lab.hide()
            lab.setText("")
            w = self.inputs[name]
            if w.property("invalid"):
                w.setProperty("invalid", False)
                w.style().unpolish(w)
                w.style().polish(w)

    error_key = staticmethod(logic.error_key)

    def show_error(self, exc: ValueError) -> str:
        """Show a ValueError under the field it names; returns that field's key."""
        key = self.error_key(exc)
        lab = self.errors[key]
        lab.setText(logic.error_text(exc))
        lab.show()
        self.advanced.reveal(lab)  # an error in a folded field opens the section
        w = self.inputs[key]
        w.setProperty("invalid", True)
        w.style().unpolish(w)
        w.style().polish(w)
        return key

    def field_errors(self) -> list[ValueError]:
        """Every invalid field, each checked alone (all problems shown at once)."""
        return logic.field_errors(self.base_request(), self.fields())

    def build_request_frames(self) -> int:
        fps = self.fps_spin.value()
        return logic.frames_for(self.duration_spin.value(), fps, self.current_choice())

    def validate(self) -> GenerationRequest | None:
        self._clear_errors()
        try:
            return self.build_request()
        except ValueError as exc:
            shown = {self.show_error(e) for e in self.field_errors()}
            if self.error_key(exc) not in shown:
                self.show_error(exc)
            return None
        finally:
            self.rules.update_duration(bool(self.duration_error.text()))

    def _on_prompt_text(self) -> None:
        self._update_count()
        if not self._loading:
            self._text_timer.start()

    def _changed(self, key: str) -> None:
        if self._loading:
            return
        self.hide_policy_message()
        request = self.validate()
        if request is None:
            return
        shot = self.vm.selected
        if shot is None:
            self.draft = request
            return
        self._committing = True
        try:
            self.vm.set_request(shot.id, request, logic.commit_label(key), key)
        finally:
            self._committing = False

    def flush(self) -> GenerationRequest | None:
        """Commit pending typing now (before Generate / Save); returns the valid request."""
        if self._text_timer.isActive():
            self._text_timer.stop()
        for spin in self.spins():  # a number still being typed counts now (Ctrl+Enter, Save)
            spin.interpretText()
        self._changed("prompt")
        return self.validate()

    def _update_count(self) -> None:
        text = self.prompt_edit.toPlainText()
        self.char_count.setText(f"{len(text)} / {MAX_PROMPT_CHARS}")
        self.vocabulary_note.update_for(self.model_combo.currentData() or "", text)

    def use_example(self, prompt: str) -> None:
        """An example prompt clicked under the prompt box: it becomes the prompt (undoable)."""
        self.prompt_edit.setPlainText(prompt)
        self._text_timer.stop()
        self._changed("prompt")

    # ------------------------------------------------------------------ actions
    def _on_model(self, _index: int) -> None:
        if self._loading:
            return
        choice = self.current_choice()
        size, numbers = logic.model_defaults(choice)
        self._loading = True
        try:
            seconds = self.duration_spin.value()
            self.model_note.setText(choice.note)
            self._fill_sizes(*size)
            spins = {"fps": self.fps_spin, "steps": self.steps_spin, "guidance": self.guidance_spin}
            for name, value in numbers.items():  # fps, steps, guidance: as before
                spins[name].setValue(value)
            self.duration_spin.setValue(seconds)
            self.rules.update_continue(self._can_continue)
        finally:
            self._loading = False
        self._update_count()  # the vocabulary note is the built-in model's only
        self._changed("model")

    def _on_preset(self, index: int) -> None:
        name = self.preset_combo.itemData(index)
        if not name:
            return
        p = PRESETS[name]
        self._loading = True
        try:
            if "steps" in p:
                self.steps_spin.setValue(p["steps"])
            if "guidance" in p:
                self.guidance_spin.setValue(p["guidance"])
            if "fps" in p:
                seconds = self.duration_spin.value()
                self.fps_spin.setValue(p["fps"])
                self.duration_spin.setValue(seconds)
            if "seconds" in p:
                self.duration_spin.setValue(p["seconds"])
        finally:
            self._loading = False
        self._changed(f"preset {name}")
        self.preset_combo.setCurrentIndex(0)

    def randomize_seed(self) -> int:
        seed = random.randint(0, min(MAX_SEED, 2**31 - 1))
        self.seed_spin.setValue(seed)
        return seed

    def seed_for_generate(self) -> None:
        """Unlocked seed: a fresh one for this Generate (recorded, so it can be reproduced)."""
        if not self.seed_lock.isChecked():
            self.randomize_seed()

    def enhance(self) -> str | None:
        words = self.prompt_edit.toPlainText()
        try:
            better = logic.enhanced(words)
        except FieldError as exc:
            self.show_error(exc)
            return None
        if better.strip() == words.strip():
            self.enhance_note.setText("Enhance had nothing to add; your prompt is already clear.")
            self.enhance_note.show()
            return better
        self._user_words = self._user_words or words
        # through the cursor, so the text box's own undo (Ctrl+Z) restores the user's words
        cursor = self.prompt_edit.textCursor()
        cursor.beginEditBlock()
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.insertText(better)
        cursor.endEditBlock()
        self.flush()
        self._show_enhance_note()
        return better

    def revert_enhance(self) -> None:
        if not self._user_words:
            return
        words = self._user_words
        cursor = self.prompt_edit.textCursor()
        cursor.beginEditBlock()
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.insertText(words)
        cursor.endEditBlock()
        self._user_words = None
        self.flush()
        self._show_enhance_note()

    def _show_enhance_note(self) -> None:
        note = logic.enhance_note(self._user_words, self.prompt_edit.toPlainText())
        if note is not None:
            self.enhance_note.setText(note)
        on = note is not None
        self.enhance_note.setVisible(on)
        self.revert_btn.setVisible(on)

    def _on_continue(self, on: bool) -> None:
        if self._loading:
            return
        shot = self.vm.selected
        if shot is not None:
            self._committing = True
            try:
                self.vm.set_continue(shot.id, on)
            finally:
                self._committing = False

    def show_policy_message(self, text: str) -> None:
        self.policy_label.setText(text)
        self.policy_label.show()

    def hide_policy_message(self) -> None:
        self.policy_label.hide()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(340, 600)
