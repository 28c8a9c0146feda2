"""Catalog VARIANTS (``"variants": {"i2v": {...}}``): validated strictly, downloaded by the real
downloader from a second repo of the fake hub into ``<model folder>/i2v`` with its own manifest,
installed only when the entry and every variant are complete, resumable, refused when the hub
lies, deleted with the model, and imported from a copied folder's ``i2v/`` subfolder."""

from __future__ import annotations

import hashlib
import shutil
import threading

import pytest
from fakehub import FakeHub, FileFaults

from sora_desktop.core.catalog import (
    MANIFEST_NAME,
    CatalogEntry,
    installed_size,
    is_installed,
    read_manifest,
)
from sora_desktop.engine import downloads as dl

MAIN_WEIGHTS = "transformer/diffusion_pytorch_model.safetensors"
I2V_WEIGHTS = "transformer/diffusion_pytorch_model.safetensors"
ENCODER = "image_encoder/model.safetensors"


def entry_dict() -> dict:
    return {
        "id": "acme/hy15",
        "name": "Acme Video 1.5",
        "backend": "diffusers",
        "kind": "video",
        "repo_id": "acme/hy15-t2v",
        "revision": "main",
        "files": ["model_index.json", "vae/*", "transformer/*", "text_encoder/*"],
        "download_bytes": 1,
        "variants": {
            "i2v": {
                "repo_id": "acme/hy15-i2v",
                "revision": "main",
                "files": ["model_index.json", "transformer/*", "image_encoder/*"],
                "download_bytes": 1,
            }
        },
        "license": "Apache-2.0",
        "min_vram_gb": {"fast": 1, "balanced": 1, "low_vram": 1},
        "min_ram_gb": {"fast": 1, "balanced": 1, "low_vram": 1},
        "pipeline": "HunyuanVideo15Pipeline",
        "description": "test",
    }


def main_files() -> dict[str, bytes]:
    rnd = __import__("random").Random(1)
    return {
        "model_index.json": b'{"_class_name": "HunyuanVideo15Pipeline"}',
        "vae/config.json": b'{"latent_channels": 4}',
        "vae/diffusion_pytorch_model.safetensors": rnd.randbytes(40_000),
        "transformer/config.json": b'{"task_type": "t2v"}',
        MAIN_WEIGHTS: rnd.randbytes(120_000),
        "text_encoder/model.safetensors": rnd.randbytes(30_000),
        "README.md": b"not wanted",
    }


def i2v_files() -> dict[str, bytes]:
    rnd = __import__("random").Random(2)
    return {
        "model_index.json": b'{"_class_name": "HunyuanVideo15ImageToVideoPipeline"}',
        "transformer/config.json": b'{"task_type": "i2v"}',
        I2V_WEIGHTS: rnd.randbytes(300_000),
        "image_encoder/config.json": b'{"hidden_size": 12}',
        ENCODER: rnd.randbytes(20_000),
        "image_encoder/model.bin": b"pickle" * 100,  # never fetched
    }


def wanted(files: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in files.items() if not k.endswith((".md", ".bin"))}


