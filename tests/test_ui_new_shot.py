"""Add shot (issue 20): the new shot gets a fresh seed and an empty prompt showing its hint,
not a copy of the previous one; generating it before a prompt is written is refused."""

from __future__ import annotations

import pytest

from sora_desktop.core.request import GenerationRequest
from tests.ui_support import (
    plain_window,  # noqa: F401 (the window fixture)
    unload_models_after_module,  # noqa: F401
)


def test_new_shot_has_a_fresh_seed_and_an_empty_prompt_with_a_hint(qtbot, window):
    first = GenerationRequest("a red ball rolls right", seed=1234, steps=3, num_frames=9)
    window.project_vm.add_shot(first)
    window.project_vm.select(window.project_vm.shots[0].id)
    window.act_add.trigger()  # the menu / Ctrl+T / the "+" card all call add_shot
    shots = window.project_vm.shots
    assert len(shots) == 2
    new = shots[1].request
    assert new.prompt == "" and new.seed != first.seed
    # model and length follow the previous shot
    assert (new.model_id, new.num_frames, new.steps) == (first.model_id, 9, 3)
    assert window.project_vm.selected_id == shots[1].id
    ed = window.editor
    assert ed.prompt_edit.toPlainText() == ""
    assert ed.prompt_edit.placeholderText().strip()  # the hint shows in the empty box
    from sora_desktop.studio.shots import BLANK_CARD

    assert window.storyboard.strip.cards[1].prompt.text() == BLANK_CARD  # not a blank card
    # two new shots in a row are not duplicates of each other either
    window.act_add.trigger()
    assert window.project_vm.shots[2].request.seed != new.seed


def test_generating_a_shot_without_a_prompt_is_refused_in_plain_words(qtbot, window):
    from sora_desktop.studio.shots import NO_PROMPT, QueueError

    window.project_vm.add_shot(GenerationRequest("a blue square", steps=2))
    window.act_add.trigger()
    blank = window.project_vm.selected
    assert blank is not None and blank.request.prompt == ""
    assert window.generate_selected() == []
    assert window.queue_vm.jobs == []
    assert window.messages[-1] == ("Cannot generate this shot", NO_PROMPT)
    # other settings of the blank shot can still be changed before the prompt is written
    window.editor.steps_spin.setValue(5)
    window.editor.flush()
    assert window.project_vm.selected.request.steps == 5
    # the queue's own rule (Generate all, the card's menu) refuses it too
    with pytest.raises(QueueError) as info:
        window.queue_vm.studio.generate_shot(blank.id)
    assert str(info.value) == NO_PROMPT
    assert blank.takes == []
