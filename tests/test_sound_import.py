"""Importing sound files: each format lands in the project's media folder with its true length,
and hostile files (no sound, not sound, a lying header, a decompression bomb, a FIFO, a device,
a link loop, a NUL in the name, too large) get one plain sentence and leave nothing behind."""

from __future__ import annotations

import os
import struct
import threading

import numpy as np
import pytest

from sora_desktop.core.errors import FieldError
from sora_desktop.core.project import media_dir, new_project, save_project
from sora_desktop.engine import audio_decode
from sora_desktop.studio import soundtrack
from sora_desktop.studio.soundtrack import check_sound_file, import_audio, waveform
from tests.sound_support import ffmpeg_exe, tone, transcode, write_wav


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))


@pytest.fixture
def project(tmp_path):
    p = new_project("Film")
    save_project(p, tmp_path / "proj" / "film.sdproj")
    return p


def leftovers(project) -> list[str]:
    folder = media_dir(project) / "audio"
    return sorted(f.name for f in folder.iterdir()) if folder.is_dir() else []


@pytest.mark.parametrize("kind", ["wav", "mp3", "ogg", "flac"])
def test_each_format_is_copied_in_with_its_length_and_waveform(tmp_path, project, kind):
    wav = write_wav(tmp_path / "src.wav", tone(1.5, 300, 0.5, 22_050), rate=22_050, channels=1)
    src = wav if kind == "wav" else transcode(wav, tmp_path / f"src.{kind}")
    before = src.read_bytes()
    item = import_audio(project, src, start=0.75)
    assert src.read_bytes() == before  # the user's file is left as it was
    assert item.source_seconds == pytest.approx(1.5, abs=0.06)
    assert (item.start, item.trim_in, item.kind) == (0.75, 0.0, "music")
    assert item.duration == item.source_seconds
    assert item.file == f"film_media/audio/{item.id}.{kind}"
    assert leftovers(project) == [f"{item.id}.{kind}"]  # no temp file left
    peaks = waveform(project, item)
    assert len(peaks) == pytest.approx(1.5 * audio_decode.PEAKS_PER_SECOND, abs=3)
    assert peaks.max() == pytest.approx(0.5, abs=0.05)


def expect_refused(project, path, *words):
    with pytest.raises(FieldError) as err:
        import_audio(project, path)
    assert err.value.field == "audio"
    for word in words:
        assert word in err.value.message, err.value.message
    assert "\n" not in err.value.message and ".part" not in err.value.message
    assert leftovers(project) == []
    return err.value.message


def test_a_video_without_sound_is_refused(tmp_path, project):
    clip = tmp_path / "silent.mp4"
    os.system(f'"{ffmpeg_exe()}" -v error -f lavfi -i testsrc=duration=1:size=32x32 "{clip}"')
    expect_refused(project, clip, "silent.mp4", "WAV, MP3, FLAC or OGG")


def test_an_ogg_with_no_sound_stream_is_refused(tmp_path, project):
    video = tmp_path / "pictures.ogg"  # a Theora-only Ogg: the right container, no sound
    os.system(
        f'"{ffmpeg_exe()}" -v error -f lavfi -i testsrc=duration=1:size=32x32 -c:v libtheora '
        f'"{video}" || "{ffmpeg_exe()}" -v error -f lavfi -i testsrc=duration=1:size=32x32 '
        f'-f ogg "{video}"'
    )
    expect_refused(project, video, "pictures.ogg", "no sound")


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("notes.mp3", b"these are not sounds\n" * 50, ("notes.mp3",)),
        ("empty.wav", b"", ("empty.wav", "empty")),
        ("cut.flac", b"fLaC\x00\x00\x00\x22" + b"\x00" * 10, ("cut.flac",)),
        ("playlist.ogg", b"#EXTM3U\n#EXTINF:1,\nfile:/etc/passwd\n", ("playlist.ogg",)),
    ],
)
def test_files_that_are_not_sound(tmp_path, project, name, data, words):
    f = tmp_path / name
    f.write_bytes(data)
    expect_refused(project, f, *words)


