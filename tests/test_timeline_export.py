"""Hand-off to editors (issue 20): a storyboard written as a timeline (.otio, .fcpxml, CMX .edl)
reads back with OpenTimelineIO's adapters: one clip per shot with its duration, the project's
cross-fade as dissolves, the prompts as markers, and clips that exist beside the timeline. The
installed CLI and the Export dialog write it; a shot without a clip stops it with its name."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote, urlparse

import cv2
import pytest

from tests.film_support import mixed_project

# the mixed storyboard (tests/film_support.MIXED) on a 24 fps timeline: 16 frames at 8 fps =
# 2 s = 48 frames; 21 at 16 fps = 1.3125 s, ending at 3.3125 s = 79.5 -> frame 80: 32 frames;
# 25 frames at 24 fps = 25
RATE = 24
MEDIA_FRAMES = [48, 32, 25]
FADE = 4  # frames, centred on each cut: 2 before, 2 after
# each clip shows its media less the frames under a dissolve's far side (the handles)
SHOWN = [48 - 2, 32 - 2 - 2, 25 - 2]
FILM = sum(MEDIA_FRAMES) - FADE * 2  # the film export's length with these cross-fades
PROMPTS = ["shot 1", "shot 2", "shot 3"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from sora_desktop.core.project import load_project, save_project

    folder = tmp_path_factory.mktemp("timeline")
    p = mixed_project(folder / "p")
    p.set_export_settings(p.export_settings.with_changes(crossfade_frames=FADE))
    save_project(p, p.path)
    return load_project(p.path)


def _frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def _path(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


@pytest.mark.parametrize("suffix", [".otio", ".fcpxml", ".edl"])
def test_timeline_reads_back_with_clips_durations_fades_and_media(project, tmp_path, suffix):
    import opentimelineio as otio

    from sora_desktop.studio.timeline import export_timeline

    out = tmp_path / "edit" / f"film{suffix}"
    out.parent.mkdir()
    result = export_timeline(project, out)
    media_dir = tmp_path / "edit" / "film_media"
    assert result.path == out and out.is_file()
    media = sorted(media_dir.iterdir())
    assert [p.suffix for p in media] == [".mp4"] * 3
    assert [_frames(p) for p in media] == MEDIA_FRAMES  # each shot's duration at 24 fps

    kwargs = {"rate": RATE} if suffix == ".edl" else {}
    timeline = otio.adapters.read_from_file(str(out), **kwargs)
    clips = list(timeline.find_clips())
    assert len(clips) == 3
    assert timeline.duration().rescaled_to(RATE).value == FILM
    for clip in clips:  # every clip points at a file that exists, in the media folder
        target = _path(clip.media_reference.target_url)
        assert target.is_file() and target.parent == media_dir
    markers = [m.name.lower() for c in clips for m in c.markers]
    assert all(p in markers for p in PROMPTS), markers
    text = out.read_text()

    if suffix == ".edl":
        # the CMX reader folds each dissolve's incoming side into the next clip; what it must
        # find: two 4-frame dissolves, and every clip file named in the list
        fades = [t for t in timeline.tracks[0] if isinstance(t, otio.schema.Transition)]
        assert [(f.in_offset + f.out_offset).value for f in fades] == [FADE, FADE]
        assert all(f"* TO CLIP: {p.as_uri()}" in text or p.as_uri() in text for p in media)
        assert text.count(" D 004 ") == 2
        return
    assert [c.source_range.duration.rescaled_to(RATE).value for c in clips] == SHOWN
    assert [_path(c.media_reference.target_url).name for c in clips] == [p.name for p in media]
    if suffix == ".otio":
        fades = [t for t in timeline.tracks[0] if isinstance(t, otio.schema.Transition)]
        assert [(f.in_offset.value, f.out_offset.value) for f in fades] == [(2, 2), (2, 2)]
        info = [c.metadata["sora_desktop"] for c in clips]
        assert [i["prompt"] for i in info] == PROMPTS
        shots = project.shots
        assert [i["seed"] for i in info] == [s.selected.request.seed for s in shots]
        assert all(
            i["model"] == s.selected.request.model_id for i, s in zip(info, shots, strict=True)
        )
    else:  # FCPXML: the adapter reads no transitions; Final Cut's own element must be there
        root = ET.fromstring(text.split("<!DOCTYPE fcpxml>")[-1].strip())
        fades = root.findall(".//spine/transition")
        assert [f.get("duration") for f in fades] == [f"{FADE}/{RATE}s"] * 2
        # each dissolve starts 2 frames before its cut
        assert [f.get("offset") for f in fades] == [f"{46 - 2}/{RATE}s", f"{46 + 28 - 2}/{RATE}s"]


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("sora-desktop")
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, timeout=180, env=env or os.environ.copy()
    )


def test_installed_cli_writes_the_timeline_and_refuses_bad_input(project, tmp_path):
    out = tmp_path / "film.otio"
    done = _cli("export-timeline", str(project.path), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert f"saved: {out}" in done.stdout
    assert len(list((tmp_path / "film_media").iterdir())) == 3
    before = out.read_bytes()

    again = _cli("export-timeline", str(project.path), "-o", str(out))
    assert again.returncode == 2 and "already exists" in again.stderr
    assert out.read_bytes() == before  # untouched
    forced = _cli("export-timeline", str(project.path), "-o", str(out), "--force")
    assert forced.returncode == 0, forced.stderr
    assert len(list((tmp_path / "film_media").iterdir())) == 3

    wrong = _cli("export-timeline", str(project.path), "-o", str(tmp_path / "film.mov"))
    assert wrong.returncode == 2 and ".otio, .fcpxml, .edl" in wrong.stderr
    (tmp_path / "dir.edl").mkdir()
    folder = _cli("export-timeline", str(project.path), "-o", str(tmp_path / "dir.edl"))
    assert folder.returncode == 2 and "Traceback" not in folder.stderr


def test_a_shot_without_its_clip_is_named_and_nothing_is_written(project, tmp_path):
    from sora_desktop.core.project import load_project
    from sora_desktop.studio.takes import take_clip

    copy = tmp_path / "p"
    shutil.copytree(project.path.parent, copy)
    moved = load_project(copy / project.path.name)
    take_clip(moved, moved.shots[1].selected).unlink()  # shot 2's clip is gone
    out = tmp_path / "out" / "film.edl"
    out.parent.mkdir()
    done = _cli("export-timeline", str(moved.path), "-o", str(out))
    assert done.returncode == 2
    line = done.stderr.strip()
    assert line.startswith("error:") and "shot 2" in line and "missing" in line
    assert "shot 1" not in line and "shot 3" not in line and "Traceback" not in line
    assert list(out.parent.iterdir()) == []  # no timeline, no media folder, no leftovers


def test_export_dialog_writes_the_timeline(qtbot, monkeypatch, tmp_path, project):
    import opentimelineio as otio

    from tests.ui_support import close_window, make_window

    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    window = make_window(tmp_path)
    qtbot.waitExposed(window)
    try:
        assert window.open_project(project.path)
        dialog = window.open_export_dialog()
        box = dialog.timeline
        assert box.isVisibleTo(dialog) and box.button.accessibleName()
        with qtbot.waitSignal(box.ended, timeout=120_000) as ended:  # in the background
            assert box.export_to(tmp_path / "cut.fcpxml") is not None
        assert ended.args == ["finished"], box.status.text()
        assert box.result is not None and "cut.fcpxml" in box.status.text()
        timeline = otio.adapters.read_from_file(str(tmp_path / "cut.fcpxml"))
        assert len(list(timeline.find_clips())) == 3
        with qtbot.waitSignal(box.ended, timeout=60_000) as ended:
            box.export_to(tmp_path / "cut.fcpxml")  # not replaced unasked
        assert ended.args == ["failed"] and "cut.fcpxml already exists" in box.status.text()
        dialog.close()
    finally:
        close_window(window)
