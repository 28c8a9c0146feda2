"""A tone and a short music file round-trip through import, offset, trim, fades and the film
export (AAC in MP4, Opus in WebM); loudness normalisation; GIF leaves the sound out and says so;
each shot's own sound plays where the shot plays, and a muted shot's does not."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sora_desktop.core.export_settings import ExportSettings, sound_dropped_message
from sora_desktop.core.project import save_project
from sora_desktop.engine.export import read_metadata, sidecar_path
from sora_desktop.studio.film import film_clips, film_plan, film_request, render_film
from sora_desktop.studio.film_sound import dropped_message, film_sound
from sora_desktop.studio.soundtrack import import_audio, lay_music
from tests.film_support import MIXED, mixed_project
from tests.sound_support import (
    RATE,
    dominant_hz,
    export_audio,
    rms,
    streams,
    tone,
    transcode,
    video_frames,
    write_wav,
)

AMP = 0.5
AAC_FRAME, OPUS_FRAME = 1024, 960  # samples per audio frame at 48 kHz


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    """3 s: 0.3 s of 440 Hz (the part the trim skips), then 1000 Hz; in four formats."""
    folder = tmp_path_factory.mktemp("music")
    samples = np.concatenate([tone(0.3, 440, AMP), tone(2.7, 1000, AMP)])
    wav = write_wav(folder / "music.wav", samples)
    return {
        "wav": wav,
        "mp3": transcode(wav, folder / "music.mp3", "-b:a", "192k"),
        "ogg": transcode(wav, folder / "music.ogg", "-q:a", "6"),
        "flac": transcode(wav, folder / "music.flac"),
    }


def export(project, path, **settings):
    chosen = ExportSettings(**{**project.settings_for_test, **settings})
    plan = film_plan(project, None, chosen)
    sound = film_sound(project, None, chosen)
    out = render_film(
        film_clips(project),
        path,
        plan.fps,
        fmt=chosen.format,
        crossfade_frames=chosen.crossfade_frames,
        request=film_request(project),
        sound=sound,
    )
    return plan, sound, out


def project_in(tmp_path, shots=MIXED):
    project = mixed_project(tmp_path / "p", shots)
    project.settings_for_test = {}
    return project


def check_same_length(out, plan, frame):
    audio = export_audio(out)
    frames = video_frames(out)
    assert frames == plan.frames
    expected = frames / plan.fps * RATE
    assert abs(len(audio) - expected) <= frame, (len(audio), expected)
    return audio


START, TRIM, DURATION, FADE_IN, FADE_OUT, VOLUME_DB = 0.5, 0.3, 2.5, 1.0, 0.8, -6.0


def expected_rms(t: float) -> float:
    """What the fade law (linear amplitude) and the volume give a sine of AMP at film time t."""
    end = START + DURATION
    if t < START or t > end:
        return 0.0
    g = min(1.0, (t - START) / FADE_IN, (end - t) / FADE_OUT)
    return AMP * 10 ** (VOLUME_DB / 20) * g / math.sqrt(2)


@pytest.mark.parametrize("kind", ["wav", "mp3"])  # OGG: the WebM test; FLAC: loudness
def test_music_round_trips_through_import_trim_fades_and_mp4(tmp_path, music, kind):
    project = project_in(tmp_path)
    item = import_audio(project, music[kind])
    assert item.source_seconds == pytest.approx(3.0, abs=0.06)
    assert item.file.endswith(f".{kind}") and item.name == f"music.{kind}"
    project.add_audio(item)
    project.update_audio(
        item.id,
        start=START,
        trim_in=TRIM,
        duration=DURATION,
        fade_in=FADE_IN,
        fade_out=FADE_OUT,
        volume_db=VOLUME_DB,
    )
    save_project(project)
    plan, sound, out = export(project, tmp_path / "film.mp4")
    assert "Audio: aac" in streams(out)
    audio = check_same_length(out, plan, AAC_FRAME)
    for t in (0.25, 1.0, 1.5, 2.0, 2.6, 2.9, 3.3):  # before, in the fades, full, after
        want = expected_rms(t)
        got = rms(audio, t)
        assert got == pytest.approx(want, rel=0.12, abs=0.004), (t, got, want)
    # the trim skipped the 440 Hz start: the film's sound opens on 1000 Hz
    assert dominant_hz(audio, START + 0.1) == pytest.approx(1000, abs=10)
    # the export records the sound clip (embedded metadata and sidecar)
    meta = read_metadata(out)
    (recorded,) = meta["audio"]["items"]
    assert recorded["id"] == item.id and recorded["trim_in"] == TRIM
    side = json.loads(sidecar_path(out).read_text())
    assert side["audio"]["items"][0]["fade_out"] == FADE_OUT


def test_webm_gets_opus_as_long_as_the_video(tmp_path, music):
    project = project_in(tmp_path)
    project.add_audio(import_audio(project, music["ogg"]).with_changes(start=1.0))
    plan, _sound, out = export(project, tmp_path / "film.webm", format="webm")
    assert "Audio: opus" in streams(out)
    audio = check_same_length(out, plan, OPUS_FRAME)
    assert rms(audio, 0.5) < 0.004 and rms(audio, 2.0) > 0.2  # laid from 1 s on


def test_music_longer_than_the_film_is_cut_to_it_and_crossfades_keep_the_length(tmp_path, music):
    shots = MIXED[:2]
    project = project_in(tmp_path, shots)
    item = import_audio(project, music["wav"])
    project.add_audio(item.with_changes(start=2.0))  # runs 1.7 s past the film's end
    plan, _sound, out = export(project, tmp_path / "film.mp4", crossfade_frames=4)
    assert plan.seconds < 5.0
    check_same_length(out, plan, AAC_FRAME)


def test_loudness_normalisation_raises_a_quiet_film(tmp_path):
    project = project_in(tmp_path, MIXED[:1])
    quiet = transcode(write_wav(tmp_path / "q.wav", tone(2.0, 500, 0.02)), tmp_path / "q.flac")
    project.add_audio(import_audio(project, quiet))
    plan, _s, plain = export(project, tmp_path / "plain.mp4")
    plan2, sound, loud = export(project, tmp_path / "loud.mp4", normalize_loudness=True)
    assert sound.normalize_loudness and read_metadata(loud)["audio"]["normalize_loudness"]
    a, b = check_same_length(plain, plan, AAC_FRAME), check_same_length(loud, plan2, AAC_FRAME)
    assert rms(a, 1.0, 0.5) == pytest.approx(0.02 / math.sqrt(2), rel=0.1)
    assert rms(b, 1.0, 0.5) > 4 * rms(a, 1.0, 0.5)  # -16 LUFS is far louder than -37 dBFS
    assert np.abs(b).max() <= 1.0


def test_gif_and_png_leave_the_sound_out_and_say_so(tmp_path, music):
    project = project_in(tmp_path, MIXED[:1])
    project.add_audio(import_audio(project, music["wav"]))
    plan, sound, out = export(project, tmp_path / "film.gif", format="gif")
    assert "Audio" not in streams(out)
    assert read_metadata(out)["audio"]["dropped"] is True
    assert dropped_message(sound, "gif") == sound_dropped_message("gif")
    assert dropped_message(sound, "png") == sound_dropped_message("png")
    assert dropped_message(sound, "mp4") is None and dropped_message(None, "gif") is None


def test_a_film_without_sound_exports_as_before(tmp_path):
    project = project_in(tmp_path, MIXED[:2])
    assert film_sound(project, None) is None
    _plan, _sound, out = export(project, tmp_path / "film.mp4")
    assert "Audio" not in streams(out)
    assert "audio" not in read_metadata(out)


def test_a_missing_sound_file_stops_the_export_with_its_name(tmp_path, music):
    project = project_in(tmp_path, MIXED[:1])
    item = import_audio(project, music["wav"])
    project.add_audio(item)
    from sora_desktop.core.errors import FieldError
    from sora_desktop.core.project import resolve_media

    resolve_media(project, item.file).unlink()
    with pytest.raises(FieldError, match="music.wav cannot be used"):
        film_sound(project, None)


def shot_tone(project, shot_index, seconds, freq, rate=16_000):
    """The picked take of a shot gets a ``_audio.wav`` as LTX-2's takes do."""
    from sora_desktop.core.project import resolve_media
    from sora_desktop.studio.audio import audio_path
    from sora_desktop.studio.audio import write_wav as take_wav

    take = project.shots[shot_index].selected
    clip = resolve_media(project, take.clip)
    take_wav(audio_path(clip), tone(seconds, freq, AMP, rate)[:, None], rate)


