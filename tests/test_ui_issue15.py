"""Issue 15, part 6: things a new user hit that mislead or lose edits.

Watermark outline, live theme switch, Duration typing, out-of-date shots, Generate all,
recovery copy 2 s after edits (also across kill -9), export overwrite, minimum window size and
150 % scaling, opening a project from the command line / a double-click, and the small ones.
"""

from __future__ import annotations

import configparser
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from tests.ui_support import (
    close_window,
    make_window,
    set_fields,
    unload_models_after_module,  # noqa: F401
    use_micro_model,
)

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------ helpers
def _project_with(window, *prompts: str):
    """Shots with the given prompts (no generation)."""
    pvm = window.project_vm
    base = window.editor.base_request()
    return [pvm.add_shot(base.with_changes(prompt=p)) for p in prompts]


def _finish_take(window, shot, request=None, status="done"):
    """A take as the queue leaves it, without running the model."""
    from sora_desktop.core.project import Take

    project = window.project_vm.project
    take = Take.create(request or shot.request)
    project.add_take(shot.id, take)
    project.update_take(shot.id, take.id, status=status, clip="none.mp4")
    if status == "done":
        project.select_take(shot.id, take.id)
    window.project_vm._shot_changed(shot.id)
    return take


@pytest.fixture
def plain_window(qtbot, tmp_path):
    w = make_window(tmp_path)
    qtbot.waitExposed(w)
    yield w
    close_window(w)


@pytest.fixture
def model_window(qtbot, monkeypatch, micro_model_dir, tmp_path):
    use_micro_model(monkeypatch, micro_model_dir, tmp_path / "home")
    w = make_window(tmp_path)
    qtbot.waitExposed(w)
    yield w
    close_window(w)


