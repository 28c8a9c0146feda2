"""Settings → Models: offline, mirror and the access token, which lives in the keyring (or
huggingface_hub's token file where there is no keyring), never in settings.json."""

from __future__ import annotations

import stat
from types import SimpleNamespace

import keyring
import pytest
from fakehub import FakeHub
from keyring.backend import KeyringBackend

from sora_desktop.core import hub_token
from sora_desktop.core.catalog import is_installed, load_catalog
from sora_desktop.core.settings import Settings, load_settings, save_settings
from sora_desktop.engine import downloads as dl


class MemoryKeyring(KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.store.get((service, username))

    def set_password(self, service, username, password):
        self.store[(service, username)] = password

    def delete_password(self, service, username):
        self.store.pop((service, username), None)


@pytest.fixture
def hf_file(tmp_path, monkeypatch):
    """huggingface_hub's token file, moved into the test's folder."""
    from huggingface_hub import constants

    path = tmp_path / "hf" / "token"
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(path))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    return path


@pytest.fixture
def memory_keyring(hf_file):
    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring(hf_file):
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_the_token_goes_to_the_keyring_not_to_settings_json(memory_keyring, hf_file, home):
    assert hub_token.save_token("  hf_secret  ") == "the system keyring"
    assert memory_keyring.store == {(hub_token.SERVICE, hub_token.USERNAME): "hf_secret"}
    assert not hf_file.exists()
    assert hub_token.load_token() == "hf_secret"
    path = save_settings(Settings(hf_token="hf_secret"))
    assert "hf_secret" not in path.read_text()
    assert dl.HubConfig.from_settings(load_settings()).token == "hf_secret"
    hub_token.delete_token()
    assert hub_token.load_token() is None


def test_without_a_keyring_the_token_goes_to_huggingface_hubs_store(no_keyring, hf_file):
    assert hub_token.save_token("hf_other") == "huggingface_hub's token file"
    assert hf_file.read_text() == "hf_other"
    assert stat.S_IMODE(hf_file.stat().st_mode) == 0o600
    assert hub_token.load_token() == "hf_other"
    hub_token.delete_token()
    assert not hf_file.exists() and hub_token.load_token() is None


@pytest.mark.parametrize("bad", ["", "   ", "hf abc", "hf_\nx"])
def test_a_malformed_token_is_refused(memory_keyring, bad):
    with pytest.raises(ValueError, match="access token"):
        hub_token.save_token(bad)
    assert memory_keyring.store == {}


def test_a_gated_model_downloads_with_the_keyring_token(tmp_path, memory_keyring, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    entry = next(e for e in load_catalog() if e.id == "wan2.1-t2v-1.3b")
    with FakeHub() as hub:
        hub.add_repo(
            entry.repo_id,
            {"model_index.json": b"{}", "vae/config.json": b"{}"},
            gated_token="hf_gate",
        )
        settings = SimpleNamespace(hf_endpoint=hub.endpoint, offline=False, hf_token=None)
        with pytest.raises(dl.DownloadError, match="gated"):
            dl.ModelDownloader(tmp_path, dl.HubConfig.from_settings(settings)).download(entry)
        hub_token.save_token("hf_gate")
        dl.ModelDownloader(tmp_path, dl.HubConfig.from_settings(settings)).download(entry)
    assert is_installed(entry, tmp_path)


# ---------------------------------------------------------------------------- the dialog
def test_settings_dialog_models_section(qtbot, memory_keyring, home):
    from sora_desktop.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    assert not dialog.offline.isChecked() and dialog.mirror.text() == ""
    assert not dialog.token_remove.isEnabled()  # nothing saved yet

    dialog.mirror.setText("hf-mirror.com")  # not a web address: refused, dialog stays open
    dialog.accept()
    assert dialog.result_settings is None
    assert dialog.error.text().startswith("Mirror:")

    dialog.mirror.setText("https://hf-mirror.com")
    dialog.offline.setChecked(True)
    dialog.token.setText("hf_typed")
    dialog.accept()
    result = dialog.result_settings
    assert result is not None and result.offline and result.hf_endpoint == "https://hf-mirror.com"
    assert result.hf_token is None
    assert hub_token.load_token() == "hf_typed"
    assert "hf_typed" not in save_settings(result).read_text()

    again = SettingsDialog(result)
    qtbot.addWidget(again)
    assert again.token_remove.isEnabled() and "saved" in again.token.placeholderText()
    again.token_remove.click()
    again.accept()
    assert hub_token.load_token() is None


def test_a_token_from_an_old_settings_file_moves_to_the_keyring(qtbot, memory_keyring, home):
    import json

    from sora_desktop.core.settings import settings_path
    from sora_desktop.ui.settings_dialog import SettingsDialog

    settings_path().parent.mkdir(parents=True)
    settings_path().write_text(json.dumps({"hf_token": "hf_legacy"}))
    old = load_settings()
    assert dl.HubConfig.from_settings(old).token == "hf_legacy"  # still works this session
    dialog = SettingsDialog(old)
    qtbot.addWidget(dialog)
    dialog.accept()
    assert hub_token.load_token() == "hf_legacy"
    assert "hf_legacy" not in save_settings(dialog.result_settings).read_text()
