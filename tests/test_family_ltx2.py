"""LTX-2 (video with sound) through the diffusers backend, on a tiny random model in the real
format: text, start image, first + last keyframes, the sound on the result, the latents (video
and audio) saved before the decode and decoded again, cancel, seeds, and a download through
the fake hub with the real downloader."""

from __future__ import annotations

import numpy as np
import pytest
import tiny_ltx
import tiny_models as tm
from fakehub import FakeHub

from sora_desktop.core.catalog import CatalogEntry, is_installed, load_catalog
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine import diffusers_backend as db
from sora_desktop.engine import registry
from sora_desktop.engine.backend import (
    CancelToken,
    GenerationCancelled,
    GenerationResult,
    LatentsReady,
    StepEvent,
)


@pytest.fixture(scope="module")
def ltx2_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_ltx2") / "ltx2"
    return folder, tiny_ltx.save_tiny_ltx(folder, "ltx2")


@pytest.fixture(scope="module")
def backend(ltx2_model):
    folder, entry = ltx2_model
    return db.DiffusersBackend(CatalogEntry.from_dict(entry), folder, "cpu", "balanced")


def request(backend, **kw) -> GenerationRequest:
    d = backend.entry.defaults
    base = dict(
        prompt="a dog runs on the street",
        steps=2,
        guidance=1.0,
        num_frames=d["num_frames"],
        width=d["width"],
        height=d["height"],
        fps=24,
        model_id=backend.model_id,
        seed=5,
    )
    base.update(kw)
    return GenerationRequest(**base)


def events_of(backend, req, cancel=None):
    events = list(backend.generate(req, cancel))
    steps = [e for e in events if isinstance(e, StepEvent)]
    (ready,) = [e for e in events if isinstance(e, LatentsReady)]
    (result,) = [e for e in events if isinstance(e, GenerationResult)]
    assert events.index(ready) < events.index(result)  # saved before the decode
    return steps, ready, result


def image(path, rgb=None, size=32):
    from PIL import Image

    if rgb is None:  # a gradient: something H.264 cannot keep exactly
        x = np.linspace(0, 255, size, dtype=np.float32)
        arr = np.stack(np.broadcast_arrays(x[None, :], x[:, None], 255 - x[None, :]), -1)
        arr = arr.astype(np.uint8)
    else:
        arr = np.full((size, size, 3), rgb, np.uint8)
    Image.fromarray(arr).save(path)
    return str(path)


def check_sound(result, backend):
    rate = backend.pipe.vocoder.config.output_sampling_rate
    assert result.sample_rate == rate
    audio = result.audio
    assert audio is not None and audio.dtype == np.float32
    assert audio.ndim == 2 and audio.shape[1] == backend.pipe.vocoder.config.out_channels
    assert audio.shape[0] > 0 and np.abs(audio).max() <= 1.0 and audio.std() > 0


def test_text_to_video_with_sound_and_the_saved_latents_decode_again(backend):
    req = request(backend)
    steps, ready, result = events_of(backend, req)
    assert [s.step for s in steps] == [1, 2] and all(s.preview is not None for s in steps)
    assert result.info["pipeline"] == "LTX2Pipeline"
    assert set(ready.latents) == {"video", "audio"}
    assert ready.latents["audio"].ndim == 4  # (B, C, L, mel), denormalised
    assert result.frames.shape == (9, 32, 32, 3) and result.frames.std() > 0
    check_sound(result, backend)
    again = backend.decode_latents(req, ready.latents, ready.info)
    np.testing.assert_array_equal(again.frames, result.frames)
    np.testing.assert_array_equal(again.audio, result.audio)
    assert again.sample_rate == result.sample_rate


def test_decode_is_the_pipelines_own_tail(backend):
    """Our decode of the latent output gives what the pipeline's ``output_type="np"`` gives:
    the same frames and the same waveform (channels last)."""
    req = request(backend)
    _, _, result = events_of(backend, req)
    pipe = backend.pipe
    kwargs = backend._call_kwargs(req, pipe)
    kwargs["output_type"] = "np"
    out = pipe(**kwargs)
    want = (np.clip(out.frames[0], 0, 1) * 255).round().astype(np.uint8)
    assert np.abs(result.frames.astype(int) - want.astype(int)).max() <= 1
    wave = np.asarray(out.audio[0].float()).T  # (samples, channels)
    np.testing.assert_allclose(result.audio, wave, atol=1e-5)


