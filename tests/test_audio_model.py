"""The soundtrack's data: audio items, per-shot mute, the v1 -> v2 migration, hostile files,
Save As carrying the sound files."""

from __future__ import annotations

import json

import pytest

from sora_desktop.core.errors import FieldError
from sora_desktop.core.export_settings import ExportSettings, sound_dropped_message
from sora_desktop.core.project import (
    MAX_AUDIO_ITEMS,
    PROJECT_VERSION,
    AudioItem,
    MusicRequest,
    ProjectError,
    audio_relpath,
    fade_gain,
    load_project,
    new_project,
    resolve_media,
    save_project,
)
from sora_desktop.core.request import GenerationRequest


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))


def item(**kw) -> AudioItem:
    base = {"id": "a1", "file": "film_media/audio/a1.wav", "name": "song.wav"}
    base["source_seconds"] = 10.0
    return AudioItem(**{**base, **kw})


def test_item_defaults_play_the_whole_file():
    a = item(start=2)
    assert (a.start, a.trim_in, a.duration, a.end) == (2.0, 0.0, 10.0, 12.0)
    assert a.gain == 1.0
    assert item(volume_db=-6.0).gain == pytest.approx(10 ** (-6 / 20))


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"start": -1}, "start", "allowed 0"),
        ({"trim_in": 10}, "trim_in", "skips the whole file"),
        ({"trim_in": 4, "duration": 7}, "duration", "allowed 0 to 6"),
        ({"volume_db": 20}, "volume_db", "-60 to 12 dB"),
        ({"volume_db": float("inf")}, "volume_db", "not a number"),
        ({"fade_in": 6, "fade_out": 5}, "fade_out", "longer than the clip"),
        ({"fade_in": True}, "fade_in", "not a number"),
        ({"kind": "speech"}, "kind", "not allowed"),
        ({"file": "/etc/passwd"}, "file", "absolute"),
        ({"file": "a/../../x.wav"}, "file", "outside"),
        ({"id": "../x"}, "id", "not valid"),
        ({"name": "a\0b"}, "name", "NUL"),
    ],
)
def test_bad_values_name_the_field(changes, field, words):
    with pytest.raises(FieldError) as err:
        item().with_changes(**changes)
    assert err.value.field == field and words in err.value.message


def test_fade_law_is_linear_amplitude():
    assert fade_gain(0.0, 10, 2, 4) == 0.0
    assert fade_gain(0.5, 10, 2, 4) == pytest.approx(0.25)
    assert fade_gain(5.0, 10, 2, 4) == 1.0
    assert fade_gain(9.0, 10, 2, 4) == pytest.approx(0.25)
    assert fade_gain(10.5, 10, 2, 4) == 0.0
    assert item(start=3, fade_in=2).fade_gain(4.0) == pytest.approx(0.5)


def test_project_audio_methods_return_what_undo_needs():
    p = new_project("Film")
    a = p.add_audio(item())
    b = p.add_audio(item(id="b2", start=5))
    assert [x.id for x in p.audio] == ["a1", "b2"]
    old = p.update_audio("a1", start=1.5, volume_db=-3)
    assert old == a and p.audio_item("a1").start == 1.5 and p.dirty
    with pytest.raises(FieldError, match="fade_out"):
        p.update_audio("a1", fade_in=8, fade_out=8)
    assert p.audio_item("a1").fade_in == 0.0  # a refused change changes nothing
    p.replace_audio(old)
    assert p.audio_item("a1") == a
    index, removed = p.remove_audio("b2")
    assert (index, removed) == (1, b) and len(p.audio) == 1
    p.insert_audio(index, removed)
    assert p.audio[1] == b
    with pytest.raises(ValueError, match="already"):
        p.add_audio(b)
    with pytest.raises(KeyError):
        p.remove_audio("nope")


def test_shot_mute_is_saved(tmp_path):
    p = new_project("Film")
    s = p.add_shot(GenerationRequest("a red ball"))
    assert p.set_shot_mute(s.id, True) is False
    with pytest.raises(FieldError):
        p.set_shot_mute(s.id, "yes")
    p.add_audio(
        item(kind="generated", request=MusicRequest("calm piano", "stable-audio", 8.0, seed=3))
    )
    p.set_export_settings(p.export_settings.with_changes(normalize_loudness=True))
    f = save_project(p, tmp_path / "film.sdproj")
    data = json.loads(f.read_text())
    assert data["version"] == PROJECT_VERSION == 2
    q = load_project(f)
    assert q.shots[0].mute is True and q.audio == p.audio
    assert q.audio[0].request.prompt == "calm piano"
    assert q.export_settings.normalize_loudness is True
    assert p.duplicate_shot(s.id).mute is True