def test_a_header_claiming_an_hour_gets_the_true_length(tmp_path, project):
    f = write_wav(tmp_path / "liar.wav", tone(0.5, 300, 0.5, 8000), rate=8000, channels=1)
    raw = bytearray(f.read_bytes())
    raw[40:44] = struct.pack("<I", 8000 * 2 * 3600)  # the data chunk claims an hour
    raw[4:8] = struct.pack("<I", len(raw) - 8 + 8000 * 2 * 3600)
    f.write_bytes(bytes(raw))
    item = import_audio(project, f)
    assert item.source_seconds == pytest.approx(0.5, abs=0.01)  # counted, not believed


def test_a_decompression_bomb_is_stopped_at_the_limit(tmp_path, project, monkeypatch):
    # ten minutes of silence compress to a few kilobytes of FLAC; the header says nothing
    # about the length (piped out), so only counting the decoded samples catches it
    monkeypatch.setattr(audio_decode, "MAX_AUDIO_SECONDS", 30.0)
    bomb = tmp_path / "bomb.flac"
    os.system(
        f'"{ffmpeg_exe()}" -v error -f lavfi -i anullsrc=r=8000:cl=mono -t 600 -f flac - > "{bomb}"'
    )
    assert bomb.stat().st_size < 200_000
    expect_refused(project, bomb, "bomb.flac", "longer than")


def test_a_file_too_large_is_refused_without_reading_it(tmp_path, project, monkeypatch):
    monkeypatch.setattr(soundtrack, "MAX_AUDIO_BYTES", 1000)
    f = write_wav(tmp_path / "big.wav", tone(1.0, 300, 0.5))
    expect_refused(project, f, "big.wav", "limit")


def test_a_fifo_a_device_a_folder_a_link_loop_and_a_nul(tmp_path, project):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    done = threading.Event()

    def attempt():
        try:
            expect_refused(project, fifo, "pipe.wav", "pipe")
        finally:
            done.set()

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    assert done.wait(20), "importing a FIFO blocked"
    worker.join()
    expect_refused(project, "/dev/zero", "zero", "device")
    expect_refused(project, tmp_path, "folder")
    loop = tmp_path / "loop.mp3"
    loop.symlink_to(loop)
    expect_refused(project, loop, "loop.mp3", "link loop")
    expect_refused(project, str(tmp_path / "a\0b.wav"), "NUL")
    expect_refused(project, tmp_path / "missing.wav", "missing.wav", "does not exist")


def test_a_name_like_a_url_is_only_a_file_name(tmp_path, project):
    folder = tmp_path / "concat:x"  # ffmpeg would read "concat:..." as a protocol
    f = write_wav(folder / "tone.wav", tone(0.5, 300, 0.5))
    item = import_audio(project, f)
    assert item.name == "tone.wav"


def test_the_cli_check_reads_in_place(tmp_path):
    f = write_wav(tmp_path / "t.wav", tone(0.5, 300, 0.5))
    info, scan = check_sound_file(f)
    assert info.format == "wav" and scan.seconds == pytest.approx(0.5, abs=0.01)
    assert np.all(scan.peaks <= 1.0)


def test_an_unsaved_projects_sound_follows_the_first_save(tmp_path):
    from sora_desktop.core.project import load_project, resolve_media

    p = new_project("Film")  # never saved: its media live in the app's data folder
    item = p.add_audio(import_audio(p, write_wav(tmp_path / "t.wav", tone(0.5, 300, 0.5))))
    assert item.file.startswith("untitled_media/audio/")
    out = save_project(p, tmp_path / "saved" / "film.sdproj")
    (moved,) = p.audio
    assert moved.file == f"film_media/audio/{item.id}.wav"
    assert resolve_media(p, moved.file).is_file()
    assert load_project(out).audio == [moved]
