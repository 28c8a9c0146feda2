"""The fit method (core/fit.py): hand-worked figures, issue 23's machines, the document's table,
and pre-flight reading the same method."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from sora_desktop.core.catalog import CatalogEntry, find_entry, load_catalog
from sora_desktop.core.fit import GIB, Machine, best_mode, fit_for
from sora_desktop.core.memory_modes import MEMORY_MODES

ROOT = Path(__file__).resolve().parents[1]
WAN = "wan2.1-t2v-1.3b"


def _entry(fit: dict, **defaults) -> CatalogEntry:
    d = {"width": 256, "height": 128, "num_frames": 9, "fps": 8, "steps": 10, "guidance": 1.0}
    d.update(defaults)
    return CatalogEntry.from_dict(
        {
            "id": "hand-worked",
            "name": "Hand",
            "backend": "diffusers",
            "kind": "video",
            "repo_id": "t/hand",
            "files": ["model_index.json"],
            "license": "x",
            "defaults": d,
            "pipeline": "WanPipeline",
            "description": "x",
            "fit": fit,
        }
    )


HAND_FIT = {
    # 1e9 bf16 parameters = 2e9 bytes; units chosen so each figure is easy to follow
    "components": {
        "text_encoder": {"params_b": 2.0, "dtype": "bf16", "unit_b": 0.5},
        "transformer": {"params_b": 1.0, "dtype": "bf16", "unit_b": 0.25},
        "vae": {"params_b": 0.5, "dtype": "fp32", "unit_b": 0.5},
    },
    "denoiser": "transformer",
    "hidden": 1024,
    "layers": 8,
    "vae_scale": [4, 8],
    "patch": [1, 2, 2],
    "vae_decode_gb": {"full": 6.0, "tiled": 1.0},
}


def test_the_method_by_hand():
    e = _entry(HAND_FIT)
    verdicts = fit_for(e, Machine("RTX 4090", 80.0, 256.0))
    gb = 1e9 / GIB  # one billion bytes in GB
    te, tr, vae = 4 * gb, 2 * gb, 2 * gb  # weights: 2B x 2, 1B x 2, 0.5B x 4 bytes
    # 256x128, 9 frames -> 3 latent frames x (128/16) x (256/16) = 3 x 8 x 16 tokens
    act = 3 * 8 * 16 * 1024 * 2 * 16 / GIB
    ctx = 0.8
    assert verdicts["fast"].need_vram_gb == pytest.approx(te + tr + vae + 6.0 + ctx)
    # balanced: one component at a time; the VAE with its untiled decode is the largest
    assert verdicts["balanced"].need_vram_gb == pytest.approx(
        max(te + 0.5, tr + act, vae + 6) + ctx
    )
    # low memory: the text encoder's 0.5B unit (1 GB) + 0.5, one transformer unit + act, VAE tiled
    assert verdicts["low_vram"].need_vram_gb == pytest.approx(
        max(gb + 0.5, 0.5 * gb + act, vae + 1.0) + ctx
    )
    frames = 256 * 128 * 9 * 3 * 4 / GIB
    for v in verdicts.values():
        assert v.need_ram_gb == pytest.approx(3.0 + te + tr + vae + frames)
        assert v.verdict == "fits" and v.seconds and v.seconds > 0
    # guidance > 1 doubles the passes: the compute part of the time doubles
    doubled = fit_for(_entry(HAND_FIT, guidance=5.0), Machine("RTX 4090", 80.0, 256.0))
    assert doubled["fast"].seconds == pytest.approx(2 * verdicts["fast"].seconds)


def test_verdicts_and_best_mode():
    e = _entry(HAND_FIT)
    need = fit_for(e, Machine(None, 100.0, 100.0))
    fast, low = need["fast"].need_vram_gb, need["low_vram"].need_vram_gb
    ram = need["fast"].need_ram_gb
    assert fit_for(e, Machine(None, fast / 0.96, ram))["fast"].verdict == "tight"
    assert fit_for(e, Machine(None, fast - 0.1, ram))["fast"].verdict == "too_big"
    assert fit_for(e, Machine(None, 100.0, ram / 1.2))["fast"].verdict == "tight"  # RAM short
    assert fit_for(e, Machine(None, 100.0, ram / 1.3))["fast"].verdict == "too_big"
    assert best_mode(e, Machine(None, low + 0.5, 64.0)) == "low_vram"
    assert best_mode(e, Machine(None, low - 0.5, 64.0)) is None
    no_gpu = fit_for(e, Machine(None, None, 64.0))
    assert {v.verdict for v in no_gpu.values()} == {"no_gpu"} and best_mode(
        e, Machine(None, None, 64.0)
    ) is None
    assert all(v.seconds is None for v in no_gpu.values())


def test_issue_23_machines_are_offered_a_mode():
    entries = load_catalog()
    wan = find_entry(WAN, entries)
    # a 12 GB GPU with 32 GB of RAM gets at least Low memory for Wan 2.1 1.3B
    assert fit_for(wan, Machine("GPU", 12.0, 32.0))["low_vram"].verdict == "fits"
    # an 11.5 GB GPU with 32 GB: Low memory is not refused for its RAM any more
    assert fit_for(wan, Machine("GPU", 11.5, 32.0))["low_vram"].runs
    for e in entries:
        if e.kind != "video" or e.fit is None:
            continue
        # RAM need: what offloading keeps in RAM (the weights), not the old 32-48 GB guesses;
        # no mode needs more RAM than Fast
        ram = {m: v.need_ram_gb for m, v in fit_for(e, Machine("G", 24.0, 64.0)).items()}
        assert ram["low_vram"] <= ram["fast"] + 1e-9, e.id
        # a 16 GB GPU with 32 GB of RAM is not refused in every mode (LTX-2 and FramePack
        # hold 40-60 GB of weights: they need more RAM)
        if e.id not in ("ltx-2", "framepack-i2v"):
            assert best_mode(e, Machine("GPU", 16.0, 32.0)) is not None, e.id
        # less GPU memory in each lighter mode
        need = [e.min_vram_gb[m] for m in MEMORY_MODES]
        assert need == sorted(need, reverse=True), e.id


def test_docs_table_is_the_scripts_output():
    spec = importlib.util.spec_from_file_location("fit_table", ROOT / "bench" / "fit_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    doc = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    assert mod.doc_section(doc) == mod.render(), "run: python bench/fit_table.py --write"
    for vram in (8, 12, 16, 24, 48):
        for ram in (16, 32, 64):
            assert f"| {vram} GB / {ram} GB |" in doc


def test_preflight_reads_the_same_method():
    from sora_desktop.core.request import GenerationRequest
    from sora_desktop.engine.preflight import MemoryInfo, machine_from_memory, preflight

    wan = find_entry(WAN)
    mem = MemoryInfo("GPU", 12.0, 12.0, 30.0, 32.0)
    machine = machine_from_memory(mem)
    assert machine == Machine("GPU", 12.0, 32.0)
    d = wan.defaults
    req = GenerationRequest(
        "x",
        model_id=WAN,
        width=d["width"],
        height=d["height"],
        num_frames=d["num_frames"],
        steps=d["steps"],
        guidance=d["guidance"],
    )
    verdicts = fit_for(wan, machine)
    for mode in MEMORY_MODES:
        report = preflight(wan, req, mode, mem)
        assert report.verdict == verdicts[mode].verdict
        assert report.need_vram_gb == pytest.approx(verdicts[mode].need_vram_gb)
        assert report.ok == verdicts[mode].runs


def test_a_start_image_adds_the_i2v_variants_weights_to_ram():
    hy = find_entry("hunyuanvideo-1.5-480p")
    m = Machine("GPU", 24.0, 64.0)
    text, image = fit_for(hy, m)["low_vram"], fit_for(hy, m, start_image=True)["low_vram"]
    assert image.need_ram_gb - text.need_ram_gb == pytest.approx(
        hy.fit.i2v_params_b * 1e9 * 2 / GIB
    )
    assert image.need_vram_gb == text.need_vram_gb  # one transformer on the GPU at a time


def test_a_long_shot_needs_one_windows_memory_not_the_whole_shots():
    """A long shot is made window by window, so the pre-flight sizes one window: an 8-window
    Wan shot gets the same verdict and GPU need as one window (it was scaled by all frames)."""
    from sora_desktop.core.capabilities import capabilities_for
    from sora_desktop.core.request import GenerationRequest
    from sora_desktop.engine.preflight import MemoryInfo, preflight

    wan = find_entry(WAN)
    caps = capabilities_for(WAN)
    d = wan.defaults
    one = dict(model_id=WAN, width=d["width"], height=d["height"], steps=d["steps"])
    window = GenerationRequest("x", num_frames=caps.frames_per_pass, **one)
    long = GenerationRequest("x", num_frames=caps.max_frames, **one)
    assert caps.segments(long.num_frames) > 2
    mem = MemoryInfo("GPU", 12.0, 12.0, 30.0, 32.0)
    for mode in MEMORY_MODES:
        a, b = preflight(wan, window, mode, mem), preflight(wan, long, mode, mem)
        assert (b.verdict, b.need_vram_gb) == (a.verdict, a.need_vram_gb)
