"""Hostile inputs (issue #5, security): project files and model folders made to attack the app.

A hostile project file must not make the app read or write outside the project folder, and
absurd sizes are refused quickly with a clear message. A hostile model folder (pickle weights,
links leading out, path traversal in a manifest or catalog) is refused before anything from it
is loaded.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest

from sora_desktop.core import project as proj
from sora_desktop.core.catalog import CatalogEntry, load_catalog, read_manifest
from sora_desktop.core.project import (
    ProjectError,
    Take,
    load_project,
    new_project,
    resolve_media,
    save_project,
)
from sora_desktop.core.request import GenerationRequest
from tests.robust_support import hang_guard, untrained_checkpoint


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))


def valid_data() -> dict:
    p = new_project("Film")
    shot = p.add_shot(GenerationRequest("a red ball", seed=1))
    take = p.add_take(shot.id, Take.create(shot.request))
    p.update_take(shot.id, take.id, status="done", clip=f"film_media/{shot.id}/{take.id}.mp4")
    return p.to_dict()


def write(tmp_path: Path, data, name: str = "evil.sdproj") -> Path:
    f = tmp_path / name
    f.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return f


def refused(f: Path, pattern: str) -> str:
    before = f.read_bytes()
    with hang_guard(10), pytest.raises(ProjectError, match=pattern) as info:
        load_project(f)
    assert f.read_bytes() == before  # refusing never writes
    assert f.name in str(info.value)
    return str(info.value)


# ------------------------------------------------------------------------------ projects
HOSTILE_CLIPS = [
    "/etc/passwd",
    "//server/share/x.mp4",
    "\\\\server\\share\\x.mp4",
    "\\\\?\\C:\\Windows\\x.mp4",
    "C:\\Windows\\win.ini",
    "C:relative.mp4",
    "../outside.mp4",
    "film_media/../../outside.mp4",
    "film_media\\..\\..\\outside.mp4",
    "film_media/x/../../../outside.mp4",
    "film\x00.mp4",
    "a/" * 600 + "x.mp4",  # longer than any real media path
]


@pytest.mark.parametrize("clip", HOSTILE_CLIPS)
def test_take_paths_outside_the_project_are_refused(tmp_path, clip):
    data = valid_data()
    data["shots"][0]["takes"][0]["clip"] = clip
    message = refused(write(tmp_path, data), "absolute path|outside the project|not a valid file")
    assert "shot 1, take 1" in message  # says where


def test_a_link_leading_out_of_the_project_folder_is_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.mp4").write_bytes(b"secret")
    folder = tmp_path / "project"
    (folder / "film_media").mkdir(parents=True)
    (folder / "film_media" / "link").symlink_to(outside, target_is_directory=True)
    data = valid_data()
    data["shots"][0]["takes"][0]["clip"] = "film_media/link/secret.mp4"
    f = write(folder, data, "film.sdproj")
    project = load_project(f)  # the text is a plain relative path ...
    take = project.shots[0].takes[0]
    with pytest.raises(ProjectError, match="outside the project folder"):
        resolve_media(project, take.clip)  # ... but it is never resolved to the outside file
    # Save As elsewhere copies clips: the linked file must not be copied out either
    save_project(project, tmp_path / "copy" / "film.sdproj")
    assert not any(p.name == "secret.mp4" for p in (tmp_path / "copy").rglob("*"))


@pytest.mark.parametrize(
    "start_image", ["/home/someone/private.png", "../../private.png", "C:\\Users\\x\\a.png"]
)
def test_a_stored_shot_start_image_is_dropped_with_a_warning(tmp_path, start_image):
    data = valid_data()
    data["shots"][0]["request"]["start_image"] = start_image
    f = write(tmp_path, data)
    project = load_project(f)
    assert project.shots[0].request.start_image is None  # never read by Generate
    assert any("start image" in w and "ignored" in w for w in project.warnings)
    save_project(project)
    assert json.loads(f.read_text())["shots"][0]["request"]["start_image"] is None


@pytest.mark.parametrize(
    ("field", "value", "pattern"),
    [
        ("seed", 2**64, "Seed: .* out of range"),
        ("steps", 10**30, "Steps: .* out of range"),
        ("num_frames", 10**9, "Duration: .* out of range"),
        ("width", 2**40, "Size: .* out of range"),
        ("guidance", 10**400, "Guidance: .* out of range"),
        ("fps", -(2**63), "Frame rate: .* out of range"),
        ("seed", 1e308, "Seed: must be a whole number"),
    ],
)
def test_huge_numbers_are_refused_naming_the_field(tmp_path, field, value, pattern):
    data = valid_data()
    data["shots"][0]["request"][field] = value
    refused(write(tmp_path, data), pattern)


@pytest.mark.parametrize(
    ("where", "size", "pattern"),
    [
        ("name", 10**6, "Name must be text of at most 500"),
        ("title", 10**6, "Title must be text of at most 500"),
        ("prompt", 10**6, "Prompt: 1000000 characters is too long"),
        ("negative_prompt", 10**6, "Negative prompt: 1000000 characters is too long"),
        ("error", 10**6, "error must be text"),
        ("shot_id", 10**5, "is not valid"),
        ("clip", 10**6, "not a valid file path"),
        ("status", 10**6, "is not one of"),
        ("model_id", 10**5, "Model: 100000 characters is too long"),
        ("prompt", 12 * 10**6, "too long"),  # one 12 MB string (the file limit is 50 MB)
    ],
)
def test_enormous_strings_are_refused_quickly(tmp_path, where, size, pattern):
    data = valid_data()
    big = "x" * size
    shot = data["shots"][0]
    if where == "name":
        data["name"] = big
    elif where == "title":
        shot["title"] = big
    elif where in ("prompt", "negative_prompt", "model_id"):
        shot["request"][where] = big
    elif where in ("error", "clip", "status"):
        shot["takes"][0][where] = big
    else:
        shot["id"] = big
    message = refused(write(tmp_path, data), pattern)
    assert len(message) < 2000  # the message does not echo the huge value back


def test_too_many_takes_in_a_shot_is_refused(tmp_path):
    data = valid_data()
    take = data["shots"][0]["takes"][0]
    data["shots"][0]["takes"] = [dict(take, id=f"t{i}") for i in range(proj.MAX_TAKES_PER_SHOT + 1)]
    refused(write(tmp_path, data), f"at most {proj.MAX_TAKES_PER_SHOT}")


def test_takes_given_as_a_number_are_refused_not_a_crash(tmp_path):
    data = valid_data()
    data["shots"][0]["takes"] = 5
    refused(write(tmp_path, data), "takes must be a list")


def test_unpaired_surrogates_are_refused_not_saved_later(tmp_path):
    for path in (("name",), ("shots", 0, "title"), ("shots", 0, "request", "prompt")):
        data = valid_data()
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = "ok \ud800 broken"
        f = write(tmp_path, json.dumps(data))  # json.dumps writes it as the escape \ud800
        refused(f, "not valid")


# ------------------------------------------------------------------------------ embedded model
class _RunsCode:
    """Unpickling this creates a marker file: proof that a pickle was executed."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.fixture
