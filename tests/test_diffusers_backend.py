"""The diffusers backend on tiny random models of each family, and the preflight advice.

The whole path runs here: catalog entry → download from a fake hub (progress, verify) →
installed → registry → load → generate with step events and previews → MP4.
"""

import json
import threading
from types import SimpleNamespace

import numpy as np
import pytest
import tiny_models as tm
import torch
from fakehub import FakeHub

from sora_desktop.core.catalog import CatalogEntry, is_installed, load_catalog
from sora_desktop.core.request import GenerationRequest
from sora_desktop.engine import diffusers_backend as db
from sora_desktop.engine import registry
from sora_desktop.engine.backend import (
    CancelToken,
    GenerationCancelled,
    GenerationResult,
    StepEvent,
)
from sora_desktop.engine.preflight import MemoryInfo, OutOfMemory, preflight, read_ram

FAMILIES = ["wan", "ltx", "cogvideox", "hunyuan"]


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    """Tiny models of every family, built once per session: {family: (folder, entry dict)}."""
    root = tmp_path_factory.mktemp("tiny_video_models")
    return {f: (root / f, tm.save_tiny_video_model(f, root / f)) for f in FAMILIES}


@pytest.fixture(scope="session")
def backends(tiny_dir):
    """One loaded backend per family (CPU), shared by the tests that only generate."""
    return {
        f: db.DiffusersBackend(CatalogEntry.from_dict(e), folder, "cpu", "balanced")
        for f, (folder, e) in tiny_dir.items()
    }


def request_for(backend, **kw) -> GenerationRequest:
    d = backend.entry.defaults
    base = dict(
        prompt="a red fox runs through the forest",
        steps=2,
        guidance=3.0,
        num_frames=d["num_frames"],
        width=d["width"],
        height=d["height"],
        model_id=backend.model_id,
        seed=7,
    )
    base.update(kw)
    return GenerationRequest(**base)


def run(backend, req, cancel=None):
    events = list(backend.generate(req, cancel))
    steps = [e for e in events if isinstance(e, StepEvent)]
    (result,) = [e for e in events if isinstance(e, GenerationResult)]
    return steps, result


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_generates_frames_with_live_previews(backends, family):
    backend = backends[family]
    req = request_for(backend)
    steps, result = run(backend, req)
    assert [s.step for s in steps] == [1, 2] and all(s.total == 2 for s in steps)
    for s in steps:
        assert s.preview is not None and s.preview.dtype == np.uint8 and s.preview.shape[2] == 3
    assert result.frames.shape == (req.num_frames, req.height, req.width, 3)
    assert result.frames.dtype == np.uint8 and result.frames.std() > 0
    assert result.fps == req.fps and result.info["pipeline"] == backend.entry.pipeline


@pytest.mark.parametrize("family", ["wan", "ltx"])
def test_same_seed_same_clip_other_seed_other_clip(backends, family):
    backend = backends[family]
    _, a = run(backend, request_for(backend, seed=11))
    _, b = run(backend, request_for(backend, seed=11))
    _, c = run(backend, request_for(backend, seed=12))
    assert np.array_equal(a.frames, b.frames)
    assert not np.array_equal(a.frames, c.frames)


def test_cancel_stops_before_the_vae_decode(backends, monkeypatch):
    backend = backends["wan"]
    backend.preview_factors()  # calibration decodes once; do it before counting
    decodes = []
    real = backend.pipe.vae.decode
    monkeypatch.setattr(
        backend.pipe.vae, "decode", lambda *a, **k: decodes.append(1) or real(*a, **k)
    )
    cancel = CancelToken()
    gen = backend.generate(request_for(backend, steps=5), cancel)
    first = next(gen)
    assert isinstance(first, StepEvent)
    cancel.cancel()
    with pytest.raises(GenerationCancelled):
        list(gen)
    assert decodes == []
    assert not [t for t in threading.enumerate() if t.name.startswith("diffusers-")]


def test_closing_the_generator_stops_the_worker(backends):
    backend = backends["wan"]
    gen = backend.generate(request_for(backend, steps=6))
    next(gen)
    gen.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("diffusers-")]
    _, result = run(backend, request_for(backend))  # still usable afterwards
    assert result.frames.shape[0] == 9


