"""The Export dialog's "Timeline for an editor" runs in the background (issue 20): through the
app's real start-up path, the GUI thread keeps running its event loop (a QTimer keeps firing)
while a slow export runs; progress and Cancel show meanwhile; Cancel, a failure and closing the
dialog each end the export with one message and leave nothing behind (no timeline, no media
folder, no staging folder), and a cancelled replace keeps the earlier timeline as it was.

The export is made slow by a patched clip step that waits for the test (bounded, so the test
fails rather than hangs on a GUI-thread export), not by timing anything."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer

from tests.film_support import mixed_project


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return mixed_project(tmp_path_factory.mktemp("tlbg") / "p")


class SlowStep:
    """Replaces studio.timeline._make_media: clip number ``hold`` (0-based) waits until the
    test releases it or the export is cancelled (at most ``limit`` s); ``fail`` raises there."""

    def __init__(self, monkeypatch, hold: int, fail: BaseException | None = None, limit=8.0):
        from sora_desktop.studio import timeline

        self.original = timeline._make_media
        self.hold, self.fail, self.limit = hold, fail, limit
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.thread: threading.Thread | None = None
        monkeypatch.setattr(timeline, "_make_media", self)

    def __call__(self, ts, dest, rate, cancel):
        n, self.calls = self.calls, self.calls + 1
        if n == self.hold:
            self.thread = threading.current_thread()
            self.entered.set()
            for _ in range(int(self.limit / 0.02)):
                if self.release.is_set() or (cancel is not None and cancel.cancelled):
                    break
                self.release.wait(0.02)
            if self.fail is not None:
                raise self.fail
        return self.original(ts, dest, rate, cancel)


def _listing(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder`` (hidden ones too) with a file's bytes."""
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture
def dialog(qtbot, monkeypatch, tmp_path, project):
    from tests.ui_support import close_window, make_window

    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    window = make_window(tmp_path)
    qtbot.waitExposed(window)
    try:
        assert window.open_project(project.path)
        yield window.open_export_dialog()
    finally:
        close_window(window)


def test_gui_stays_responsive_while_the_timeline_exports(qtbot, monkeypatch, tmp_path, dialog):
    import opentimelineio as otio

    box = dialog.timeline
    slow = SlowStep(monkeypatch, hold=1)
    out = tmp_path / "edit" / "cut.otio"
    out.parent.mkdir()
    ticks: list[int] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    try:
        assert box.export_to(out) is not None
        assert slow.entered.wait(30), "the export never reached the second clip"
        # the GUI thread runs its event loop while the clip step is held
        qtbot.waitUntil(lambda: len(ticks) >= 5, timeout=5_000)
        assert not slow.release.is_set() and box.busy
        assert slow.thread is not threading.main_thread()
        assert box.progress.isVisible() and box.cancel_btn.isVisible()
        assert not box.button.isEnabled()
        assert not out.exists() and not (out.parent / "cut_media").exists()
        with qtbot.waitSignal(box.ended, timeout=120_000) as ended:
            slow.release.set()
    finally:
        timer.stop()
        slow.release.set()
    assert ended.args == ["finished"], box.status.text()
    assert not box.busy and box.button.isEnabled() and not box.cancel_btn.isVisible()
    assert "cut.otio" in box.status.text()
    timeline = otio.adapters.read_from_file(str(out))
    assert len(list(timeline.find_clips())) == 3
    media = sorted((out.parent / "cut_media").iterdir())
    assert len(media) == 3
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []
    # each clip handed to the editor carries its shot's proof of origin, and the box says so
    from sora_desktop.studio.provenance import read_provenance

    summaries = [read_provenance(p) for p in media]
    assert all(s is not None and s.valid for s in summaries)
    assert [s.prompt for s in summaries] == ["shot 1", "shot 2", "shot 3"]
    assert "proof of origin" in box.status.text()


def test_cancel_and_failure_leave_nothing_behind(qtbot, monkeypatch, tmp_path, dialog):
    box = dialog.timeline
    folder = tmp_path / "edit"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")  # the user's own file stays as it is
    before = _listing(folder)

    # Cancel while the second clip is being made: no timeline, no media, no staging folder
    slow = SlowStep(monkeypatch, hold=1)
    box.export_to(folder / "cut.edl")
    assert slow.entered.wait(30)
    assert box.cancel_btn.isVisible() and box.cancel_btn.isEnabled()
    with qtbot.waitSignal(box.ended, timeout=60_000) as ended:
        box.cancel_btn.click()
    assert ended.args == ["cancelled"]
    assert "cancelled" in box.status.text() and "nothing was written" in box.status.text()
    assert _listing(folder) == before

    # a full disk on the second clip: one plain line, nothing behind
    disk_full = OSError(28, "No space left on device")
    slow = SlowStep(monkeypatch, hold=1, fail=disk_full, limit=0)
    with qtbot.waitSignal(box.ended, timeout=60_000) as ended:
        box.export_to(folder / "cut.edl")
    assert ended.args == ["failed"]
    text = box.status.text()
    assert text.startswith("Timeline not exported:") and "No space left on device" in text
    assert "\n" not in text and "Traceback" not in text and "Errno" not in text
    assert _listing(folder) == before

    # replacing an earlier timeline, cancelled: the earlier one is kept byte for byte
    from sora_desktop.studio import timeline

    monkeypatch.setattr(timeline, "_make_media", slow.original)
    with qtbot.waitSignal(box.ended, timeout=120_000) as ended:
        box.export_to(folder / "cut.edl")
    assert ended.args == ["finished"], box.status.text()
    earlier = _listing(folder)
    slow = SlowStep(monkeypatch, hold=1)
    box.export_to(folder / "cut.edl", overwrite=True)
    assert slow.entered.wait(30)
    with qtbot.waitSignal(box.ended, timeout=60_000) as ended:
        box.cancel()
    assert ended.args == ["cancelled"]
    assert _listing(folder) == earlier

    # closing the dialog mid-export cancels it: the worker ends it, nothing is left
    worker = box.worker()
    slow = SlowStep(monkeypatch, hold=1)
    box.export_to(folder / "other.otio")
    assert slow.entered.wait(30)
    with qtbot.waitSignal(worker.cancelled, timeout=60_000):
        dialog.close()
    assert _listing(folder) == earlier