# ------------------------------------------------------------------------------ watermark
@pytest.mark.parametrize("size", [(512, 288), (1024, 576), (256, 256)])
def test_watermark_outline_stays_within_the_text(size):
    """The dark outline was drawn with a thicker pen, whose wider glyph advance ran ~11 px past
    the text at 512 px and read as "AI-generatedd"."""
    from sora_desktop.engine.export import add_watermark

    w, h = size
    frame = np.full((h, w, 3), 128, np.uint8)
    out = add_watermark(frame)
    dark_cols = np.nonzero((out.max(axis=2) < 100).any(axis=0))[0]
    light_cols = np.nonzero((out.min(axis=2) > 160).any(axis=0))[0]
    assert dark_cols.size and light_cols.size
    # the outline hugs the text: a few pixels either side, no extra glyph-like column
    assert dark_cols.max() - light_cols.max() <= 3, (dark_cols.max(), light_cols.max())
    assert light_cols.min() - dark_cols.min() <= 3, (dark_cols.min(), light_cols.min())
    assert (out.astype(int) - frame).any(axis=2)[: h // 2].sum() == 0  # only the bottom corner


# ------------------------------------------------------------------------------ theme
def _grab(window):
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    return window.grab().toImage()


def test_light_theme_applies_live_to_every_panel(qtbot, tmp_path, monkeypatch):
    """Switched in the real window (Settings -> apply_settings), the light theme looks the same
    as a window that started light: no dark panels left until a restart."""
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from sora_desktop.ui.style import apply_theme

    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))  # settings are saved
    app = QApplication.instance()
    apply_theme(app, "dark")
    live = make_window(tmp_path / "a")
    fresh = None
    try:
        _project_with(live, "a red ball")
        live.apply_settings(dataclasses.replace(live.settings, theme="light"))
        live_img = _grab(live)
        for panel in (live.queue_panel, live.storyboard, live.editor):
            img = panel.grab().toImage()
            for x, y in ((img.width() - 4, img.height() // 2), (6, img.height() - 6)):
                colour = img.pixelColor(x, y)
                assert colour.lightness() > 200, (panel.objectName(), colour.name())
            text = panel.palette().color(QPalette.ColorRole.WindowText)
            assert text.lightness() < 100, (panel.objectName(), text.name())

        fresh = make_window(tmp_path / "b")  # the app is light now: a window that starts so
        _project_with(fresh, "a red ball")
        fresh_img = _grab(fresh)
        assert live_img.size() == fresh_img.size()
        step = 3
        total = differ = 0
        for y in range(0, live_img.height(), step):
            for x in range(0, live_img.width(), step):
                total += 1
                differ += live_img.pixel(x, y) != fresh_img.pixel(x, y)
        assert differ / total < 0.01, f"{differ / total:.1%} of the window still differs"
    finally:
        close_window(live)
        if fresh is not None:
            close_window(fresh)
        apply_theme(app, "dark")


# ------------------------------------------------------------------------------ duration
def test_typing_30_into_duration_keeps_the_last_valid_value(qtbot, plain_window):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    w = plain_window
    (shot,) = _project_with(w, "a red ball")
    w.project_vm.select(shot.id)
    assert shot.request.num_frames == 16  # 2.00 s at 8 fps
    spin = w.editor.duration_spin
    spin.setFocus()
    spin.lineEdit().selectAll()
    for key in "30":
        QTest.keyClicks(spin, key)
        assert w.project_vm.shot(shot.id).request.num_frames == 16, "a keystroke committed"
    QTest.keyClick(spin, Qt.Key.Key_Return)  # 30 s = 240 frames: too long for the model
    assert w.editor.duration_error.isVisible() and "121 frames" in w.editor.duration_error.text()
    assert w.project_vm.shot(shot.id).request.num_frames == 16  # the last valid value stays
    assert w.editor.flush() is None  # Generate refuses while the field is invalid
    spin.lineEdit().selectAll()
    QTest.keyClicks(spin, "3")
    QTest.keyClick(spin, Qt.Key.Key_Return)
    assert w.project_vm.shot(shot.id).request.num_frames == 24
    assert not w.editor.duration_error.isVisible()


# ------------------------------------------------------------------------------ storyboard
def test_changed_settings_mark_a_finished_shot_out_of_date(qtbot, plain_window):
    w = plain_window
    (shot,) = _project_with(w, "a red ball")
    _finish_take(w, shot)
    card = w.storyboard.card(shot.id)
    assert card.chip.text() == "Done"
    w.project_vm.set_duration(shot.id, 24)
    card = w.storyboard.card(shot.id)
    assert card.chip.text() == "Out of date"
    assert "num_frames" in card.chip.toolTip() and "Generate" in card.chip.toolTip()
    w.project_vm.undo_stack.undo()  # back to the settings the clip was made with
    assert w.storyboard.card(shot.id).chip.text() == "Done"


def test_card_shows_the_picked_takes_seed_and_counts_takes_in_words(qtbot, plain_window):
    w = plain_window
    a, b = _project_with(w, "a red ball", "a blue cube")
    w.project_vm.set_request(a.id, a.request.with_changes(seed=100))
    _finish_take(w, a, a.request.with_changes(seed=777))  # a picked variation
    _finish_take(w, b, status="failed")
    assert "seed 777" in w.storyboard.card(a.id).meta.text()
    assert "seed 100" not in w.storyboard.card(a.id).meta.text()
    assert w.storyboard.card(a.id).chip.text() == "Done"  # another seed is not "out of date"
    meta = w.storyboard.card(b.id).meta.text()
    assert meta.endswith("1 take"), meta


def test_status_chip_is_never_cut_off_next_to_the_link_icon(qtbot, plain_window):
    from PySide6.QtWidgets import QApplication

    w = plain_window
    a, b = _project_with(w, "a red ball", "it rolls away")
    w.project_vm.set_title(b.id, "A very long title that does not fit on the card at all")
    w.project_vm.set_continue(b.id, True)
    QApplication.processEvents()
    card = w.storyboard.card(b.id)
    assert card.link.isVisible()
    for status in ("empty", "outdated", "cancelled"):
        card.update_from(2, w.project_vm.shot(b.id), status, 0.0, None, False)
        QApplication.processEvents()
        assert card.chip.width() >= card.chip.sizeHint().width()
        chip = card.chip.geometry()
        assert chip.right() <= card.contentsRect().right()
        assert not chip.intersects(card.link.geometry())
    assert card.title.text().endswith("…") and card.title.toolTip().startswith("2  A very")


# ------------------------------------------------------------------------------ queue
def test_generate_all_skips_current_shots_and_rows_follow_a_reorder(qtbot, model_window):
    w = model_window
    set_fields(w, prompt="a red ball", steps=2)
    w.add_shot()
    w.add_shot()
    set_fields(w, prompt="a green ball", steps=2)
    first, second = w.project_vm.shots
    jobs = w.generate_all()
    assert [j.shot_id for j in jobs] == [first.id, second.id]
    qtbot.waitUntil(lambda: all(j.status == "done" for j in jobs), timeout=60_000)

    # both are done with their current settings: nothing to do, no identical new takes
    assert w.generate_all() == []
    assert "already done with its current settings" in w.statusBar().currentMessage()
    assert len(first.takes) == 1 and len(second.takes) == 1
    w.project_vm.set_request(second.id, second.request.with_changes(steps=3))
    assert w.storyboard.card(second.id).chip.text() == "Out of date"
    again = w.generate_all()
    assert [j.shot_id for j in again] == [second.id]
    qtbot.waitUntil(lambda: again[0].status == "done", timeout=60_000)
    assert w.storyboard.card(second.id).chip.text() == "Done"

    # queue rows name shots by their current place
    w.project_vm.move_shot(second.id, 0)
    rows = w.queue_panel.rows
    assert rows[jobs[0].id].title.text() == "Shot 2"
    assert rows[jobs[1].id].title.text() == "Shot 1"
    assert rows[again[0].id].title.text() == "Shot 1"


def test_export_asks_before_replacing_a_file(qtbot, model_window, tmp_path):
    w = model_window
    set_fields(w, prompt="a red ball", steps=2)
    with qtbot.waitSignal(w.queue_vm.job_finished, timeout=60_000):
        w.generate_selected()
    target = tmp_path / "mine.mp4"
    target.write_bytes(b"my own video, not to be lost")
    dialog = w.open_export_dialog()
    questions = []
    answer = ["Cancel"]

    def ask(title, text, buttons, default=0):
        questions.append((title, text, buttons))
        return answer[0]

    dialog.ask = ask
    dialog.format.setCurrentIndex(dialog.format.findData("mp4"))
    dialog.path_edit.setText(str(target))
    assert dialog.start() is None  # Cancel: nothing written
    assert target.read_bytes() == b"my own video, not to be lost"
    assert questions and "mine.mp4" in questions[0][1] and "Replace" in questions[0][2]
    answer[0] = "Replace"
    assert dialog.start() is not None
    qtbot.waitUntil(lambda: dialog.result_path is not None, timeout=60_000)
    assert target.read_bytes() != b"my own video, not to be lost"
    questions.clear()
    dialog.path_edit.setText(str(tmp_path / "new.mp4"))  # a new name: no question
    assert dialog.start() is not None and questions == []
    qtbot.waitUntil(lambda: dialog.job_id is None, timeout=60_000)
    dialog.close()


# ------------------------------------------------------------------------------ recovery
def test_recovery_copy_about_two_seconds_after_edits_stop(qtbot, plain_window):
    """Periodic autosave is off here (autosave_seconds=0): only the 2 s copy can appear."""
    w = plain_window
    saver = w.autosaver
    (shot,) = _project_with(w, "a red ball")
    copy = saver.recovery_path(w.project_vm.project)
    t0 = time.monotonic()
    # keep editing for a while: the copy waits until the edits stop
    for n in range(4):
        w.project_vm.set_title(shot.id, f"take {n}")
        qtbot.wait(400)
        assert not copy.exists(), "a copy was written while edits were still coming"
    last_edit = time.monotonic()
    w.project_vm.set_title(shot.id, "the edit just before the crash")
    qtbot.waitUntil(copy.exists, timeout=15_000)
    elapsed = time.monotonic() - last_edit
    assert 1.5 <= elapsed <= 12, elapsed  # about 2 s after the last edit (generous bounds)
    assert time.monotonic() - t0 > 2.5
    assert "the edit just before the crash" in copy.read_text(encoding="utf-8")


KILL_PROBE = textwrap.dedent(
    """
    import os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QTimer
    from sora_desktop.ui.app import create_app, main
    from sora_desktop.ui.main_window import MainWindow
    app = create_app()
    def edit():
        w = next(w for w in app.topLevelWidgets() if isinstance(w, MainWindow))
        w.project_vm.add_shot(w.editor.base_request().with_changes(prompt=sys.argv[1]))
        print("EDITED", flush=True)
    QTimer.singleShot(800, edit)
    sys.exit(main())
    """
)


def test_edit_made_just_before_kill_9_is_in_the_recovery_copy(tmp_path, monkeypatch):
    """The real start-up path (periodic autosave at its default 60 s); the process is killed
    4 s after the edit; the next start offers the copy with that edit."""
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "settings.json").write_text(json.dumps({"first_run_done": True}))
    env = dict(os.environ, PYTHONPATH=str(ROOT), SORA_DESKTOP_HOME=str(home))
    env["SORA_DESKTOP_EMBEDDED_MODEL"] = str(tmp_path / "no-model")  # warm-up fails quietly
    marker = "a fox jumps over a fence, edited seconds before the crash"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_PROBE, marker],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        line = ""
        while time.monotonic() < deadline and "EDITED" not in line:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        assert "EDITED" in line, "the app did not start"
        time.sleep(4.0)
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    from sora_desktop.core.autosave import Autosaver

    monkeypatch.setenv("SORA_DESKTOP_HOME", str(home))  # the next start, same home
    saver = Autosaver()
    try:
        assert saver.recovery_dir.is_relative_to(home)
        pending = saver.pending()
        assert len(pending) == 1
        project = saver.restore(pending[0])
        assert [s.request.prompt for s in project.shots] == [marker]
    finally:
        saver.close()