@pytest.fixture
def online(monkeypatch):
    """conftest sets HF_HUB_OFFLINE=1; these tests only talk to 127.0.0.1, so lift it here."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def entry() -> CatalogEntry:
    return CatalogEntry.from_dict(entry_dict())


@pytest.fixture
def hub():
    with FakeHub() as h:
        yield h


def repos(hub):
    return hub.add_repo("acme/hy15-t2v", main_files()), hub.add_repo("acme/hy15-i2v", i2v_files())


# ---------------------------------------------------------------------------- catalog
def _bad(change) -> dict:
    data = entry_dict()
    change(data)
    return data


BAD_VARIANTS = {
    "not an object": lambda d: d.update(variants=["i2v"]),
    "unknown variant": lambda d: d["variants"].update(t2v=d["variants"]["i2v"]),
    "unknown key": lambda d: d["variants"]["i2v"].update(sha="x"),
    "repo not owner/name": lambda d: d["variants"]["i2v"].update(repo_id="hy15-i2v"),
    "no repo": lambda d: d["variants"]["i2v"].pop("repo_id"),
    "no files": lambda d: d["variants"]["i2v"].update(files=[]),
    "empty file pattern": lambda d: d["variants"]["i2v"].update(files=[""]),
    "negative size": lambda d: d["variants"]["i2v"].update(download_bytes=-1),
    "bool size": lambda d: d["variants"]["i2v"].update(download_bytes=True),
    "float size": lambda d: d["variants"]["i2v"].update(download_bytes=1.5),
    "empty revision": lambda d: d["variants"]["i2v"].update(revision=""),
    "variant not an object": lambda d: d["variants"].update(i2v="acme/x"),
}


@pytest.mark.parametrize("case", sorted(BAD_VARIANTS))
def test_a_malformed_variant_is_refused_naming_the_field(case):
    with pytest.raises(ValueError, match=r"catalog\[acme/hy15\]\.variants"):
        CatalogEntry.from_dict(_bad(BAD_VARIANTS[case]))


def test_variants_parse_into_their_own_download_unit(tmp_path, entry):
    assert set(entry.variants) == {"i2v"} and "variants" not in entry.extra
    unit = entry.variant_entry("i2v")
    assert (unit.id, unit.repo_id, unit.variant) == (entry.id, "acme/hy15-i2v", "i2v")
    assert unit.folder(tmp_path) == entry.folder(tmp_path) / "i2v"
    assert entry.install_bytes == 2
    plain = CatalogEntry.from_dict({k: v for k, v in entry_dict().items() if k != "variants"})
    assert plain.variants == {} and plain.units() == [plain]


# ---------------------------------------------------------------------------- download
def test_download_installs_the_entry_and_its_variant(tmp_path, online, hub, entry):
    repos(hub)
    reports: list[dl.DownloadProgress] = []
    folder = dl.ModelDownloader(tmp_path, dl.HubConfig(endpoint=hub.endpoint)).download(
        entry, progress=reports.append
    )
    assert is_installed(entry, tmp_path)
    for rel, data in wanted(main_files()).items():
        assert (folder / rel).read_bytes() == data
    for rel, data in wanted(i2v_files()).items():
        assert (folder / "i2v" / rel).read_bytes() == data
    assert not (folder / "i2v/image_encoder/model.bin").exists()
    variant = read_manifest(folder / "i2v")
    assert variant["variant"] == "i2v" and variant["model_id"] == entry.id
    assert variant["repo_id"] == "acme/hy15-i2v"
    assert {f["path"]: f["sha256"] for f in variant["files"]} == {
        k: hashlib.sha256(v).hexdigest() for k, v in wanted(i2v_files()).items()
    }
    total = sum(map(len, wanted(main_files()).values())) + sum(
        map(len, wanted(i2v_files()).values())
    )
    byte_reports = [r for r in reports if r.phase == "download"]
    assert byte_reports and all(r.total_bytes == total for r in byte_reports)
    assert any(r.file == f"i2v/{I2V_WEIGHTS}" for r in reports)  # named with its folder
    assert reports[-1].phase == "done" and reports[-1].done_bytes == total
    assert installed_size(entry, tmp_path) == total
    assert not (folder / dl.PARTIAL_DIR).exists() and not (folder / "i2v" / dl.PARTIAL_DIR).exists()


def test_an_interrupted_variant_is_not_installed_and_resumes(tmp_path, online, hub, entry):
    _main, i2v = repos(hub)
    i2v.faults[I2V_WEIGHTS] = FileFaults(delay_per_chunk=0.002)
    cancel = threading.Event()

    def on_progress(p: dl.DownloadProgress) -> None:
        if p.file == f"i2v/{I2V_WEIGHTS}" and p.done_bytes > 250_000:
            cancel.set()

    cfg = dl.HubConfig(endpoint=hub.endpoint)
    with pytest.raises(dl.DownloadCancelled):
        dl.ModelDownloader(tmp_path, cfg).download(entry, progress=on_progress, cancel=cancel)
    folder = entry.folder(tmp_path)
    assert read_manifest(folder) is not None  # the main part is complete ...
    assert not is_installed(entry, tmp_path)  # ... but the model is not installed without i2v
    assert dl.ModelDownloader(tmp_path, cfg).partial_bytes(entry) > 200_000

    hub.requests.clear()
    i2v.faults.clear()
    dl.ModelDownloader(tmp_path, cfg).download(entry)  # as after an app restart
    assert is_installed(entry, tmp_path)
    assert (folder / "i2v" / I2V_WEIGHTS).read_bytes() == i2v_files()[I2V_WEIGHTS]
    (resumed,) = hub.gets(f"hy15-i2v/resolve/{i2v.commit}/{I2V_WEIGHTS}")
    assert resumed["range"] is not None and int(resumed["range"][6:-1]) > 0
    assert not hub.gets(f"hy15-t2v/resolve/{_main.commit}/{MAIN_WEIGHTS}")  # kept, not fetched


def test_a_damaged_or_missing_variant_folder_means_not_installed(tmp_path, online, hub, entry):
    repos(hub)
    cfg = dl.HubConfig(endpoint=hub.endpoint)
    folder = dl.ModelDownloader(tmp_path, cfg).download(entry)
    with open(folder / "i2v" / ENCODER, "ab") as fh:
        fh.write(b"x")
    assert not is_installed(entry, tmp_path)
    (folder / "i2v" / ENCODER).write_bytes(i2v_files()[ENCODER])
    assert is_installed(entry, tmp_path)
    shutil.rmtree(folder / "i2v")
    assert not is_installed(entry, tmp_path)
    dl.ModelDownloader(tmp_path, cfg).download(entry)  # fetches the variant again
    assert is_installed(entry, tmp_path)


@pytest.mark.parametrize("size", [-1, "12", 2**62], ids=repr)
def test_a_hub_lying_about_a_variant_size_is_refused_before_any_byte(
    tmp_path, online, hub, entry, size
):
    _main, i2v = repos(hub)
    i2v.listing_patch[ENCODER] = {"size": size}
    with pytest.raises(dl.DownloadError, match="size"):
        dl.ModelDownloader(tmp_path, dl.HubConfig(endpoint=hub.endpoint)).download(entry)
    assert not any("/resolve/" in r["path"] for r in hub.requests)  # every listing first
    assert not is_installed(entry, tmp_path)


def test_a_missing_variant_repo_is_named_and_nothing_is_fetched(tmp_path, online, hub, entry):
    _main, i2v = repos(hub)
    i2v.missing = True
    with pytest.raises(dl.DownloadError, match="acme/hy15-i2v was not found"):
        dl.ModelDownloader(tmp_path, dl.HubConfig(endpoint=hub.endpoint)).download(entry)
    assert not any("/resolve/" in r["path"] for r in hub.requests)
    assert not is_installed(entry, tmp_path)


def test_a_variant_body_longer_than_declared_is_stopped(tmp_path, online, hub, entry):
    _main, i2v = repos(hub)
    i2v.faults[I2V_WEIGHTS] = FileFaults(extra_bytes=2_000_000)
    with pytest.raises(dl.DownloadError, match="more than the 300,000 bytes it declared"):
        dl.ModelDownloader(tmp_path, dl.HubConfig(endpoint=hub.endpoint)).download(entry)
    assert not (entry.folder(tmp_path) / "i2v" / I2V_WEIGHTS).exists()
    assert read_manifest(entry.folder(tmp_path) / "i2v") is None
    assert not is_installed(entry, tmp_path)


def test_a_variant_corrupted_in_transit_is_never_installed(tmp_path, online, hub, entry):
    _main, i2v = repos(hub)
    i2v.faults[I2V_WEIGHTS] = FileFaults(corrupt_times=-1)
    with pytest.raises(dl.VerificationFailed):
        dl.ModelDownloader(tmp_path, dl.HubConfig(endpoint=hub.endpoint)).download(entry)
    assert not (entry.folder(tmp_path) / "i2v" / I2V_WEIGHTS).exists()
    assert not is_installed(entry, tmp_path)


def test_not_enough_space_counts_the_variant(tmp_path, online, hub, entry):
    repos(hub)
    main_bytes = sum(map(len, wanted(main_files()).values()))
    room = main_bytes + dl.SPACE_MARGIN_BYTES + 1000  # the main repo fits, the variant not
    downloader = dl.ModelDownloader(
        tmp_path, dl.HubConfig(endpoint=hub.endpoint), free_space=lambda p: room
    )
    with pytest.raises(dl.NotEnoughSpace):
        downloader.download(entry)
    assert not any("/resolve/" in r["path"] for r in hub.requests)


def test_delete_removes_the_variant_too(tmp_path, online, hub, entry):
    repos(hub)
    downloader = dl.ModelDownloader(tmp_path, dl.HubConfig(endpoint=hub.endpoint))
    folder = downloader.download(entry)
    assert (folder / "i2v" / I2V_WEIGHTS).is_file()
    on_disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert downloader.delete(entry) == on_disk
    assert not folder.exists() and not is_installed(entry, tmp_path)
    assert downloader.installed([entry]) == []


# ---------------------------------------------------------------------------- import
def _installed_copy(tmp_path, hub, entry):
    repos(hub)
    src_models = tmp_path / "usb"
    dl.ModelDownloader(src_models, dl.HubConfig(endpoint=hub.endpoint)).download(entry)
    target = dl.ModelDownloader(tmp_path / "models", dl.HubConfig(offline=True))
    return target, entry.folder(src_models)


def test_import_takes_the_variant_subfolder_verified(tmp_path, online, hub, entry):
    target, src = _installed_copy(tmp_path, hub, entry)
    folder = target.import_folder(entry, src)
    assert is_installed(entry, target.models_dir)
    assert read_manifest(folder / "i2v")["source"] == "import"
    assert (folder / "i2v" / I2V_WEIGHTS).read_bytes() == i2v_files()[I2V_WEIGHTS]
    assert target.verify_installed(entry)
    assert not list(target.models_dir.glob(".import-*"))


def test_import_without_the_variant_subfolder_is_refused(tmp_path, online, hub, entry):
    target, src = _installed_copy(tmp_path, hub, entry)
    shutil.rmtree(src / "i2v")
    with pytest.raises(dl.DownloadError, match="no i2v/ folder"):
        target.import_folder(entry, src)
    assert not entry.folder(target.models_dir).exists()


def test_import_of_a_damaged_variant_installs_nothing(tmp_path, online, hub, entry):
    target, src = _installed_copy(tmp_path, hub, entry)
    data = bytearray((src / "i2v" / ENCODER).read_bytes())
    data[10] ^= 0xFF
    (src / "i2v" / ENCODER).write_bytes(bytes(data))
    with pytest.raises(dl.VerificationFailed):
        target.import_folder(entry, src)
    assert not entry.folder(target.models_dir).exists()
    assert not list(target.models_dir.glob(".import-*"))


def test_import_of_a_plain_variant_without_manifest_is_checked_against_the_hub(
    tmp_path, online, hub, entry
):
    target, src = _installed_copy(tmp_path, hub, entry)
    (src / "i2v" / MANIFEST_NAME).unlink()
    online_target = dl.ModelDownloader(target.models_dir, dl.HubConfig(endpoint=hub.endpoint))
    online_target.import_folder(entry, src)
    assert is_installed(entry, target.models_dir)
    assert read_manifest(entry.folder(target.models_dir) / "i2v")["repo_id"] == "acme/hy15-i2v"


def test_a_variant_manifest_is_not_mistaken_for_the_main_one(tmp_path, online, hub, entry):
    """A model folder holding only the variant's files (its manifest at the top, same model
    id) is not an installed model."""
    repos(hub)
    folder = dl.ModelDownloader(tmp_path, dl.HubConfig(endpoint=hub.endpoint)).download(entry)
    plain = CatalogEntry.from_dict({k: v for k, v in entry_dict().items() if k != "variants"})
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(folder / "i2v", plain.folder(elsewhere))
    assert read_manifest(plain.folder(elsewhere))["model_id"] == plain.id
    assert not is_installed(plain, elsewhere)
