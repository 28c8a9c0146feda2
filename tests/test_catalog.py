"""The shipped catalog and the installed-state rules of sora_desktop.core.catalog."""

import json
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from sora_desktop.core import catalog as cat
from sora_desktop.core.request import EMBEDDED_MODEL_ID

# issue 17's current catalog
REQUIRED_REPOS = {
    "Wan-AI/Wan2.2-TI2V-5B-Diffusers",
    "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
    "Lightricks/LTX-2",
    "Lightricks/LTX-Video-0.9.7-distilled",
    "hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-480p_t2v",
    "kandinskylab/Kandinsky-5.0-T2V-Lite-sft-5s-Diffusers",
    "Efficient-Large-Model/SANA-Video_2B_480p_diffusers",
    "hunyuanvideo-community/HunyuanVideo",  # FramePack's text encoders and VAE
    "zai-org/CogVideoX1.5-5B",
    "Qwen/Qwen2.5-0.5B-Instruct",
    "Qwen/Qwen2.5-1.5B-Instruct",
}
RETIRED = {"hunyuanvideo", "cogvideox-2b", "cogvideox-5b", "ltx-video-2b"}
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def test_shipped_catalog_lists_the_required_models_embedded_first():
    entries = cat.load_catalog()
    assert entries[0].id == EMBEDDED_MODEL_ID
    assert entries[0].backend == "embedded" and not entries[0].needs_download
    assert REQUIRED_REPOS <= {e.repo_id for e in entries}
    assert not RETIRED & {e.id for e in entries}
    pipelines = {e.pipeline for e in entries if e.backend == "diffusers"}
    assert {
        "WanPipeline",
        "LTXPipeline",
        "LTX2Pipeline",
        "HunyuanVideo15Pipeline",
        "Kandinsky5T2VPipeline",
        "SanaVideoPipeline",
        "HunyuanVideoFramepackPipeline",
        "CogVideoXPipeline",
    } <= pipelines
    for e in entries:
        assert set(e.min_vram_gb) == set(cat.MEMORY_MODES)
        assert e.min_vram_gb["low_vram"] <= e.min_vram_gb["balanced"] <= e.min_vram_gb["fast"]
        # Weights only as safetensors: no pattern may name a pickle format.
        assert not any(p.endswith(PICKLE_SUFFIXES) for p in e.files), e.id
        if e.kind == "video" and e.needs_download:
            assert e.fit is not None, e.id  # every video model's memory comes from the method
            assert e.is_estimate("fit") and e.is_estimate("min_ram_gb"), e.id
            assert any("revision" in s for s in e.sources) or len(e.revision or "") == 40, e.id
        if e.kind == "video":
            d = e.defaults
            assert {"width", "height", "num_frames", "fps", "steps", "guidance", "shift"} <= set(d)
            assert d["width"] % 16 == 0 and d["height"] % 16 == 0, e.id
        # Every figure is either marked as an estimate or backed by a cited source.
        if e.needs_download and not e.is_estimate("min_vram_gb"):
            assert e.sources, e.id


def test_entry_is_frozen_and_core_module_stays_free_of_torch_and_qt():
    entry = cat.load_catalog()[1]
    with pytest.raises(FrozenInstanceError):
        entry.id = "x"  # type: ignore[misc]
    src = Path(cat.__file__).read_text()
    assert "import torch" not in src and "PySide6" not in src and "sora_desktop.engine" not in src


def _write(tmp_path, models):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"models": models}))
    return path


def _entry(**kw):
    base = json.loads(cat.default_catalog_path().read_text())["models"][1]
    base.update(kw)
    return base


def test_malformed_catalogs_are_refused_with_the_field_named(tmp_path):
    embedded = json.loads(cat.default_catalog_path().read_text())["models"][0]
    with pytest.raises(ValueError, match="backend"):
        cat.load_catalog(_write(tmp_path, [embedded, _entry(backend="onnx")]))
    with pytest.raises(ValueError, match="min_vram_gb"):
        cat.load_catalog(_write(tmp_path, [embedded, _entry(min_vram_gb={"fast": 1})]))
    with pytest.raises(ValueError, match="duplicate"):
        cat.load_catalog(_write(tmp_path, [embedded, _entry(), _entry()]))
    with pytest.raises(ValueError, match="first entry"):
        cat.load_catalog(_write(tmp_path, [_entry(), embedded]))
    with pytest.raises(ValueError, match="repo_id"):
        cat.load_catalog(_write(tmp_path, [embedded, _entry(repo_id="no-owner")]))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        cat.load_catalog(tmp_path / "bad.json")


