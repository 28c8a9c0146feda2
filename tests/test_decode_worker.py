"""The generation worker with a small fake backend: the take's sound is written beside its clip
and follows a Save As; a failed decode ends the job once, as a failure that says the denoising
is kept; the retry decodes the saved latents."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.backend import (
    Backend,
    DecodeFailed,
    GenerationResult,
    LatentsReady,
    StepEvent,
)

RATE = 16_000


class FakeBackend(Backend):
    """Denoises into a constant latent; ``fail_decode`` makes the first decode run out of
    memory. Counts its denoising runs."""

    model_id = "fake"

    def __init__(self, fail_decode: bool = False) -> None:
        self.fail_decode = fail_decode
        self.denoised = 0

    def capabilities(self):
        from sora_desktop.core.capabilities import embedded_capabilities

        return embedded_capabilities({})  # any window: these clips are short

    def generate(self, request, cancel=None):
        self.denoised += 1
        for i in range(1, 3):
            yield StepEvent(i, 2, None)
        latents = {
            "w0.video": np.full((1, 2, 2, 4, 4), request.seed, np.float32),
            "audio": np.linspace(-0.5, 0.5, 2 * RATE // 10, dtype=np.float32).reshape(-1, 2),
        }
        yield LatentsReady(latents, {"segments": 1})
        if self.fail_decode:
            try:
                raise MemoryError("out of memory while decoding")
            except MemoryError as exc:
                raise DecodeFailed("the VAE decode failed") from exc
        yield self.decode_latents(request, latents, {"segments": 1}, low_memory=False)

    def decode_latents(self, request, latents, info, low_memory=True):
        value = int(latents["w0.video"].flat[0]) % 256
        frames = np.full((4, 16, 16, 3), value, np.uint8)
        return GenerationResult(frames, 8, request, audio=latents["audio"], sample_rate=RATE)


def _record(worker):
    log = defaultdict(list)
    names = ("started", "finished", "failed", "cancelled", "latents_saved")
    for name in names:
        getattr(worker, name).connect(lambda *a, n=name: log[a[0]].append((n, a[1:])))
    return log


def _terminals(events):
    return [n for n, _ in events if n in ("finished", "failed", "cancelled")]


def test_audio_side_file_and_no_latents_left(qtbot, tmp_path):
    from sora_desktop.studio.audio import audio_path, read_wav
    from sora_desktop.ui.worker import GenerationJob, GenerationWorker, WorkerHost

    backend = FakeBackend()
    worker = GenerationWorker(lambda req, cancel: backend.generate(req, cancel))
    host = WorkerHost(worker, "test-decode-audio")
    log = _record(worker)
    try:
        worker.submit(GenerationJob("a", GenerationRequest("sound", seed=7), tmp_path, "take"))
        qtbot.waitUntil(lambda: bool(_terminals(log["a"])), timeout=30_000)
    finally:
        assert host.stop(10000)
    assert _terminals(log["a"]) == ["finished"]
    clip = tmp_path / "take.mp4"
    audio, rate = read_wav(audio_path(clip))
    expected = np.linspace(-0.5, 0.5, 2 * RATE // 10, dtype=np.float32).reshape(-1, 2)
    assert rate == RATE and np.abs(audio - expected).max() <= 1 / 32767 + 1e-6
    # the latents were saved before the decode, then deleted once the clip existed
    assert [n for n, _ in log["a"]].index("latents_saved") < [n for n, _ in log["a"]].index(
        "finished"
    )
    assert not list(tmp_path.glob("*.latents.npz"))


def test_failed_decode_ends_once_and_the_retry_decodes_the_saved_latents(qtbot, tmp_path):
    from sora_desktop.studio.decode import decode_saved, load_latents
    from sora_desktop.ui.worker import GenerationJob, GenerationWorker, WorkerHost

    backend = FakeBackend(fail_decode=True)
    worker = GenerationWorker(
        lambda req, cancel: backend.generate(req, cancel),
        lambda req, latents: decode_saved(backend, latents, req),
    )
    host = WorkerHost(worker, "test-decode-fail")
    log = _record(worker)
    req = GenerationRequest("boom", seed=9)
    try:
        worker.submit(GenerationJob("a", req, tmp_path, "take"))
        qtbot.waitUntil(lambda: bool(_terminals(log["a"])), timeout=30_000)
        qtbot.wait(100)
        latents = tmp_path / "take.latents.npz"
        assert _terminals(log["a"]) == ["failed"]
        ((_, (message,)),) = [e for e in log["a"] if e[0] == "failed"]
        assert "ran out of memory" in message and "denoising is kept" in message
        assert ("latents_saved", (str(latents),)) in log["a"]
        saved = load_latents(latents)
        assert saved.request == req and saved.latents["w0.video"].flat[0] == 9
        worker.submit(GenerationJob("b", req, tmp_path, "take", decode_from=latents))
        qtbot.waitUntil(lambda: bool(_terminals(log["b"])), timeout=30_000)
    finally:
        assert host.stop(10000)
    assert _terminals(log["b"]) == ["finished"] and backend.denoised == 1
    assert (tmp_path / "take.mp4").is_file() and not latents.exists()
    assert (tmp_path / "take_audio.wav").is_file()


def test_adopt_clip_and_save_as_carry_the_sound(tmp_path):
    from sora_desktop.core import project as core_project
    from sora_desktop.core.project import Take
    from sora_desktop.studio.audio import audio_path, write_wav
    from sora_desktop.studio.takes import adopt_clip

    project = core_project.new_project("film")
    shot = project.add_shot(GenerationRequest("x"))
    take = project.add_take(shot.id, Take.create(shot.request))
    outside = tmp_path / "elsewhere" / "clip.mp4"
    outside.parent.mkdir()
    outside.write_bytes(b"mp4")
    write_wav(audio_path(outside), np.zeros((10, 1), np.float32), RATE)
    project.path = tmp_path / "film" / "film.sdproj"
    rel = adopt_clip(project, shot.id, take.id, outside)
    clip = core_project.resolve_media(project, rel)
    assert clip.is_file() and audio_path(clip).is_file()

    project.update_take(shot.id, take.id, status="done", clip=rel)
    core_project.save_project(project)
    target = core_project.save_project(project, tmp_path / "copy" / "other.sdproj")
    moved = core_project.resolve_media(project, project.shots[0].takes[0].clip)
    assert moved.is_relative_to(target.parent) and audio_path(moved).is_file()
