"""The prompt editor's form: its fields (made as attributes of the editor) and their layout.

Split from ``ui/prompt_editor.py`` (which keeps the behaviour: loading a shot, validation,
commits, Enhance) so that file stays small. The order of ``lay`` is the order on screen and
the Tab order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sora_desktop.ui import prompt_editor_vm as logic
from sora_desktop.ui.advanced_section import AdvancedSection
from sora_desktop.ui.editor_model_rules import EditorModelRules
from sora_desktop.ui.prompt_editor_vm import PRESETS
from sora_desktop.ui.style import icon
from sora_desktop.ui.timed_prompts import TimedPromptsEditor
from sora_desktop.ui.vocabulary_note import VocabularyNote
from sora_desktop.ui.zoom import size_in_em

if TYPE_CHECKING:
    from sora_desktop.ui.prompt_editor import PromptEditor


def _error_label() -> QLabel:
    lab = QLabel()
    lab.setObjectName("FieldError")
    lab.setWordWrap(True)
    lab.hide()
    return lab


def _section(text: str) -> QLabel:
    lab = QLabel(text.upper())
    lab.setObjectName("SectionLabel")
    return lab


def build_form(ed: PromptEditor) -> None:
    """Make the editor's fields (as attributes of ``ed``) and lay them out."""
    ed.heading = QLabel("New shot")
    ed.heading.setObjectName("PanelTitle")

    # model
    ed.model_combo = QComboBox()
    for c in ed.choices:
        ed.model_combo.addItem(icon("models"), c.name, c.id)
    ed.model_note = QLabel()
    ed.model_note.setObjectName("Muted")
    ed.model_note.setWordWrap(True)
    ed.model_error = _error_label()

    # preset
    ed.preset_combo = QComboBox()
    ed.preset_combo.addItem("Choose a preset…", None)
    for name in PRESETS:
        ed.preset_combo.addItem(name, name)
    ed.preset_combo.setToolTip(logic.PRESETS_HINT)

    # prompt
    ed.prompt_edit = QPlainTextEdit()
    ed.prompt_edit.setPlaceholderText("Describe the scene: who or what, doing what, where…")
    size_in_em(ed.prompt_edit, min_height=6.5, max_height=11)  # follows the UI zoom
    ed.char_count = QLabel()
    ed.char_count.setObjectName("Muted")
    ed.enhance_btn = QPushButton(icon("enhance"), "Enhance")
    ed.enhance_btn.setToolTip(
        "Rewrite the prompt in words the model understands best; you can edit or undo it"
    )
    ed.enhance_note = QLabel()
    ed.enhance_note.setObjectName("Notice")
    ed.enhance_note.setWordWrap(True)
    ed.enhance_note.hide()
    ed.revert_btn = QPushButton("Use my words")
    ed.revert_btn.setToolTip("Put back the prompt as you wrote it before Enhance")
    ed.revert_btn.hide()
    ed.prompt_error = _error_label()
    ed.vocabulary_note = VocabularyNote()  # the built-in model: words it cannot draw
    ed.policy_label = QLabel()
    ed.policy_label.setObjectName("PolicyMessage")
    ed.policy_label.setWordWrap(True)
    ed.policy_label.hide()

    ed.negative_edit = QPlainTextEdit()
    ed.negative_edit.setPlaceholderText("What to avoid (optional)")
    size_in_em(ed.negative_edit, fixed_height=4.4)
    ed.negative_error = _error_label()

    # numbers
    ed.seed_spin = QSpinBox()
    ed.seed_spin.setRange(-1, 2**31 - 1)  # wide on purpose: the request validates
    ed.seed_spin.setToolTip("The same seed and settings give the same clip")
    ed.seed_lock = QToolButton()
    ed.seed_lock.setCheckable(True)
    ed.seed_lock.setChecked(True)
    ed.seed_lock.setIcon(icon("lock"))
    ed.seed_lock.setToolTip("Locked: keep this seed. Unlocked: a new seed every Generate")
    ed.seed_dice = QToolButton()
    ed.seed_dice.setIcon(icon("dice"))
    ed.seed_dice.setToolTip("Pick a random seed now")
    ed.seed_error = _error_label()

    ed.duration_spin = QDoubleSpinBox()
    ed.duration_spin.setRange(0.0, 600.0)
    ed.duration_spin.setDecimals(2)
    ed.duration_spin.setSingleStep(0.5)
    ed.duration_spin.setSuffix(" s")
    ed.fps_spin = QSpinBox()
    ed.fps_spin.setRange(0, 240)
    ed.fps_spin.setSuffix(" fps")
    ed.duration_error = _error_label()
    ed.fps_error = _error_label()

    ed.size_combo = QComboBox()
    ed.size_error = _error_label()

    ed.steps_spin = QSpinBox()
    ed.steps_spin.setRange(0, 1000)
    ed.steps_spin.setToolTip("More steps: cleaner detail, slower")
    ed.guidance_spin = QDoubleSpinBox()
    ed.guidance_spin.setRange(0.0, 100.0)
    ed.guidance_spin.setSingleStep(0.5)
    ed.guidance_spin.setToolTip("How strictly to follow the prompt")
    ed.steps_error = _error_label()
    ed.guidance_error = _error_label()

    ed.continue_check = QCheckBox("Continue from previous shot")
    ed.rules = EditorModelRules(ed)  # duration fix and why Continue is off (issue 23)
    ed._can_continue = False

    ed.generate_btn = QPushButton(icon("generate"), "Generate")
    ed.generate_btn.setObjectName("PrimaryButton")
    ed.generate_btn.setToolTip("Generate this shot (Ctrl+Enter)")
    ed.variations_btn = QPushButton(icon("variations"), "Variations")
    ed.variations_btn.setToolTip("Generate 3 takes with new seeds, then pick the best")

    # layout
    body = QWidget()
    lay = QVBoxLayout(body)
    lay.setContentsMargins(14, 10, 14, 14)
    lay.setSpacing(4)
    lay.addWidget(ed.heading)
    lay.addWidget(_section("Model"))
    lay.addWidget(ed.model_combo)
    lay.addWidget(ed.model_note)
    lay.addWidget(ed.model_error)
    lay.addWidget(_section(logic.PRESETS_TITLE))
    lay.addWidget(ed.preset_combo)
    lay.addWidget(_section("Prompt"))
    lay.addWidget(ed.prompt_edit)
    row = QHBoxLayout()
    row.addWidget(ed.char_count)
    row.addStretch(1)
    row.addWidget(ed.revert_btn)
    row.addWidget(ed.enhance_btn)
    lay.addLayout(row)
    lay.addWidget(ed.enhance_note)
    lay.addWidget(ed.prompt_error)
    lay.addWidget(ed.vocabulary_note)
    lay.addWidget(_section("Negative prompt"))
    lay.addWidget(ed.negative_edit)
    lay.addWidget(ed.negative_error)
    ed.timed_edit = TimedPromptsEditor()  # a long shot's prompts over time
    ed.timed_error = _error_label()
    lay.addWidget(_section("Prompts over time"))
    lay.addWidget(ed.timed_edit)
    lay.addWidget(ed.timed_error)

    grid = QGridLayout()
    grid.setHorizontalSpacing(8)
    grid.setVerticalSpacing(2)
    grid.addWidget(_section("Duration"), 0, 0)
    grid.addWidget(_section("Frame rate"), 0, 1)
    grid.addWidget(ed.duration_spin, 1, 0)
    grid.addWidget(ed.fps_spin, 1, 1)
    grid.addWidget(ed.duration_error, 2, 0)
    grid.addWidget(ed.fps_error, 2, 1)
    lay.addLayout(grid)
    lay.addWidget(ed.rules.duration_fix)

    lay.addWidget(_section("Size"))
    lay.addWidget(ed.size_combo)
    lay.addWidget(ed.size_error)
    lay.addSpacing(6)
    lay.addWidget(ed.continue_check)
    lay.addWidget(ed.rules.continue_note)
    # technical settings fold away (issue 20); closed by default, remembered by the window
    ed.advanced = AdvancedSection()
    adv = QGridLayout()
    adv.setHorizontalSpacing(8)
    adv.setVerticalSpacing(2)
    adv.addWidget(_section("Steps"), 0, 0)
    adv.addWidget(_section("Guidance"), 0, 1)
    adv.addWidget(ed.steps_spin, 1, 0)
    adv.addWidget(ed.guidance_spin, 1, 1)
    adv.addWidget(ed.steps_error, 2, 0)
    adv.addWidget(ed.guidance_error, 2, 1)
    ed.advanced.body_layout.addLayout(adv)
    ed.advanced.body_layout.addWidget(_section("Seed"))
    seed_row = QHBoxLayout()
    seed_row.addWidget(ed.seed_spin, 1)
    seed_row.addWidget(ed.seed_lock)
    seed_row.addWidget(ed.seed_dice)
    ed.advanced.body_layout.addLayout(seed_row)
    ed.advanced.body_layout.addWidget(ed.seed_error)
    lay.addWidget(ed.advanced)
    lay.addStretch(1)

    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(body)  # a panel narrower than its form (large text) scrolls sideways
    actions = QHBoxLayout()
    actions.setContentsMargins(14, 8, 14, 12)
    actions.addWidget(ed.generate_btn, 2)
    actions.addWidget(ed.variations_btn, 1)
    outer = QVBoxLayout(ed)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.setSpacing(0)
    outer.addWidget(scroll, 1)
    outer.addWidget(ed.policy_label)
    outer.addLayout(actions)
    size_in_em(ed, min_width=21)  # grows with the UI zoom; the form fits without sideways scrolling
