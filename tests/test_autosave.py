"""Autosave and crash recovery: a real crashed process leaves work that the next start offers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sora_desktop.core.autosave import Autosaver, default_recovery_dir
from sora_desktop.core.project import Take, load_project, new_project, save_project
from sora_desktop.core.request import GenerationRequest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))


def _project(name: str = "Storyboard"):
    p = new_project(name)
    a = p.add_shot(GenerationRequest(prompt="a red ball bounces", seed=3))
    t = p.add_take(a.id, Take.create(a.request))
    p.update_take(a.id, t.id, status="done", clip=f"x_media/{a.id}/{t.id}.mp4")
    p.add_shot(GenerationRequest(prompt="a knight fights a dragon"))
    return p


def _crash_after_autosave(recovery: Path, project_file: Path | None) -> dict:
    """Run a real process that edits, autosaves and dies without close() (os._exit)."""
    code = textwrap.dedent(
        f"""
        import json, os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from sora_desktop.core.autosave import Autosaver
        from sora_desktop.core.project import load_project, new_project, Take
        from sora_desktop.core.request import GenerationRequest
        path = {str(project_file) if project_file else None!r}
        p = load_project(path) if path else new_project("Never saved")
        s = p.add_shot(GenerationRequest(prompt="an unsaved new shot", seed=99))
        t = p.add_take(s.id, Take.create(s.request))
        p.update_take(s.id, t.id, status="generating")
        saver = Autosaver({str(recovery)!r})
        saver.write(p)
        print(json.dumps({{"pid": os.getpid(), "project": p.to_dict()}}), flush=True)
        os._exit(1)  # crash: no close(), no cleanup
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 1, out.stderr
    return json.loads(out.stdout)


def test_write_puts_a_copy_in_the_recovery_folder_only(tmp_path):
    p = _project()
    user_file = save_project(p, tmp_path / "film.sdproj")
    before = user_file.read_bytes()
    p.add_shot(GenerationRequest(prompt="unsaved"))
    saver = Autosaver(tmp_path / "rec")
    copy = saver.write(p)
    assert copy.parent == tmp_path / "rec"
    assert user_file.read_bytes() == before  # the user's file is untouched
    manifest = json.loads(copy.with_suffix(".json").read_text())
    assert manifest["original_path"] == str(user_file)
    assert manifest["project_name"] == "Storyboard" and manifest["saved_at"]
    assert json.loads(copy.read_text())["shots"][-1]["request"]["prompt"] == "unsaved"
    saver.close()


def test_write_refuses_to_overwrite_the_project_file(tmp_path):
    saver = Autosaver(tmp_path)
    p = _project()
    target = saver.recovery_path(p)
    target.write_text("the user's own file")
    p.path = target
    with pytest.raises(ValueError, match="must not write over the project file"):
        saver.write(p)
    assert target.read_text() == "the user's own file"
    saver.close()


def test_crashed_session_is_offered_and_restored(tmp_path):
    rec = tmp_path / "rec"
    user_file = save_project(_project(), tmp_path / "film.sdproj")
    saved_bytes = user_file.read_bytes()
    crashed = _crash_after_autosave(rec, user_file)

    saver = Autosaver(rec)
    pending = saver.pending()
    assert len(pending) == 1
    info = pending[0]
    assert info.original_path == user_file
    assert info.project_name == "Storyboard" and info.pid == crashed["pid"]
    assert not info.original_is_newer

    project = saver.restore(info)
    assert project.path == user_file
    assert project.dirty
    assert [s.request.prompt for s in project.shots][-1] == "an unsaved new shot"
    assert len(project.shots) == 3
    interrupted = project.shots[-1].takes[0]
    assert interrupted.status == "failed" and "Interrupted" in interrupted.error
    assert user_file.read_bytes() == saved_bytes  # restoring does not save over the file
    assert not info.path.exists()  # adopted by this session ...
    assert saver.recovery_path(project).exists()  # ... which now holds the copy
    assert saver.pending() == []
    # another instance started now must not see this live session's copy
    other = Autosaver(rec)
    assert other.pending() == []
    other.close()
    saver.close()
    assert list(rec.iterdir()) == []


