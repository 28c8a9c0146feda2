"""``sora-desktop generate ... --music FILE`` through the installed command: the music is laid
under the clip, cut to its length and faded; GIF says it drops the sound; a bad file is a usage
error before any generation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sora_desktop import cli
from sora_desktop.core.export_settings import sound_dropped_message
from sora_desktop.engine.export import read_metadata
from tests.sound_support import (
    RATE,
    export_audio,
    rms,
    streams,
    tone,
    transcode,
    video_frames,
    write_wav,
)

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).parent / "sora-desktop"


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))


def test_generate_with_music_through_the_installed_command(tmp_path):
    music = transcode(write_wav(tmp_path / "m.wav", tone(5.0, 800, 0.5)), tmp_path / "m.ogg")
    out = tmp_path / "clip.mp4"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SORA_DESKTOP_HOME": str(tmp_path / "home")}
    proc = subprocess.run(
        [str(CLI), "generate", "a red ball", "--steps", "1", "--frames", "16", "--seed", "1"]
        + ["-o", str(out), "--music", str(music)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Audio: aac" in streams(out)
    audio = export_audio(out)
    frames = video_frames(out)
    seconds = frames / 8  # the built-in model's 8 fps
    assert abs(len(audio) - seconds * RATE) <= 1024  # cut to the clip, not the music's 5 s
    fade = min(1.0, seconds / 4)  # the fades --music gives (studio.soundtrack.music_fades)
    full = 0.5 / 2**0.5
    assert rms(audio, fade / 2, 0.02) == pytest.approx(full / 2, rel=0.15)
    assert rms(audio, seconds / 2, 0.1) == pytest.approx(full, rel=0.1)
    assert rms(audio, seconds - fade / 2, 0.02) == pytest.approx(full / 2, rel=0.15)
    (item,) = read_metadata(out)["audio"]["items"]
    assert item["name"] == "m.ogg" and item["duration"] == pytest.approx(seconds, abs=0.01)


def test_gif_says_it_drops_the_sound(tmp_path, capsys):
    music = write_wav(tmp_path / "m.wav", tone(1.0, 800, 0.5))
    out = tmp_path / "clip.gif"
    argv = ["generate", "a red ball", "--steps", "1", "--frames", "8", "-o", str(out)]
    code = cli.main([*argv, "--music", str(music)])
    err = capsys.readouterr().err
    assert code == 0 and out.is_file()
    assert sound_dropped_message("gif") in err
    assert read_metadata(out)["audio"]["dropped"] is True


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("notes.mp3", b"not a sound file at all" * 20, "notes.mp3 is not a sound file"),
        ("missing.wav", None, "does not exist"),
    ],
)
def test_a_bad_music_file_is_a_usage_error_before_generating(tmp_path, capsys, name, data, words):
    path = tmp_path / name
    if data is not None:
        path.write_bytes(data)
    code = cli.main(["generate", "a red ball", "-o", str(tmp_path / "x.mp4"), "--music", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and "--music:" in err and words in err
    assert "seed:" not in err  # stopped before the generation began
    assert not (tmp_path / "x.mp4").exists()
