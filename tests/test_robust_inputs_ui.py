"""Issue 15, part 5, in the app: a small file holding a 4K video in the player and the
storyboard's thumbnails, and hostile paths from Open Recent. bench/bench_inputs.py measures the
memory peaks and GUI-thread stalls these tests only check the shape of."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.robust_support.hostile_files import still_video
from tests.ui_support import close_window, make_window

FRAMES_4K = 24


@pytest.fixture(scope="module")
def clip_4k(tmp_path_factory) -> Path:
    return still_video(tmp_path_factory.mktemp("clip4k") / "shot.mp4", 3840, 2160, FRAMES_4K)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    return tmp_path


def test_4k_clip_decodes_off_the_gui_thread_scaled_to_the_view(qtbot, clip_4k):
    from sora_desktop.ui.player import MAX_SIDE, PlayerViewModel

    vm = PlayerViewModel()
    vm.load_clip(clip_4k, "Shot 1")
    # returned before decoding: nothing held yet, the GUI thread is free
    assert vm.loading and vm.frames == []
    assert "loading" in vm.title
    qtbot.waitUntil(lambda: len(vm.frames) == FRAMES_4K, timeout=180_000)
    assert not vm.loading and vm.title == "Shot 1" and vm.fps == 30
    sizes = {(f.width(), f.height()) for f in vm.frames}
    assert len(sizes) == 1
    (w, h) = sizes.pop()
    assert max(w, h) <= MAX_SIDE and w * 2160 == pytest.approx(h * 3840, rel=0.01)
    vm.play()
    qtbot.waitUntil(lambda: vm.index > 2, timeout=10_000)
    vm.stop()


def test_a_newer_choice_cancels_a_loading_clip(qtbot, clip_4k, tmp_path):
    from sora_desktop.ui.player import PlayerViewModel

    small = still_video(tmp_path / "small.mp4", 64, 64, 16, fps=8)
    vm = PlayerViewModel()
    vm.load_clip(clip_4k, "big")
    assert vm.loading
    vm.load_clip(small, "small")  # the app's own size: shown at once
    assert not vm.loading and len(vm.frames) == 16 and vm.title == "small"
    qtbot.wait(3000)  # the cancelled decode must not replace what is shown
    assert len(vm.frames) == 16 and vm.title == "small"


def test_absurd_clip_is_refused_at_once(tmp_path):
    from sora_desktop.ui.player import PlayerViewModel

    tall = still_video(tmp_path / "tall.mp4", 16, 8208, 2)
    vm = PlayerViewModel()
    with pytest.raises(ValueError, match="at most 8192 pixels"):
        vm.load_clip(tall, "tall")
    assert vm.frames == [] and not vm.loading


def test_thumbnail_of_a_4k_clip_is_made_in_the_background_and_small(qtbot, clip_4k, tmp_path):
    import shutil

    import cv2

    from sora_desktop.ui.images import (
        SIDE_MAX,
        ensure_side_files,
        last_frame_path,
        side_files,
        thumbnail_path,
    )

    clip = tmp_path / "copy.mp4"
    shutil.copy(clip_4k, clip)
    with qtbot.waitSignal(side_files.ready, timeout=180_000) as ready:
        ensure_side_files(clip)
        assert not thumbnail_path(clip).exists()  # not made on the GUI thread
    assert ready.args == [str(clip)]
    for side in (thumbnail_path(clip), last_frame_path(clip)):
        img = cv2.imread(str(side))
        assert img is not None and max(img.shape[:2]) <= SIDE_MAX


@pytest.mark.parametrize("bad", ["film\ud800.sdproj", "fi\udfffm.sdproj", "film\0.sdproj"])
def test_open_recent_with_an_impossible_path_gives_a_message(qtbot, home, bad):
    window = make_window(home)
    try:
        path = str(home / bad)
        window.settings.recent_files = [path]
        window._fill_recent()
        actions = [a for a in window.recent_menu.actions() if a.isEnabled()]
        assert len(actions) == 1
        actions[0].trigger()  # today: UnicodeEncodeError / ValueError out of the slot
        title, text = window.messages[-1]
        assert title == "Cannot open this project" and "cannot be opened" in text
        assert path not in window.settings.recent_files
    finally:
        close_window(window)


def test_open_recent_fifo_does_not_hang(qtbot, home):
    import os

    from tests.robust_support import hang_guard

    fifo = home / "film.sdproj"
    os.mkfifo(fifo)
    window = make_window(home)
    try:
        with hang_guard(10):
            assert not window.open_project(fifo)
        title, text = window.messages[-1]
        assert title == "Cannot open this project" and "pipe" in text
    finally:
        close_window(window)