def test_requests_the_model_cannot_take_are_refused_with_the_field(backends):
    with pytest.raises(ValueError, match="num_frames: 10 .* use 9 or 13"):
        list(backends["wan"].generate(request_for(backends["wan"], num_frames=10)))
    with pytest.raises(ValueError, match="width: 48 is not a multiple of 32"):
        list(backends["ltx"].generate(request_for(backends["ltx"], width=48)))
    with pytest.raises(ValueError, match="negative_prompt"):
        list(backends["hunyuan"].generate(request_for(backends["hunyuan"], negative_prompt="x")))
    with pytest.raises(ValueError, match="start_image"):
        list(backends["wan"].generate(request_for(backends["wan"], start_image="/x.png")))


def test_start_image_uses_the_image_to_video_pipeline(backends, tmp_path):
    import cv2

    img = np.zeros((40, 40, 3), np.uint8)
    img[:, :20] = (0, 0, 255)
    path = tmp_path / "start.png"
    cv2.imwrite(str(path), img)
    backend = backends["ltx"]
    _, result = run(backend, request_for(backend, start_image=str(path)))
    assert result.info["pipeline"] == "LTXImageToVideoPipeline"
    assert result.frames.shape == (9, 32, 32, 3)


def test_out_of_memory_becomes_advice_and_the_backend_survives(backends, monkeypatch):
    backend = backends["cogvideox"]
    real = backend.pipe.transformer.forward

    def boom(*a, **k):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(backend.pipe.transformer, "forward", boom)
    with pytest.raises(OutOfMemory, match="ran out of memory in Balanced mode") as err:
        list(backend.generate(request_for(backend)))
    assert isinstance(err.value, RuntimeError)
    assert "Low VRAM" in str(err.value) or "smaller" in str(err.value)
    # the on-screen words (issue 20): the Duration box, the mode as Settings names it
    from test_plain_errors import assert_plain

    advice = str(err.value)
    assert "Duration" in advice and "frames" not in advice and "“Low memory”" in advice
    assert_plain(advice)
    monkeypatch.setattr(backend.pipe.transformer, "forward", real)
    _, result = run(backend, request_for(backend))
    assert result.frames.shape[0] == 9


def test_low_vram_mode_turns_on_vae_tiling(tiny_dir):
    folder, entry = tiny_dir["wan"]
    backend = db.DiffusersBackend(CatalogEntry.from_dict(entry), folder, "cpu", "low_vram")
    assert backend.pipe.vae.use_tiling and backend.pipe.vae.use_slicing
    _, result = run(backend, request_for(backend))
    assert result.frames.shape == (9, 32, 32, 3)


