"""Imports go one way: core <- engine <- studio <- ui and cli. Core imports nothing of ours,
no Qt and no torch; engine and studio import no Qt; studio loads no torch at import (engine
modules that pull torch are imported inside its functions). `lint-imports` (pyproject.toml)
checks the layers too; these tests also run where import-linter is not installed."""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "sora_desktop"


def _imports(path: Path, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in tree.body if top_level_only else ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _files(sub: str) -> list[Path]:
    return sorted((PKG / sub).rglob("*.py"))


@pytest.mark.parametrize("path", _files("core"), ids=lambda p: p.name)
def test_core_imports_nothing_of_ours_nor_qt_nor_torch(path):
    bad = {
        name
        for name in _imports(path)
        if name.split(".")[0] in {"torch", "PySide6", "diffusers", "transformers"}
        or name.startswith(("sora_desktop.engine", "sora_desktop.studio", "sora_desktop.ui"))
    }
    assert not bad, f"{path} imports {bad}"


@pytest.mark.parametrize("path", _files("engine"), ids=lambda p: p.name)
def test_engine_imports_no_qt_and_no_ui(path):
    bad = {
        name
        for name in _imports(path)
        if name.split(".")[0] == "PySide6"
        or name.startswith(("sora_desktop.ui", "sora_desktop.studio", "sora_desktop.cli"))
    }
    assert not bad, f"{path} imports {bad}"


@pytest.mark.parametrize("path", _files("studio"), ids=lambda p: p.name)
def test_studio_imports_no_qt_no_ui_and_no_torch_at_import(path):
    bad = {
        name
        for name in _imports(path)
        if name.split(".")[0] == "PySide6"
        or name.startswith(("sora_desktop.ui", "sora_desktop.cli"))
    }
    assert not bad, f"{path} imports {bad}"
    heavy = {"torch", "diffusers", "transformers", "cv2"}
    at_import = {n for n in _imports(path, top_level_only=True) if n.split(".")[0] in heavy}
    assert not at_import, f"{path} imports {at_import} at import time"


def test_importing_the_studio_loads_no_qt_and_no_torch():
    code = (
        "import sys, pkgutil, importlib, sora_desktop.studio as s\n"
        "for m in pkgutil.iter_modules(s.__path__):\n"
        "    importlib.import_module('sora_desktop.studio.' + m.name)\n"
        "print(sorted(n for n in ('torch', 'PySide6', 'cv2') if n in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(PKG.parent)},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_lint_imports_contract_holds():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(exe).is_file():
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    out = subprocess.run(
        [exe, "--config", str(PKG.parent / "pyproject.toml")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PKG.parent,
        env={**os.environ, "PYTHONPATH": str(PKG.parent)},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Layers: core <- engine <- studio <- ui and cli KEPT" in out.stdout


def test_the_rule_checker_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from sora_desktop.engine import generate\nimport torch\n")
    assert {"sora_desktop.engine", "torch"} <= _imports(bad)
