"""The installed CLI and the fit method (issues 17 + 23): ``models list --json`` gives every
entry its capabilities and fit; ``generate`` takes the chosen model's defaults, runs the app's
memory check and ``--force`` goes past it; an unknown id lists the catalog and installed ids;
``info`` lists installed models with their size and fit. Each runs ``sora-desktop`` in its own
process; where a GPU must be pretended, the process replaces the memory probe first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tiny_models import save_tiny_video_model, write_catalog

from sora_desktop.core.catalog import CatalogEntry, load_catalog
from sora_desktop.core.fit import VERDICTS
from sora_desktop.core.memory_modes import MEMORY_MODES
from sora_desktop.engine.downloads import HubConfig, ModelDownloader

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).parent / "sora-desktop"
# a process whose memory probe reports the GPU given in SORA_TEST_GPU ("name,free,total,ram")
FAKE_PROBE = textwrap.dedent(
    """
    import os, sys
    import sora_desktop.engine.preflight as preflight
    name, free, total, ram = os.environ["SORA_TEST_GPU"].split(",")
    preflight.probe_memory = lambda: preflight.MemoryInfo(
        name, float(free), float(total), float(ram), float(ram)
    )
    from sora_desktop.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def _env(home: Path, catalog: Path | None = None, gpu: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SORA_DESKTOP_CATALOG"}
    env.update(PYTHONPATH=str(ROOT), SORA_DESKTOP_HOME=str(home), HF_HOME=str(home / "hf"))
    if catalog is not None:
        env["SORA_DESKTOP_CATALOG"] = str(catalog)
    if gpu is not None:
        env["SORA_TEST_GPU"] = gpu
    return env


def run(home: Path, *args: str, catalog: Path | None = None, gpu: str | None = None):
    cmd = [sys.executable, "-c", FAKE_PROBE, *args] if gpu else [str(CLI), *args]
    return subprocess.run(
        cmd, env=_env(home, catalog, gpu), capture_output=True, text=True, timeout=300, cwd=home
    )


@pytest.fixture(scope="module")
def tiny_wan(tmp_path_factory):
    """A catalog holding a tiny Wan model, installed in a home folder."""
    base = tmp_path_factory.mktemp("tiny_wan")
    entry_dict = save_tiny_video_model("wan", base / "snapshot")
    catalog = write_catalog(base / "catalog.json", [entry_dict])
    home = base / "home"
    entry = CatalogEntry.from_dict(entry_dict)
    ModelDownloader(home / "models", HubConfig(offline=True)).import_folder(
        entry, base / "snapshot"
    )
    return home, catalog, entry


def test_models_list_json_gives_capabilities_and_fit_on_every_entry(tmp_path):
    listed = run(tmp_path, "models", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["id"] for r in rows] == [e.id for e in load_catalog()]
    for r in rows:
        assert set(r["fit"]) == set(MEMORY_MODES), r["id"]
        for v in r["fit"].values():
            assert v["verdict"] in VERDICTS and isinstance(v["reason"], str) and v["reason"]
            assert {"need_vram_gb", "need_ram_gb", "seconds"} <= set(v)
    video = [r for r in rows if r["kind"] == "video"]
    for r in video:
        caps = r["capabilities"]
        assert {
            "t2v",
            "start_image",
            "end_image",
            "audio",
            "max_frames",
            "window_frames",
            "fps",
            "sizes",
        } <= set(caps)
        assert caps["start_image"] is True, r["id"]  # issue 17: every model continues a shot
        if r["backend"] == "diffusers":  # this machine has no GPU
            assert {v["verdict"] for v in r["fit"].values()} == {"no_gpu"}, r["id"]
    assert any(r["capabilities"]["end_image"] for r in video)
    assert any(r["capabilities"]["audio"] for r in video)
    assert all(r["capabilities"] is None for r in rows if r["kind"] == "enhancer")


def test_models_list_on_a_12_gb_gpu_offers_wan_in_low_memory(tmp_path):
    listed = run(tmp_path, "models", "list", "--json", gpu="RTX 3060,11.2,12,32")
    assert listed.returncode == 0, listed.stderr
    wan = next(r for r in json.loads(listed.stdout) if r["id"] == "wan2.1-t2v-1.3b")
    assert wan["fit"]["low_vram"]["verdict"] == "fits"
    assert wan["fit"]["low_vram"]["seconds"] > 0  # an estimate for the RTX 3060
    assert wan["fit"]["fast"]["verdict"] == "too_big" and wan["best_mode"] is not None
    text = run(tmp_path, "models", "list", gpu="RTX 3060,11.2,12,32")
    line = next(ln for ln in text.stdout.splitlines() if ln.startswith("wan2.1-t2v-1.3b"))
    assert "mode" in line and "estimate" in line


def test_generate_takes_the_models_defaults_and_checks_the_fit(tmp_path, tiny_wan):
    home, catalog, entry = tiny_wan
    # a GPU too small for the model: refused before loading it, with what to do
    small = run(
        home,
        "generate",
        "a red ball",
        "--model",
        entry.id,
        "-o",
        "a.mp4",
        catalog=catalog,
        gpu="G,0.1,0.1,64",
    )
    assert small.returncode == 1, small.stderr
    assert "Will not fit" in small.stderr and "--force" in small.stderr
    assert not (home / "a.mp4").exists()
    # --force runs anyway; the model's own defaults (9 frames, 4k+1) are valid for it
    forced = run(
        home,
        "generate",
        "a red ball",
        "--model",
        entry.id,
        "-o",
        "a.mp4",
        "--force",
        catalog=catalog,
        gpu="G,0.1,0.1,64",
    )
    assert forced.returncode == 0, forced.stderr
    assert "Running anyway (--force)" in forced.stderr and (home / "a.mp4").is_file()
    assert "saved:" in forced.stdout
    # a GPU that fits: no warning; --seconds is turned into a count the model takes
    ok = run(
        home,
        "generate",
        "a red ball",
        "--model",
        entry.id,
        "-o",
        "b.mp4",
        "--seconds",
        "1.0",
        catalog=catalog,
        gpu="G,8,8,64",
    )
    assert ok.returncode == 0, ok.stderr
    assert "warning" not in ok.stderr and "takes a length in steps of 4 frames" in ok.stderr


def test_an_unknown_model_lists_the_catalog_and_the_installed_ones(tmp_path, tiny_wan):
    home, catalog, entry = tiny_wan
    bad = run(home, "generate", "a red ball", "--model", "nobody/nothing", catalog=catalog)
    assert bad.returncode == 2
    line = bad.stderr.strip().splitlines()[-1]
    assert line.startswith("error: --model (Model): 'nobody/nothing'")
    assert f"catalog: sora-desktop/embedded-tiny, {entry.id}" in line
    assert f"installed: sora-desktop/embedded-tiny, {entry.id}" in line


def test_info_lists_installed_models_with_size_and_fit(tmp_path, tiny_wan):
    home, catalog, entry = tiny_wan
    info = run(home, "info", catalog=catalog, gpu="RTX 4090,23,24,64")
    assert info.returncode == 0, info.stderr
    assert "gpu: RTX 4090 (24.0 GB)" in info.stdout
    line = next(ln for ln in info.stdout.splitlines() if entry.id in ln)
    assert entry.name in line and "fits in Fast mode" in line
    import re

    on_disk = sum(
        p.stat().st_size
        for p in entry.folder(home / "models").rglob("*")
        if p.is_file() and p.name != ".sora-installed.json"
    )
    number, unit = re.search(r"([\d.]+) (KB|MB)", line).groups()
    shown = float(number) * {"KB": 1000, "MB": 1000**2}[unit]
    assert abs(shown - on_disk) / on_disk < 0.03, (line, on_disk)  # the size on disk
