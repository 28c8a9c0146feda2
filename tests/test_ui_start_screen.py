"""The start screen (issue 20), through the app's real start-up path (``ui.app.main`` in a
child process): shown on a plain launch with recent projects (their first shot's thumbnail),
"New film" and examples; choosing one opens it; never shown when a project is named on the
command line or a recovery copy is offered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = textwrap.dedent(
    """
    import json, os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QTimer
    from sora_desktop.ui.app import create_app, main
    from sora_desktop.ui.main_window import MainWindow
    from sora_desktop.ui.start_screen import THUMB, StartScreen

    mode, project = sys.argv[1], (sys.argv[2] or None)
    out = {"asked": []}
    # a question would wait for a click: answer "Later" and note that it was asked
    MainWindow.ask = lambda self, title, *a, **k: out["asked"].append(title) or "Later"
    app = create_app()

    def screens():
        return [w for w in app.topLevelWidgets() if isinstance(w, StartScreen) and w.isVisible()]

    def window():
        return next(w for w in app.topLevelWidgets() if isinstance(w, MainWindow))

    def step1(tries=[0]):
        shown = screens()
        tiles = list(shown[0].recent.values()) if shown else []
        if tiles and not tiles[0].property("thumbnail") and tries[0] < 50:
            tries[0] += 1
            QTimer.singleShot(100, step1)  # the thumbnail is read in the background
            return
        out["screens"] = len(shown)
        if shown:
            s = shown[0]
            out["recent"] = list(s.recent)
            out["examples"] = list(s.examples)
            if tiles:
                out["thumb"] = bool(tiles[0].property("thumbnail"))
                img = tiles[0].icon().pixmap(THUMB).toImage()
                c = img.pixelColor(img.width() // 2, img.height() // 2)
                out["rgb"] = [c.red(), c.green(), c.blue()]
            if mode == "recent":
                tiles[0].click()
            elif mode == "new":
                s.new_btn.click()
            elif mode == "example":
                s.examples["Bouncing ball"].click()
        QTimer.singleShot(300, step2)

    def step2():
        w = window()
        p = w.project_vm.project
        out["after"] = len(screens())
        out["name"] = p.name
        out["path"] = str(p.path) if p.path else None
        out["prompts"] = [s.request.prompt for s in p.shots]
        print("RESULT", json.dumps(out), flush=True)
        w.project_vm.mark_saved()  # an example is unsaved: no save question on closing
        app.closeAllWindows()

    QTimer.singleShot(800, step1)
    sys.exit(main(project=project))
    """
)


def _home(tmp_path: Path, recent: list[str]) -> dict:
    home = tmp_path / "home"
    env = dict(os.environ, PYTHONPATH=str(ROOT), SORA_DESKTOP_HOME=str(home))
    env["SORA_DESKTOP_EMBEDDED_MODEL"] = str(tmp_path / "no-model")  # warm-up fails quietly
    code = (
        "from sora_desktop.core.settings import Settings, save_settings\n"
        f"save_settings(Settings(first_run_done=True, recent_files={recent!r}))\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    return env


def _film_with_thumbnail(tmp_path: Path) -> Path:
    """A saved project whose first shot has a finished take with a red thumbnail."""
    from sora_desktop.core.project import (
        Take,
        clip_relpath,
        new_project,
        resolve_media,
        save_project,
    )
    from sora_desktop.core.request import GenerationRequest
    from sora_desktop.studio.media import save_png, thumbnail_path

    path = tmp_path / "films" / "Red film.sdproj"
    path.parent.mkdir(parents=True)
    p = new_project("Red film")
    p.path = path
    shot = p.add_shot(GenerationRequest("a red circle", seed=3))
    p.add_shot(GenerationRequest("a blue square", seed=4))
    take = p.add_take(shot.id, Take.create(shot.request))
    rel = clip_relpath(p, shot.id, take.id)
    p.update_take(shot.id, take.id, status="done", clip=rel)
    p.select_take(shot.id, take.id)
    clip = resolve_media(p, rel)
    clip.parent.mkdir(parents=True, exist_ok=True)
    clip.write_bytes(b"\0" * 64)  # only the thumbnail beside it is read
    frame = np.zeros((64, 64, 3), np.uint8)
    frame[..., 0] = 220
    save_png(frame, thumbnail_path(clip))
    save_project(p, path)
    return path


def _launch(env: dict, mode: str, project: str = "") -> dict:
    run = subprocess.run(
        [sys.executable, "-c", PROBE, mode, project],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    line = next(x for x in run.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


@pytest.fixture
def film(tmp_path) -> Path:
    return _film_with_thumbnail(tmp_path)


def test_plain_launch_shows_recent_projects_with_thumbnails_and_opens_one(tmp_path, film):
    env = _home(tmp_path, [str(film)])
    out = _launch(env, "recent")
    assert out["screens"] == 1 and out["asked"] == []
    assert out["recent"] == [str(film)]
    assert out["examples"]  # example storyboards are offered
    assert out["thumb"] is True
    r, g, b = out["rgb"]
    assert r > 150 and g < 60 and b < 60  # the first shot's red thumbnail, not a blank tile
    # clicking it opened that project and closed the start screen
    assert out["after"] == 0
    assert out["path"] == str(film) and out["prompts"] == ["a red circle", "a blue square"]


def test_new_film_gives_an_empty_project_and_an_example_gives_its_shots(tmp_path):
    env = _home(tmp_path, [str(tmp_path / "gone.sdproj")])  # a vanished file is not listed
    out = _launch(env, "new")
    assert out["screens"] == 1 and out["recent"] == []
    assert out["after"] == 0 and out["path"] is None and out["prompts"] == []
    from sora_desktop.studio.examples import EXAMPLE_STORYBOARDS
    from sora_desktop.studio.vocabulary import unknown_words

    out = _launch(env, "example")
    ball = next(e for e in EXAMPLE_STORYBOARDS if e.name == "Bouncing ball")
    assert out["name"] == "Bouncing ball" and out["prompts"] == list(ball.prompts)
    # every example is drawable by the built-in model
    assert all(unknown_words(p) == [] for e in EXAMPLE_STORYBOARDS for p in e.prompts)


def test_no_start_screen_when_a_project_is_given(tmp_path, film):
    env = _home(tmp_path, [str(film)])
    out = _launch(env, "none", str(film))
    assert out["screens"] == 0 and out["path"] == str(film)


def test_no_start_screen_when_a_recovery_copy_is_offered(tmp_path, film):
    env = _home(tmp_path, [str(film)])
    crash = textwrap.dedent(
        """
        import os
        from sora_desktop.core.autosave import Autosaver
        from sora_desktop.core.project import new_project
        from sora_desktop.core.request import GenerationRequest
        p = new_project("Unsaved")
        p.add_shot(GenerationRequest("an unsaved shot", seed=9))
        Autosaver().write(p)
        os._exit(1)  # a crash: the copy stays for the next start
        """
    )
    subprocess.run([sys.executable, "-c", crash], env=env, timeout=60)
    out = _launch(env, "none")
    assert out["asked"] == ["Restore unsaved work?"]
    assert out["screens"] == 0
