"""Static checks of the packaging files (installers/): they fail when the packaging would break.

Fast (no PyInstaller, no torch): the spec is read with ``ast``, never executed. The real build
and its offline smoke test are ``bash installers/build_linux.sh`` (slow, outside the suite).
"""

from __future__ import annotations

import ast
import configparser
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALLERS = ROOT / "installers"
SPEC = INSTALLERS / "sora-desktop.spec"
DESKTOP = INSTALLERS / "linux" / "sora-desktop.desktop"
ISS = INSTALLERS / "windows" / "sora-desktop.iss"


def spec_constants() -> dict:
    """Every ``NAME = <literal>`` at the top level of the spec."""
    tree = ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                try:
                    out[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    pass
    return out


def pyproject() -> dict:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads(text)
    version = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M).group(1)  # pragma: no cover
    return {"project": {"version": version, "scripts": {}}}  # pragma: no cover


def module_constants(path: Path) -> dict:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        n.targets[0].id: n.value.value
        for n in tree.body
        if isinstance(n, ast.Assign)
        and isinstance(n.targets[0], ast.Name)
        and isinstance(n.value, ast.Constant)
    }


def test_spec_is_python_and_builds_the_console_entry_point():
    c = spec_constants()
    entry = ROOT / c["ENTRY"]
    assert entry.is_file(), f"spec entry script {c['ENTRY']} is missing"
    # The launcher runs the same function as the installed console script.
    launcher = ast.parse(entry.read_text(encoding="utf-8"))
    imports = {
        (n.module, a.name)
        for n in ast.walk(launcher)
        if isinstance(n, ast.ImportFrom)
        for a in n.names
    }
    assert ("sora_desktop.cli", "main") in imports
    assert pyproject()["project"]["scripts"]["sora-desktop"] == "sora_desktop.cli:main"
    cli = ast.parse((ROOT / "sora_desktop" / "cli.py").read_text(encoding="utf-8"))
    assert any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in cli.body)
    assert c["EXE_NAME"] == "sora-desktop"


def test_smoke_test_flag_exists():
    from sora_desktop.cli import build_parser

    args = build_parser().parse_args(["--smoke-test"])
    assert args.smoke_test is True and args.command is None


def test_every_data_path_in_the_spec_exists():
    c = spec_constants()
    for src, dest in c["DATAS"]:
        assert (ROOT / src).exists(), f"spec bundles {src}, which does not exist"
        assert not Path(dest).is_absolute()
    for platform, icon in c["ICONS"].items():
        assert (ROOT / icon).is_file(), f"{platform} icon {icon} is missing"
    assert (ROOT / c["ENTITLEMENTS"]).is_file()
    model = ROOT / c["MODEL_DEFAULT"]
    if (model / "config.json").is_file():  # the shipped checkpoint once trained
        for name in c["MODEL_FILES_REQUIRED"]:
            assert (model / name).is_file(), f"{c['MODEL_DEFAULT']}/{name} is missing"


def test_icons_are_real_ico_and_icns():
    c = spec_constants()
    assert (ROOT / c["ICONS"]["win32"]).read_bytes()[:4] == b"\x00\x00\x01\x00"
    assert (ROOT / c["ICONS"]["darwin"]).read_bytes()[:4] == b"icns"
    assert (ROOT / c["ICONS"]["linux"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_spec_ships_the_files_the_checkpoint_loader_reads():
    c = spec_constants()
    names = module_constants(ROOT / "sora_desktop" / "engine" / "embedded" / "weights.py")
    wanted = {names["CONFIG_NAME"], names["VAE_NAME"], names["DIT_NAME"]}
    assert wanted <= set(c["MODEL_FILES_REQUIRED"])


def test_bundle_locations_match_where_the_runtime_looks(monkeypatch, tmp_path):
    """The spec puts catalog, resources and model where the frozen app searches sys._MEIPASS."""
    c = spec_constants()
    dests = {Path(src).name: Path(dest) for src, dest in c["DATAS"]}
    monkeypatch.delenv("SORA_DESKTOP_CATALOG", raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    from sora_desktop.core.catalog import default_catalog_path

    assert default_catalog_path() == tmp_path / dests["catalog.json"] / "catalog.json"
    from sora_desktop.core.assets import model_dir, resources_dir

    assert resources_dir() == tmp_path / dests["resources"]
    assert (resources_dir() / "theme_dark.qss").relative_to(tmp_path).parent == dests["resources"]
    # core/capabilities.py (read, not imported) uses model_dir() / "embedded"
    tree = ast.parse((ROOT / "sora_desktop/core/capabilities.py").read_text("utf-8"))
    func = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "embedded_model_dir"
    )
    assert "model_dir() / 'embedded'" in ast.unparse(func)
    spec = (ROOT / "installers" / "sora-desktop.spec").read_text("utf-8")
    assert '"model/embedded") for n in names' in spec
    assert model_dir() / "embedded" == tmp_path / "model" / "embedded"
    model_dest = "model/embedded"
    assert f'"{model_dest}"' in SPEC.read_text(encoding="utf-8")


def test_desktop_entry_has_the_required_keys_and_runs_the_built_program():
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    entry = parser["Desktop Entry"]
    for key in ("Type", "Name", "Exec", "Icon", "Categories"):
        assert entry.get(key), f"{key}= is missing"
    assert entry["Type"] == "Application"
    c = spec_constants()
    assert entry["Exec"].split()[0] == c["EXE_NAME"]
    assert entry["Icon"] == Path(c["ICONS"]["linux"]).stem
    assert entry["Categories"].endswith(";")
    assert {"AudioVideo", "Video"} <= set(entry["Categories"].split(";"))


def test_inno_setup_script_matches_pyproject_and_the_spec():
    text = ISS.read_text(encoding="utf-8")
    defines = dict(re.findall(r'^#define\s+(\w+)\s+"([^"]*)"', text, re.M))
    c = spec_constants()
    assert defines["MyAppName"] == c["APP_NAME"]
    assert defines["MyAppVersion"] == pyproject()["project"]["version"]
    assert defines["MyAppExeName"] == c["WIN_GUI_EXE_NAME"] + ".exe"
    assert defines["MyCliExeName"] == c["EXE_NAME"] + ".exe"
    assert defines["BundleDir"].replace("\\", "/").endswith("dist/" + c["EXE_NAME"])
    icon = re.search(r"^SetupIconFile=(.+)$", text, re.M).group(1).strip()
    assert (ISS.parent / icon.replace("\\", "/")).is_file()


@pytest.mark.parametrize(
    "script",
    [
        "build_linux.sh",
        "linux/install.sh",
        "linux/build_appimage.sh",
        "macos/build_macos.sh",
        "windows/build_windows.ps1",
    ],
)
def test_build_scripts_name_files_that_exist(script):
    text = (INSTALLERS / script).read_text(encoding="utf-8")
    named = set(re.findall(r"installers[/\\][\w./\\-]+\.\w+", text))
    assert named or script == "linux/install.sh"
    for rel in named:
        assert (ROOT / rel.replace("\\", "/")).is_file(), f"{script} names missing {rel}"
    if script == "linux/install.sh":  # it installs the files build_linux.sh copies beside it
        build = (INSTALLERS / "build_linux.sh").read_text(encoding="utf-8")
        for name in ("sora-desktop.png", "sora-desktop.desktop"):
            assert name in text and name in build