def _manifest(folder: Path, model_id: str, files: dict[str, bytes], complete=True):
    folder.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    man = {
        "model_id": model_id,
        "complete": complete,
        "files": [{"path": rel, "size": len(d), "sha256": "0" * 64} for rel, d in files.items()],
    }
    (folder / cat.MANIFEST_NAME).write_text(json.dumps(man))


def test_installed_only_with_a_complete_manifest_matching_the_files(tmp_path):
    entries = cat.load_catalog()
    wan = next(e for e in entries if e.id == "wan2.1-t2v-1.3b")
    assert [e.id for e in cat.installed_models(tmp_path, entries)] == [EMBEDDED_MODEL_ID]

    folder = wan.folder(tmp_path)
    _manifest(folder, wan.id, {"model_index.json": b"{}", "vae/x.safetensors": b"12345"})
    assert cat.is_installed(wan, tmp_path)
    assert cat.installed_size(wan, tmp_path) == 7
    assert wan in cat.installed_models(tmp_path, entries)

    (folder / "vae/x.safetensors").write_bytes(b"123")  # truncated file: no longer installed
    assert not cat.is_installed(wan, tmp_path)
    assert cat.installed_size(wan, tmp_path) == 0

    _manifest(folder, wan.id, {"model_index.json": b"{}"}, complete=False)
    assert not cat.is_installed(wan, tmp_path)

    _manifest(folder, "some-other-model", {"model_index.json": b"{}"})
    assert not cat.is_installed(wan, tmp_path)


def test_manifest_with_a_path_outside_the_folder_is_not_trusted(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (tmp_path / "secret").write_bytes(b"abc")
    man = {"model_id": "m", "complete": True, "files": [{"path": "../secret", "size": 3}]}
    (folder / cat.MANIFEST_NAME).write_text(json.dumps(man))
    assert cat.read_manifest(folder) is None


@pytest.mark.parametrize(
    "name,ok",
    [
        ("vae/model.safetensors", True),
        ("model_index.json", True),
        ("../x", False),
        ("a/../../x", False),
        ("/etc/passwd", False),
        ("C:/x", False),
        ("a\\b", False),
        ("a//b", False),
        ("", False),
    ],
)
def test_safe_relative_paths(name, ok):
    assert cat.is_safe_relative_path(name) is ok


def _video_entry(**kw):
    base = next(
        m
        for m in json.loads(cat.default_catalog_path().read_text())["models"]
        if m["id"] == "wan2.1-t2v-1.3b"
    )
    base = json.loads(json.dumps(base))
    base.update(kw)
    return base


def test_fit_blocks_and_extra_keys_are_checked_strictly(tmp_path):
    embedded = json.loads(cat.default_catalog_path().read_text())["models"][0]

    def refused(match, **kw):
        with pytest.raises(ValueError, match=match):
            cat.load_catalog(_write(tmp_path, [embedded, _video_entry(**kw)]))

    ok = cat.load_catalog(_write(tmp_path, [embedded, _video_entry()]))[1]
    assert ok.fit is not None and ok.min_vram_gb["low_vram"] < ok.min_vram_gb["fast"]
    refused(r"min_vram_gb: comes from 'fit'", min_vram_gb={"fast": 1, "balanced": 1, "low_vram": 1})
    refused(r"unknown key\(s\) supports_audio", supports_audio=True)
    fit = _video_entry()["fit"]
    refused(r"fit: unknown key\(s\) speed", fit={**fit, "speed": 3})
    bad_dtype = json.loads(json.dumps(fit))
    bad_dtype["components"]["vae"]["dtype"] = "int3"
    refused(r"components.vae.dtype", fit=bad_dtype)
    too_big_unit = json.loads(json.dumps(fit))
    too_big_unit["components"]["transformer"]["unit_b"] = 99
    refused(r"transformer.unit_b", fit=too_big_unit)
    refused(r"fit.denoiser", fit={**fit, "denoiser": "unet"})
    refused(r"fit.patch", fit={**fit, "patch": [1, 2]})
    refused(r"fit.hidden", fit={**fit, "hidden": True})
    refused(r"defaults.steps", defaults={"width": 832, "height": 480, "num_frames": 81})
    refused(
        r"extra_repos\[0\].into",
        extra_repos=[{"repo_id": "a/b", "revision": "main", "files": ["x.json"], "into": "../up"}],
    )
    refused(r"start_image_repo_id", start_image_repo_id="nobody")
