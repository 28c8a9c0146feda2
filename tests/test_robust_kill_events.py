"""Issue 22: after a crash nothing piles up. A watcher SIGKILLs the writer on the exact
creation or rename of each temp file (and the deletion of recovery copies) across save,
autosave and restore, Save As under a new name and Save As to another folder with its clips
(tests/robust_support/kill_at_event.py); each folder then holds at most one leftover, a fresh
start offers exactly one recovery copy holding the last completed state, and the next save
leaves nothing. ``bench/bench_kill_events.py`` runs a thousand kills.
"""

from __future__ import annotations

import os

import pytest

from tests.robust_support.kill_at_event import run_kills

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork (POSIX)")
KILLS = 40


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))


def test_event_triggered_kills_leave_at_most_one_leftover_per_folder(tmp_path):
    figures, final, watcher = run_kills(tmp_path / "world", KILLS, seed=22)
    assert figures.failures == [], figures.failures[:5]
    assert figures.kills == KILLS
    # the kills really landed on file events, across every operation
    assert figures.kills_on_event >= KILLS * 0.9, (figures.kills_on_event, watcher)
    ops = {kind.split(":")[0] for kind in figures.events}
    assert ops == {"save", "recover", "saveas_name", "saveas_folder"}, figures.events
    assert max(figures.leftovers_max.values()) <= 1, figures.leftovers_max
    assert figures.copies_offered_max == 1
    # one more save of each project and one more start: nothing left, one copy still offered
    assert final.pop("copies_expected") == 1  # 40 kills always complete a copy
    assert final.pop("copies_offered") == 1
    assert final.pop("stale_markers") == 1  # the offered copy's session
    assert final == {k: 0 for k in final}, final
