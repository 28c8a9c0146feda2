"""Facts defined once (issue 16): the pickle formats every loader refuses, and the memory
modes' names, which errors and Settings must spell the same way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sora_desktop.core.memory_modes import MEMORY_MODES, MODE_NAMES
from sora_desktop.core.model_files import PICKLE_SUFFIXES, is_pickle_name


@pytest.mark.parametrize("suffix", [".npz", ".joblib", ".npy", ".ckpt"])
def test_every_loader_refuses_every_pickle_format(tmp_path, suffix):
    """The downloader never fetched .npz/.joblib/.npy, but the loaders used a shorter list and
    would have accepted such a file placed in a model folder."""
    from sora_desktop.engine.diffusers_backend import check_model_folder
    from sora_desktop.engine.llm_enhancer import check_llm_folder

    diff = tmp_path / "diffusers"
    (diff / "transformer").mkdir(parents=True)
    (diff / "model_index.json").write_text(json.dumps({"_class_name": "WanPipeline"}))
    (diff / "transformer" / f"weights{suffix}").write_bytes(b"x")
    with pytest.raises(ValueError, match="will not load"):
        check_model_folder(diff)

    llm = tmp_path / "llm"
    llm.mkdir()
    (llm / "config.json").write_text("{}")
    (llm / f"model{suffix.upper()}").write_bytes(b"x")  # any case
    with pytest.raises(ValueError, match="will not load"):
        check_llm_folder(llm)


def test_the_downloader_and_importer_use_the_same_list():
    from sora_desktop.engine import downloads, model_import

    assert downloads.PICKLE_SUFFIXES is PICKLE_SUFFIXES
    assert model_import.is_pickle_name is is_pickle_name
    assert is_pickle_name("UNET.BIN") and not is_pickle_name("unet.safetensors")


def test_errors_name_the_memory_mode_as_settings_shows_it(qtbot):
    """An out-of-memory message says which mode to choose; Settings must list it by that name
    (it used to say "Low VRAM mode" while Settings offered "Low memory — slower")."""
    from sora_desktop.core.catalog import find_entry
    from sora_desktop.core.request import GenerationRequest
    from sora_desktop.core.settings import Settings
    from sora_desktop.engine.preflight import MemoryInfo, oom_advice
    from sora_desktop.ui.settings_dialog import SettingsDialog

    entry = find_entry("wan2.1-t2v-1.3b")
    request = GenerationRequest("x", model_id=entry.id, num_frames=81, width=832, height=480)
    no_gpu_figures = MemoryInfo(None, None, None, None, None)
    advice = oom_advice(entry, request, "balanced", no_gpu_figures)
    assert f"choose “{MODE_NAMES['low_vram']}” as the Memory setting" in advice

    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    shown = [dialog.memory.itemText(i) for i in range(dialog.memory.count())]
    assert [dialog.memory.itemData(i) for i in range(dialog.memory.count())] == list(MEMORY_MODES)
    for mode, text in zip(MEMORY_MODES, shown, strict=True):
        assert text.startswith(MODE_NAMES[mode])
    assert any(text.startswith("Low memory") for text in shown)
    assert "Low VRAM" not in advice


def test_the_first_run_guide_and_model_manager_use_the_same_names():
    from sora_desktop.ui import first_run, model_manager

    assert first_run.MODE_WORDS == MODE_NAMES
    assert model_manager.MODE_LABELS["low_vram"] == MODE_NAMES["low_vram"].lower()


def test_pickle_list_is_defined_once_in_the_sources():
    root = Path(__file__).resolve().parents[1] / "sora_desktop"
    holders = [
        p.relative_to(root).as_posix()
        for p in root.rglob("*.py")
        if '".ckpt"' in p.read_text(encoding="utf-8")
    ]
    assert holders == ["core/model_files.py"]
    assert ".npz" in PICKLE_SUFFIXES
