"""Which exports carry proof of origin is read from the C2PA library (issue 20): c2pa-python
0.38 writes MP4, GIF and PNG (each frame of a PNG-frames export) but no WebM; a library that
lists WebM gets WebM signed with no code change. A signed GIF and a signed frames folder read
back with the installed ``sora-desktop provenance``; an edited one fails validation. Where the
user chooses, a format that cannot carry it says so: a note beside the format in the Export
dialog, a warning from ``sora-desktop generate -o x.webm``, and the line after an export says
whether the file was signed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PROMPT = "a red ball moves left"
EXE = Path(sys.executable).with_name("sora-desktop")


def _request():
    from sora_desktop.core.request import GenerationRequest

    return GenerationRequest(PROMPT, steps=2, num_frames=9, seed=77)


def _export(path: Path, fmt: str | None = None) -> Path:
    from sora_desktop.engine.export import export_video

    frames = np.random.default_rng(0).integers(0, 255, (6, 32, 32, 3), dtype=np.uint8)
    return export_video(frames, path, 8, fmt=fmt, request=_request(), upscale=4)


def _provenance(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(EXE), "provenance", str(path)], capture_output=True, text=True, timeout=120
    )


def _flip(data: bytearray, at: int) -> None:
    data[at : at + 8] = bytes(b ^ 0xFF for b in data[at : at + 8])


@pytest.fixture
def library_lists(monkeypatch):
    """Make the C2PA library report ``types`` as what it can write (then ask afresh)."""
    import c2pa

    from sora_desktop.engine.export import provenance

    def use(types: list[str]) -> None:
        monkeypatch.setattr(c2pa.Builder, "get_supported_mime_types", staticmethod(lambda: types))
        provenance.signable_formats.cache_clear()

    yield use
    provenance.signable_formats.cache_clear()


def test_signable_formats_are_what_the_library_writes(library_lists, tmp_path):
    import c2pa

    from sora_desktop.engine.export import provenance
    from sora_desktop.studio.provenance import unsigned_note

    real = set(c2pa.Builder.get_supported_mime_types())
    assert {"video/mp4", "image/gif", "image/png"} <= real and "video/webm" not in real
    signable = provenance.signable_formats()
    assert {"mp4", "gif", "png"} <= set(signable) and "webm" not in signable
    assert provenance.SIGNABLE_FORMATS == signable  # the old name reads the same fact
    assert unsigned_note("webm") is not None and unsigned_note("gif") is None

    # a c2pa that writes WebM (and no GIF): WebM is signed, GIF is not, with no code change
    library_lists(["video/mp4", "video/webm", "image/png"])
    assert provenance.signable_formats() == ("mp4", "webm", "png")
    assert unsigned_note("webm") is None and "GIF" in unsigned_note("gif")
    webm = _export(tmp_path / "clip.webm")
    before = webm.read_bytes()
    options = provenance.ProvenanceOptions(data_dir=str(tmp_path / "d"))
    # today's library really cannot, so the attempt fails: the clip is kept, and it says so
    warning = provenance.sign_export(webm, _request(), options)
    assert warning and "clip.webm" in warning and "not signed" in warning
    assert webm.read_bytes() == before
    gif = _export(tmp_path / "clip.gif")
    assert provenance.sign_export(gif, _request(), options) is None  # not asked to sign
    assert provenance.read_provenance(gif) is None

    library_lists([])  # a library that can write nothing: nothing is signable, it says why
    assert provenance.signable_formats() == ()
    assert "C2PA library" in unsigned_note("mp4")


def test_signed_gif_reads_back_and_an_edited_one_fails(tmp_path):
    from sora_desktop.engine.export.provenance import ProvenanceOptions, sign_export

    gif = _export(tmp_path / "clip.gif")
    options = ProvenanceOptions(data_dir=str(tmp_path / "d"))
    assert sign_export(gif, _request(), options) is None
    assert gif.read_bytes()[:6] == b"GIF89a"  # still a GIF
    assert [p.name for p in tmp_path.iterdir() if ".c2pa" in p.name] == []

    ok = _provenance(gif)
    assert ok.returncode == 0, ok.stderr
    assert "manifest: valid" in ok.stdout and f"prompt: {PROMPT}" in ok.stdout
    assert "trainedAlgorithmicMedia" in ok.stdout

    data = bytearray(gif.read_bytes())
    _flip(data, len(data) - 12)  # the last frame's picture data
    edited = tmp_path / "edited.gif"
    edited.write_bytes(bytes(data))
    bad = _provenance(edited)
    assert bad.returncode == 1 and "INVALID" in bad.stdout
    assert "changed after it was signed" in bad.stderr


def test_every_png_frame_is_signed_and_an_edited_frame_is_named(tmp_path):
    from sora_desktop.engine.export.provenance import ProvenanceOptions, sign_export

    folder = _export(tmp_path / "frames", fmt="png")
    frames = sorted(folder.glob("frame_*.png"))
    assert len(frames) == 6
    options = ProvenanceOptions(data_dir=str(tmp_path / "d"))
    assert sign_export(folder, _request(), options) is None
    assert sorted(p.name for p in folder.iterdir() if ".c2pa" in p.name) == []

    ok = _provenance(folder)
    assert ok.returncode == 0, ok.stderr
    assert "manifest: valid" in ok.stdout and "frames: 6 of 6 signed and valid" in ok.stdout

    data = bytearray(frames[3].read_bytes())
    _flip(data, data.find(b"IDAT") + 20)
    frames[3].write_bytes(bytes(data))
    bad = _provenance(folder)
    assert bad.returncode == 1 and "frames: 5 of 6 signed and valid" in bad.stdout
    assert f"{frames[3].name} was changed after it was signed" in bad.stderr


def test_a_failed_frame_leaves_every_frame_unsigned(tmp_path, monkeypatch):
    """All frames or none: a frame that cannot be signed leaves the folder as exported."""
    import c2pa

    from sora_desktop.engine.export.provenance import ProvenanceOptions, sign_export

    folder = _export(tmp_path / "frames", fmt="png")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    real_sign, calls = c2pa.Builder.sign, []

    def sign(self, signer, mime, src, dst):
        calls.append(mime)
        if len(calls) == 4:
            raise OSError("disk full")
        return real_sign(self, signer, mime, src, dst)

    monkeypatch.setattr(c2pa.Builder, "sign", sign)
    warning = sign_export(folder, _request(), ProvenanceOptions(data_dir=str(tmp_path / "d")))
    assert warning and folder.name in warning and "disk full" in warning
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_cli_generate_webm_warns_and_gif_is_signed(tmp_path, monkeypatch, capsys):
    """The installed CLI warns about WebM before any model work (here the run then stops at a
    bad device, so no model is loaded); the whole command, in-process with a stand-in model,
    warns once for a WebM that it saves unsigned and signs a GIF."""
    env = {**os.environ, "SORA_DESKTOP_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    out = tmp_path / "early.webm"
    args = ["generate", PROMPT, "--steps", "1", "--device", "no-such-device", "-o", str(out)]
    early = subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=120, env=env)
    assert early.returncode == 2 and "no-such-device" in early.stderr  # stopped at the device
    warning = "warning: WebM can't carry proof of origin yet; choose MP4 to include it."
    assert early.stderr.splitlines()[0] == warning  # the first thing said, before the work
    assert not out.exists()

    from sora_desktop import cli
    from sora_desktop.engine import registry
    from sora_desktop.engine.backend import (
        Backend,
        BackendCapabilities,
        GenerationResult,
        StepEvent,
    )
    from sora_desktop.engine.export.provenance import ProvenanceError
    from sora_desktop.studio.provenance import read_provenance

    class Fake(Backend):
        model_id = "test/provenance-formats"

        def capabilities(self) -> BackendCapabilities:
            return BackendCapabilities(sizes=(), max_frames=64, supports_start_image=False)

        def generate(self, request, cancel=None):
            yield StepEvent(1, 1)
            frames = np.random.default_rng(1).integers(0, 255, (4, 16, 16, 3), dtype=np.uint8)
            yield GenerationResult(frames, request.fps, request)

    monkeypatch.setitem(registry._factories, Fake.model_id, lambda model_id, device: Fake())
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    said = {}
    try:
        for name in ("clip.webm", "clip.gif"):
            registry.unload_all()
            argv = ["generate", PROMPT, "--model", Fake.model_id, "--device", "cpu"]
            code = cli.main([*argv, "-o", str(tmp_path / name)])
            said[name] = capsys.readouterr().err
            assert code == 0, said[name]
    finally:
        registry.unload_all()
    webm_lines = [line for line in said["clip.webm"].splitlines() if "proof of origin" in line]
    assert webm_lines == [warning]  # once, not again after the export
    with pytest.raises(ProvenanceError, match="can't carry proof of origin"):
        read_provenance(tmp_path / "clip.webm")
    assert "signed: proof of origin" in said["clip.gif"] and "can't carry" not in said["clip.gif"]
    summary = read_provenance(tmp_path / "clip.gif")
    assert summary.valid and summary.prompt == PROMPT and summary.model == Fake.model_id


def test_export_dialog_says_which_formats_carry_proof(qtbot, monkeypatch, tmp_path):
    from sora_desktop.engine.export.provenance import ProvenanceError
    from sora_desktop.studio.provenance import read_provenance
    from tests.film_support import mixed_project
    from tests.ui_support import close_window, make_window

    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    project = mixed_project(tmp_path / "p")
    window = make_window(tmp_path)
    qtbot.waitExposed(window)
    try:
        assert window.open_project(project.path)
        dialog = window.open_export_dialog()
        note = dialog.proof_note
        shown = {}
        for fmt in ("mp4", "webm", "gif", "png"):
            dialog.format.setCurrentIndex(dialog.format.findData(fmt))
            shown[fmt] = note.text() if note.isVisible() else None
        assert shown["mp4"] is None and shown["gif"] is None and shown["png"] is None
        assert shown["webm"] == "WebM can't carry proof of origin yet; choose MP4 to include it."
        assert note.accessibleName()

        def export(fmt: str, name: str) -> str:
            dialog.scope.setCurrentIndex(dialog.scope.findData("storyboard"))
            dialog.format.setCurrentIndex(dialog.format.findData(fmt))
            dialog.size.setCurrentIndex(dialog.size.findData(1))
            dialog.path_edit.setText(str(tmp_path / name))
            dialog.result_path = None
            dialog.export_btn.click()
            qtbot.waitUntil(lambda: dialog.result_path is not None, timeout=60_000)
            assert dialog.done_bar.proof.isVisible()
            return dialog.done_bar.proof.text()

        said = export("webm", "film.webm")
        assert said.startswith("Not signed:") and "WebM can't carry proof of origin" in said
        with pytest.raises(ProvenanceError, match="can't carry proof of origin"):
            read_provenance(tmp_path / "film.webm")
        said = export("gif", "film.gif")
        assert said.startswith("Proof of origin (C2PA): signed"), said
        summary = read_provenance(tmp_path / "film.gif")
        assert summary.valid and summary.prompt == "shot 1"
        dialog.close()
    finally:
        close_window(window)


def test_installed_export_timeline_signs_each_clip(tmp_path):
    """The clips handed to an editor carry their shot's proof of origin (Premiere and other
    tools that keep Content Credentials list them as the edit's ingredients)."""
    from sora_desktop.studio.provenance import read_provenance
    from tests.film_support import mixed_project

    project = mixed_project(tmp_path / "p")
    env = {**os.environ, "SORA_DESKTOP_HOME": str(tmp_path / "home")}
    out = tmp_path / "cut.edl"
    done = subprocess.run(
        [str(EXE), "export-timeline", str(project.path), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "signed: each clip carries proof of origin" in done.stderr
    clips = sorted((tmp_path / "cut_media").iterdir())
    summaries = [read_provenance(c) for c in clips]
    assert all(s is not None and s.valid for s in summaries)
    assert [s.prompt for s in summaries] == [s.request.prompt for s in project.shots]
    # the project's own takes are left as they were (only the copies are signed)
    assert all(read_provenance(c) is None for c in project.path.parent.rglob("*.mp4"))


def test_batch_film_is_signed_and_a_failure_is_a_note(tmp_path):
    """``sora-desktop batch``'s film (studio.batch.write_film) is signed like the app's."""
    from sora_desktop.engine.export.provenance import ProvenanceOptions
    from sora_desktop.studio.batch import write_film
    from sora_desktop.studio.provenance import read_provenance
    from tests.film_support import mixed_project

    project = mixed_project(tmp_path / "p")
    notes: list[str] = []
    options = ProvenanceOptions(data_dir=str(tmp_path / "d"))
    film = write_film(project, tmp_path / "film.gif", "gif", note=notes.append, provenance=options)
    summary = read_provenance(film)
    assert summary.valid and summary.prompt == "shot 1"
    broken = ProvenanceOptions(cert_path=str(tmp_path / "gone.pem"), key_path=str(tmp_path / "k"))
    film = write_film(project, tmp_path / "film.mp4", "mp4", note=notes.append, provenance=broken)
    assert film.is_file() and read_provenance(film) is None  # the film is kept
    assert [n for n in notes if "not signed" in n] == [notes[-1]] and "film.mp4" in notes[-1]
