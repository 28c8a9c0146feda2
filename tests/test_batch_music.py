"""Issue 19's "done when": ``sora-desktop batch shots.csv -o film.mp4 --music tone.wav`` writes a
film whose audio stream lasts as long as its video, through the installed command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sora_desktop.core import project as core_project
from tests.sound_support import RATE, export_audio, streams, tone, video_frames, write_wav

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent / "sora-desktop"
FPS = 8  # the built-in model's rate


def _batch(work: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    env["SORA_DESKTOP_HOME"] = str(home)
    return subprocess.run(
        [str(BIN), "batch", *args], capture_output=True, text=True, timeout=300, env=env, cwd=work
    )


def test_batch_music_lays_the_file_under_the_whole_film_once(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "shots.csv").write_text("prompt,seconds,seed\na red ball,1,5\na blue square,1,6\n")
    write_wav(work / "tone.wav", tone(6.0, 440, 0.5))  # longer than the film: cut to it
    args = ["shots.csv", "-o", "film.mp4", "--steps", "1", "--crossfade", "2"]
    proc = _batch(work, tmp_path / "home", *args, "--music", "tone.wav")
    assert proc.returncode == 0, proc.stderr
    film = work / "film.mp4"
    assert "Audio: aac" in streams(film)
    frames = video_frames(film)
    assert frames == 2 * FPS - 2  # two 1 s shots, one cross-fade of 2 frames
    audio = export_audio(film)
    assert abs(len(audio) - frames / FPS * RATE) <= 1024  # within one AAC frame of the video
    project = core_project.load_project(work / "film.sdproj")
    (item,) = project.audio
    assert item.name == "tone.wav" and item.duration == pytest.approx(frames / FPS, abs=0.01)

    # the same command again keeps the shots and replaces the music instead of stacking it
    again = _batch(work, tmp_path / "home", *args, "--music", "tone.wav")
    assert again.returncode == 0, again.stderr
    assert len(core_project.load_project(work / "film.sdproj").audio) == 1


def test_batch_refuses_a_bad_music_file_before_generating(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "shots.csv").write_text("prompt\na red ball\n")
    (work / "notes.mp3").write_bytes(b"not a sound file at all" * 20)
    proc = _batch(work, tmp_path / "home", "shots.csv", "-o", "film.mp4", "--music", "notes.mp3")
    assert proc.returncode == 2
    assert "--music" in proc.stderr and "notes.mp3" in proc.stderr
    assert not (work / "film.sdproj").exists() and not (work / "film.mp4").exists()
