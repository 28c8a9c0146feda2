"""``sora-desktop batch`` in this process with a stand-in model (no weights, milliseconds a
take): the JSON form; a shot that fails skips the shots that continue from it and leaves no
film; SIGTERM stops cleanly like Ctrl-C (exit 143) with the project saved; a project a studio
window holds is not written."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sora_desktop import cli
from sora_desktop.core.capabilities import embedded_capabilities
from sora_desktop.core.project import load_project
from sora_desktop.core.request import frames_for_seconds
from sora_desktop.engine.backend import GenerationResult, StepEvent
from sora_desktop.engine.export import read_video
from sora_desktop.studio import runners

REAL_RUNNER = runners.LocalRunner
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture
def work(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(folder)
    return folder


def _stand_in(monkeypatch, on_step=None):
    """The batch's LocalRunner with a model that makes grey clips; ``on_step(prompt, step,
    cancel)`` may raise or signal."""

    def generate(request, cancel):
        if request.start_image is not None and not Path(request.start_image).is_file():
            raise FileNotFoundError(f"start image {request.start_image} is missing")  # as a model
        for step in (1, 2, 3):
            cancel.raise_if_cancelled()
            if on_step is not None:
                on_step(request.prompt, step, cancel)
            yield StepEvent(step, 3)
        frames = np.full((request.num_frames, request.height, request.width, 3), 90, np.uint8)
        yield GenerationResult(frames, request.fps, request)

    real = REAL_RUNNER
    monkeypatch.setattr(runners, "LocalRunner", lambda emit: real(emit, generate=generate))


SHOTS = "prompt,continue\nfirst shot,\nsecond shot,\nthird shot,yes\nfourth shot,\n"


def test_a_failed_shot_skips_its_continuation_and_no_film_is_written(work, capsys, monkeypatch):
    def on_step(prompt, step, cancel):
        if prompt == "second shot" and step == 2:
            raise RuntimeError("the model broke")

    _stand_in(monkeypatch, on_step)
    (work / "shots.csv").write_text(SHOTS, encoding="utf-8")
    code = cli.main(["batch", "shots.csv", "-o", "film.mp4"])
    out, err = capsys.readouterr()
    assert code == 1, err
    assert "error: shot 2 failed: " in err
    assert "shot 3: Skipped: Shot 2 could not be generated" in err
    assert "the film was not written: 2 of 4 shots have a clip" in err
    assert not (work / "film.mp4").exists()
    project = load_project(work / "film.sdproj")
    statuses = [[t.status for t in s.takes] for s in project.shots]
    assert statuses == [["done"], ["failed"], [], ["done"]]  # the failure stays in view


def test_sigterm_stops_like_ctrl_c_and_saves_the_project(work, capsys, monkeypatch):
    def on_step(prompt, step, cancel):
        if prompt == "second shot" and step == 2:
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(200):  # a real step takes a while: the stop arrives meanwhile
                if cancel.cancelled:
                    break
                time.sleep(0.05)

    _stand_in(monkeypatch, on_step)
    before = signal.getsignal(signal.SIGTERM)
    (work / "shots.csv").write_text(SHOTS, encoding="utf-8")
    code = cli.main(["batch", "shots.csv", "-o", "film.mp4"])
    out, err = capsys.readouterr()
    assert code == 128 + signal.SIGTERM, err
    assert "Stopped after 1 of 4 shots. Run the same command again to continue." in err
    assert signal.getsignal(signal.SIGTERM) is before
    project = load_project(work / "film.sdproj")
    assert [[t.status for t in s.takes] for s in project.shots] == [["done"], [], [], []]
    assert not (work / "film.mp4").exists()

    _stand_in(monkeypatch)  # the same command again finishes it
    assert cli.main(["batch", "shots.csv", "-o", "film.mp4"]) == 0
    project = load_project(work / "film.sdproj")
    assert [[t.status for t in s.takes] for s in project.shots] == [["done"]] * 4
    assert (work / "film.mp4").is_file()


def test_a_project_open_in_the_studio_is_not_written(work, capsys, monkeypatch):
    from sora_desktop.core.project_lock import ProjectLock

    _stand_in(monkeypatch)
    (work / "shots.csv").write_text(SHOTS, encoding="utf-8")
    window = ProjectLock(work / "film.sdproj")  # as a studio window holds its project
    assert window.acquire()
    try:
        code = cli.main(["batch", "shots.csv", "-o", "film.mp4"])
    finally:
        window.release()
    err = capsys.readouterr().err
    assert code == 2
    assert "film.sdproj is already open" in err and "--project another file" in err
    assert not (work / "film.sdproj").exists() and not (work / "film_media").exists()


def test_json_shots(work, capsys, monkeypatch):
    _stand_in(monkeypatch)
    shots = [
        {"prompt": "a red ball", "seconds": 1, "seed": 3, "negative": "blur"},
        {"prompt": "it rolls on", "seconds": 0.5, "continue": True},
        {"prompt": "a blue square", "continue": "no", "seed": None},
    ]
    (work / "shots.json").write_text(json.dumps(shots), encoding="utf-8")
    code = cli.main(["batch", "shots.json", "-o", "film.webm", "--project", "story.sdproj"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "saved: film.webm" in out
    project = load_project(work / "story.sdproj")
    takes = [s.selected for s in project.shots]
    assert [t.status for t in takes] == ["done"] * 3
    caps = embedded_capabilities()
    frames = [frames_for_seconds(1, caps.default_fps), frames_for_seconds(0.5, caps.default_fps)]
    frames.append(caps.default_frames)  # no seconds: the model's default
    assert [t.request.num_frames for t in takes] == frames
    assert takes[0].request.seed == 3 and takes[0].request.negative_prompt == "blur"
    assert takes[1].request.start_image is not None and takes[2].request.start_image is None
    assert project.export_settings.format == "webm"  # remembered, as the Export dialog does
    film, fps = read_video(work / "film.webm")
    assert len(film) == sum(frames) and fps == caps.default_fps


def test_ctrl_c_while_the_film_is_written_leaves_no_film_and_a_rerun_writes_it(
    work, capsys, monkeypatch
):
    from sora_desktop import cli_batch

    _stand_in(monkeypatch)
    (work / "shots.csv").write_text(SHOTS, encoding="utf-8")
    pressed = []

    def ctrl_c_once(self, fraction):
        if not pressed:
            pressed.append(fraction)
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(cli_batch.Progress, "film", ctrl_c_once)
    code = cli.main(["batch", "shots.csv", "-o", "film.mp4"])
    err = capsys.readouterr().err
    assert code == 130, err
    assert "Stopped before the film was written; all 4 shots are made." in err
    assert not (work / "film.mp4").exists()
    made = [s.selected_take for s in load_project(work / "film.sdproj").shots]

    monkeypatch.undo()
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(work.parent / "home"))
    monkeypatch.chdir(work)
    _stand_in(monkeypatch, on_step=lambda *a: pytest.fail("a made shot was made again"))
    assert cli.main(["batch", "shots.csv", "-o", "film.mp4"]) == 0
    assert "4 already made (kept), 0 to make" in capsys.readouterr().err
    assert [s.selected_take for s in load_project(work / "film.sdproj").shots] == made
    assert (work / "film.mp4").is_file()