def test_restore_question_shows_local_time(qtbot, plain_window, monkeypatch):
    from sora_desktop.core.autosave import RecoveryInfo

    monkeypatch.setenv("TZ", "Asia/Kolkata")  # UTC+05:30, no daylight saving
    time.tzset()
    try:
        w = plain_window
        info = RecoveryInfo(
            path=Path("x.sdproj"),
            manifest=Path("x.json"),
            original_path=None,
            project_name="My film",
            project_id="p",
            saved_at="2026-01-02T03:04:05+00:00",
            pid=None,
            session="s",
        )
        monkeypatch.setattr(w.autosaver, "pending", lambda: [info])
        asked = []
        w.ask = lambda title, text, buttons, default=0: asked.append(text) or "Later"
        assert w.offer_recovery() is False
        assert "2026-01-02 08:34" in asked[0] and "UTC" not in asked[0]
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


# ------------------------------------------------------------------------------ window size
def test_minimum_size_keeps_export_models_and_settings_reachable(qtbot, plain_window):
    from PySide6.QtWidgets import QApplication

    from sora_desktop.ui.style import apply_theme

    w = plain_window
    apply_theme(QApplication.instance(), "dark")  # as the app starts: the theme's padding
    QApplication.processEvents()
    hint = w.minimumSizeHint()
    assert hint.width() * 1.5 <= 1600, f"{hint.width()} px is {hint.width() * 1.5:.0f} at 150 %"
    w.resize(hint)
    QApplication.processEvents()
    bar = w.toolbar.rect()
    for act in (w.act_export, w.act_models, w.act_settings):
        if not act.isVisible():
            continue  # the model manager is optional
        btn = w.toolbar.widgetForAction(act)
        assert btn is not None and btn.isVisible(), act.text()
        assert bar.contains(btn.geometry()), act.text()
        assert btn.toolTip()  # icon only: the words are in the tooltip
    w.resize(1440, 900)
    QApplication.processEvents()
    assert not w.toolbar_compact  # room again: the words come back