def test_never_saved_project_is_recoverable(tmp_path):
    rec = tmp_path / "rec"
    _crash_after_autosave(rec, None)
    saver = Autosaver(rec)
    [info] = saver.pending()
    assert info.original_path is None and info.project_name == "Never saved"
    project = saver.restore(info)
    assert project.path is None and project.shots[0].request.seed == 99
    saver.close()


def test_clean_close_leaves_nothing_to_recover(tmp_path):
    rec = tmp_path / "rec"
    saver = Autosaver(rec)
    saver.write(_project())
    saver.write(_project("Second"))
    saver.close()
    saver.close()  # twice is fine
    assert list(rec.iterdir()) == []
    later = Autosaver(rec)
    assert later.pending() == []
    later.close()


def test_live_session_copies_are_not_offered(tmp_path):
    rec = tmp_path / "rec"
    first = Autosaver(rec)
    first.write(_project())
    second = Autosaver(rec)
    assert second.pending() == []
    second.close()
    first.close()


def test_discard_deletes_the_copy_and_stale_marker(tmp_path):
    rec = tmp_path / "rec"
    _crash_after_autosave(rec, None)
    saver = Autosaver(rec)
    [info] = saver.pending()
    saver.discard(info)
    assert saver.pending() == []
    assert sorted(p.name for p in rec.iterdir()) == [saver.marker.name]
    saver.close()


def test_clear_removes_only_that_projects_copy(tmp_path):
    saver = Autosaver(tmp_path)
    a, b = _project("A"), _project("B")
    pa, pb = saver.write(a), saver.write(b)
    saver.clear(a)
    assert not pa.exists() and pb.exists()
    saver.close()


def test_original_saved_after_the_copy_is_flagged(tmp_path):
    # issue 22: decided by the file's save counter, not the clock. The copy's time is set far
    # back (a clock that jumped), yet without a later save it is not flagged; one save of the
    # file after the copy (within the same second) flags it.
    rec = tmp_path / "rec"
    user_file = save_project(_project(), tmp_path / "film.sdproj")
    _crash_after_autosave(rec, user_file)
    saver = Autosaver(rec)
    [info] = saver.pending()
    manifest = json.loads(info.manifest.read_text())
    manifest["saved_at"] = "2000-01-01T00:00:00+00:00"
    info.manifest.write_text(json.dumps(manifest))
    [info] = saver.pending()
    assert not info.original_is_newer
    save_project(load_project(user_file))
    [info] = saver.pending()
    assert info.original_is_newer
    saver.close()


def test_broken_manifest_still_offers_the_copy(tmp_path):
    rec = tmp_path / "rec"
    _crash_after_autosave(rec, None)
    [manifest] = rec.glob("*.json")
    manifest.write_text("{ not json")
    saver = Autosaver(rec)
    [info] = saver.pending()
    assert info.project_name == "Never saved"
    assert len(saver.restore(info).shots) == 1
    saver.close()


def test_default_recovery_dir_follows_sora_desktop_home(tmp_path):
    assert default_recovery_dir() == tmp_path / "home" / "data" / "recovery"
    saver = Autosaver()
    assert saver.recovery_dir == default_recovery_dir() and saver.marker.exists()
    saver.close()
    assert not saver.marker.exists()


def test_restored_project_saves_normally(tmp_path):
    rec = tmp_path / "rec"
    user_file = save_project(_project(), tmp_path / "film.sdproj")
    _crash_after_autosave(rec, user_file)
    saver = Autosaver(rec)
    project = saver.restore(saver.pending()[0])
    save_project(project)
    assert len(load_project(user_file).shots) == 3
    saver.close()
