"""Downloads against a local fake hub: progress, resume, verification, faults, import, delete."""

import hashlib
import json
import os
import threading

import pytest
from fakehub import FakeHub, FileFaults

from sora_desktop.core.catalog import MANIFEST_NAME, is_installed, load_catalog, read_manifest
from sora_desktop.engine import downloads as dl

WEIGHTS = "transformer/diffusion_pytorch_model.safetensors"


@pytest.fixture
def online(monkeypatch):
    """conftest sets HF_HUB_OFFLINE=1; these tests only talk to 127.0.0.1, so lift it here."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    # The real chunk sizes: bytes reach the disk as they arrive, nothing is shrunk for tests.


@pytest.fixture
def entry():
    return next(e for e in load_catalog() if e.id == "wan2.1-t2v-1.3b")


def repo_files(seed: int = 0) -> dict[str, bytes]:
    rnd = __import__("random").Random(seed)
    return {
        "model_index.json": b'{"_class_name": "WanPipeline"}',
        "scheduler/scheduler_config.json": b'{"shift": 3.0}',
        "vae/config.json": b'{"z_dim": 16}',
        "vae/diffusion_pytorch_model.safetensors": rnd.randbytes(50_000),
        "transformer/config.json": b'{"num_layers": 2}',
        WEIGHTS: rnd.randbytes(400_000),
        "transformer/diffusion_pytorch_model.bin": b"pickle" * 300,  # must never be fetched
        "README.md": b"# model card",  # not in the entry's patterns
    }


@pytest.fixture
def hub():
    with FakeHub() as h:
        yield h


def test_download_reports_progress_verifies_and_installs(tmp_path, online, hub, entry):
    files = repo_files()
    repo = hub.add_repo(entry.repo_id, files)
    repo.faults[WEIGHTS] = FileFaults(delay_per_chunk=0.003)  # slow enough to measure a speed
    reports: list[dl.DownloadProgress] = []
    folder = dl.ModelDownloader(tmp_path, dl.HubConfig(endpoint=hub.endpoint)).download(
        entry, progress=reports.append
    )
    assert is_installed(entry, tmp_path)
    wanted = {k: v for k, v in files.items() if not k.endswith((".bin", ".md"))}
    for rel, data in wanted.items():
        assert (folder / rel).read_bytes() == data
    assert not (folder / "transformer/diffusion_pytorch_model.bin").exists()
    assert not (folder / "README.md").exists()
    assert not hub.gets("diffusion_pytorch_model.bin")
    manifest = read_manifest(folder)
    assert {f["path"]: f["sha256"] for f in manifest["files"]} == {
        k: hashlib.sha256(v).hexdigest() for k, v in wanted.items()
    }
    assert not (folder / dl.PARTIAL_DIR).exists()
    total = sum(len(v) for v in wanted.values())
    byte_reports = [r for r in reports if r.phase == "download"]
    assert byte_reports and all(r.total_bytes == total for r in byte_reports)
    done = [r.done_bytes for r in byte_reports]
    assert done == sorted(done)
    assert any(r.speed_bps > 0 and r.eta_s is not None for r in byte_reports)
    assert reports[-1].phase == "done" and reports[-1].done_bytes == total


def test_dropped_connection_resumes_with_a_range_request(tmp_path, online, hub, entry):
    repo = hub.add_repo(entry.repo_id, repo_files())
    repo.faults[WEIGHTS] = FileFaults(drop_after=150_000)
    dl.ModelDownloader(tmp_path, dl.HubConfig(endpoint=hub.endpoint)).download(entry)
    assert is_installed(entry, tmp_path)
    ranges = [r["range"] for r in hub.gets(WEIGHTS)]
    assert ranges[0] is None and len(ranges) == 2
    start = int(ranges[1].split("=")[1].rstrip("-"))
    assert 0 < start <= 150_000


def test_corrupted_file_is_deleted_retried_and_never_installed(tmp_path, online, hub, entry):
    repo = hub.add_repo(entry.repo_id, repo_files())
    repo.faults[WEIGHTS] = FileFaults(corrupt_times=-1)
    downloader = dl.ModelDownloader(tmp_path, dl.HubConfig(endpoint=hub.endpoint))
    with pytest.raises(dl.VerificationFailed, match="SHA-256") as err:
        downloader.download(entry)
    assert WEIGHTS in str(err.value)
    assert len(hub.gets(WEIGHTS)) == 2  # first try + one retry
    folder = entry.folder(tmp_path)
    assert not is_installed(entry, tmp_path)
    assert not (folder / MANIFEST_NAME).exists()
    assert not (folder / WEIGHTS).exists()
    assert not any(p.stat().st_size == 400_000 for p in folder.rglob("*.part"))


def test_a_one_off_corruption_is_healed_by_the_retry(tmp_path, online, hub, entry):
    files = repo_files()
    repo = hub.add_repo(entry.repo_id, files)
    repo.faults[WEIGHTS] = FileFaults(corrupt_times=1)
    folder = dl.ModelDownloader(tmp_path, dl.HubConfig(endpoint=hub.endpoint)).download(entry)
    assert (folder / WEIGHTS).read_bytes() == files[WEIGHTS]
    assert len(hub.gets(WEIGHTS)) == 2


def test_missing_repo_and_missing_file_give_clear_messages(tmp_path, online, hub, entry):
    downloader = dl.ModelDownloader(tmp_path, dl.HubConfig(endpoint=hub.endpoint))
    with pytest.raises(dl.DownloadError, match="not found"):
        downloader.download(entry)
    repo = hub.add_repo(entry.repo_id, repo_files())
    repo.faults["vae/config.json"] = FileFaults(missing=True)
    with pytest.raises(dl.DownloadError, match="vae/config.json is missing"):
        downloader.download(entry)
    assert not is_installed(entry, tmp_path)


def test_gated_repo_needs_the_token_and_gets_it(tmp_path, online, hub, entry):
    hub.add_repo(entry.repo_id, repo_files(), gated_token="hf_secret")
    with pytest.raises(dl.DownloadError, match="gated.*access token"):
        dl.ModelDownloader(tmp_path, dl.HubConfig(endpoint=hub.endpoint)).download(entry)
    assert not is_installed(entry, tmp_path)
    hub.requests.clear()
    cfg = dl.HubConfig(endpoint=hub.endpoint, token="hf_secret")
    dl.ModelDownloader(tmp_path, cfg).download(entry)
    assert is_installed(entry, tmp_path)
    assert all(r["auth"] == "Bearer hf_secret" for r in hub.requests)


def test_not_enough_disk_space_stops_before_any_file_is_fetched(tmp_path, online, hub, entry):
    hub.add_repo(entry.repo_id, repo_files())
    downloader = dl.ModelDownloader(
        tmp_path, dl.HubConfig(endpoint=hub.endpoint), free_space=lambda p: 10_000_000
    )
    with pytest.raises(dl.NotEnoughSpace, match="Not enough disk space"):
        downloader.download(entry)
    assert not any("/resolve/" in r["path"] for r in hub.requests)
    assert not is_installed(entry, tmp_path)


def test_cancel_keeps_partial_data_and_a_new_run_resumes(tmp_path, online, hub, entry):
    files = repo_files()
    repo = hub.add_repo(entry.repo_id, files)
    repo.faults[WEIGHTS] = FileFaults(delay_per_chunk=0.002)
    cancel = threading.Event()

    def on_progress(p: dl.DownloadProgress) -> None:
        if p.file == WEIGHTS and p.done_bytes > 200_000:
            cancel.set()

    cfg = dl.HubConfig(endpoint=hub.endpoint)
    with pytest.raises(dl.DownloadCancelled):
        dl.ModelDownloader(tmp_path, cfg).download(entry, progress=on_progress, cancel=cancel)
    assert not is_installed(entry, tmp_path)
    kept = dl.ModelDownloader(tmp_path, cfg).partial_bytes(entry)
    assert kept > 100_000

    hub.requests.clear()
    repo.faults.clear()
    folder = dl.ModelDownloader(tmp_path, cfg).download(entry)  # as after an app restart
    assert (folder / WEIGHTS).read_bytes() == files[WEIGHTS]
    (resumed,) = hub.gets(WEIGHTS)
    assert resumed["range"] is not None and int(resumed["range"][6:-1]) > 0
    # Files finished before the cancel are not fetched again.
    assert not hub.gets("/model_index.json") and not hub.gets("transformer/config.json")


def test_offline_mode_refuses_to_download_without_touching_the_network(tmp_path, hub, entry):
    hub.add_repo(entry.repo_id, repo_files())
    cfg = dl.HubConfig(endpoint=hub.endpoint, offline=True)
    with pytest.raises(dl.DownloadError, match="Offline mode"):
        dl.ModelDownloader(tmp_path, cfg).download(entry)
    assert hub.requests == []


def _installed_copy(tmp_path, hub, entry) -> tuple[dl.ModelDownloader, os.PathLike]:
    hub.add_repo(entry.repo_id, repo_files())
    src_dir = tmp_path / "usb"
    dl.ModelDownloader(src_dir, dl.HubConfig(endpoint=hub.endpoint)).download(entry)
    target = dl.ModelDownloader(tmp_path / "models", dl.HubConfig(offline=True))
    return target, entry.folder(src_dir)


def test_import_of_a_copied_folder_is_verified_against_its_manifest(tmp_path, online, hub, entry):
    target, src = _installed_copy(tmp_path, hub, entry)
    folder = target.import_folder(entry, src)
    assert is_installed(entry, target.models_dir)
    assert read_manifest(folder)["source"] == "import"
    assert target.verify_installed(entry)


def test_import_refuses_damaged_pickled_linked_or_escaping_folders(tmp_path, online, hub, entry):
    target, src = _installed_copy(tmp_path, hub, entry)
    weights = src / WEIGHTS
    data = bytearray(weights.read_bytes())
    data[10] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(dl.VerificationFailed, match="damaged"):
        target.import_folder(entry, src)
    assert not is_installed(entry, target.models_dir)
    assert not list(target.models_dir.glob(".import-*"))

    (src / "vae/extra.pt").write_bytes(b"x")
    with pytest.raises(dl.DownloadError, match="pickle"):
        target.import_folder(entry, src)
    (src / "vae/extra.pt").unlink()

    os.symlink("/etc/hostname", src / "vae/link.json")
    with pytest.raises(dl.DownloadError, match="link"):
        target.import_folder(entry, src)
    (src / "vae/link.json").unlink()

    manifest = json.loads((src / MANIFEST_NAME).read_text())
    manifest["files"].append({"path": "../../outside.json", "size": 1, "sha256": "0" * 64})
    (src / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(dl.DownloadError, match="unsafe path"):
        target.import_folder(entry, src)
    assert not (tmp_path / "outside.json").exists()
    assert not is_installed(entry, target.models_dir)


def test_import_without_manifest_is_checked_against_the_hub(tmp_path, online, hub, entry):
    _, src = _installed_copy(tmp_path, hub, entry)
    (src / MANIFEST_NAME).unlink()
    online_target = dl.ModelDownloader(tmp_path / "m2", dl.HubConfig(endpoint=hub.endpoint))
    online_target.import_folder(entry, src)
    assert is_installed(entry, online_target.models_dir)
    # offline (issue 23): checked as a plain snapshot against the entry's patterns and hashed
    offline_target = dl.ModelDownloader(tmp_path / "m3", dl.HubConfig(offline=True))
    offline_target.import_folder(entry, src)
    assert is_installed(entry, offline_target.models_dir)
    assert read_manifest(entry.folder(offline_target.models_dir))["commit"] == "imported"


def test_delete_frees_the_space_and_installed_lists_sizes(tmp_path, online, hub, entry):
    files = repo_files()
    hub.add_repo(entry.repo_id, files)
    downloader = dl.ModelDownloader(tmp_path, dl.HubConfig(endpoint=hub.endpoint))
    downloader.download(entry)
    expected = sum(len(v) for k, v in files.items() if not k.endswith((".bin", ".md")))
    ((listed, size),) = downloader.installed(load_catalog())
    assert listed.id == entry.id and size == expected
    freed = downloader.delete(entry)
    assert freed >= expected
    assert not entry.folder(tmp_path).exists()
    assert downloader.installed(load_catalog()) == []
    with pytest.raises(dl.DownloadError, match="built in"):
        downloader.delete(load_catalog()[0])


def test_token_goes_to_the_hub_but_never_to_the_cdn(tmp_path, online, hub, entry):
    files = repo_files()
    hub.add_repo(entry.repo_id, files, gated_token="hf_secret", cdn_redirect=True)
    cfg = dl.HubConfig(endpoint=hub.endpoint, token="hf_secret")
    folder = dl.ModelDownloader(tmp_path, cfg).download(entry)
    assert (folder / WEIGHTS).read_bytes() == files[WEIGHTS]
    cdn = [r for r in hub.requests if r["path"].startswith("/cdn/")]
    assert cdn and all(r["host"] == "localhost" and r["auth"] is None for r in cdn)
    to_hub = [r for r in hub.requests if not r["path"].startswith("/cdn/")]
    assert all(r["auth"] == "Bearer hf_secret" for r in to_hub)


def test_disk_filling_up_mid_download_is_reported_and_resumable(
    tmp_path, online, hub, entry, monkeypatch
):
    import errno

    from sora_desktop.engine import transfer

    files = repo_files()
    hub.add_repo(entry.repo_id, files)
    real = transfer._write

    def full_disk(fh, data):
        if fh.name.endswith(".part") and fh.tell() > 1000:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fh, data)

    monkeypatch.setattr(transfer, "_write", full_disk)
    cfg = dl.HubConfig(endpoint=hub.endpoint)
    with pytest.raises(dl.NotEnoughSpace, match="disk filled up"):
        dl.ModelDownloader(tmp_path, cfg).download(entry)
    assert not is_installed(entry, tmp_path)
    monkeypatch.setattr(transfer, "_write", real)
    folder = dl.ModelDownloader(tmp_path, cfg).download(entry)
    assert (folder / WEIGHTS).read_bytes() == files[WEIGHTS]