def model_copy(tmp_path) -> Path:
    return untrained_checkpoint(tmp_path / "model")


def test_embedded_loader_refuses_pickle_weights_without_unpickling(model_copy, tmp_path):
    from sora_desktop.engine.embedded.weights import load_checkpoint

    marker = tmp_path / "pwned"
    for suffix in (".pt", ".bin", ".ckpt"):
        (model_copy / "dit.safetensors").unlink(missing_ok=True)
        for old in model_copy.glob("dit.*"):
            old.unlink()
        (model_copy / f"dit{suffix}").write_bytes(pickle.dumps(_RunsCode(str(marker))))
        with pytest.raises(ValueError, match=rf"dit\{suffix} instead of dit.safetensors.*pickle"):
            load_checkpoint(model_copy)
        assert not marker.exists()


@pytest.mark.parametrize("name", ["dit.safetensors", "vae.safetensors", "config.json"])
def test_embedded_loader_refuses_links_leading_out(model_copy, tmp_path, name):
    from sora_desktop.engine.embedded.weights import load_checkpoint

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.move(model_copy / name, outside / name)
    (model_copy / name).symlink_to(outside / name)
    with pytest.raises(ValueError, match="outside the model folder"):
        load_checkpoint(model_copy)


def test_embedded_loader_accepts_a_linked_model_folder(model_copy, tmp_path):
    from sora_desktop.engine.embedded.weights import load_checkpoint

    link = tmp_path / "link_to_model"
    link.symlink_to(model_copy, target_is_directory=True)  # the folder itself may be a link
    assert load_checkpoint(link).config["fps"] == 8


