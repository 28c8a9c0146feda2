"""A shot can end on the next shot's first frame (issue 17, keyframes): the option is stored
with the shot, fills ``GenerationRequest.end_image`` with the next shot's first frame when that
shot has a finished clip, and is refused with its reason when the model cannot take an end
image or there is no next finished shot; the storyboard menu shows the same."""

from __future__ import annotations

import numpy as np
import pytest

from tests import tiny_models as tm
from tests.test_studio import BIG_MACHINE, FakeRunner, Recorder, Settings
from tests.ui_support import close_window, make_window

KEYFRAME_MODEL = "tiny/ltx"


@pytest.fixture
def catalog(tmp_path, monkeypatch):
    """A catalog with a model that takes an end image (the tiny LTX entry, marked so)."""
    entry = {**tm.tiny_entry("ltx"), "supports_end_image": True}
    monkeypatch.setenv("SORA_DESKTOP_CATALOG", str(tm.write_catalog(tmp_path / "c.json", [entry])))
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))


def _request(prompt: str, model: str = KEYFRAME_MODEL):
    from sora_desktop.core.request import GenerationRequest

    return GenerationRequest(prompt, num_frames=9, fps=8, width=32, height=32, model_id=model)


def _finish(project, shot, colour):
    """Give ``shot`` a finished clip whose frames fade from ``colour`` (first frame distinct)."""
    from sora_desktop.core.project import Take, clip_relpath, resolve_media
    from sora_desktop.engine.export import export_video

    take = Take.create(shot.request)
    project.add_take(shot.id, take)
    rel = clip_relpath(project, shot.id, take.id)
    clip = resolve_media(project, rel)
    clip.parent.mkdir(parents=True, exist_ok=True)
    frames = np.zeros((9, 32, 32, 3), np.uint8)
    for i in range(9):
        frames[i] = np.array(colour) * (1 - i / 12)
    export_video(frames, clip, 8)
    project.update_take(shot.id, take.id, status="done", clip=rel)
    return clip


def _queue(project):
    from sora_desktop.studio.queue import ShotQueue

    queue = ShotQueue(lambda: project, FakeRunner(), Settings(), Recorder())
    queue.memory_probe = lambda: BIG_MACHINE
    return queue


def _project(tmp_path, model=KEYFRAME_MODEL):
    from sora_desktop.core import project as core_project

    project = core_project.new_project()
    project.path = tmp_path / "film.sdproj"
    first = project.add_shot(_request("a door opens", model))
    second = project.add_shot(_request("a hall beyond the door", model))
    return project, first, second


def test_end_keyframe_is_the_next_shots_first_frame(catalog, tmp_path):
    from sora_desktop.engine.export import read_video
    from sora_desktop.studio.media import EndFrameError, ensure_first_frame, first_frame_path
    from sora_desktop.studio.shots import QueueError, end_on_next_blocker

    project, first, second = _project(tmp_path)
    project.set_end_on_next_shot(first.id, True)
    queue = _queue(project)

    # no clip for the next shot yet: refused with the reason, nothing queued
    assert end_on_next_blocker(project, first.id) == (
        "Shot 2 has no finished clip yet: generate it first."
    )
    with pytest.raises(QueueError, match="Shot 2 has no finished clip yet"):
        queue.generate_shot(first.id)
    assert not queue.jobs and not first.takes

    clip = _finish(project, second, (250, 120, 30))
    assert end_on_next_blocker(project, first.id) is None
    job = queue.generate_shot(first.id)
    run = queue.runner.runs[-1]
    assert job.request.end_image == str(first_frame_path(clip))
    assert run.end_from == clip  # no first-frame file yet: the worker makes it, off the GUI
    assert first.takes[-1].request.end_image == job.request.end_image
    made = ensure_first_frame(run.end_from)
    frames, _fps = read_video(clip)
    from sora_desktop.engine.decode import read_image

    assert np.array_equal(read_image(made), frames[0])  # the first frame, not the last
    assert not np.array_equal(frames[0], frames[-1])
    # the second time the file is there: nothing for the worker to make
    queue.generate_shot(first.id)
    assert queue.runner.runs[-1].end_from is None

    # the last shot has no next shot
    assert "last shot" in end_on_next_blocker(project, second.id)
    # a shot that does not use the option gets no end image
    project.set_end_on_next_shot(first.id, False)
    assert queue.generate_shot(first.id).request.end_image is None

    # a next clip that cannot be read: a message for the user, not a traceback
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    with pytest.raises(EndFrameError, match="End on the next shot's first frame"):
        ensure_first_frame(broken)