def test_saved_place_is_fitted_inside_the_available_screen():
    from PySide6.QtCore import QRect

    from sora_desktop.ui.geometry import default_rect, fit_inside

    screen = QRect(0, 0, 1066, 560)  # 1600 x 900 at 150 %, less a task bar
    for saved in (QRect(-300, -200, 2160, 1350), QRect(3000, 900, 900, 500)):
        got = fit_inside(saved, screen, (887, 500))
        assert screen.contains(got), (saved, got)
    assert screen.contains(default_rect(screen))


SCALED_PROBE = textwrap.dedent(
    """
    import json, os, sys
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from sora_desktop.ui.app import create_app, main
    from sora_desktop.ui.main_window import MainWindow
    app = create_app()
    def report():
        w = next(w for w in app.topLevelWidgets() if isinstance(w, MainWindow))
        avail = w.screen().availableGeometry()
        frame = w.geometry()
        print("PLACE", json.dumps({
            "avail": [avail.x(), avail.y(), avail.width(), avail.height()],
            "geom": [frame.x(), frame.y(), frame.width(), frame.height()],
            "min_w": w.minimumSizeHint().width(), "dpr": w.devicePixelRatio(),
            "title": w.windowTitle()}), flush=True)
        app.closeAllWindows()
    QTimer.singleShot(2500, report)
    sys.exit(main(project=sys.argv[1] if len(sys.argv) > 1 else None))
    """
)