@pytest.mark.parametrize(
    "config", ["not json", "[1, 2]", '{"vae": 5}', "[" * 100_000, '{"vae": {}, "dit": {}}']
)
def test_embedded_loader_refuses_a_bad_config_with_a_value_error(model_copy, config):
    from sora_desktop.engine.embedded.weights import load_checkpoint

    (model_copy / "config.json").write_text(config)
    with pytest.raises(ValueError, match="not a valid embedded-model config"):
        load_checkpoint(model_copy)


# ------------------------------------------------------------------------------ diffusers folders
def diffusers_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "wan"
    (folder / "transformer").mkdir(parents=True)
    index = {"_class_name": "WanPipeline", "transformer": ["diffusers", "WanTransformer3DModel"]}
    (folder / "model_index.json").write_text(json.dumps(index))
    (folder / "transformer" / "config.json").write_text("{}")
    (folder / "transformer" / "diffusion_pytorch_model.safetensors").write_bytes(b"\0" * 16)
    return folder


def test_a_clean_diffusers_folder_passes_the_check(tmp_path):
    from sora_desktop.engine.diffusers_backend import check_model_folder

    check_model_folder(diffusers_folder(tmp_path))


@pytest.mark.parametrize(
    "attack",
    [
        "pickle_bin",
        "pickle_ckpt",
        "python_file",
        "file_link_out",
        "dir_link_out",
        "index_list",
        "index_binary",
        "index_deep",
        "library_list",
        "library_custom",
        "class_path",
    ],
)
def test_hostile_diffusers_folders_are_refused(tmp_path, attack):
    from sora_desktop.engine.diffusers_backend import check_model_folder

    folder = diffusers_folder(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "w.safetensors").write_bytes(b"\0" * 16)
    index = json.loads((folder / "model_index.json").read_text())
    if attack == "pickle_bin":
        (folder / "transformer" / "diffusion_pytorch_model.bin").write_bytes(b"x")
    elif attack == "pickle_ckpt":
        (folder / "model.ckpt").write_bytes(b"x")
    elif attack == "python_file":
        (folder / "transformer" / "modeling.py").write_text("import os")
    elif attack == "file_link_out":
        (folder / "transformer" / "extra.safetensors").symlink_to(outside / "w.safetensors")
    elif attack == "dir_link_out":
        (folder / "vae").symlink_to(outside, target_is_directory=True)
    elif attack == "index_list":
        (folder / "model_index.json").write_text("[1, 2]")
    elif attack == "index_binary":
        (folder / "model_index.json").write_bytes(b"\xff\xfe\x00garbage")
    elif attack == "index_deep":
        (folder / "model_index.json").write_text("[" * 100_000)
    elif attack == "library_list":
        index["transformer"] = [["diffusers"], "WanTransformer3DModel"]
    elif attack == "library_custom":
        index["transformer"] = ["evil_module", "Payload"]
    elif attack == "class_path":
        index["transformer"] = ["diffusers", "os.system"]
    if attack.startswith(("library", "class")):
        (folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match=f"model: .*{folder.name}"):
        check_model_folder(folder)


# ------------------------------------------------------------------------------ manifests, catalog
@pytest.fixture
def entry() -> CatalogEntry:
    return next(e for e in load_catalog() if e.backend == "diffusers")


def import_source(tmp_path: Path, entry: CatalogEntry, files: list) -> Path:
    src = tmp_path / "usb"
    src.mkdir()
    (src / "model_index.json").write_text("{}")
    manifest = {"model_id": entry.id, "repo_id": entry.repo_id, "complete": True, "files": files}
    (src / ".sora-installed.json").write_text(json.dumps(manifest))
    return src


