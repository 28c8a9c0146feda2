"""Projects: model operations, save/reopen, atomic save, hostile files, v0 migration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sora_desktop.core import project as proj
from sora_desktop.core.project import (
    MAX_SHOTS,
    PROJECT_VERSION,
    Project,
    ProjectError,
    Shot,
    Take,
    clip_relpath,
    load_project,
    media_dir,
    new_project,
    project_folder,
    relative_media,
    resolve_media,
    save_project,
)
from sora_desktop.core.request import GenerationRequest


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))


def req(prompt: str = "a red ball bounces", **kw) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, **kw)


def sample_project() -> Project:
    p = new_project("My film")
    a = p.add_shot(req("a red ball bounces", seed=1))
    b = p.add_shot(req("a blue square slides left", seed=2, num_frames=24))
    p.set_continue_from_previous(b.id, True)
    p.set_shot_title(a.id, "Opening")
    t1 = p.add_take(a.id, Take.create(a.request))
    p.update_take(a.id, t1.id, status="done", clip=clip_relpath(p, a.id, t1.id))
    t2 = p.add_take(a.id, Take.create(a.request.with_changes(seed=7)))
    p.update_take(a.id, t2.id, status="failed", error="out of memory")
    p.select_take(a.id, t1.id)
    p.settings["crossfade_frames"] = 4
    return p


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(f.relative_to(folder)): f.read_bytes() for f in folder.rglob("*") if f.is_file()}


# ---------------------------------------------------------------------- model operations
def test_add_insert_move_remove_shots_and_undo_data():
    p = new_project()
    a = p.add_shot(req("one"))
    b = p.add_shot(req("two"))
    c = p.add_shot(req("zero"), index=0)
    assert [s.id for s in p.shots] == [c.id, a.id, b.id]
    p.move_shot(c.id, 2)
    assert [s.id for s in p.shots] == [a.id, b.id, c.id]
    index, removed = p.remove_shot(b.id)
    assert (index, removed) == (1, b)
    assert [s.id for s in p.shots] == [a.id, c.id]
    p.insert_shot(index, removed)  # what undo does
    assert [s.id for s in p.shots] == [a.id, b.id, c.id]
    assert p.index_of(c.id) == 2
    assert p.previous_shot(b.id) is a and p.previous_shot(a.id) is None
    with pytest.raises(IndexError):
        p.move_shot(a.id, 3)
    with pytest.raises(ValueError):
        p.insert_shot(0, a)  # same id twice


def test_unknown_shot_is_a_clear_key_error():
    p = new_project("Film")
    with pytest.raises(KeyError, match="no shot with id 'nope'"):
        p.shot("nope")


def test_mutations_mark_dirty_and_set_request_returns_old():
    p = new_project()
    assert not p.dirty
    s = p.add_shot(req("one"))
    assert p.dirty
    old = p.set_shot_request(s.id, req("two"))
    assert old.prompt == "one" and p.shot(s.id).request.prompt == "two"


def test_duplicate_shot_gets_new_ids_and_sits_after_original():
    p = sample_project()
    first = p.shots[0]
    dup = p.duplicate_shot(first.id)
    assert p.shots[1] is dup
    assert dup.id != first.id
    assert {t.id for t in dup.takes}.isdisjoint({t.id for t in first.takes})
    assert [t.request for t in dup.takes] == [t.request for t in first.takes]
    assert [t.clip for t in dup.takes] == [t.clip for t in first.takes]
    # the selection follows to the copy of the selected take
    assert dup.selected is not None and dup.selected.clip == first.selected.clip
    assert dup.selected.id != first.selected.id
    dup.takes[0].status = "failed"
    assert first.takes[0].status == "done"  # copies, not shared objects


def test_shot_status_is_derived_from_takes():
    p = new_project()
    s = p.add_shot(req())
    assert s.status == "empty"
    t = p.add_take(s.id, Take.create(s.request))
    assert s.status == "queued"
    p.update_take(s.id, t.id, status="generating")
    assert s.status == "generating"
    p.update_take(s.id, t.id, status="failed", error="boom")
    assert s.status == "failed"
    t2 = p.add_take(s.id, Take.create(s.request))
    p.update_take(s.id, t2.id, status="done", clip="m/x.mp4")
    assert s.selected_take == t2.id and s.status == "done"
    t3 = p.add_take(s.id, Take.create(s.request))
    p.update_take(s.id, t3.id, status="cancelled")
    assert s.status == "done"  # the selected clip is still there


def test_remove_selected_take_falls_back_to_newest_done():
    p = new_project()
    s = p.add_shot(req())
    t1 = p.add_take(s.id, Take.create(s.request))
    p.update_take(s.id, t1.id, status="done", clip="m/1.mp4")
    t2 = p.add_take(s.id, Take.create(s.request))
    p.update_take(s.id, t2.id, status="done", clip="m/2.mp4")
    t3 = p.add_take(s.id, Take.create(s.request))
    p.update_take(s.id, t3.id, status="failed", error="x")
    assert s.selected_take == t2.id
    assert p.remove_take(s.id, t2.id) == (1, t2)
    assert s.selected_take == t1.id
    p.insert_take(s.id, 1, t2)
    assert [t.id for t in s.takes] == [t1.id, t2.id, t3.id]
    assert p.select_take(s.id, t2.id) == t1.id
    with pytest.raises(KeyError):
        p.select_take(s.id, "missing")


def test_seconds_follow_selected_take_and_sum():
    p = new_project()
    a = p.add_shot(req(num_frames=16, fps=8))  # 2 s
    b = p.add_shot(req(num_frames=24, fps=8))  # 3 s
    assert a.seconds == 2.0 and p.total_seconds == 5.0
    t = p.add_take(a.id, Take.create(req(num_frames=40, fps=8)))
    p.update_take(a.id, t.id, status="done", clip="m/a.mp4")
    assert a.seconds == 5.0 and p.total_seconds == 8.0
    assert b.seconds == 3.0


def test_continuation_take_is_previous_selected_done_take():
    p = sample_project()
    first, second = p.shots
    assert p.continuation_take(second.id) is first.selected
    p.set_continue_from_previous(second.id, False)
    assert p.continuation_take(second.id) is None
    assert p.continuation_take(first.id) is None


def test_take_clip_paths_are_validated():
    p = new_project()
    s = p.add_shot(req())
    t = p.add_take(s.id, Take.create(s.request))
    for bad in ("/etc/passwd", "../outside.mp4", "media/../../x.mp4", "C:\\x.mp4"):
        with pytest.raises(ProjectError):
            p.update_take(s.id, t.id, clip=bad)
    with pytest.raises(ValueError):
        p.add_take(s.id, Take(id="../evil", request=s.request))


# ---------------------------------------------------------------------- save / load
def test_save_and_reopen_gives_the_same_project(tmp_path):
    p = sample_project()
    out = save_project(p, tmp_path / "film")
    assert out == (tmp_path / "film.sdproj").absolute()
    assert p.path == out and not p.dirty
    q = load_project(out)
    assert q == p
    assert q.to_dict() == p.to_dict()
    assert q.shots[0].selected.status == "done" and q.shots[1].continue_from_previous
    assert q.path == out and not q.dirty
    data = json.loads(out.read_text())
    assert data["format"] == "sora-desktop-project" and data["version"] == PROJECT_VERSION
    assert data["shots"][0]["request"] == p.shots[0].request.to_dict()


def test_atomic_save_leaves_no_temp_files_and_keeps_bak(tmp_path):
    p = sample_project()
    out = save_project(p, tmp_path / "film.sdproj")
    first = out.read_bytes()
    # "home" is the app's own data folder (SORA_DESKTOP_HOME), not beside a user's project
    beside = lambda: sorted(f.name for f in tmp_path.iterdir() if f.name != "home")  # noqa: E731
    assert beside() == ["film.sdproj"]
    p.add_shot(req("a third shot"))
    save_project(p)
    assert beside() == ["film.sdproj", "film.sdproj.bak"]
    assert (tmp_path / "film.sdproj.bak").read_bytes() == first
    assert len(load_project(out).shots) == 3


def test_crash_during_save_keeps_previous_file(tmp_path, monkeypatch):
    p = sample_project()
    out = save_project(p, tmp_path / "film.sdproj")
    before = out.read_bytes()
    p.add_shot(req("unsaved change"))
    assert p.dirty

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(ProjectError, match="previous file on disk is unchanged"):
        save_project(p)
    monkeypatch.undo()
    assert out.read_bytes() == before
    leftovers = [f.name for f in tmp_path.iterdir() if f.name not in ("film.sdproj", "home")]
    assert leftovers == []  # no temp file, and no .bak from the failed attempt
    assert p.dirty  # still unsaved: the UI must not claim it was saved
    assert len(load_project(out).shots) == 2


def test_save_without_path_asks_for_one():
    with pytest.raises(ProjectError, match="Save As"):
        save_project(new_project())


def test_save_as_to_another_folder_copies_media(tmp_path):
    p = new_project("Film")
    s = p.add_shot(req())
    t = p.add_take(s.id, Take.create(s.request))
    p.update_take(s.id, t.id, status="done", clip=clip_relpath(p, s.id, t.id))
    unsaved_clip = resolve_media(p, t.clip)
    assert unsaved_clip.is_relative_to(tmp_path / "home")  # a never-saved project's media
    unsaved_clip.parent.mkdir(parents=True)
    unsaved_clip.write_bytes(b"clip-1")

    first = save_project(p, tmp_path / "a" / "film.sdproj")
    assert t.clip.startswith("film_media/")
    assert resolve_media(p, t.clip).read_bytes() == b"clip-1"

    second = save_project(p, tmp_path / "b" / "copy.sdproj")
    assert t.clip.startswith("copy_media/")
    assert resolve_media(p, t.clip).read_bytes() == b"clip-1"
    # the earlier project still opens with its own media
    old = load_project(first)
    assert resolve_media(old, old.shots[0].takes[0].clip).read_bytes() == b"clip-1"
    assert load_project(second).shots[0].takes[0].clip == t.clip


def test_media_paths_resolve_inside_folder_only(tmp_path):
    p = sample_project()
    save_project(p, tmp_path / "film.sdproj")
    assert media_dir(p) == tmp_path.absolute() / "film_media"
    assert project_folder(p) == tmp_path.absolute()
    good = resolve_media(p, "film_media/x/y.mp4")
    assert good == tmp_path.absolute() / "film_media" / "x" / "y.mp4"
    for bad in (
        "/etc/passwd",
        "../../etc/passwd",
        "film_media/../../x",
        "C:/Windows/x",
        "\\\\h\\s",
    ):
        with pytest.raises(ProjectError):
            resolve_media(p, bad)
    (tmp_path / "link").symlink_to(tmp_path.parent)
    with pytest.raises(ProjectError, match="outside the project folder"):
        resolve_media(p, "link/secret.txt")


def test_relative_media_round_trip_and_refusal(tmp_path):
    p = sample_project()
    save_project(p, tmp_path / "film.sdproj")
    clip = media_dir(p) / "abc.mp4"
    rel = relative_media(p, clip)
    assert rel == "film_media/abc.mp4"
    assert resolve_media(p, rel) == clip
    with pytest.raises(ProjectError):
        relative_media(p, tmp_path.parent / "elsewhere.mp4")


def test_interrupted_takes_are_marked_failed_on_open(tmp_path):
    p = new_project()
    s = p.add_shot(req())
    t = p.add_take(s.id, Take.create(s.request))
    p.update_take(s.id, t.id, status="generating")
    out = save_project(p, tmp_path / "f.sdproj")
    q = load_project(out)
    take = q.shots[0].takes[0]
    assert take.status == "failed" and "Interrupted" in take.error
    assert q.warnings and not q.dirty


# ---------------------------------------------------------------------- bad files
def _valid_text() -> str:
    return json.dumps(sample_project().to_dict(), indent=2)


def _expect_refused(path: Path, pattern: str) -> ProjectError:
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    with pytest.raises(ProjectError, match=pattern) as info:
        load_project(path)
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime
    assert "Traceback" not in str(info.value)
    return info.value


def test_not_json_is_refused(tmp_path):
    f = tmp_path / "x.sdproj"
    f.write_text("this is a shopping list, not a project\n")
    _expect_refused(f, "not valid JSON")


def test_binary_file_is_refused(tmp_path):
    f = tmp_path / "x.sdproj"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    _expect_refused(f, "not a text file")


def test_truncated_file_is_refused_and_points_to_backup(tmp_path):
    f = tmp_path / "x.sdproj"
    text = _valid_text()
    f.write_text(text[: len(text) // 2])
    (tmp_path / "x.sdproj.bak").write_text(text)
    err = _expect_refused(f, "cut off")
    assert "x.sdproj.bak" in str(err)


def test_empty_file_is_refused(tmp_path):
    f = tmp_path / "x.sdproj"
    f.write_bytes(b"")
    _expect_refused(f, "empty")


def test_json_that_is_not_a_project_is_refused(tmp_path):
    f = tmp_path / "x.sdproj"
    f.write_text(json.dumps({"name": "x", "shots": []}))
    _expect_refused(f, "not a Sora Desktop project")
    f.write_text("[1, 2, 3]")
    _expect_refused(f, "not a Sora Desktop project")


def test_corrupt_content_is_refused_with_location(tmp_path):
    data = json.loads(_valid_text())
    data["shots"][1]["request"]["steps"] = -5
    f = tmp_path / "x.sdproj"
    f.write_text(json.dumps(data))
    _expect_refused(f, r"damaged: shot 2, request: Steps")
    data = json.loads(_valid_text())
    data["shots"][0]["takes"][0]["status"] = "exploded"
    f.write_text(json.dumps(data))
    _expect_refused(f, "shot 1, take 1")
    data = json.loads(_valid_text())
    data["shots"][1]["id"] = data["shots"][0]["id"]
    f.write_text(json.dumps(data))
    _expect_refused(f, "same id")
    f.write_text(_valid_text().replace('"guidance": 4.0', '"guidance": NaN', 1))
    _expect_refused(f, "NaN")


def test_newer_version_is_refused_and_never_overwritten(tmp_path):
    data = json.loads(_valid_text())
    data["version"] = PROJECT_VERSION + 1
    f = tmp_path / "new.sdproj"
    f.write_text(json.dumps(data))
    err = _expect_refused(f, rf"newer Sora Desktop \(version {PROJECT_VERSION + 1}\)")
    assert f"reads up to {PROJECT_VERSION}" in str(err)
    before = f.read_bytes()
    with pytest.raises(ProjectError, match="newer"):
        save_project(sample_project(), f)
    assert f.read_bytes() == before
    assert not (tmp_path / "new.sdproj.bak").exists()


@pytest.mark.parametrize(
    "clip",
    ["/etc/passwd", "../../../home/user/.ssh/id_rsa", "media/../../x", "C:\\Windows\\win.ini"],
)
def test_hostile_media_paths_are_refused(tmp_path, clip):
    data = json.loads(_valid_text())
    data["shots"][0]["takes"][0]["clip"] = clip
    f = tmp_path / "evil.sdproj"
    f.write_text(json.dumps(data))
    _expect_refused(f, "absolute path|outside the project folder")


def test_hostile_ids_are_refused(tmp_path):
    data = json.loads(_valid_text())
    data["shots"][0]["id"] = "../../etc"
    f = tmp_path / "evil.sdproj"
    f.write_text(json.dumps(data))
    _expect_refused(f, "id '../../etc' is not valid")


def test_deep_nesting_is_refused(tmp_path):
    f = tmp_path / "deep.sdproj"
    f.write_text("[" * 200_000 + "]" * 200_000)
    _expect_refused(f, "nested")
    data = json.loads(_valid_text())
    nest: dict = {}
    data["shots"][0]["request"]["extra"] = nest
    for _ in range(100):
        nest["a"] = {}
        nest = nest["a"]
    f.write_text(json.dumps(data))
    _expect_refused(f, "nested more than")


def test_huge_file_is_refused_without_reading_it(tmp_path):
    f = tmp_path / "huge.sdproj"
    with open(f, "wb") as fh:
        fh.truncate(proj.MAX_PROJECT_BYTES + 1)  # sparse: no real disk use
    _expect_refused(f, "at most 50 MB")


def test_too_many_shots_is_refused(tmp_path):
    shot = {"id": "s", "request": {"prompt": "p"}, "takes": []}
    shots = [dict(shot, id=f"s{i}") for i in range(MAX_SHOTS + 1)]
    f = tmp_path / "many.sdproj"
    f.write_text(json.dumps({"format": "sora-desktop-project", "version": 1, "shots": shots}))
    _expect_refused(f, f"at most {MAX_SHOTS}")


def test_missing_file_and_folder_are_clear_errors(tmp_path):
    with pytest.raises(ProjectError, match="was not found"):
        load_project(tmp_path / "nope.sdproj")
    with pytest.raises(ProjectError, match="is a folder"):
        load_project(tmp_path)


def test_dangling_selection_opens_with_a_warning(tmp_path):
    data = json.loads(_valid_text())
    data["shots"][0]["selected_take"] = "gone"
    f = tmp_path / "x.sdproj"
    f.write_text(json.dumps(data))
    p = load_project(f)
    assert p.shots[0].selected_take is None
    assert any("selected take was missing" in w for w in p.warnings)


# ---------------------------------------------------------------------- migration
V0 = {
    "format": "sora-desktop-project",
    "version": 0,
    "title": "Old film",
    "crossfade": 3,
    "clips": [
        {
            "prompt": "a red circle moves right",
            "negative": "blurry",
            "seed": 11,
            "steps": 20,
            "guidance": 5.0,
            "frames": 24,
            "fps": 8,
            "size": [64, 48],
            "file": "clips/first.mp4",
        },
        {"prompt": "a green triangle spins", "seed": 12},
    ],
}


def test_v0_project_migrates_to_v1(tmp_path):
    f = tmp_path / "old.sdproj"
    f.write_text(json.dumps(V0))
    before = f.read_bytes()
    p = load_project(f)
    assert f.read_bytes() == before  # opening never writes
    assert p.version == PROJECT_VERSION and p.name == "Old film"
    assert p.settings["crossfade_frames"] == 3
    assert len(p.shots) == 2
    first, second = p.shots
    r = first.request
    assert (r.prompt, r.negative_prompt, r.seed, r.steps, r.guidance) == (
        "a red circle moves right",
        "blurry",
        11,
        20,
        5.0,
    )
    assert (r.num_frames, r.fps, r.width, r.height) == (24, 8, 64, 48)
    assert len(first.takes) == 1 and first.selected is first.takes[0]
    assert first.selected.clip == "clips/first.mp4" and first.selected.status == "done"
    assert second.takes == [] and second.request.seed == 12 and second.status == "empty"
    assert any("older Sora Desktop" in w for w in p.warnings)

    save_project(p)
    assert (tmp_path / "old.sdproj.bak").read_bytes() == before
    saved = json.loads(f.read_text())
    assert saved["version"] == PROJECT_VERSION and "clips" not in saved
    assert load_project(f) == p


def test_v0_with_bad_clip_is_refused(tmp_path):
    bad = json.loads(json.dumps(V0))
    bad["clips"][0]["size"] = "big"
    f = tmp_path / "old.sdproj"
    f.write_text(json.dumps(bad))
    _expect_refused(f, "clip 1")


def test_from_dict_round_trip_without_files():
    p = sample_project()
    assert Project.from_dict(p.to_dict()) == p
    assert isinstance(p.shots[0], Shot)


# ---------------------------------------------------------------------- layering
def test_core_modules_load_without_qt_or_torch():
    code = (
        "import sys\n"
        "import sora_desktop.core.project, sora_desktop.core.autosave, sora_desktop.core.jobs\n"
        "import sora_desktop.core.settings, sora_desktop.core.policy\n"
        "bad = [m for m in ('torch', 'PySide6', 'sora_desktop.engine') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
