"""Every take status has one on-screen word, and the storyboard card and the takes grid show
the same one (core/labels.STATUS_WORDS is the only list)."""

from __future__ import annotations

import typing

from sora_desktop.core.labels import STATUS_WORDS, status_words
from sora_desktop.core.project import TAKE_STATUSES, ShotStatus, Take
from sora_desktop.core.request import GenerationRequest


def test_every_take_and_shot_status_has_a_word_without_underscores():
    for status in (*TAKE_STATUSES, *typing.get_args(ShotStatus), "outdated"):
        word = STATUS_WORDS.get(status)
        assert word, f"no on-screen word for {status!r}"
        assert "_" not in word and word[0].isupper()


def test_takes_grid_caption_uses_the_shared_word():
    from sora_desktop.ui.takes_grid import take_caption

    for status in TAKE_STATUSES:
        take = Take.create(GenerationRequest("a red ball", seed=7))
        take.status = status
        assert status_words(status) in take_caption(2, take, picked=False)
