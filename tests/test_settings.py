"""Settings: folders, validation, atomic round trip, damaged files never stop the app."""

from __future__ import annotations

import dataclasses
import json
import stat
from pathlib import Path

import pytest

from sora_desktop.core.settings import (
    MAX_RECENT_FILES,
    Settings,
    default_paths,
    load_settings,
    save_settings,
    settings_path,
)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "home"
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(root))
    return root


def test_sora_desktop_home_moves_every_folder(home):
    paths = default_paths()
    assert paths.config == home / "config"
    assert paths.data == home / "data"
    assert paths.cache == home / "cache"
    assert paths.models == home / "models"
    assert paths.output == home / "output"
    assert paths["config"] == paths.config
    assert settings_path() == home / "config" / "settings.json"
    s = Settings()
    assert s.output_dir == str(home / "output") and s.models_dir == str(home / "models")
    assert not home.exists()  # asking for folders creates nothing


def test_without_home_the_user_folders_are_used(tmp_path, monkeypatch):
    monkeypatch.delenv("SORA_DESKTOP_HOME", raising=False)
    paths = default_paths()
    for p in (paths.config, paths.data, paths.cache):
        assert "sora-desktop" in p.parts
        assert not p.is_relative_to(tmp_path)


def test_defaults_match_the_documented_ones(home):
    s = Settings()
    assert (s.device, s.precision, s.memory_mode, s.theme) == ("auto", "auto", "balanced", "system")
    assert s.watermark and s.ai_label and s.policy_enabled
    assert s.autosave_seconds == 60 and s.recent_files == []
    assert s.hf_endpoint is None and s.hf_token is None
    assert not s.offline and not s.first_run_done


def test_round_trip_is_atomic_and_private(home):
    s = Settings(
        device="cpu",
        precision="bf16",
        memory_mode="low_vram",
        theme="dark",
        watermark=False,
        ai_label=False,
        policy_enabled=False,
        autosave_seconds=30,
        recent_files=["/a/one.sdproj", "/b/two.sdproj"],
        hf_endpoint="https://hf-mirror.com",
        hf_token="hf_secret",
        offline=True,
        first_run_done=True,
    )
    path = save_settings(s)
    assert path == settings_path()
    assert sorted(f.name for f in path.parent.iterdir()) == ["settings.json"]  # no temp files
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_settings()
    assert "hf_secret" not in path.read_text()  # the token goes to the keyring, never to JSON
    assert loaded.hf_token is None
    assert loaded == dataclasses.replace(s, hf_token=None) and loaded.warnings == []


def test_explicit_path(tmp_path, home):
    target = tmp_path / "elsewhere" / "s.json"
    save_settings(Settings(theme="light"), target)
    assert load_settings(target).theme == "light"
    assert not settings_path().exists()


@pytest.mark.parametrize(
    "field, value",
    [
        ("device", "tpu"),
        ("precision", "int4"),
        ("memory_mode", "turbo"),
        ("theme", "pink"),
        ("watermark", "yes"),
        ("ai_label", 1),
        ("policy_enabled", None),
        ("autosave_seconds", 2),
        ("autosave_seconds", 7200),
        ("autosave_seconds", 1.5),
        ("autosave_seconds", True),
        ("recent_files", ["x"] * (MAX_RECENT_FILES + 1)),
        ("recent_files", "one.sdproj"),
        ("hf_endpoint", "hf-mirror.com"),
        ("hf_token", ""),
        ("output_dir", ""),
        ("models_dir", 3),
        ("offline", "no"),
    ],
)
def test_invalid_values_name_the_field(home, field, value):
    with pytest.raises(ValueError, match=rf"^{field}: "):
        Settings(**{field: value})
    s = Settings()
    setattr(s, field, value)
    with pytest.raises(ValueError, match=rf"^{field}: "):
        save_settings(s)
    assert not settings_path().exists()


def test_autosave_zero_means_off(home):
    assert Settings(autosave_seconds=0).autosave_seconds == 0


def test_missing_file_gives_defaults_without_warning(home):
    s = load_settings()
    assert s == Settings() and s.warnings == []


@pytest.mark.parametrize("raw", [b"{ this is not json", b"\xff\xfe\x00garbage", b"[1, 2]", b""])
def test_corrupt_file_gives_defaults_and_keeps_a_copy(home, raw):
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(raw)
    s = load_settings()  # never raises
    assert s == Settings()
    assert len(s.warnings) == 1 and "damaged" in s.warnings[0]
    corrupt = path.with_name("settings.json.corrupt")
    assert corrupt.read_bytes() == raw
    assert str(corrupt) in s.warnings[0]


def test_one_bad_value_keeps_the_others(home):
    path = settings_path()
    path.parent.mkdir(parents=True)
    raw = json.dumps({"theme": "dark", "device": "quantum", "autosave_seconds": 120})
    path.write_text(raw)
    s = load_settings()
    assert s.theme == "dark" and s.autosave_seconds == 120
    assert s.device == "auto"
    assert len(s.warnings) == 1 and "device" in s.warnings[0]
    assert path.with_name("settings.json.corrupt").read_text() == raw


def test_keys_from_a_newer_version_survive_a_save(home):
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"theme": "light", "future_option": {"x": 1}}))
    s = load_settings()
    assert s.warnings == []
    save_settings(s)
    assert json.loads(path.read_text())["future_option"] == {"x": 1}


def test_recent_files_most_recent_first_unique_and_capped(home):
    s = Settings()
    for i in range(12):
        s.add_recent(f"/p/{i}.sdproj")
    s.add_recent("/p/5.sdproj")
    assert s.recent_files[0] == "/p/5.sdproj"
    assert len(s.recent_files) == MAX_RECENT_FILES
    assert s.recent_files.count("/p/5.sdproj") == 1
    assert s.recent_files[1:4] == ["/p/11.sdproj", "/p/10.sdproj", "/p/9.sdproj"]
    s.remove_recent("/p/5.sdproj")
    assert "/p/5.sdproj" not in s.recent_files
    save_settings(s)
    assert load_settings().recent_files == s.recent_files
