"""Nothing lost at decode, through the real main window: a VAE decode that runs out of memory
leaves the take "Decode failed" with its latents on disk; "Retry in low memory" makes the clip
without denoising again, also after saving, closing and reopening the project; cancel works."""

from __future__ import annotations

import threading

import pytest

from tests.ui_support import (
    close_window,
    make_window,
    model_window,  # noqa: F401 (the window fixture)
    set_fields,
    unload_models_after_module,  # noqa: F401
    use_micro_model,
)


@pytest.fixture
def denoise_calls(monkeypatch):
    """Count denoising runs; make the embedded model's full VAE decode run out of memory (the
    low-memory decode, a few frames at a time, still fits)."""
    import torch

    from sora_desktop.engine.embedded import pipeline
    from sora_desktop.engine.embedded.vae import VideoVAE

    calls = []
    real_sample = pipeline.euler_sample

    def counting_sample(*args, **kwargs):
        calls.append(1)
        yield from real_sample(*args, **kwargs)

    def full_decode_oom(self, z):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(pipeline, "euler_sample", counting_sample)
    monkeypatch.setattr(VideoVAE, "decode", full_decode_oom)
    return calls


def _fail_decode(qtbot, w):
    from sora_desktop.core import project as core_project

    set_fields(w, prompt="a red ball rolls on grass", steps=2)
    with qtbot.waitSignal(w.queue_vm.job_failed, timeout=60_000) as failed:
        w.generate_selected()
    job_id, message = failed.args
    shot = w.project_vm.selected
    take = shot.takes[-1]
    latents = core_project.resolve_media(w.project_vm.project, take.latents)
    return shot, take, latents, job_id, message


def _retry_action(w, shot_id):
    menu = w.storyboard.build_menu(shot_id)
    actions = [a for a in menu.actions() if a.text() == "Retry in low memory"]
    return actions[0] if actions else None


def test_decode_oom_keeps_the_denoising_and_retry_makes_the_clip(qtbot, window, denoise_calls):
    from sora_desktop.engine.export import read_video

    w = window
    shot, take, latents, job_id, message = _fail_decode(qtbot, w)
    assert take.status == "decode_failed" and shot.status == "decode_failed"
    assert latents.is_file() and latents.name.endswith(".latents.npz")
    assert message.startswith("Decode failed") and "denoising is kept" in message
    assert "Retry in low memory" in message
    card = w.storyboard.card(shot.id)
    assert card.chip.text() == "Decode failed"
    row = w.queue_panel.rows[job_id]
    assert not row.retry_btn.isHidden()  # the failed queue row offers the retry too
    assert len(denoise_calls) == 1

    action = _retry_action(w, shot.id)
    assert action is not None
    with qtbot.waitSignal(w.queue_vm.job_finished, timeout=60_000) as done:
        action.trigger()
    _job, clip = done.args
    assert len(denoise_calls) == 1  # decoded from the saved latents: no denoising again
    assert take.status == "done" and shot.selected_take == take.id
    assert take.latents is None and not latents.exists()  # no latents pile up
    video, _fps = read_video(clip)
    assert video.shape == (16, 64, 64, 3)
    assert w.storyboard.card(shot.id).chip.text() == "Done"
    assert _retry_action(w, shot.id) is None
    assert w.queue_panel.rows[job_id].retry_btn.isHidden()  # nothing left to retry


def test_retry_after_save_close_and_reopen(
    qtbot, monkeypatch, micro_model_dir, tmp_path, denoise_calls
):
    use_micro_model(monkeypatch, micro_model_dir, tmp_path / "home")
    w = make_window(tmp_path)
    try:
        shot, take, latents, _job, _msg = _fail_decode(qtbot, w)
        target = tmp_path / "films" / "Decode film.sdproj"
        assert w.save_as(target)
        shot_id, take_id = shot.id, take.id
    finally:
        close_window(w)
    from sora_desktop.engine import registry

    registry.unload_all()  # a restart: no model in memory either

    w2 = make_window(tmp_path / "second")
    try:
        assert w2.open_project(target)
        shot = w2.project_vm.project.shot(shot_id)
        take = shot.take(take_id)
        assert take.status == "decode_failed"
        assert w2.storyboard.card(shot_id).chip.text() == "Decode failed"
        from sora_desktop.core import project as core_project

        kept = core_project.resolve_media(w2.project_vm.project, take.latents)
        assert kept.is_file() and kept.is_relative_to(target.parent)  # Save As carried it
        with qtbot.waitSignal(w2.queue_vm.job_finished, timeout=60_000):
            _retry_action(w2, shot_id).trigger()
        assert take.status == "done" and not kept.exists()
        assert len(denoise_calls) == 1
        assert w2.project_vm.selected_clip(shot_id).is_relative_to(target.parent)
    finally:
        close_window(w2)


def test_cancel_during_the_retry_keeps_the_take_decode_failed(
    qtbot, window, denoise_calls, monkeypatch
):
    from sora_desktop.engine.embedded.pipeline import EmbeddedBackend

    w = window
    shot, take, latents, _job, _msg = _fail_decode(qtbot, w)
    entered, release = threading.Event(), threading.Event()
    real = EmbeddedBackend.decode_latents

    def slow_decode(self, *args, **kwargs):
        entered.set()
        release.wait(30)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(EmbeddedBackend, "decode_latents", slow_decode)
    (job,) = w.retry_decode(shot.id, take.id)
    qtbot.waitUntil(entered.is_set, timeout=60_000)
    qtbot.waitUntil(lambda: take.status == "generating", timeout=10_000)
    w.queue_vm.cancel(job.id)
    release.set()
    qtbot.waitUntil(lambda: job.status == "cancelled", timeout=30_000)
    qtbot.wait(200)
    assert take.status == "decode_failed" and latents.is_file()  # nothing lost
    assert job.status == "cancelled"

    monkeypatch.setattr(EmbeddedBackend, "decode_latents", real)
    with qtbot.waitSignal(w.queue_vm.job_finished, timeout=60_000):
        _retry_action(w, shot.id).trigger()
    assert take.status == "done" and len(denoise_calls) == 1
