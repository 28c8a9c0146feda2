"""The installed ``sora-desktop batch`` command, run as a user runs it (a subprocess, its own
SORA_DESKTOP_HOME, the built-in model at small settings): a CSV storyboard with a continuation,
stopped with Ctrl-C and finished by the same command, becomes a project the app opens and a
film with the project's cross-fades; bad rows stop it before anything is written. (The JSON
form and failures run in-process with a stand-in model: tests/test_batch_run.py.)"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sora_desktop import cli
from sora_desktop.cli_batch import FARM_MISSING, Progress
from sora_desktop.core.project import load_project
from sora_desktop.core.request import frames_for_seconds
from sora_desktop.engine.export import read_video
from sora_desktop.studio.media import last_frame_path
from sora_desktop.studio.take_runner import (
    TakeFinished,
    TakePhase,
    TakeProgress,
    TakeStarted,
)
from sora_desktop.studio.takes import take_clip

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent / "sora-desktop"
FPS = 8  # the built-in model's rate
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture
def work(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    return folder


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}


def _batch(work: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN), "batch", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
        cwd=work,
    )


def _clip_of(project, shot) -> Path:
    clip = take_clip(project, shot.selected)
    assert clip is not None, f"shot {project.index_of(shot.id) + 1} has no clip"
    return clip


def test_csv_storyboard_ctrl_c_then_the_same_command_finishes_project_and_film(work):
    """A CSV of 3 rows, the second continuing the first: Ctrl-C during shot 2 saves the
    project (exit 130); the same command keeps shot 1 as it is, makes 2 and 3 and writes the
    film with the cross-fades asked for."""
    seconds = [1, 1, 1.5]
    (work / "shots.csv").write_text(
        "prompt,seconds,continue,seed\n"
        f"a red ball rolls right,{seconds[0]},,5\n"
        f"the ball keeps rolling,{seconds[1]},yes,6\n"
        f"a blue square,{seconds[2]},no,\n",
        encoding="utf-8",
    )
    args = ["shots.csv", "-o", "out/film.mp4", "--steps", "4", "--crossfade", "2"]
    proc = subprocess.Popen(
        [str(BIN), "batch", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=work,
    )
    watchdog = threading.Timer(300, proc.kill)
    watchdog.start()
    err_lines = []
    try:
        for line in proc.stderr:
            err_lines.append(line.rstrip("\n"))
            if line.startswith("shot 2 of 3: step 1/"):  # shot 1 done, shot 2 running
                proc.send_signal(signal.SIGINT)
        out = proc.stdout.read()
        code = proc.wait()
    finally:
        watchdog.cancel()
    err = "\n".join(err_lines)
    assert code == 130, err
    # progress: shot N of M and its step, one line per event (stderr is not a terminal)
    assert "shot 1 of 3: step 1/4" in err_lines and "shot 1 of 3: done" in err_lines
    assert "shot 2 of 3: cancelled" in err_lines
    assert "Stopped after 1 of 3 shots. Run the same command again to continue." in err_lines
    assert "Traceback" not in err and not (work / "out" / "film.mp4").exists()
    assert "project: " in out

    project_file = work / "out" / "film.sdproj"  # beside the film, named after it
    stopped = load_project(project_file)  # saved, and the app can open it
    assert stopped.warnings == []
    assert len(stopped.shots) == 3
    assert [len(s.takes) for s in stopped.shots] == [1, 0, 0]  # no empty cancelled takes
    first_clip = _clip_of(stopped, stopped.shots[0])
    made = (stopped.shots[0].selected_take, first_clip.stat().st_mtime_ns)

    again = _batch(work, *args)
    assert again.returncode == 0, again.stderr
    assert "1 already made (kept), 2 to make" in again.stderr
    assert "shot 1 of 3" not in again.stderr  # not made again
    assert "shot 3 of 3: done" in again.stderr.splitlines()
    assert f"saved: {Path('out/film.mp4')}" in again.stdout

    project = load_project(project_file)
    assert project.warnings == []
    assert [s.request.prompt for s in project.shots][0] == "a red ball rolls right"
    assert [s.continue_from_previous for s in project.shots] == [False, True, False]
    assert [len(s.takes) for s in project.shots] == [1, 1, 1]
    kept = project.shots[0]
    assert (kept.selected_take, _clip_of(project, kept).stat().st_mtime_ns) == made
    clips = [_clip_of(project, shot) for shot in project.shots]
    assert all(c.is_relative_to(work / "out" / "film_media") for c in clips)
    frames = [frames_for_seconds(s, FPS) for s in seconds]
    assert [s.selected.request.num_frames for s in project.shots] == frames
    assert project.shots[0].selected.request.seed == 5
    # the continuing take started from the (kept) first shot's last frame
    start = project.shots[1].selected.request.start_image
    assert start == str(last_frame_path(first_clip)) and Path(start).is_file()
    assert project.shots[2].selected.request.start_image is None
    assert project.export_settings.crossfade_frames == 2

    film, fps = read_video(work / "out" / "film.mp4")
    assert fps == FPS
    assert len(film) == sum(frames) - 2 * (len(frames) - 1)  # two cross-fades of 2 frames


def test_bad_rows_exit_2_naming_row_and_column_and_nothing_is_written(work):
    (work / "shots.csv").write_text(
        "prompt,seconds,continue,seed\na red ball,abc,,5\nok,1,maybe,\nlong,500,,\n",
        encoding="utf-8",
    )
    proc = _batch(work, "shots.csv", "-o", "out/film.mp4", "--steps", "2")
    assert proc.returncode == 2
    errors = proc.stderr.splitlines()
    assert errors[0].startswith('error: shots.csv line 2, column "seconds": ')
    assert errors[1].startswith('error: shots.csv line 3, column "continue": ')
    assert errors[2].startswith('error: shots.csv line 4, column "seconds": ')
    assert errors[-1] == "error: shots.csv: 3 problems; nothing was generated"
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in work.iterdir()) == ["shots.csv"]  # no project, no film


# ------------------------------------------------------------------------------ in-process


def test_ray_without_the_farm_extra_says_how_to_get_it(work, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "sora_desktop.studio.farm", None)  # import fails
    (work / "shots.csv").write_text("prompt\na red ball\n", encoding="utf-8")
    code = cli.main(["batch", str(work / "shots.csv"), "-o", str(work / "f.mp4"), "--ray", "local"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines()[-1] == f"error: {FARM_MISSING}"
    assert sorted(p.name for p in work.iterdir()) == ["shots.csv"]


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["-o", "f.mp4", "--format", "gif"], "--format gif"),
        (["-o", "f.mp4", "--project", "p.txt"], "--project"),
        (["-o", "f.mp4", "--crossfade", "500"], "--crossfade"),
        (["-o", "f.mp4", "--steps", "0"], "--steps"),
        (["-o", "f.mp4", "--workers", "2"], "--workers"),
        (["-o", "f.avi"], "--output"),
        (["-o", "f.mp4", "--model", "nobody/nothing"], 'column "model"'),
    ],
)
def test_bad_flags_exit_2(work, capsys, monkeypatch, extra, words):
    monkeypatch.chdir(work)
    (work / "shots.csv").write_text("prompt\na red ball\n", encoding="utf-8")
    code = cli.main(["batch", "shots.csv", *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and words in err, err
    assert sorted(p.name for p in work.iterdir()) == ["shots.csv"]


def test_progress_is_a_bar_on_a_terminal_and_lines_elsewhere():
    events = [
        TakeStarted("j"),
        TakePhase("j", "denoising"),
        TakeProgress("j", 1, 4),
        TakeProgress("j", 4, 4),
        TakeFinished("j", "clip.mp4"),
    ]
    plain = io.StringIO()
    progress = Progress(2, plain, tty=False)
    for event in events:
        progress(2, event)
    assert plain.getvalue().splitlines() == [
        "shot 2 of 2: started",
        "shot 2 of 2: denoising",
        "shot 2 of 2: step 1/4",
        "shot 2 of 2: step 4/4",
        "shot 2 of 2: done",
    ]
    terminal = io.StringIO()
    progress = Progress(2, terminal, tty=True)
    for event in events:
        progress(2, event)
    shown = terminal.getvalue()
    assert "shot 2 of 2" in shown and "4/4" in shown and "denoising" in shown
    assert "\r" in shown  # redrawn in place, not a line per step
    assert shown.rstrip().endswith("shot 2 of 2: done")