@pytest.mark.parametrize(
    ("files", "pattern"),
    [
        ([{"path": "../../etc/passwd", "size": 1}], "unsafe path"),
        ([{"path": "/etc/passwd", "size": 1}], "unsafe path"),
        ([{"path": "C:/Windows/win.ini", "size": 1}], "unsafe path"),
        ([{"path": "a\\..\\..\\b", "size": 1}], "unsafe path"),
        ([{"path": "transformer/x.pt", "size": 1}], "pickle"),
        (["model_index.json"], "not a file"),
        ([{"path": "model_index.json"}], "no valid size"),
        ([{"path": "model_index.json", "size": "2"}], "no valid size"),
        ([{"path": "model_index.json", "size": 2, "sha256": 5}], "no valid hash"),
    ],
)
def test_import_refuses_a_hostile_manifest(tmp_path, entry, files, pattern):
    from sora_desktop.engine.downloads import DownloadError, ModelDownloader

    src = import_source(tmp_path, entry, files)
    models = tmp_path / "models"
    with pytest.raises(DownloadError, match=pattern):
        ModelDownloader(models).import_folder(entry, src)
    assert not entry.folder(models).exists()
    assert not (tmp_path / "etc").exists()


def test_import_refuses_a_manifest_that_is_not_text(tmp_path, entry):
    from sora_desktop.engine.downloads import DownloadError, ModelDownloader

    src = import_source(tmp_path, entry, [])
    (src / ".sora-installed.json").write_bytes(b"\xff\xfe\xfa not utf-8")
    with pytest.raises(DownloadError, match="is damaged"):
        ModelDownloader(tmp_path / "models").import_folder(entry, src)


@pytest.mark.parametrize(
    "manifest",
    [
        b"\xff\xfe\xfa not utf-8",
        b"[" * 100_000,
        json.dumps({"complete": True, "files": [{"path": "../outside", "size": 3}]}).encode(),
        json.dumps({"complete": True, "files": [{"path": "/etc/hostname", "size": 3}]}).encode(),
    ],
)
def test_a_hostile_installed_manifest_means_not_installed(tmp_path, manifest):
    folder = tmp_path / "models" / "m"
    folder.mkdir(parents=True)
    (tmp_path / "models" / "outside").write_bytes(b"abc")
    (folder / ".sora-installed.json").write_bytes(manifest)
    assert read_manifest(folder) is None


@pytest.mark.parametrize(
    "model_id", ["..", ".", "../..", "a/..", "../etc", "a/b/c", "", "a\\..\\b"]
)
def test_a_catalog_id_that_would_name_a_folder_outside_is_refused(model_id):
    data = {
        "id": model_id,
        "name": "Evil",
        "backend": "diffusers",
        "kind": "video",
        "repo_id": "evil/model",
        "files": ["*.safetensors"],
        "license": "x",
        "pipeline": "WanPipeline",
        "description": "x",
        "min_vram_gb": {"fast": 1, "balanced": 1, "low_vram": 1},
        "min_ram_gb": {"fast": 1, "balanced": 1, "low_vram": 1},
    }
    with pytest.raises(ValueError, match=r"\.id: must"):
        CatalogEntry.from_dict(data)


def test_every_shipped_catalog_id_is_still_accepted():
    assert len(load_catalog()) >= 2


def test_a_refused_model_folder_reads_as_a_model_problem_not_a_setting(model_copy):
    from sora_desktop.engine.embedded.weights import load_checkpoint
    from sora_desktop.ui.worker import friendly_error

    (model_copy / "dit.safetensors").rename(model_copy / "dit.pt")
    with pytest.raises(ValueError) as info:
        load_checkpoint(model_copy)
    message = friendly_error(info.value)
    assert message.startswith("The model's files are missing, damaged or not safe to load")
    assert "settings" not in message and "download the model again" in message
    # a real settings problem still names the setting, by its label on screen
    message = friendly_error(ValueError("model_id: x is not installed"))
    assert "Model" in message and "model_id" not in message
