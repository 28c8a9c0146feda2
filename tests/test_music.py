"""Make music for this film (issue 19): a tiny random-weight Stable Audio pipeline in the real
diffusers format, served by the fake hub and installed by the real downloader, run through the
use case ``studio.music.run_music`` (the same events as a take), cancelled mid-run, made again
from its seed; the WAV lands in the project's audio folder with the requested length."""

from __future__ import annotations

import pickle
import wave
from pathlib import Path

import pytest
import tiny_stable_audio as tsa

from sora_desktop.core.capabilities import sound_limits
from sora_desktop.core.catalog import installed_sound_models, load_catalog
from sora_desktop.core.project import MusicRequest, load_project, new_project, save_project
from sora_desktop.engine.backend import CancelToken
from sora_desktop.studio.music import MusicRun, add_music, music_run, run_music
from sora_desktop.studio.take_runner import (
    TakeCancelled,
    TakeFailed,
    TakeFinished,
    TakePhase,
    TakeProgress,
    TakeStarted,
    is_terminal,
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(models folder, catalog path): the tiny model installed from the fake hub."""
    return tsa.install(tmp_path_factory.mktemp("music"))


@pytest.fixture
def env(installed, monkeypatch, tmp_path):
    models, catalog = installed
    monkeypatch.setenv("SORA_DESKTOP_CATALOG", str(catalog))
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    project = new_project("film")
    save_project(project, tmp_path / "film.sdproj")
    return models, project


def _run(run: MusicRun, token: CancelToken | None = None, on_event=None):
    events = []
    token = token or CancelToken()

    def emit(event):
        events.append(event)
        if on_event is not None:
            on_event(event, token)

    end = run_music(run, token, emit)
    return events, end


def _request(seconds: float = 3.0, seed: int = 7, steps: int = 4) -> MusicRequest:
    return MusicRequest("calm piano at sunset", tsa.MODEL_ID, seconds, seed=seed, steps=steps)


def _wav(path: Path) -> tuple[int, int, int, bytes]:
    with wave.open(str(path), "rb") as w:
        return w.getnframes(), w.getframerate(), w.getnchannels(), w.readframes(w.getnframes())


def test_shipped_catalog_has_a_sound_model_with_its_limits():
    sound = [e for e in load_catalog() if e.kind == "sound"]
    assert [e.pipeline for e in sound] == ["StableAudioPipeline"]
    limits = sound_limits(sound[0])
    assert limits.sample_rate == 44100 and 0 < limits.max_seconds <= 47.55


def test_music_runs_with_progress_and_lands_in_the_audio_folder(env):
    models, project = env
    assert [e.id for e in installed_sound_models(models)] == [tsa.MODEL_ID]
    run = music_run(project, _request(seconds=3.0), models, device="cpu")
    assert pickle.loads(pickle.dumps(run)) == run  # a worker process gets it as it is
    events, end = _run(run)

    assert isinstance(events[0], TakeStarted)
    assert [e for e in events if is_terminal(e)] == [end] and events[-1] is end
    assert isinstance(end, TakeFinished), end
    steps = [(e.step, e.total) for e in events if isinstance(e, TakeProgress)]
    assert steps == [(1, 4), (2, 4), (3, 4), (4, 4)]
    phases = [e.phase for e in events if isinstance(e, TakePhase)]
    assert phases == ["loading", "denoising", "decoding", "writing"]
    assert all(pickle.loads(pickle.dumps(e)) == e for e in events)

    path = Path(end.path)
    assert path == run.out_path and path.parent.name == "audio"
    assert path.parent.parent.name == "film_media"
    frames, rate, channels, _ = _wav(path)
    assert (rate, channels) == (tsa.SAMPLE_RATE, 2)
    assert frames == round(3.0 * tsa.SAMPLE_RATE)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left

    item = add_music(project, run)
    assert item.kind == "generated" and item.request == run.request
    assert item.duration == pytest.approx(3.0) and item.start == 0
    save_project(project)
    again = load_project(project.path).audio[0]
    assert again.request == run.request and again.file == run.file


def test_cancel_mid_run_ends_once_and_leaves_no_file(env):
    models, project = env
    run = music_run(project, _request(steps=6), models, device="cpu")

    def stop_at_two(event, token):
        if isinstance(event, TakeProgress) and event.step == 2:
            token.cancel()

    events, end = _run(run, on_event=stop_at_two)
    assert isinstance(end, TakeCancelled)
    assert [e for e in events if is_terminal(e)] == [end]
    assert max(e.step for e in events if isinstance(e, TakeProgress)) <= 3
    assert not run.out_path.parent.exists() or not any(run.out_path.parent.iterdir())


def test_same_seed_same_music_other_seed_other_music(env):
    models, project = env
    first = [
        music_run(project, _request(seed=s, steps=2), models, device="cpu") for s in (11, 11, 12)
    ]
    ends = [_run(r)[1] for r in first]
    assert all(isinstance(e, TakeFinished) for e in ends), ends
    data = [_wav(Path(e.path))[3] for e in ends]
    assert data[0] == data[1]
    assert data[0] != data[2]


def test_too_long_or_missing_model_fails_in_plain_words(env, tmp_path):
    models, project = env
    long = music_run(project, _request(seconds=tsa.MAX_SECONDS + 1), models, device="cpu")
    events, end = _run(long)
    assert isinstance(end, TakeFailed) and "at most 4 s" in end.message
    assert [e for e in events if is_terminal(e)] == [end]
    missing = music_run(project, _request(), tmp_path / "no-models", device="cpu")
    _events, end = _run(missing)
    assert isinstance(end, TakeFailed) and "Model manager" in end.message
    assert not long.out_path.exists() and not missing.out_path.exists()


def test_a_model_folder_with_code_in_it_is_refused(env, tmp_path):
    import shutil

    models, project = env
    copy = tmp_path / "models"
    shutil.copytree(models, copy)
    (copy / "tiny--stable-audio" / "transformer" / "evil.py").write_text("import os\n")
    run = music_run(project, _request(), copy, device="cpu")
    events, end = _run(run)
    assert isinstance(end, TakeFailed) and "will not load" in end.message
    assert [e for e in events if is_terminal(e)] == [end] and not run.out_path.exists()
