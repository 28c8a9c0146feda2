"""Imports go one way: ui → core and engine; engine → core; core → nothing of ours."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "sora_desktop"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
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
        or name.startswith(("sora_desktop.engine", "sora_desktop.ui"))
    }
    assert not bad, f"{path} imports {bad}"


@pytest.mark.parametrize("path", _files("engine"), ids=lambda p: p.name)
def test_engine_imports_no_qt_and_no_ui(path):
    bad = {
        name
        for name in _imports(path)
        if name.split(".")[0] == "PySide6" or name.startswith("sora_desktop.ui")
    }
    assert not bad, f"{path} imports {bad}"


def test_the_rule_checker_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from sora_desktop.engine import generate\nimport torch\n")
    assert {"sora_desktop.engine", "torch"} <= _imports(bad)
