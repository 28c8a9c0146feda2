"""The prompt editor's model-rule helpers: the duration the chosen model accepts (a one-click
"Use 2.06 s (33 frames)" under a duration the model refuses) and why "Continue from previous
shot" is off for a model that cannot start from an image. The rules come from
``studio/model_rules.py``; this module only shows them, so the widget file stays small."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel, QPushButton

from sora_desktop.studio.model_rules import continue_block_reason, nearest_valid_seconds

if TYPE_CHECKING:
    from sora_desktop.ui.prompt_editor import PromptEditor

CONTINUE_TIP = "Start this shot from the last frame of the shot before it"


class EditorModelRules:
    """Widgets the editor lays out (``duration_fix`` under the duration, ``continue_note`` under
    the checkbox) and the updates it calls after a load, a model change or a validation."""

    def __init__(self, editor: PromptEditor) -> None:
        self.editor = editor
        self.duration_fix = QPushButton()
        self.duration_fix.setObjectName("LinkButton")
        self.duration_fix.setToolTip("Use the nearest duration this model accepts")
        self.duration_fix.hide()
        self.duration_fix.clicked.connect(self.snap_duration)
        self.continue_note = QLabel()
        self.continue_note.setObjectName("Muted")
        self.continue_note.setWordWrap(True)
        self.continue_note.hide()
        self._snap_to: float | None = None

    # ------------------------------------------------------------------ duration
    def update_duration(self, invalid: bool) -> None:
        """Offer the nearest valid duration while the duration breaks the model's frame rule."""
        ed = self.editor
        fps = ed.fps_spin.value()
        self._snap_to = None
        if invalid and fps >= 1:
            frames = round(ed.duration_spin.value() * fps)
            if frames >= 1:
                self._snap_to = nearest_valid_seconds(frames, fps, ed.current_choice().caps)
        if self._snap_to is None:
            self.duration_fix.hide()
            return
        frames = round(self._snap_to * fps)
        self.duration_fix.setText(f"Use {self._snap_to:.2f} s ({frames} frames)")
        self.duration_fix.show()

    def snap_duration(self) -> None:
        """The user asked for the nearest valid duration: put it in the field (shown there)."""
        if self._snap_to is not None:
            self.editor.duration_spin.setValue(self._snap_to)

    # ------------------------------------------------------------------ continue
    def update_continue(self, can_continue: bool) -> None:
        """Disable "Continue from previous shot" with the reason when the model cannot start
        from an image. A shot that already continues keeps the box usable, so it can be
        turned off."""
        ed = self.editor
        reason = continue_block_reason(ed.current_choice().caps)
        checked = ed.continue_check.isChecked()
        ed.continue_check.setEnabled(can_continue and (not reason or checked))
        ed.continue_check.setToolTip(reason or CONTINUE_TIP)
        self.continue_note.setText(reason)
        self.continue_note.setVisible(bool(reason))