def _run_scaled(tmp_path: Path, place: dict, *args: str) -> dict:
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed")
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "settings.json").write_text(json.dumps({"first_run_done": True}))
    (home / "config" / "window.json").write_text(json.dumps(place))
    env = dict(os.environ, PYTHONPATH=str(ROOT), SORA_DESKTOP_HOME=str(home))
    env.update(QT_QPA_PLATFORM="xcb", QT_SCALE_FACTOR="1.5")
    env["SORA_DESKTOP_EMBEDDED_MODEL"] = str(tmp_path / "no-model")
    run = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1920x1080x24", sys.executable, "-c", SCALED_PROBE]
        + list(args),
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    line = next((x for x in run.stdout.splitlines() if x.startswith("PLACE ")), None)
    assert line is not None, run.stdout + run.stderr
    return json.loads(line[len("PLACE ") :])


def test_window_reopens_inside_the_screen_at_150_percent(tmp_path):
    """A place saved on a bigger screen (or at 100 %) is brought inside the available area."""
    got = _run_scaled(tmp_path, {"x": -200, "y": -100, "width": 2400, "height": 1500})
    ax, ay, aw, ah = got["avail"]
    x, y, width, height = got["geom"]
    assert got["dpr"] == 1.5
    assert ax <= x and ay <= y and x + width <= ax + aw and y + height <= ay + ah, got
    assert got["min_w"] * got["dpr"] <= 1600


