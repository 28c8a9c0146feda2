"""The model manager window against a fake hub: list, download with progress, pause/resume,
cancel, failure, delete and import, with the worker in its own thread."""

import time
from types import SimpleNamespace

import pytest
from fakehub import FakeHub, FileFaults

from sora_desktop.core.catalog import is_installed, load_catalog
from sora_desktop.engine.downloads import DownloadProgress
from sora_desktop.ui.model_manager import ModelManagerWindow, progress_text

WEIGHTS = "transformer/diffusion_pytorch_model.safetensors"
WAN = "wan2.1-t2v-1.3b"


@pytest.fixture
def online(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # real chunk sizes: nothing shrunk


def repo_files() -> dict[str, bytes]:
    rnd = __import__("random").Random(1)
    return {
        "model_index.json": b'{"_class_name": "WanPipeline"}',
        "vae/config.json": b"{}",
        "vae/diffusion_pytorch_model.safetensors": rnd.randbytes(30_000),
        "transformer/config.json": b"{}",
        WEIGHTS: rnd.randbytes(300_000),
    }


@pytest.fixture
def hub():
    with FakeHub() as h:
        yield h


@pytest.fixture
def window(qtbot, tmp_path, hub):
    settings = SimpleNamespace(
        models_dir=str(tmp_path / "models"),
        memory_mode="balanced",
        hf_endpoint=hub.endpoint,
        hf_token=None,
        offline=False,
    )
    w = ModelManagerWindow(settings)
    qtbot.addWidget(w)
    yield w
    w.shutdown()


def finish(qtbot, window):
    """Wait until the running job sends its one terminal signal."""
    qtbot.waitUntil(lambda: window.busy_id is None, timeout=15_000)


def test_lists_the_catalog_with_size_vram_licence_and_state(window):
    entries = load_catalog()
    assert window.table.rowCount() == len(entries)
    assert window.row_text(entries[0].id, "Status") == "Built in"
    assert window.row_text(WAN, "Status") == "Not installed"
    # the fit method's figure (core/fit.py), an estimate: marked with ~
    wan = next(e for e in entries if e.id == WAN)
    assert window.row_text(WAN, "GPU memory") == f"~{wan.min_vram_gb['balanced']:.1f} GB (balanced)"
    assert window.row_text(WAN, "Download").startswith("~")  # estimate marked
    assert window.row_text(WAN, "Licence") == "Apache-2.0"
    window.select(entries[0].id)
    assert not window.btn_download.isEnabled() and not window.btn_delete.isEnabled()


def test_download_shows_progress_and_ends_installed(qtbot, window, hub, online):
    repo = hub.add_repo("Wan-AI/Wan2.1-VACE-1.3B-diffusers", repo_files())
    repo.faults[WEIGHTS] = FileFaults(delay_per_chunk=0.003)
    texts = []
    window.worker.progress.connect(lambda p: texts.append(progress_text(p)))
    window.select(WAN)
    with qtbot.waitSignal(window.models_changed, timeout=15_000):
        window.btn_download.click()
        assert window.row_text(WAN, "Status") == "Downloading…"
        assert window.btn_pause.isEnabled() and not window.btn_download.isEnabled()
    assert window.row_text(WAN, "Status").startswith("Installed (")
    assert "installed and verified" in window.status_label.text()
    assert any(" of " in t and "/s" in t for t in texts)
    assert window.progress_bar.value() == 1000


def test_pause_keeps_data_and_resume_finishes(qtbot, window, hub, online):
    repo = hub.add_repo("Wan-AI/Wan2.1-VACE-1.3B-diffusers", repo_files())
    repo.faults[WEIGHTS] = FileFaults(delay_per_chunk=0.01)
    window.select(WAN)
    window.btn_download.click()
    qtbot.waitUntil(lambda: window.progress_bar.value() > 200, timeout=15_000)
    window.btn_pause.click()
    finish(qtbot, window)
    assert window.row_text(WAN, "Status").startswith("Paused (")
    assert window.btn_download.text() == "Resume"
    repo.faults.clear()
    with qtbot.waitSignal(window.models_changed, timeout=15_000):
        window.btn_download.click()
    assert window.row_text(WAN, "Status").startswith("Installed")
    resumed = hub.gets(WEIGHTS)[-1]
    assert resumed["range"] is not None


def test_cancel_deletes_the_partial_download(qtbot, window, hub, online):
    repo = hub.add_repo("Wan-AI/Wan2.1-VACE-1.3B-diffusers", repo_files())
    repo.faults[WEIGHTS] = FileFaults(delay_per_chunk=0.01)
    window.select(WAN)
    window.btn_download.click()
    qtbot.waitUntil(lambda: window.progress_bar.value() > 100, timeout=15_000)
    window.btn_cancel.click()
    finish(qtbot, window)
    assert "cancelled" in window.status_label.text()
    assert window.row_text(WAN, "Status") == "Not installed"
    entry = next(e for e in load_catalog() if e.id == WAN)
    assert not entry.folder(window.models_dir).exists()


def test_failure_is_shown_and_nothing_is_installed(qtbot, window, hub, online):
    window.select(WAN)  # the fake hub has no such repo: 404
    window.btn_download.click()
    finish(qtbot, window)
    assert "was not found" in window.status_label.text()
    assert window.row_text(WAN, "Status") == "Not installed"
    assert window.btn_download.isEnabled()


def test_delete_frees_space_and_import_reinstalls(qtbot, window, hub, online, tmp_path):
    hub.add_repo("Wan-AI/Wan2.1-VACE-1.3B-diffusers", repo_files())
    window.select(WAN)
    with qtbot.waitSignal(window.models_changed, timeout=15_000):
        window.btn_download.click()
    entry = next(e for e in load_catalog() if e.id == WAN)
    # Keep a copy, as if on a USB stick, before deleting.
    import shutil

    usb = tmp_path / "usb"
    shutil.copytree(entry.folder(window.models_dir), usb)

    window.confirm = lambda title, text: False
    window.btn_delete.click()
    assert is_installed(entry, window.models_dir)  # said no

    window.confirm = lambda title, text: True
    with qtbot.waitSignal(window.models_changed, timeout=5_000):
        window.btn_delete.click()
    assert "freed" in window.status_label.text()
    assert window.row_text(WAN, "Status") == "Not installed"

    window.pick_folder = lambda: str(usb)
    with qtbot.waitSignal(window.models_changed, timeout=15_000):
        window.btn_import.click()
    assert window.row_text(WAN, "Status").startswith("Installed")


def test_progress_text_has_bytes_speed_and_eta():
    p = DownloadProgress("m", "download", "f", 1, 3, 1_200_000_000, 17_500_000_000, 35e6, 360)
    assert progress_text(p) == "1.2 GB of 17.5 GB · 35.0 MB/s · 6 min left"


def test_pause_on_a_1_mbit_link_reacts_at_once_and_keeps_the_bytes(qtbot, window, hub, online):
    """The real chunk size: progress must move, and Pause must answer, long before 10 MB."""
    files = repo_files()
    files[WEIGHTS] = bytes(range(256)) * 12_000  # 3 MB: 24 s at 1 Mbit/s
    repo = hub.add_repo("Wan-AI/Wan2.1-VACE-1.3B-diffusers", files)
    repo.faults[WEIGHTS] = FileFaults(rate_bps=125_000)
    window.select(WAN)
    window.btn_download.click()
    qtbot.waitUntil(lambda: window.progress_bar.value() > 30, timeout=5_000)
    t0 = time.monotonic()
    window.btn_pause.click()
    finish(qtbot, window)
    assert time.monotonic() - t0 < 1.0
    assert window.row_text(WAN, "Status").startswith("Paused (")
    entry = next(e for e in load_catalog() if e.id == WAN)
    kept = sum(p.stat().st_size for p in entry.folder(window.models_dir).rglob("*.part"))
    assert kept > 90_000


def test_closing_the_window_during_a_stalled_download_ends_it_cleanly(qtbot, window, hub, online):
    files = repo_files()
    repo = hub.add_repo("Wan-AI/Wan2.1-VACE-1.3B-diffusers", files)
    repo.faults[WEIGHTS] = FileFaults(stall_after=100_000)
    window.select(WAN)
    window.btn_download.click()
    qtbot.waitUntil(lambda: window.progress_bar.value() > 200, timeout=5_000)
    time.sleep(0.5)  # the read is stalled now
    t0 = time.monotonic()
    window.close()
    assert time.monotonic() - t0 < 2.0
    assert not window._thread.isRunning()
    entry = next(e for e in load_catalog() if e.id == WAN)
    assert not is_installed(entry, window.models_dir)
    kept = sum(p.stat().st_size for p in entry.folder(window.models_dir).rglob("*.part"))
    assert kept >= 100_000  # paused, not thrown away


def test_one_manager_at_a_time_and_the_main_window_stops_its_download(qtbot, tmp_path, hub, online):
    """A second 'Model manager…' raises the running one (two could write one part file), and
    closing the main window pauses the download and joins its thread."""
    from tests.ui_support import close_window, make_window

    files = repo_files()
    files[WEIGHTS] = bytes(range(256)) * 8_000  # 2 MB at 1 Mbit/s: 16 s
    repo = hub.add_repo("Wan-AI/Wan2.1-VACE-1.3B-diffusers", files)
    repo.faults[WEIGHTS] = FileFaults(rate_bps=125_000)
    w = make_window(tmp_path)
    try:
        w.settings.hf_endpoint = hub.endpoint
        w.open_model_manager()
        first = w.model_manager
        first.select(WAN)
        first.btn_download.click()
        qtbot.waitUntil(lambda: first.progress_bar.value() > 30, timeout=5_000)
        first.hide()  # out of sight, still downloading
        w.open_model_manager()
        assert w.model_manager is first and first.isVisible()
        t0 = time.monotonic()
        w.shutdown()
        assert time.monotonic() - t0 < 2.0
        assert not first._thread.isRunning()
    finally:
        close_window(w)
    entry = next(e for e in load_catalog() if e.id == WAN)
    assert not is_installed(entry, first.models_dir)
    assert sum(p.stat().st_size for p in entry.folder(first.models_dir).rglob("*.part")) > 0