def test_models_without_end_images_are_refused_with_the_reason(catalog, tmp_path):
    from sora_desktop.core.request import EMBEDDED_MODEL_ID
    from sora_desktop.studio.shots import QueueError, end_on_next_blocker

    project, first, second = _project(tmp_path, EMBEDDED_MODEL_ID)
    project.set_shot_request(
        first.id, first.request.with_changes(width=64, height=64, num_frames=16)
    )
    _finish(project, second, (30, 200, 90))
    why = end_on_next_blocker(project, first.id)
    assert why is not None and "cannot end a clip on a chosen frame" in why
    project.set_end_on_next_shot(first.id, True)
    with pytest.raises(QueueError, match="cannot end a clip on a chosen frame"):
        _queue(project).generate_shot(first.id)


def test_the_option_is_saved_with_the_shot(catalog, tmp_path):
    from sora_desktop.core.project import ProjectError, load_project, save_project

    project, first, second = _project(tmp_path)
    project.set_end_on_next_shot(first.id, True)
    save_project(project, project.path)
    again = load_project(project.path)
    assert [s.end_on_next_shot for s in again.shots] == [True, False]
    copy = again.duplicate_shot(again.shots[0].id)
    assert copy.end_on_next_shot
    data = project.to_dict()
    data["shots"][0]["end_on_next_shot"] = "yes"
    with pytest.raises(ProjectError, match="“End on the next shot” must be on or off"):
        type(project).from_dict(data)
    # a file that names an end image for a shot is not trusted (set per take, like starts)
    data["shots"][0]["end_on_next_shot"] = True
    data["shots"][0]["request"]["end_image"] = "/etc/passwd"
    loaded = type(project).from_dict(data)
    assert loaded.shots[0].request.end_image is None
    # files from before the option open unchanged (the key is optional)
    del data["shots"][1]["end_on_next_shot"]
    assert type(project).from_dict(data).shots[1].end_on_next_shot is False


def test_new_takes_keep_their_first_frame(tmp_path):
    from types import SimpleNamespace

    from sora_desktop.engine.decode import read_image
    from sora_desktop.studio.media import first_frame_path, last_frame_path, save_take_files

    frames = np.zeros((5, 32, 32, 3), np.uint8)
    frames[0] = 200
    result = SimpleNamespace(frames=frames, fps=8, request=_request("x"))
    clip = save_take_files(result, tmp_path, "take")
    assert read_image(first_frame_path(clip)).mean() == pytest.approx(200, abs=1)
    assert read_image(last_frame_path(clip)).mean() == pytest.approx(0, abs=1)


def test_storyboard_menu_shows_the_option_and_why_it_is_off(qtbot, catalog, tmp_path):
    from sora_desktop.core.project import save_project

    project, first, second = _project(tmp_path)
    save_project(project, project.path)
    window = make_window(tmp_path)
    try:
        qtbot.waitExposed(window)
        assert window.open_project(project.path)
        vm = window.project_vm
        shot1, shot2 = vm.shots

        def action(shot_id):
            menu = window.storyboard.build_menu(shot_id)
            return next(a for a in menu.actions() if a.text().startswith("End on the next"))

        off = action(shot1.id)
        assert not off.isEnabled() and off.toolTip() == (
            "Shot 2 has no finished clip yet: generate it first."
        )
        assert "last shot" in action(shot2.id).toolTip() and not action(shot2.id).isEnabled()

        _finish(vm.project, shot2, (250, 120, 30))
        on = action(shot1.id)
        assert on.isEnabled() and not on.isChecked()
        on.trigger()  # through the undoable edit
        assert vm.project.shot(shot1.id).end_on_next_shot
        assert action(shot1.id).isChecked()
        vm.undo_stack.undo()
        assert not vm.project.shot(shot1.id).end_on_next_shot
    finally:
        close_window(window)