def test_folders_that_could_run_code_are_refused(tiny_dir, tmp_path):
    import shutil

    folder, entry = tiny_dir["wan"]
    copy = tmp_path / "m"
    shutil.copytree(folder, copy)
    (copy / "transformer" / "diffusion_pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(ValueError, match="will not load"):
        db.DiffusersBackend(CatalogEntry.from_dict(entry), copy, "cpu")
    (copy / "transformer" / "diffusion_pytorch_model.bin").unlink()
    index = json.loads((copy / "model_index.json").read_text())
    index["scheduler"] = ["my_module", "EvilScheduler"]
    (copy / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match="custom code"):
        db.DiffusersBackend(CatalogEntry.from_dict(entry), copy, "cpu")


def test_preview_calibration_recovers_a_linear_decoder():
    """With a VAE that *is* linear, the fitted factors are that linear map."""
    rng = np.random.default_rng(0)
    true_w = rng.normal(size=(17, 3)).astype(np.float32)  # 16 channels + bias

    class LinearVae:
        dtype = torch.float32
        config = SimpleNamespace(z_dim=16, latents_mean=[0.0] * 16, latents_std=[1.0] * 16)

        def parameters(self):
            return iter([torch.zeros(1)])

        def decode(self, z, return_dict=False):
            b, c, f, h, w = z.shape
            flat = torch.cat([z.permute(0, 2, 3, 4, 1), torch.ones(b, f, h, w, 1)], -1)
            rgb = flat @ torch.from_numpy(true_w)  # (b, f, h, w, 3)
            rgb = rgb.permute(0, 4, 1, 2, 3)
            return (torch.repeat_interleave(torch.repeat_interleave(rgb, 8, 3), 8, 4),)

    from sora_desktop.core.capabilities import PIPELINE_RULES
    from sora_desktop.engine.families.wan import WanAdapter

    adapter = WanAdapter(SimpleNamespace(), PIPELINE_RULES["WanPipeline"])
    factors = db.calibrate_preview(SimpleNamespace(vae=LinearVae()), adapter)
    assert np.allclose(factors, true_w, atol=1e-4)


# ---------------------------------------------------------------------------- full path
def test_catalog_entry_to_mp4_through_fake_hub_and_registry(tiny_dir, tmp_path, monkeypatch):
    from huggingface_hub import constants

    from sora_desktop.engine.downloads import HubConfig, ModelDownloader
    from sora_desktop.engine.export import export_video, read_video

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    folder, entry_dict = tiny_dir["wan"]
    catalog = tm.write_catalog(tmp_path / "catalog.json", [entry_dict])
    monkeypatch.setenv("SORA_DESKTOP_CATALOG", str(catalog))
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    from sora_desktop.core.settings import load_settings

    models_dir = load_settings().models_dir
    entry = next(e for e in load_catalog() if e.id == "tiny/wan")

    with pytest.raises(ValueError, match="not installed"):
        registry.load_backend(entry.id, "cpu")

    with FakeHub() as hub:
        hub.add_folder(entry.repo_id, folder)
        reports = []
        ModelDownloader(models_dir, HubConfig(endpoint=hub.endpoint)).download(
            entry, progress=reports.append
        )
    assert is_installed(entry, models_dir)
    assert reports[-1].phase == "done" and reports[-1].done_bytes == reports[-1].total_bytes

    try:
        req = GenerationRequest(
            prompt="a blue car drives on the street",
            steps=2,
            num_frames=9,
            width=32,
            height=32,
            fps=8,
            model_id=entry.id,
            seed=1,
        )
        events = list(registry.generate(req, device="cpu"))
    finally:
        registry.unload_all()
    assert sum(isinstance(e, StepEvent) for e in events) == 2
    result = events[-1]
    out = export_video(result.frames, tmp_path / "clip.mp4", result.fps, request=req)
    frames, fps = read_video(out)
    assert frames.shape[0] == 9 and fps == pytest.approx(8, abs=0.5)


def test_factory_for_ignores_ids_that_are_not_diffusers_models(tmp_path):
    settings = SimpleNamespace(models_dir=str(tmp_path), memory_mode="balanced")
    assert db.factory_for("no/such-model", settings) is None
    assert db.factory_for("qwen2.5-0.5b-instruct", settings) is None
    assert db.factory_for("wan2.1-t2v-1.3b", settings) is not None


# ---------------------------------------------------------------------------- preflight
def _mem(free=None, ram=64.0, name="Test GPU"):
    return MemoryInfo(name if free is not None else None, free, free, ram, ram)


def _wan_request(**kw):
    base = dict(prompt="x", width=832, height=480, num_frames=81, model_id="wan2.1-t2v-1.3b")
    base.update(kw)
    return GenerationRequest(**base)


def test_preflight_says_whether_it_fits_and_what_to_change():
    wan = next(e for e in load_catalog() if e.id == "wan2.1-t2v-1.3b")
    ok = preflight(wan, _wan_request(), "fast", _mem(free=40))
    assert ok.ok and "Fits" in ok.message and ok.verdict == "fits"

    tight = preflight(wan, _wan_request(), "fast", _mem(free=12))
    assert not tight.ok and "Will not fit" in tight.message and "12.0 GB is free" in tight.message
    assert "Low memory mode" in tight.suggestion and tight.verdict == "too_big"

    tiny_gpu = preflight(wan, _wan_request(width=1280, height=704), "low_vram", _mem(free=3.5))
    assert not tiny_gpu.ok and "smaller size" in tiny_gpu.suggestion
    w, h = (int(v) for v in tiny_gpu.suggestion.split("Try ")[1].split(" at")[0].split("x"))
    assert w * h < 1280 * 704

    no_gpu = preflight(wan, _wan_request(), "balanced", _mem(free=None))
    assert not no_gpu.ok and "No NVIDIA GPU" in no_gpu.message

    # issue 23: an 11.5 GB GPU with 32 GB of RAM runs Wan in Low memory mode
    assert preflight(wan, _wan_request(), "low_vram", _mem(free=11.5, ram=32)).ok
    low_ram = preflight(wan, _wan_request(), "balanced", _mem(free=40, ram=8))
    assert not low_ram.ok and "system RAM" in low_ram.message and "add RAM" in low_ram.suggestion

    with pytest.raises(ValueError, match="memory_mode"):
        preflight(wan, _wan_request(), "turbo", _mem(free=40))


def test_read_ram_on_any_platform(monkeypatch):
    """psutil, not /proc/meminfo: known on Windows and macOS too; unknown, not a crash, when
    it cannot be read."""
    import psutil

    avail, total = read_ram()
    assert total is not None and 0 < avail <= total
    fake = type("VM", (), {"available": 6 * 1024**3, "total": 16 * 1024**3})()
    monkeypatch.setattr(psutil, "virtual_memory", lambda: fake)
    assert read_ram() == (6.0, 16.0)

    def broken():
        raise OSError("no access")

    monkeypatch.setattr(psutil, "virtual_memory", broken)
    assert read_ram() == (None, None)


# ---------------------------------------------------------------------------- LLM enhancer
@pytest.fixture(scope="session")
def tiny_llm(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_llm") / "llm"
    return folder, tm.save_tiny_llm(folder)


def test_llm_enhancer_rewrites_deterministically(tiny_llm):
    from sora_desktop.engine.llm_enhancer import LLMEnhancer

    folder, entry = tiny_llm
    enh = LLMEnhancer(folder, CatalogEntry.from_dict(entry), device="cpu", temperature=0.7)
    a = enh.enhance("a red fox runs")
    assert isinstance(a, str) and a.strip()
    assert enh.enhance("a red fox runs") == a
    with pytest.raises(ValueError, match="prompt"):
        enh.enhance("   ")


def test_llm_output_is_cleaned_and_never_empty():
    from sora_desktop.engine.llm_enhancer import clean_output

    assert clean_output('Prompt: "A fox runs   through snow."', "x") == "A fox runs through snow."
    assert clean_output("   ", "a fox") == "a fox"
    assert len(clean_output("word. " * 1000, "x")) <= 2000


def test_llm_enhancer_refuses_unsafe_folders(tiny_llm, tmp_path):
    import shutil

    from sora_desktop.engine.llm_enhancer import LLMEnhancer

    folder, _ = tiny_llm
    copy = tmp_path / "llm"
    shutil.copytree(folder, copy)
    cfg = json.loads((copy / "config.json").read_text())
    cfg["auto_map"] = {"AutoModelForCausalLM": "modeling_evil.EvilModel"}
    (copy / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="custom code"):
        LLMEnhancer(copy, device="cpu")
    del cfg["auto_map"]
    (copy / "config.json").write_text(json.dumps(cfg))
    (copy / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(ValueError, match="will not load"):
        LLMEnhancer(copy, device="cpu")


def test_get_enhancer_llm_uses_the_installed_model(tiny_llm, tmp_path, monkeypatch):
    from sora_desktop.core.catalog import MANIFEST_NAME
    from sora_desktop.engine.enhance import get_enhancer

    folder, entry = tiny_llm
    monkeypatch.setenv("SORA_DESKTOP_CATALOG", str(tm.write_catalog(tmp_path / "c.json", [entry])))
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    with pytest.raises(ValueError, match="no prompt-enhancer model is installed"):
        get_enhancer("llm")
    import shutil

    from sora_desktop.core.settings import load_settings

    target = CatalogEntry.from_dict(entry).folder(load_settings().models_dir)
    shutil.copytree(folder, target)
    files = [
        {"path": p.relative_to(target).as_posix(), "size": p.stat().st_size}
        for p in target.rglob("*")
        if p.is_file()
    ]
    manifest = {"model_id": entry["id"], "complete": True, "files": files}
    (target / MANIFEST_NAME).write_text(json.dumps(manifest))
    enh = get_enhancer("llm")
    assert enh.name == "llm" and enh.enhance("a boat on the sea").strip()


# The bench's full-size configs are checked against the catalog in test_bench_selfcheck.py.


def test_preflight_request_uses_the_settings_memory_mode():
    from sora_desktop.engine.preflight import preflight_request

    req = _wan_request()
    fast = preflight_request(req, SimpleNamespace(memory_mode="fast"), _mem(free=12))
    low = preflight_request(req, SimpleNamespace(memory_mode="low_vram"), _mem(free=12))
    assert (fast.verdict, low.verdict) == ("too_big", "fits")
    assert not fast.ok and low.ok
    assert preflight_request(req.with_changes(model_id="nope/x"), SimpleNamespace()) is None


def test_weights_that_do_not_fit_at_load_time_give_advice(tiny_dir, monkeypatch):
    folder, entry = tiny_dir["wan"]

    def boom(self, pipe):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(db.DiffusersBackend, "_activate", boom)
    with pytest.raises(OutOfMemory, match="Choose Balanced mode"):
        db.DiffusersBackend(CatalogEntry.from_dict(entry), folder, "cpu", "fast")