def test_start_image_runs_image_to_video_with_the_recompressed_image(
    backend, tmp_path, monkeypatch
):
    from diffusers import LTX2ImageToVideoPipeline

    seen = []
    real = LTX2ImageToVideoPipeline.prepare_latents

    def spy(self, image=None, *a, **kw):
        seen.append(image.float())
        return real(self, image, *a, **kw)

    monkeypatch.setattr(LTX2ImageToVideoPipeline, "prepare_latents", spy)
    start = image(tmp_path / "start.png")
    req = request(backend, start_image=start)
    steps, ready, result = events_of(backend, req)
    assert result.info["pipeline"] == "LTX2ImageToVideoPipeline"
    assert all(s.preview is not None for s in steps)
    check_sound(result, backend)
    (img,) = seen  # (1, 3, H, W) in -1..1: the start image, red rising to the right
    assert img[0, 0, :, -4:].mean() > img[0, 0, :, :4].mean() + 1.0
    again = backend.decode_latents(req, ready.latents, ready.info)
    np.testing.assert_array_equal(again.frames, result.frames)
    plain = events_of(backend, request(backend))[2]
    assert not np.array_equal(plain.frames, result.frames)


def test_keyframe_images_are_h264_recompressed_as_the_model_was_trained(tmp_path, monkeypatch):
    """Without PyAV, diffusers refuses an image keyframe (it re-compresses with H.264 CRF 33);
    the adapter re-compresses with the bundled ffmpeg instead and tells the pipeline crf=0."""
    from diffusers.pipelines.ltx2 import utils as ltx2_utils
    from PIL import Image

    from sora_desktop.engine.families import ltx2

    src = Image.open(image(tmp_path / "g.png", size=64))
    pipe = type("P", (), {"text_encoder": None})()
    monkeypatch.setattr("diffusers.utils.is_av_available", lambda: False)
    out, crf = ltx2.keyframe_image(pipe, src)
    assert crf == 0 and out.size == src.size
    a, b = np.asarray(src, np.float32), np.asarray(out, np.float32)
    assert 0 < np.abs(a - b).mean() < 12  # changed by the codec, still the same picture
    assert ltx2_utils.resolve_default_image_crf(None) == 33
    monkeypatch.setattr("diffusers.utils.is_av_available", lambda: True)
    assert ltx2.keyframe_image(pipe, src) == (src, None)  # PyAV: the pipeline does it


def test_first_and_last_keyframes_go_to_the_first_and_last_latent_frame(
    backend, tmp_path, monkeypatch
):
    from diffusers import LTX2ConditionPipeline

    seen = {}
    real = LTX2ConditionPipeline.preprocess_conditions

    def spy(self, *a, **kw):
        frames, strengths, indices, pixel_frames = real(self, *a, **kw)
        seen["indices"] = indices
        seen["red"] = [float(f[0, 0].mean()) for f in frames]
        return frames, strengths, indices, pixel_frames

    monkeypatch.setattr(LTX2ConditionPipeline, "preprocess_conditions", spy)
    start = image(tmp_path / "start.png", (230, 30, 30))
    end = image(tmp_path / "end.png", (30, 30, 230))
    req = request(backend, start_image=start, end_image=end)
    steps, ready, result = events_of(backend, req)
    assert result.info["pipeline"] == "LTX2ConditionPipeline"
    pipe = backend._pipe_for("LTX2ConditionPipeline")
    last = (req.num_frames - 1) // pipe.vae_temporal_compression_ratio
    assert seen["indices"] == [0, last]  # latent indices: the first frame and the last
    assert seen["red"][0] > 0.5 > -0.5 > seen["red"][1]  # start image first, end image last
    assert all(s.preview is not None for s in steps)  # keyframe tokens dropped for previews
    check_sound(result, backend)
    again = backend.decode_latents(req, ready.latents, ready.info)
    np.testing.assert_array_equal(again.frames, result.frames)
    np.testing.assert_array_equal(again.audio, result.audio)


def test_cancel_stops_before_latents(backend):
    token = CancelToken()
    seen = []
    with pytest.raises(GenerationCancelled):
        for ev in backend.generate(request(backend, steps=3), token):
            seen.append(ev)
            token.cancel()
    assert not any(isinstance(e, LatentsReady | GenerationResult) for e in seen)


