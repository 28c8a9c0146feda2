"""FramePack as the catalog ships it: the main repository (HunyuanVideo's text encoders,
tokenizers, VAE, scheduler; its model_index.json names HunyuanVideoPipeline and no image
encoder) plus two ``extra_repos`` (the FramePack transformer into ``transformer/``, the SigLIP
image encoder and processor into the model folder). Served from the fake hub under the real
repository names with the real catalog entry's file patterns, installed by the real
downloader (each repo's listing checked first, interrupted and resumed, installed only when
all are complete, deleted together), then loaded through ``DiffusersBackend`` (the adapter's
``extra_components``) and run as one image-to-video job."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

pytest.importorskip("diffusers")

from fakehub import FakeHub, FileFaults  # noqa: E402
from PIL import Image  # noqa: E402

from sora_desktop.core.catalog import (  # noqa: E402
    CatalogEntry,
    default_catalog_path,
    installed_size,
    is_installed,
    read_manifest,
)
from sora_desktop.core.errors import FieldError  # noqa: E402
from sora_desktop.engine import downloads as dl  # noqa: E402
from sora_desktop.engine.diffusers_backend import DiffusersBackend  # noqa: E402
from tests import tiny_framepack  # noqa: E402
from tests import tiny_kandinsky5 as tiny  # noqa: E402

MAIN = "hunyuanvideo-community/HunyuanVideo"
FP = "lllyasviel/FramePackI2V_HY"
REDUX = "lllyasviel/flux_redux_bfl"
FP_WEIGHTS = "diffusion_pytorch_model.safetensors"
S = 16


def real_entry() -> dict:
    data = json.loads(Path(default_catalog_path()).read_text(encoding="utf-8"))
    models = data["models"] if isinstance(data, dict) else data
    return next(m for m in models if m["id"] == "framepack-i2v")


def repo_layouts(built: Path) -> dict[str, dict[str, bytes]]:
    """The tiny saved pipeline split into the three repositories' layouts (with files the
    catalog's patterns must leave behind)."""
    every = {
        p.relative_to(built).as_posix(): p.read_bytes()
        for p in sorted(built.rglob("*"))
        if p.is_file()
    }
    index = json.loads(every["model_index.json"])
    index["_class_name"] = "HunyuanVideoPipeline"
    index["transformer"] = ["diffusers", "HunyuanVideoTransformer3DModel"]
    del index["image_encoder"], index["feature_extractor"]
    main = {
        k: v for k, v in every.items() if not k.startswith(("transformer/", "image_", "feature_"))
    }
    main["model_index.json"] = json.dumps(index).encode()
    main["transformer/diffusion_pytorch_model.safetensors"] = b"HunyuanVideo's own" * 100
    framepack = {k.split("/", 1)[1]: v for k, v in every.items() if k.startswith("transformer/")}
    framepack["README.md"] = b"not wanted"
    redux = {k: v for k, v in every.items() if k.startswith(("image_encoder/", "feature_"))}
    redux["flux1-redux-dev.safetensors"] = b"not wanted" * 200
    return {MAIN: main, FP: framepack, REDUX: redux}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("fpi")
    data = tiny_framepack.save_tiny_model(root / "built")
    real = real_entry()
    # the real catalog entry's repositories and file patterns, the tiny model's shape
    data.update({k: real[k] for k in ("repo_id", "revision", "files", "extra_repos")})
    data["id"] = "framepack-i2v"
    return data, repo_layouts(root / "built"), root


