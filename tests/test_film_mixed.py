"""A storyboard of mixed frame rates (8/16/24 fps) and sizes (64x64, 48x48, 96x64) exports with
each shot at its own duration and every picture's aspect ratio kept (issue 23, point 5),
through the studio use case (studio/film.py); the film is played back with OpenCV."""

from __future__ import annotations

import pytest

from tests.film_support import MIXED, bars, decode, mixed_project, runs, square_box


def export(project, tmp_path, **settings):
    from sora_desktop.core.export_settings import ExportSettings
    from sora_desktop.studio.film import film_clips, film_plan, film_request, render_film

    # as generated (the default is now Auto, >= 512 px): the layout is measured in the clips' pixels
    chosen = ExportSettings(**{"upscale": 1, **settings})
    plan = film_plan(project, None, chosen)
    out = render_film(
        film_clips(project),
        tmp_path / f"film_{chosen.fit}_{chosen.fps}.mp4",
        plan.fps,
        fmt="mp4",
        fit=chosen.fit,
        request=film_request(project),
    )
    return plan, decode(out)


def check_durations(frames, fps):
    """Each shot on screen for its own length (within one film frame), in storyboard order,
    and the whole film as long as the shots together (within half a frame)."""
    got = runs(frames)
    assert [s for s, _n in got] == [0, 1, 2], got
    for (_s, n), shot in zip(got, MIXED, strict=True):
        assert abs(n / fps - shot.seconds) <= 1 / fps + 1e-9, (n, shot)
    total = sum(s.seconds for s in MIXED)
    assert abs(len(frames) / fps - total) <= 0.5 / fps + 1e-9


def test_mixed_storyboard_letterboxed_at_the_fastest_rate(tmp_path):
    project = mixed_project(tmp_path / "p")
    plan, (frames, fps) = export(project, tmp_path)
    # the default film rate is the fastest shot's; the frame is the largest shot's
    assert (plan.fps, plan.width, plan.height) == (24, 96, 64)
    assert fps == pytest.approx(24)
    assert frames.shape[1:3] == (64, 96)  # (H, W): the 3:2 shot is not squashed
    assert len(frames) == plan.frames
    check_durations(frames, fps)
    # the square shots are pillarboxed: 16 px black bars each side, the square stays square
    starts = [0, 48, 90]  # first film frames of each shot at 24 fps (2 s, 1.3125 s, ...)
    for shot, start in enumerate(starts):
        frame = frames[start + 3]
        w, h = square_box(frame)
        assert abs(w - h) <= 2, (shot, w, h)  # aspect kept
        left, right = bars(frame)
        if shot < 2:
            assert abs(left - 16) <= 2 and abs(right - 16) <= 2, (shot, left, right)
            assert abs(w - 32) <= 2  # 64 px tall in a 64 px frame: half the short side
        else:
            assert (left, right) == (0, 0)


def test_mixed_storyboard_cropped_at_a_chosen_rate(tmp_path):
    project = mixed_project(tmp_path / "p")
    plan, (frames, fps) = export(project, tmp_path, fps=30, fit="crop")
    assert (plan.fps, plan.width, plan.height) == (30, 96, 64)
    assert fps == pytest.approx(30)
    check_durations(frames, fps)
    for start in (0, 60):  # the two square shots, scaled to fill the width, top/bottom cut
        frame = frames[start + 3]
        assert bars(frame) == (0, 0)
        w, h = square_box(frame)
        assert abs(w - h) <= 2 and abs(w - 48) <= 2, (w, h)  # 96/64 = 1.5x of 32 px


def test_slow_film_rate_drops_frames_but_keeps_durations(tmp_path):
    project = mixed_project(tmp_path / "p")
    _plan, (frames, fps) = export(project, tmp_path, fps=8)
    check_durations(frames, fps)


def test_export_settings_remember_the_rate_and_fit_and_refuse_bad_ones(tmp_path):
    from sora_desktop.core.errors import FieldError
    from sora_desktop.core.export_settings import ExportSettings
    from sora_desktop.core.project import ProjectError, load_project, save_project

    project = mixed_project(tmp_path / "p")
    project.set_export_settings(ExportSettings(fps=25, fit="crop"))
    save_project(project, project.path)
    again = load_project(project.path).export_settings
    assert (again.fps, again.fit) == (25, "crop")
    for bad in ({"fit": "stretch"}, {"fps": 0}, {"fps": 61}, {"fps": 24.0}, {"fps": True}):
        with pytest.raises(FieldError) as err:
            ExportSettings(**bad)
        assert err.value.field in ("export_fit", "export_fps")
    data = project.to_dict()
    data["settings"]["export_fit"] = "squash"
    with pytest.raises(ProjectError, match="Other shapes"):  # the Export dialog's label
        type(project).from_dict(data)


def test_one_frame_layout_rules():
    from sora_desktop.core.film_layout import fit_rect, shot_spans, source_frames

    # an 8 fps shot at 24 fps shows each frame three times, never a blend
    assert source_frames([(4, 8)], 24) == [[0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]]
    # a 24 fps shot at 8 fps shows every third frame
    assert source_frames([(6, 24)], 8) == [[1, 4]]
    # rounding on the running total: three 1/3 s shots at 10 fps make exactly 10 frames
    assert shot_spans([(1, 3)] * 3, 10)[-1][1] == 10
    assert fit_rect((704, 480), (480, 480), "letterbox") == (480, 327, 0, 76)
    assert fit_rect((480, 480), (704, 480), "crop") == (704, 704, 0, -112)