V1 = {
    "format": "sora-desktop-project",
    "version": 1,
    "id": "abc",
    "name": "Old film",
    "settings": {"crossfade_frames": 2},
    "shots": [{"id": "s1", "request": {"prompt": "a red ball"}, "takes": []}],
}


def test_v1_project_migrates_to_v2(tmp_path):
    f = tmp_path / "old.sdproj"
    f.write_text(json.dumps(V1))
    before = f.read_bytes()
    p = load_project(f)
    assert f.read_bytes() == before  # opening never writes
    assert p.audio == [] and p.shots[0].mute is False and p.version == 2
    assert any("older Sora Desktop (version 1)" in w for w in p.warnings)
    save_project(p)
    assert (tmp_path / "old.sdproj.bak").read_bytes() == before
    saved = json.loads(f.read_text())
    assert saved["version"] == 2 and saved["audio"] == []
    assert saved["shots"][0]["mute"] is False


def test_a_newer_file_is_refused_unchanged(tmp_path):
    # what a version-1 app does with this app's files: the same rule, one version up
    data = new_project("x").to_dict()
    data["version"] = PROJECT_VERSION + 1
    f = tmp_path / "new.sdproj"
    f.write_text(json.dumps(data))
    with pytest.raises(ProjectError, match=r"newer Sora Desktop \(version 3\)"):
        load_project(f)


@pytest.mark.parametrize(
    ("audio", "words"),
    [
        ("x", "audio: expected a list"),
        ([{"id": "a", "file": "a.wav"}], "Source seconds: is missing"),  # the setting in words
        ([{"id": "a", "file": "C:\\x.wav", "source_seconds": 1}], "absolute"),
        ([{"id": "a", "file": "a.wav", "source_seconds": 1, "start": 1e300}], "Starts at"),
        ([{"id": "a", "file": "a.wav", "source_seconds": 1, "bogus": 1}], None),
        (
            [{"id": "a", "file": "a.wav", "source_seconds": 1, "request": {"prompt": 3}}],
            "Shot settings",
        ),
        ([{"id": "a", "file": "a.wav", "source_seconds": 1}] * 2, "same id"),
        ([{"id": str(i), "file": "a.wav", "source_seconds": 1} for i in range(201)], "at most"),
    ],
)
def test_hostile_audio_in_a_file(tmp_path, audio, words):
    data = new_project("x").to_dict()
    data["audio"] = audio
    f = tmp_path / "bad.sdproj"
    f.write_text(json.dumps(data))
    if words is None:  # unknown keys are ignored, like elsewhere in the file
        assert len(load_project(f).audio) == 1
        return
    with pytest.raises(ProjectError, match="damaged") as err:
        load_project(f)
    assert words in str(err.value)
    assert MAX_AUDIO_ITEMS == 200


def test_save_as_carries_the_sound_files(tmp_path):
    p = new_project("Film")
    save_project(p, tmp_path / "a" / "film.sdproj")
    rel = audio_relpath(p, "a1", ".WAV")
    assert rel == "film_media/audio/a1.wav"
    src = resolve_media(p, rel)
    src.parent.mkdir(parents=True)
    src.write_bytes(b"RIFF....")
    p.add_audio(item(file=rel))
    out = save_project(p, tmp_path / "b" / "copy.sdproj")
    assert p.audio[0].file == "copy_media/audio/a1.wav"
    assert (out.parent / "copy_media" / "audio" / "a1.wav").read_bytes() == b"RIFF...."
    assert load_project(out).audio[0].file == "copy_media/audio/a1.wav"


def test_a_sound_link_out_of_the_folder_is_noted(tmp_path):
    p = new_project("Film")
    f = save_project(p, tmp_path / "film.sdproj")
    (tmp_path / "film_media").mkdir()
    (tmp_path / "film_media" / "loop.wav").symlink_to(tmp_path / "film_media" / "loop.wav")
    p.add_audio(item(file="film_media/loop.wav"))
    save_project(p)
    q = load_project(f)
    assert any("sound clip 1" in w and "link loop" in w for w in q.warnings)


def test_loudness_setting_and_the_sound_dropped_message():
    with pytest.raises(FieldError, match="normalize_loudness"):
        ExportSettings(normalize_loudness="yes")
    assert ExportSettings(format="gif").keeps_sound is False
    assert ExportSettings(format="webm").keeps_sound is True
    assert sound_dropped_message("gif").startswith("A GIF cannot hold sound")
    assert sound_dropped_message("png").startswith("A folder of PNG frames cannot hold sound")