@pytest.fixture
def online(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def hub(built):
    _data, layouts, _root = built
    with FakeHub() as h:
        for repo_id, files in layouts.items():
            h.add_repo(repo_id, files)
        yield h


def test_the_catalog_entry_lists_the_extra_repos_as_download_units(built):
    data, _layouts, _root = built
    entry = CatalogEntry.from_dict(real_entry())
    units = entry.units()
    assert [(u.repo_id, u.into) for u in units] == [(MAIN, None), (FP, "transformer"), (REDUX, ".")]
    assert len({u.manifest_name for u in units}) == 3


def test_install_interrupted_in_an_extra_repo_resumes_then_loads_and_runs(
    tmp_path, online, hub, built
):
    data, layouts, root = built
    entry = CatalogEntry.from_dict(data)
    hub.repos[FP].faults[FP_WEIGHTS] = FileFaults(delay_per_chunk=0.02)
    cancel = threading.Event()
    first: list[int] = []
    reports: list[dl.DownloadProgress] = []

    def on_progress(p: dl.DownloadProgress) -> None:
        reports.append(p)
        if p.file == f"transformer/{FP_WEIGHTS}" and p.phase == "download":
            first.append(p.done_bytes)
            if p.done_bytes - first[0] > 8192:
                cancel.set()

    cfg = dl.HubConfig(endpoint=hub.endpoint)
    with pytest.raises(dl.DownloadCancelled):
        dl.ModelDownloader(tmp_path, cfg).download(entry, progress=on_progress, cancel=cancel)
    folder = entry.folder(tmp_path)
    assert read_manifest(folder) is not None  # the main repository is complete ...
    assert not is_installed(entry, tmp_path)  # ... but not the model without its transformer
    assert dl.ModelDownloader(tmp_path, cfg).partial_bytes(entry) > 8192

    hub.requests.clear()
    hub.repos[FP].faults.clear()
    dl.ModelDownloader(tmp_path, cfg).download(entry)  # as after an app restart
    assert is_installed(entry, tmp_path)
    totals = {r.total_bytes for r in reports if r.phase == "download"}
    assert totals == {installed_size(entry, tmp_path)}  # progress over all three repos
    commit = hub.repos[FP].commit
    (resumed,) = hub.gets(f"FramePackI2V_HY/resolve/{commit}/{FP_WEIGHTS}")
    assert resumed["range"] is not None and int(resumed["range"][6:-1]) > 0
    assert not hub.gets(f"HunyuanVideo/resolve/{hub.repos[MAIN].commit}/vae/config.json")
    # files land where the pipeline looks for them; nothing the patterns leave out
    fp = layouts[FP]
    assert (folder / "transformer" / FP_WEIGHTS).read_bytes() == fp[FP_WEIGHTS]
    for rel, value in layouts[REDUX].items():
        assert (folder / rel).is_file() == (not rel.startswith("flux1")), rel
        if (folder / rel).is_file():
            assert (folder / rel).read_bytes() == value
    assert not (folder / "README.md").exists() and not (folder / dl.PARTIAL_DIR).exists()

    # loaded through the backend: the adapter supplies transformer and SigLIP components
    image = root / "start.png"
    Image.new("RGB", (S, S), (200, 40, 40)).save(image)
    backend = DiffusersBackend(entry, folder, "cpu", "balanced")
    assert type(backend.pipe.image_encoder).__name__ == "SiglipVisionModel"
    req = tiny.request(data, start_image=str(image), width=S, height=S, steps=2)
    tiny.check_job(backend, req, "HunyuanVideoFramepackPipeline", (37, S, S, 3))

    # a hostile file dropped into an extra repo's folder is still refused before loading
    (folder / "image_encoder" / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(FieldError, match="will not load"):
        DiffusersBackend(entry, folder, "cpu", "balanced")
    (folder / "image_encoder" / "pytorch_model.bin").unlink()
    os.symlink("/etc", folder / "transformer" / "out")
    with pytest.raises(FieldError, match="outside the model folder"):
        DiffusersBackend(entry, folder, "cpu", "balanced")
    (folder / "transformer" / "out").unlink()

    # Delete removes every repository's files
    downloader = dl.ModelDownloader(tmp_path, cfg)
    assert downloader.delete(entry) > len(fp[FP_WEIGHTS])
    assert not folder.exists() and not is_installed(entry, tmp_path)


def test_a_damaged_extra_repo_file_means_not_installed(tmp_path, online, hub, built):
    data, layouts, _root = built
    entry = CatalogEntry.from_dict(data)
    folder = dl.ModelDownloader(tmp_path, dl.HubConfig(endpoint=hub.endpoint)).download(entry)
    assert is_installed(entry, tmp_path)
    with open(folder / "image_encoder" / "model.safetensors", "ab") as fh:
        fh.write(b"x")
    assert not is_installed(entry, tmp_path)


@pytest.mark.parametrize("size", [-1, "12", 2**62], ids=repr)
def test_a_hub_lying_about_an_extra_repo_size_is_refused_before_any_byte(
    tmp_path, online, hub, built, size
):
    data, _layouts, _root = built
    entry = CatalogEntry.from_dict(data)
    hub.repos[REDUX].listing_patch["image_encoder/model.safetensors"] = {"size": size}
    with pytest.raises(dl.DownloadError, match="size"):
        dl.ModelDownloader(tmp_path, dl.HubConfig(endpoint=hub.endpoint)).download(entry)
    assert not any("/resolve/" in r["path"] for r in hub.requests)  # every listing first
    assert not is_installed(entry, tmp_path)


def test_an_extra_repo_clashing_with_the_main_repo_is_refused(tmp_path, online, hub, built):
    data, _layouts, _root = built
    clash = json.loads(json.dumps(data))
    clash["extra_repos"][1]["files"].append("model_index.json")
    entry = CatalogEntry.from_dict(clash)
    hub.repos[REDUX].files["model_index.json"] = b'{"_class_name": "FluxPriorReduxPipeline"}'
    with pytest.raises(dl.DownloadError, match="model_index.json"):
        dl.ModelDownloader(tmp_path, dl.HubConfig(endpoint=hub.endpoint)).download(entry)
    assert not any("/resolve/" in r["path"] for r in hub.requests)
    assert not is_installed(entry, tmp_path)


def test_a_copied_framepack_folder_is_refused_with_what_to_do_instead(tmp_path):
    """Import checks one repository's files; FramePack's come from three, so a copied folder is
    refused in one line that says to download it instead (never a half-checked install)."""
    from sora_desktop.core.catalog import find_entry, load_catalog
    from sora_desktop.engine.downloads import DownloadError, HubConfig, ModelDownloader
    from sora_desktop.engine.model_import import import_folder

    entry = find_entry("framepack-i2v", load_catalog())
    source = tmp_path / "copied"
    (source / "transformer").mkdir(parents=True)
    (source / "model_index.json").write_text("{}")
    downloader = ModelDownloader(tmp_path / "models", HubConfig(offline=True))
    with pytest.raises(DownloadError, match="cannot be imported from a folder.*download it"):
        import_folder(downloader, entry, source)
    assert not entry.folder(tmp_path / "models").exists()