def test_a_shots_own_sound_plays_where_the_shot_plays_and_mute_silences_it(tmp_path):
    project = project_in(tmp_path)
    shot_tone(project, 1, MIXED[1].seconds, 700)
    plan, sound, out = export(project, tmp_path / "film.mp4")
    assert sound.record["shot_sound"] == [project.shots[1].id]
    audio = check_same_length(out, plan, AAC_FRAME)
    first = MIXED[0].seconds  # shot 2 starts when shot 1 ends (2 s), for 1.3125 s
    assert rms(audio, first - 0.3) < 0.004
    assert rms(audio, first + 0.6) == pytest.approx(AMP / math.sqrt(2), rel=0.1)
    assert dominant_hz(audio, first + 0.3) == pytest.approx(700, abs=10)
    assert rms(audio, first + MIXED[1].seconds + 0.3) < 0.004

    project.set_shot_mute(project.shots[1].id, True)
    assert film_sound(project, None) is None  # nothing else sounds: a silent film
    _plan, _s, muted = export(project, tmp_path / "muted.mp4")
    assert "Audio" not in streams(muted)


def test_cross_faded_shots_cross_fade_their_sound(tmp_path):
    project = project_in(tmp_path)
    shot_tone(project, 1, MIXED[1].seconds, 700)
    c = 6
    plan, _sound, out = export(project, tmp_path / "film.mp4", crossfade_frames=c)
    audio = check_same_length(out, plan, AAC_FRAME)
    fps = plan.fps
    start = round(MIXED[0].seconds * fps - c) / fps  # shot 2 overlaps shot 1's last c frames
    fade = c / fps
    half = start + fade / 2  # half-way through the cross-fade: half the amplitude
    assert rms(audio, half, 0.01) == pytest.approx(0.5 * AMP / math.sqrt(2), rel=0.15)
    assert rms(audio, start - 0.1) < 0.004