def test_same_seed_same_clip_and_sound_other_seed_other(backend):
    a = events_of(backend, request(backend, seed=3))[2]
    b = events_of(backend, request(backend, seed=3))[2]
    c = events_of(backend, request(backend, seed=4))[2]
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.audio, b.audio)
    assert not np.array_equal(a.frames, c.frames)
    assert not np.array_equal(a.audio, c.audio)


def test_download_through_the_fake_hub_then_generate_with_sound(ltx2_model, tmp_path, monkeypatch):
    from huggingface_hub import constants

    from sora_desktop.engine.downloads import HubConfig, ModelDownloader

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    folder, entry_dict = ltx2_model
    catalog = tm.write_catalog(tmp_path / "catalog.json", [entry_dict])
    monkeypatch.setenv("SORA_DESKTOP_CATALOG", str(catalog))
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    from sora_desktop.core.settings import load_settings

    models_dir = load_settings().models_dir
    entry = next(e for e in load_catalog() if e.id == "tiny/ltx2")
    with FakeHub() as hub:
        hub.add_folder(entry.repo_id, folder)
        ModelDownloader(models_dir, HubConfig(endpoint=hub.endpoint)).download(entry)
    assert is_installed(entry, models_dir)
    for part in ("connectors", "audio_vae", "vocoder"):  # LTX-2's own components came along
        assert any((entry.folder(models_dir) / part).glob("*.safetensors"))
    try:
        req = GenerationRequest(
            prompt="a dog runs",
            steps=2,
            guidance=1.0,
            num_frames=9,
            width=32,
            height=32,
            fps=24,
            model_id=entry.id,
            seed=1,
        )
        events = list(registry.generate(req, device="cpu"))
    finally:
        registry.unload_all()
    result = events[-1]
    assert isinstance(result, GenerationResult)
    assert result.frames.shape == (9, 32, 32, 3)
    assert result.audio is not None and result.audio.shape[0] > 0 and result.sample_rate == 16000


def test_a_distilled_entry_runs_its_own_sigmas(ltx2_model):
    """LTX-2 distilled: the entry's ``sigmas`` (8 steps, guidance 1) reach the pipeline when the
    request keeps that step count."""
    from diffusers.pipelines.ltx2.utils import DISTILLED_SIGMA_VALUES

    folder, entry = ltx2_model
    sigmas = list(DISTILLED_SIGMA_VALUES)
    entry = dict(entry, defaults=dict(entry["defaults"], sigmas=sigmas, steps=8))
    fast = db.DiffusersBackend(CatalogEntry.from_dict(entry), folder, "cpu", "balanced")
    req = request(fast, steps=8)
    kw = fast._call_kwargs(req, fast.pipe)
    assert kw["sigmas"] == sigmas and kw["audio_guidance_scale"] == 1.0
    assert kw["frame_rate"] == 24.0 and kw["spatio_temporal_guidance_blocks"] is None
    assert "sigmas" not in fast._call_kwargs(req.with_changes(steps=4), fast.pipe)
    steps, _, result = events_of(fast, req)
    assert len(steps) == 8 and result.audio is not None
    assert fast.pipe.scheduler.sigmas[0] == pytest.approx(1.0)


def test_a_decode_that_runs_out_of_memory_keeps_the_latents_for_a_retry(backend, monkeypatch):
    import torch

    from sora_desktop.engine.backend import DecodeFailed

    def boom(*a, **k):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 9.00 GiB")

    req = request(backend, seed=11)
    events = []
    with monkeypatch.context() as mp:
        mp.setattr(backend.pipe.vocoder, "forward", boom)  # the sound decode, last of all
        with pytest.raises(DecodeFailed, match="Retry in low memory"):
            for ev in backend.generate(req):
                events.append(ev)
    (ready,) = [e for e in events if isinstance(e, LatentsReady)]
    saved = {k: v.copy() for k, v in ready.latents.items()}  # as a take keeps them on disk
    result = backend.decode_latents(req, saved, ready.info, low_memory=True)
    assert result.frames.shape == (9, 32, 32, 3)
    check_sound(result, backend)
    assert result.info["decoded_low_memory"] is True


