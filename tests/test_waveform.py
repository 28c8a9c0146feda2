"""The audio lane's Qt-free parts: a sound file's peaks (any format ffmpeg reads, bounded memory
for a long file, cached per file) and the film-time ↔ sound-position sync model."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from sora_desktop.studio import waveform
from sora_desktop.studio.playback_sync import (
    DRIFT_READINGS,
    DRIFT_TOLERANCE_S,
    JUMP_S,
    DriftCheck,
    FilmClock,
    ShotSpan,
    Voice,
)
from tests.audio_support import RATE, expected_peaks, tone, tone_file, write_wav


def test_peaks_follow_the_tones_envelope(tmp_path):
    path = tone_file(tmp_path / "tone.wav", 3.0)
    peaks = waveform.compute_peaks(path)
    assert peaks.duration == pytest.approx(3.0, abs=0.01)
    want = expected_peaks(3.0, peaks.per_second)
    got = peaks.values[: len(want)]
    assert len(peaks.values) == pytest.approx(len(want), abs=1)
    # resampled to 16 kHz: the loudest sample of a 10 ms bucket is within 1% of the real one
    assert np.abs(got - want).max() < 0.02
    assert got.argmax() == pytest.approx(want.argmax(), abs=2)  # the loudest point, mid-file


def test_a_stereo_file_shows_the_level_of_its_channels(tmp_path):
    peaks = waveform.compute_peaks(write_wav(tmp_path / "stereo.wav", tone(2.0, channels=2)))
    want = expected_peaks(2.0, peaks.per_second)
    assert np.abs(peaks.values[: len(want)] - want).max() < 0.02


@pytest.mark.parametrize("suffix", ["mp3", "flac", "ogg"])
def test_compressed_formats_decode_through_ffmpeg(tmp_path, suffix):
    import imageio_ffmpeg

    wav = tone_file(tmp_path / "tone.wav", 2.0)
    out = tmp_path / f"tone.{suffix}"
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(wav), str(out)], check=True)
    peaks = waveform.compute_peaks(out)
    assert peaks.duration == pytest.approx(2.0, abs=0.08)  # encoder padding
    want = expected_peaks(2.0, peaks.per_second)
    # lossy codecs move peaks a little; the envelope's shape stays
    inner = slice(5, len(want) - 5)
    assert np.abs(peaks.values[inner] - want[inner]).max() < 0.08


def test_peaks_stay_bounded_for_the_longest_file_allowed():
    from sora_desktop.core.project import MAX_AUDIO_SECONDS
    from sora_desktop.engine.audio_decode import PEAKS_PER_SECOND

    # one float32 a bucket over the longest file the decoder accepts: a few MB at most, so a
    # long file cannot flood the cache (which is bounded in bytes on top)
    assert MAX_AUDIO_SECONDS * PEAKS_PER_SECOND * 4 <= 4 * 2**20
    assert waveform.CACHE_BYTES >= 8 * MAX_AUDIO_SECONDS * PEAKS_PER_SECOND * 4


def test_window_gives_one_value_per_pixel_column():
    values = np.zeros(300, np.float32)
    values[150] = 0.75
    peaks = waveform.Peaks(values, 100.0, 3.0)
    cols = peaks.window(0.0, 3.0, 30)  # 10 buckets a column
    assert cols.shape == (30,) and cols[15] == pytest.approx(0.75) and cols.sum() == 0.75
    assert peaks.window(2.9, 4.0, 11)[1:].max() == 0  # past the end: silence
    assert peaks.window(1.0, 1.0, 5).max() == 0


def test_not_sound_and_not_a_file_get_one_plain_sentence(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("not a sound at all")
    with pytest.raises(ValueError, match="notes.wav"):
        waveform.compute_peaks(text)
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="pipe.wav"):
        waveform.compute_peaks(fifo)  # never blocks on a FIFO


def test_a_closing_app_starts_no_decode(tmp_path):
    path = tone_file(tmp_path / "tone.wav", 3.0)
    assert waveform.compute_peaks(path, cancelled=lambda: True) is None


def test_cache_keeps_each_file_once_and_drops_the_oldest(tmp_path):
    a = tone_file(tmp_path / "a.wav", 1.0)
    b = tone_file(tmp_path / "b.wav", 1.0)
    cache = waveform.PeaksCache(max_bytes=300)  # room for one 1-s file (50 float32 values)
    pa = cache.peaks_for(a)
    assert cache.peaks_for(a) is pa  # computed once
    cache.peaks_for(b)
    assert len(cache) == 1 and cache.get(a) is None and cache.nbytes <= 300
    # a file rewritten on disk is computed again
    write_wav(b, tone(2.0))
    os.utime(b, ns=(1, 1))
    assert cache.get(b) is None
    assert cache.peaks_for(b).duration == pytest.approx(2.0, abs=0.01)


# ---------------------------------------------------------------------- the sync model
def test_film_clock_maps_frames_to_the_shots_seconds():
    spans = [ShotSpan("a", 0.0, 2.0), ShotSpan("b", 2.0, 1.0), ShotSpan("c", 3.0, 3.0)]
    # shot b has no clip: the player shows a (16 frames) then c (24 frames)
    clock = FilmClock.for_clips([0, 16], 40, [spans[0], spans[2]])
    assert clock.seconds_at(0) == 0.0
    assert clock.seconds_at(8) == pytest.approx(1.0)
    assert clock.seconds_at(16) == pytest.approx(3.0)  # c starts at its own place
    assert clock.seconds_at(28) == pytest.approx(4.5)
    assert clock.seconds_per_frame(20) == pytest.approx(3.0 / 24)
    assert FilmClock().seconds_at(5) == 0.0


def test_voice_position_gain_and_drift():
    v = Voice("k", "x.wav", start=1.0, duration=4.0, trim_in=0.5, volume=0.8, fade_in=1.0,
              fade_out=2.0)  # fmt: skip
    assert not v.active(0.99) and v.active(1.0) and not v.active(5.0)
    assert v.position(1.0) == 0.5 and v.position(3.0) == pytest.approx(2.5)
    assert v.gain(0.5) == 0.0
    assert v.gain(1.5) == pytest.approx(0.8 * 0.5)  # half-way through the fade-in
    assert v.gain(2.5) == pytest.approx(0.8)
    assert v.gain(4.0) == pytest.approx(0.8 * 0.5)  # half-way through the fade-out


def test_drift_is_corrected_when_it_lasts_and_at_once_after_a_jump():
    check = DriftCheck()
    # jittery reports around the right place: never a seek
    assert not any(check.observe(2.0 + d, 2.0) for d in (0.09, -0.1, 0.05, -0.08, 0.1, 0.0))
    # one wild reading among good ones is jitter, not drift
    check.reset()
    assert not any(check.observe(2.0 + d, 2.0) for d in (0.0, 0.3, 0.0, 0.0))
    # a lasting drift: sought once the readings agree
    check.reset()
    hits = [check.observe(2.0 + 0.2, 2.0) for _ in range(DRIFT_READINGS)]
    assert hits == [False] * (DRIFT_READINGS - 1) + [True]
    assert DRIFT_TOLERANCE_S < 0.2 < JUMP_S
    # a jump (the film looped back to the start): at once
    check.reset()
    assert check.observe(5.0, 0.1)


def test_rate_constant_is_the_one_the_tone_uses():
    assert RATE % 100 == 0  # expected_peaks' buckets fall on whole samples
