"""The queue view-model over the studio: no clip is decoded on the GUI thread to continue a
shot (the worker makes the missing last frame), and the studio hears the worker's reports on
the GUI thread."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from sora_desktop.core import project as core_project
from sora_desktop.core.project import Take
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine.backend import GenerationResult
from sora_desktop.studio.media import last_frame_path


def write_clip(path, frames: int = 5) -> np.ndarray:
    from sora_desktop.engine.export import export_video

    video = np.zeros((frames, 32, 32, 3), np.uint8)
    video[-1] = 255  # a white last frame
    path.parent.mkdir(parents=True, exist_ok=True)
    export_video(video, path, 8)
    return video


class StubWorker(QObject):
    """Records what is submitted; runs nothing."""

    started = Signal(str)
    progress = Signal(str, int, int)
    preview = Signal(str, QImage)
    finished = Signal(str, str)
    failed = Signal(str, str)
    cancelled = Signal(str)
    latents_saved = Signal(str, str)

    def __init__(self) -> None:
        super().__init__()
        self.jobs: list = []

    def submit(self, job) -> None:
        self.jobs.append(job)

    def cancel(self, job_id: str) -> None:
        pass


def continuing_project(tmp_path, with_last_frame: bool):
    """Shot 1 done (its clip on disk), shot 2 continuing from it."""
    from sora_desktop.ui.viewmodels import ProjectViewModel

    project = core_project.new_project()
    project.path = tmp_path / "film.sdproj"
    first = project.add_shot(GenerationRequest("a red ball", steps=2))
    take = Take.create(first.request)
    project.add_take(first.id, take)
    rel = core_project.clip_relpath(project, first.id, take.id)
    clip = core_project.resolve_media(project, rel)
    write_clip(clip)
    if with_last_frame:
        last_frame_path(clip).write_bytes(b"png")
    project.update_take(first.id, take.id, status="done", clip=rel)
    second = project.add_shot(GenerationRequest("the ball rolls away", steps=2))
    project.set_continue_from_previous(second.id, True)
    return ProjectViewModel(project), second, clip


def test_queueing_a_continuing_shot_decodes_nothing_on_the_gui_thread(qtbot, tmp_path):
    from sora_desktop.ui.viewmodels import QueueViewModel

    pvm, second, clip = continuing_project(tmp_path, with_last_frame=False)
    worker = StubWorker()
    qvm = QueueViewModel(pvm, worker)
    job = qvm.generate_shot(second.id)
    assert not last_frame_path(clip).exists()  # left to the worker thread
    (submitted,) = worker.jobs
    assert submitted.start_from == clip
    assert job.request.start_image == str(last_frame_path(clip))


def test_the_worker_makes_the_missing_last_frame_before_the_take(qtbot, tmp_path):
    from sora_desktop.ui.worker import GenerationJob, GenerationWorker, WorkerHost

    clip = tmp_path / "media" / "prev.mp4"
    write_clip(clip)
    seen: list = []

    def generate(request, cancel):
        start = request.start_image
        off_gui = threading.current_thread() is not threading.main_thread()
        seen.append((off_gui, bool(start) and os.path.isfile(start)))
        yield GenerationResult(np.zeros((4, 16, 16, 3), np.uint8), request.fps, request)

    worker = GenerationWorker(generate)
    host = WorkerHost(worker, "test-continue")
    try:
        request = GenerationRequest("b", steps=2, start_image=str(last_frame_path(clip)))
        with qtbot.waitSignal(worker.finished, timeout=60_000):
            worker.submit(GenerationJob("j", request, tmp_path / "out", "j", start_from=clip))
        assert seen == [(True, True)]  # made in the worker thread, before the model ran
        import cv2

        last = cv2.imread(str(last_frame_path(clip)))
        assert last is not None and last.mean() > 200  # the clip's (white) last frame
        # a clip that cannot be read: a plain message, and the model never runs
        broken = tmp_path / "media" / "broken.mp4"
        broken.write_bytes(b"not a video")
        bad = request.with_changes(start_image=None)
        with qtbot.waitSignal(worker.failed, timeout=60_000) as failed:
            worker.submit(GenerationJob("k", bad, tmp_path / "out", "k", start_from=broken))
        message = failed.args[1]
        assert "continues from the previous shot" in message and "broken.mp4" in message
        assert "Continue from previous shot" in message and len(seen) == 1
    finally:
        assert host.stop(30_000)


def test_the_studio_hears_the_worker_on_the_gui_thread(qtbot, tmp_path):
    from sora_desktop.ui.viewmodels import ProjectViewModel, QueueViewModel
    from sora_desktop.ui.worker import GenerationWorker, WorkerHost

    def generate(request, cancel):
        yield GenerationResult(np.zeros((4, 16, 16, 3), np.uint8), request.fps, request)

    project = core_project.new_project()
    project.path = tmp_path / "film.sdproj"
    shot = project.add_shot(GenerationRequest("a red ball", steps=2))
    worker = GenerationWorker(generate)
    host = WorkerHost(worker, "test-thread")
    try:
        qvm = QueueViewModel(ProjectViewModel(project), worker)
        threads = []
        for name in ("started", "finished"):
            real = getattr(qvm.studio, name)

            def spy(*args, real=real):
                threads.append(threading.current_thread() is threading.main_thread())
                real(*args)

            setattr(qvm.studio, name, spy)
        job = qvm.generate_shot(shot.id)
        qtbot.waitUntil(lambda: job.status == "done", timeout=60_000)
        qtbot.waitUntil(lambda: shot.selected is not None, timeout=10_000)
        assert threads == [True, True]
        assert shot.selected.status == "done" and shot.selected.clip.endswith(".mp4")
    finally:
        assert host.stop(30_000)


def test_new_settings_reach_the_studio(qtbot, tmp_path):
    """Settings -> apply_settings hands the view-model new settings; the policy switch in them
    is what the next Generate obeys."""
    import dataclasses

    from sora_desktop.core.settings import Settings
    from sora_desktop.studio import PolicyBlocked
    from sora_desktop.ui.viewmodels import ProjectViewModel, QueueViewModel

    project = core_project.new_project()
    project.path = tmp_path / "film.sdproj"
    shot = project.add_shot(GenerationRequest("a nude minor on a beach", steps=2))
    worker = StubWorker()
    qvm = QueueViewModel(ProjectViewModel(project), worker, Settings())
    with pytest.raises(PolicyBlocked):
        qvm.generate_shot(shot.id)
    qvm.settings = dataclasses.replace(Settings(), policy_enabled=False)
    assert qvm.generate_shot(shot.id).shot_id == shot.id and len(worker.jobs) == 1