def test_context_frames_condition_a_window_as_a_video_from_the_first_latent(backend, monkeypatch):
    """A long shot's next window continues from the previous window's last frames: a video
    condition at latent index 0 (k*t+1 frames, not re-compressed), then the usual decode."""
    import torch
    from diffusers import LTX2ConditionPipeline
    from PIL import Image

    from sora_desktop.engine.families import Keyframes

    seen = {}
    real = LTX2ConditionPipeline.preprocess_conditions

    def spy(self, *a, **kw):
        frames, strengths, indices, pixel_frames = real(self, *a, **kw)
        seen.update(indices=indices, pixel_frames=pixel_frames)
        return frames, strengths, indices, pixel_frames

    monkeypatch.setattr(LTX2ConditionPipeline, "preprocess_conditions", spy)
    context = tuple(Image.new("RGB", (32, 32), (30 * i, 60, 90)) for i in range(8))
    pipe = backend._pipe_for("LTX2ConditionPipeline")
    req = request(backend)
    kwargs = backend._call_kwargs(req, pipe)
    kwargs.update(backend.adapter.call_kwargs(pipe, req, Keyframes(context=context), kwargs))
    (cond,) = kwargs["conditions"]
    t = pipe.vae_temporal_compression_ratio
    n = (len(context) - 1) // t * t + 1
    assert cond.index == 0 and list(cond.frames) == list(context[-n:])
    with torch.inference_mode():
        out = pipe(**kwargs)
        decoded = backend.adapter.decode(pipe, backend.adapter.latents_from_output(pipe, out), req)
    assert seen == {"indices": [0], "pixel_frames": [n]}
    assert decoded.frames.shape == (9, 32, 32, 3) and decoded.audio.shape[0] > 0


def test_a_takes_sound_reaches_the_film_and_a_muted_shots_does_not(backend, tmp_path, monkeypatch):
    """Issue 19: the take's ``_audio.wav`` (made through the one take-running use case) is
    mixed into the film export where the shot plays; muting the shot leaves the film silent."""
    from sora_desktop.core.project import (
        Take,
        clip_relpath,
        new_project,
        relative_media,
        resolve_media,
        save_project,
    )
    from sora_desktop.engine.audio_decode import decode_pcm
    from sora_desktop.engine.export import read_metadata
    from sora_desktop.engine.export.audio_mix import film_samples, mix_sources
    from sora_desktop.studio.audio import audio_path
    from sora_desktop.studio.film import film_clips, film_plan, render_film
    from sora_desktop.studio.film_sound import film_sound, mix_sources_for
    from sora_desktop.studio.queue import TakeRun
    from sora_desktop.studio.take_runner import TakeFinished, run_take
    from tests.sound_support import export_audio, streams, video_frames

    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    project = new_project("Barking")
    save_project(project, tmp_path / "film.sdproj")
    req = request(backend, num_frames=9)
    shot = project.add_shot(req)
    take = project.add_take(shot.id, Take.create(req))
    out = resolve_media(project, clip_relpath(project, shot.id, take.id))
    end = run_take(
        TakeRun("job", req, out.parent, out.stem, device="cpu"),
        CancelToken(),
        lambda event: None,
        generate=lambda r, cancel: registry.generate(r, cancel, backend=backend),
    )
    assert isinstance(end, TakeFinished), end
    project.update_take(shot.id, take.id, status="done", clip=relative_media(project, end.path))
    wav = audio_path(end.path)
    assert wav.is_file()  # the take kept its sound

    settings = project.export_settings
    plan = film_plan(project, None, settings)
    sound = film_sound(project, None, settings)
    assert sound is not None and sound.shot_sounds == (wav,)
    # the mix holds the take's sound at the shot's place (the film's start), resampled
    timing = [(req.num_frames, req.fps)]
    mix = mix_sources(
        mix_sources_for(sound, timing, plan.fps, 0), film_samples(plan.frames, plan.fps)
    )
    own = decode_pcm(wav, 0.0, 10.0)
    assert np.abs(own).max() > 1e-3
    np.testing.assert_allclose(mix[: len(own)], np.clip(own, -1, 1)[: len(mix)], atol=1e-6)
    film = render_film(film_clips(project), tmp_path / "film.mp4", plan.fps, fmt="mp4", sound=sound)
    assert "Audio: aac" in streams(film)
    heard = export_audio(film)
    assert abs(len(heard) - video_frames(film) / plan.fps * 48_000) <= 1024
    assert np.abs(heard).max() > 1e-3  # not silence
    assert read_metadata(film)["audio"]["shot_sound"] == [shot.id]

    project.set_shot_mute(shot.id, True)
    assert film_sound(project, None, settings) is None
    muted = render_film(film_clips(project), tmp_path / "muted.mp4", plan.fps, fmt="mp4")
    assert "Audio" not in streams(muted)