def test_lay_music_fills_the_film_with_fades(tmp_path, music):
    project = project_in(tmp_path, MIXED[:2])
    seconds = film_plan(project, None, project.export_settings).seconds
    item = lay_music(project, music["mp3"])
    assert project.audio == [item]
    assert item.start == 0.0 and item.duration == pytest.approx(min(3.0, seconds), abs=0.03)
    assert item.fade_in == item.fade_out == pytest.approx(min(1.0, item.duration / 4))


def test_a_cancelled_export_leaves_no_mix_behind(tmp_path, music, monkeypatch):
    import tempfile

    from sora_desktop.engine.backend import CancelToken, GenerationCancelled

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    project = project_in(tmp_path, MIXED[:1])
    project.add_audio(import_audio(project, music["wav"]))
    plan = film_plan(project, None, project.export_settings)
    token = CancelToken()
    seen = []

    def progress(fraction):
        seen.append(fraction)
        if fraction > 0.5:  # encoding, the mix already written
            token.cancel()

    with pytest.raises(GenerationCancelled):
        render_film(
            film_clips(project),
            tmp_path / "film.mp4",
            plan.fps,
            fmt="mp4",
            sound=film_sound(project, None),
            progress=progress,
            cancel=token,
        )
    assert seen and not (tmp_path / "film.mp4").exists()
    assert list((tmp_path / "tmp").glob(".sora-mix.*")) == []
