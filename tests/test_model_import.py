"""Importing a plain Hugging Face / diffusers snapshot (issue 23 point 1): no
``.sora-installed.json`` needed; the huggingface-cli cache layout with links into ``blobs/``;
refusals for the wrong model, missing parts, links leaving the cache and damaged blobs. Through
the model manager's import path (``ModelDownloader.import_folder``) and the installed CLI."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_models import save_tiny_video_model, tiny_entry, write_catalog

from sora_desktop.core.catalog import CatalogEntry, is_installed, read_manifest
from sora_desktop.engine.download_errors import VerificationFailed
from sora_desktop.engine.downloads import DownloadError, HubConfig, ModelDownloader

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).parent / "sora-desktop"
REV = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory):
    base = tmp_path_factory.mktemp("snapshots")
    save_tiny_video_model("wan", base / "wan")
    save_tiny_video_model("ltx", base / "ltx")
    catalog = write_catalog(base / "catalog.json", [tiny_entry("wan"), tiny_entry("ltx")])
    return base, catalog


def _entry(family: str) -> CatalogEntry:
    return CatalogEntry.from_dict(tiny_entry(family))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _hub_cache(plain: Path, where: Path, repo: str = "tiny/wan") -> Path:
    """The layout huggingface-cli download leaves: blobs/ + snapshots/<rev>/ links + refs/main."""
    root = where / ("models--" + repo.replace("/", "--"))
    (root / "blobs").mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(REV)
    snap = root / "snapshots" / REV
    for f in sorted(p for p in plain.rglob("*") if p.is_file()):
        rel = f.relative_to(plain)
        # large files are stored under their SHA-256, small ones under a git blob id
        blob = _sha(f) if f.suffix == ".safetensors" else hashlib.sha1(f.read_bytes()).hexdigest()
        shutil.copyfile(f, root / "blobs" / blob)
        (snap / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(root / "blobs" / blob, (snap / rel).parent), snap / rel)
    return root


def test_a_plain_snapshot_folder_imports_through_the_model_manager_path(tmp_path, snapshots):
    base, _ = snapshots
    src = tmp_path / "usb" / "Wan-snapshot"
    shutil.copytree(base / "wan", src)
    assert not (src / ".sora-installed.json").exists()  # a plain diffusers folder
    target = ModelDownloader(tmp_path / "models", HubConfig(offline=True))
    entry = _entry("wan")
    folder = target.import_folder(entry, src)
    assert is_installed(entry, target.models_dir)
    manifest = read_manifest(folder)
    assert manifest["source"] == "import" and manifest["commit"] == "imported"
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    assert "model_index.json" in listed and any(p.startswith("transformer/") for p in listed)
    for rel, sha in listed.items():  # the hash of each source file, computed on import
        assert sha == _sha(src / rel)
    assert target.verify_installed(entry)


def test_a_snapshot_of_another_model_or_an_incomplete_one_is_refused(tmp_path, snapshots):
    base, _ = snapshots
    target = ModelDownloader(tmp_path / "models", HubConfig(offline=True))
    with pytest.raises(DownloadError, match="holds a LTXPipeline model, not Tiny wan"):
        target.import_folder(_entry("wan"), base / "ltx")
    src = tmp_path / "part"
    shutil.copytree(base / "wan", src)
    for f in (src / "transformer").glob("*.safetensors"):
        f.unlink()
    with pytest.raises(DownloadError, match="transformer/ has no .safetensors weights"):
        target.import_folder(_entry("wan"), src)
    shutil.rmtree(src / "vae")
    with pytest.raises(DownloadError, match="vae/ is missing"):
        target.import_folder(_entry("wan"), src)
    (src / "model_index.json").unlink()
    with pytest.raises(DownloadError, match="no readable model_index.json"):
        target.import_folder(_entry("wan"), src)
    assert not is_installed(_entry("wan"), target.models_dir)
    assert not list(target.models_dir.glob(".import-*"))


def test_a_hub_cache_follows_links_only_into_its_blobs(tmp_path, snapshots):
    base, _ = snapshots
    entry = _entry("wan")
    root = _hub_cache(base / "wan", tmp_path / "hf")
    target = ModelDownloader(tmp_path / "models", HubConfig(offline=True))
    folder = target.import_folder(entry, root)  # the repo folder: refs/main names the snapshot
    assert read_manifest(folder)["commit"] == REV
    assert not any(p.is_symlink() for p in folder.rglob("*"))  # real files were copied

    # a blob named by its SHA-256 whose bytes changed: the copy is damaged
    blob = next(p for p in (root / "blobs").iterdir() if len(p.name) == 64)
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    blob.write_bytes(bytes(data))
    other = ModelDownloader(tmp_path / "m2", HubConfig(offline=True))
    with pytest.raises(VerificationFailed, match="damaged"):
        other.import_folder(entry, root / "snapshots" / REV)

    # a link leaving the cache is never followed
    root2 = _hub_cache(base / "wan", tmp_path / "hf2")
    outside = tmp_path / "secret.json"
    outside.write_text("{}")
    link = root2 / "snapshots" / REV / "vae" / "config.json"
    link.unlink()
    os.symlink(outside, link)
    with pytest.raises(DownloadError, match="outside this download's blobs folder"):
        other.import_folder(entry, root2)
    assert not is_installed(entry, other.models_dir)


def _cli(home: Path, catalog: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(
        PYTHONPATH=str(ROOT),
        SORA_DESKTOP_HOME=str(home),
        SORA_DESKTOP_CATALOG=str(catalog),
        HF_HOME=str(home / "hf"),
    )
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "settings.json").write_text(json.dumps({"offline": True}))
    return subprocess.run(
        [str(CLI), "models", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_the_installed_cli_imports_a_snapshot_and_a_hub_cache(tmp_path, snapshots):
    base, catalog = snapshots
    # a plain folder named nothing like the model: found by its model_index.json's pipeline
    src = tmp_path / "stick" / "my video model"
    shutil.copytree(base / "wan", src)
    run = _cli(tmp_path / "home", catalog, "import", str(src))
    assert run.returncode == 0, run.stderr
    assert "installed: Tiny wan" in run.stdout
    assert is_installed(_entry("wan"), tmp_path / "home" / "models")

    # the huggingface-cli cache: found by its models--owner--name folder
    root = _hub_cache(base / "ltx", tmp_path / "hf", repo="tiny/ltx")
    run = _cli(tmp_path / "home2", catalog, "import", str(root))
    assert run.returncode == 0, run.stderr
    assert read_manifest(_entry("ltx").folder(tmp_path / "home2" / "models"))["commit"] == REV

    # the wrong model named by the user: one clear line, nothing installed
    run = _cli(tmp_path / "home3", catalog, "import", str(base / "ltx"), "--id", "tiny/wan")
    assert run.returncode == 1
    assert "holds a LTXPipeline model, not Tiny wan" in run.stderr
    assert len([ln for ln in run.stderr.splitlines() if ln.startswith("error:")]) == 1
    assert not (tmp_path / "home3" / "models" / "tiny--wan").exists()
