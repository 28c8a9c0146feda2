"""``sora-desktop batch`` in this process with a stand-in model (no weights, milliseconds a
take): the JSON form; a shot that fails skips the shots that continue from it and leaves no
film; SIGTERM stops cleanly like Ctrl-C (exit 143) with the project saved; a project a studio
window holds is not written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sora_desktop import cli
from sora_desktop.core.capabilities import embedded_capabilities
from sora_desktop.core.project import load_project
from sora_desktop.core.request import frames_for_seconds
from sora_desktop.engine.export import read_video
from sora_desktop.studio import runners

sys.path.insert(0, str(Path(__file__).parent))
from batch_stand_in import runner_factory, stand_in_generate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
monkeypatch_context = pytest.MonkeyPatch.context
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture
def work(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(folder)
    return folder


def _stand_in(monkeypatch, on_step=None):
    """The batch's LocalRunner with the stand-in model (tests/batch_stand_in.py)."""
    monkeypatch.setattr(runners, "LocalRunner", runner_factory(stand_in_generate(on_step)))


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
    assert "stopping: cancelling the running shot and saving the project" in err
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


def test_kill_9_mid_batch_loses_nothing_and_the_same_command_finishes(work, capsys):
    """SIGKILL (no handler runs): the project on disk is the one saved after shot 1; the
    same command keeps shot 1, says which takes were interrupted, and finishes."""
    (work / "shots.csv").write_text(SHOTS, encoding="utf-8")
    helper = Path(__file__).parent / "batch_stand_in.py"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, str(helper), "0.3", "--", "batch", "shots.csv", "-o", "film.mp4"]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env, cwd=work)
    watchdog = threading.Timer(120, proc.kill)
    watchdog.start()
    try:
        for line in proc.stderr:
            if line.startswith("shot 2 of 4: step 1/"):
                proc.kill()
                break
        code = proc.wait()
    finally:
        watchdog.cancel()
        proc.stderr.close()
    assert code == -signal.SIGKILL
    killed = load_project(work / "film.sdproj")
    first = killed.shots[0].selected_take
    assert first is not None and killed.shots[0].selected.status == "done"

    with monkeypatch_context() as mp:
        _stand_in(mp)
        assert cli.main(["batch", "shots.csv", "-o", "film.mp4"]) == 0
    err = capsys.readouterr().err
    assert "were still being generated" in err  # the interrupted takes, said plainly
    assert "1 already made (kept), 3 to make" in err
    project = load_project(work / "film.sdproj")
    assert project.shots[0].selected_take == first
    assert all(s.selected.status == "done" for s in project.shots)
    assert (work / "film.mp4").is_file()


def test_ray_hands_the_shots_to_the_farm_runner(work, capsys, monkeypatch):
    """``--ray ADDRESS --workers N`` makes the farm's runner (``studio.farm.make_farm_runner``,
    the farm extra) and the shots stream back through it; the progress names the machine."""
    import importlib.util
    import types

    if importlib.util.find_spec("ray") is None:
        pytest.skip("the farm extra (ray) is not installed")
    calls = []

    def make_farm_runner(address, emit, workers=None):
        calls.append((address, workers))
        return runners.LocalRunner(emit, generate=stand_in_generate(), host="node-7")

    farm = types.ModuleType("sora_desktop.studio.farm")
    farm.make_farm_runner = make_farm_runner
    monkeypatch.setitem(sys.modules, "sora_desktop.studio.farm", farm)
    (work / "shots.csv").write_text(SHOTS, encoding="utf-8")
    argv = ["batch", "shots.csv", "-o", "film.mp4", "--ray", "10.0.0.5:6379", "--workers", "2"]
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 0, err
    assert calls == [("10.0.0.5:6379", 2)]
    assert "shot 3 of 4: started on node-7" in err
    assert all(s.selected.status == "done" for s in load_project(work / "film.sdproj").shots)


def test_a_full_disk_stops_the_batch_with_the_last_good_project_on_disk(work, capsys, monkeypatch):
    import errno

    from sora_desktop.core.project import storage

    real_write = storage.atomic_write_text
    saves = []

    def write(path, text, *args, **kwargs):
        saves.append(path)
        if len(saves) >= 3:  # queued, shot 1 saved; then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(path, text, *args, **kwargs)

    monkeypatch.setattr(storage, "atomic_write_text", write)
    _stand_in(monkeypatch)
    (work / "shots.csv").write_text(SHOTS, encoding="utf-8")
    code = cli.main(["batch", "shots.csv", "-o", "film.mp4"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "error: Could not save film.sdproj: the disk is full; free some space" in err
    assert "Traceback" not in err and not (work / "film.mp4").exists()
    monkeypatch.setattr(storage, "atomic_write_text", real_write)
    project = load_project(work / "film.sdproj")  # the last good save
    assert project.shots[0].selected.status == "done"


def test_the_film_carries_the_projects_sound_track_as_the_export_does(work, capsys, monkeypatch):
    """A project the studio gave a sound track (File → Import sound): the batch's film has it,
    mixed as the app's Export mixes it."""
    from sora_desktop.core.project import save_project
    from sora_desktop.studio.soundtrack import lay_music

    sys.path.insert(0, str(Path(__file__).parent))
    from sound_support import export_audio, streams, tone, write_wav

    _stand_in(monkeypatch)
    (work / "shots.csv").write_text(SHOTS, encoding="utf-8")
    assert cli.main(["batch", "shots.csv", "-o", "film.mp4"]) == 0
    assert "Audio" not in streams(work / "film.mp4")  # no sound yet: a silent film
    project = load_project(work / "film.sdproj")
    lay_music(project, write_wav(work / "song.wav", tone(20.0, 440.0, 0.5)))
    save_project(project)
    capsys.readouterr()

    assert cli.main(["batch", "shots.csv", "-o", "film.mp4"]) == 0
    assert "4 already made (kept), 0 to make" in capsys.readouterr().err
    assert "Audio" in streams(work / "film.mp4")
    assert float(np.abs(export_audio(work / "film.mp4")).max()) > 0.1