# ------------------------------------------------------------------------------ open a project
def test_command_line_project_argument(monkeypatch, tmp_path, capsys):
    from sora_desktop import cli

    opened = []
    monkeypatch.setattr(
        cli, "_open_app", lambda smoke_test=False, project=None: opened.append(project) or 0
    )
    assert cli.main(["My film.sdproj"]) == 0
    plain = tmp_path / "film-without-suffix"
    plain.write_text("{}")
    assert cli.main([str(plain)]) == 0
    assert opened == ["My film.sdproj", str(plain)]
    assert cli.main([]) == 0 and opened[-1] is None  # no argument: the app as before
    # commands still work, and an unknown word is still a usage error
    assert cli.main(["nosuchcommand"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert cli.main(["My film.sdproj", "--seconds", "2"]) == 2


def test_a_project_named_on_the_command_line_opens_in_the_app(tmp_path):
    from sora_desktop.core.project import new_project, save_project
    from sora_desktop.core.request import GenerationRequest

    project = new_project()
    project.add_shot(GenerationRequest("a lighthouse at dusk"))
    path = save_project(project, tmp_path / "My film.sdproj")
    run = subprocess.run(
        [sys.executable, "-c", MAIN_OPEN_PROBE, str(path)],
        env=dict(
            os.environ,
            PYTHONPATH=str(ROOT),
            SORA_DESKTOP_HOME=str(tmp_path / "home"),
            SORA_DESKTOP_EMBEDDED_MODEL=str(tmp_path / "no-model"),
            QT_QPA_PLATFORM="offscreen",
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "OPENED My film[*] — Sora Desktop ['a lighthouse at dusk']" in run.stdout, run.stdout


MAIN_OPEN_PROBE = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QTimer
    from sora_desktop.cli import main
    from sora_desktop.ui.app import create_app
    from sora_desktop.ui.main_window import MainWindow
    app = create_app()
    def report():
        w = next(w for w in app.topLevelWidgets() if isinstance(w, MainWindow))
        prompts = [s.request.prompt for s in w.project_vm.shots]
        print("OPENED", w.windowTitle(), prompts, flush=True)
        for box in list(w._boxes):
            box.close()
        if w.first_run_dialog is not None:
            w.first_run_dialog.close()
        app.closeAllWindows()
    QTimer.singleShot(2000, report)
    sys.exit(main([sys.argv[1]]))
    """
)


def test_macos_file_open_event_opens_the_project(qtbot, tmp_path):
    """Finder sends a double-clicked .sdproj as a FileOpen event, not as an argument."""
    from PySide6.QtGui import QFileOpenEvent
    from PySide6.QtWidgets import QApplication

    from sora_desktop.ui.app import _FileOpenFilter

    opened = []

    class FakeWindow:
        def open_project(self, path):
            opened.append(path)

    app = QApplication.instance()
    opener = _FileOpenFilter(FakeWindow(), app)
    app.installEventFilter(opener)
    try:
        QApplication.sendEvent(app, QFileOpenEvent(str(tmp_path / "My film.sdproj")))
        qtbot.waitUntil(lambda: opened == [str(tmp_path / "My film.sdproj")], timeout=5_000)
    finally:
        app.removeEventFilter(opener)
        opener.deleteLater()


def test_installers_register_the_project_file_type():
    linux = ROOT / "installers" / "linux"
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(linux / "sora-desktop.desktop", encoding="utf-8")
    desktop = entry["Desktop Entry"]
    mime_type = "application/x-sora-desktop-project"
    assert mime_type in desktop["MimeType"].split(";")
    assert re.search(r"%[fFuU]", desktop["Exec"]), "the entry must pass the file to the app"
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    root = ET.parse(linux / "sora-desktop.xml").getroot()
    node = root.find(f"m:mime-type[@type='{mime_type}']", ns)
    assert node is not None and node.find("m:glob", ns).get("pattern") == "*.sdproj"
    install = (linux / "install.sh").read_text(encoding="utf-8")
    assert "share/mime/packages/sora-desktop.xml" in install and "update-mime-database" in install
    build = (ROOT / "installers" / "build_linux.sh").read_text(encoding="utf-8")
    assert "installers/linux/sora-desktop.xml" in build

    iss = (ROOT / "installers" / "windows" / "sora-desktop.iss").read_text(encoding="utf-8")
    assert re.search(r'Subkey: "Software\\Classes\\\.sdproj"', iss)
    assert re.search(r'shell\\open\\command".*""%1""', iss)
    assert "ChangesAssociations=yes" in iss

    spec = (ROOT / "installers" / "sora-desktop.spec").read_text(encoding="utf-8")
    assert '"CFBundleDocumentTypes"' in spec and '"CFBundleTypeExtensions": ["sdproj"]' in spec
