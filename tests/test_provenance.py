"""Proof of origin (issue 20): every exported MP4 carries a signed C2PA manifest (c2pa-python)
that reads back with the created action, the trained-model source type, the model, the
software and the prompt (unless turned off); a file edited after export fails validation; the
per-install certificate is made once and reused; a failure to sign keeps the export."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
PROMPT = "a red ball bouncing on a blue floor"


def _request():
    from sora_desktop.core.request import GenerationRequest

    return GenerationRequest(PROMPT, steps=2, num_frames=9, seed=4242)


def _export(path: Path) -> Path:
    from sora_desktop.engine.export import export_video

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (9, 64, 64, 3), dtype=np.uint8)
    return export_video(frames, path, 8, request=_request())


def _raw_manifest(path: Path) -> dict:
    """The manifest as c2pa itself reports it (not through the code under test)."""
    import c2pa

    with c2pa.Reader(str(path)) as reader:
        store = json.loads(reader.json())
    return store


def _created(store: dict) -> dict:
    manifest = store["manifests"][store["active_manifest"]]
    for assertion in manifest["assertions"]:
        if assertion["label"].startswith("c2pa.actions"):
            for action in assertion["data"]["actions"]:
                if action["action"] == "c2pa.created":
                    return action
    raise AssertionError("no c2pa.created action")


def test_signed_export_reads_back_with_action_source_model_software_prompt(tmp_path):
    from sora_desktop import __version__
    from sora_desktop.engine.export.provenance import ProvenanceOptions, sign_export
    from sora_desktop.studio.provenance import read_provenance

    clip = _export(tmp_path / "clip.mp4")
    assert sign_export(clip, _request(), ProvenanceOptions(data_dir=str(tmp_path / "d"))) is None

    store = _raw_manifest(clip)
    action = _created(store)
    assert action["digitalSourceType"] == SOURCE_TYPE
    assert action["softwareAgent"]["name"] == "Sora Desktop"
    assert action["softwareAgent"]["version"] == __version__
    assert action["parameters"]["model"] == _request().model_id
    assert action["parameters"]["prompt"] == PROMPT
    assert store["validation_state"] in ("Valid", "Trusted")

    summary = read_provenance(clip)
    assert summary.valid and summary.problems == ()
    assert (summary.action, summary.source_type) == ("c2pa.created", SOURCE_TYPE)
    assert summary.model == _request().model_id and summary.prompt == PROMPT
    assert summary.software == f"Sora Desktop {__version__}" and summary.seed == 4242
    # the clip still plays: the manifest did not break the video
    import cv2

    cap = cv2.VideoCapture(str(clip))
    assert cap.read()[0]
    cap.release()


def test_prompt_left_out_when_turned_off(tmp_path):
    from sora_desktop.core.settings import Settings
    from sora_desktop.engine.export.provenance import sign_export
    from sora_desktop.studio.provenance import options_from_settings, read_provenance

    options = options_from_settings(Settings(provenance_prompt=False))
    clip = _export(tmp_path / "clip.mp4")
    options = type(options)(include_prompt=options.include_prompt, data_dir=str(tmp_path / "d"))
    assert sign_export(clip, _request(), options) is None
    summary = read_provenance(clip)
    assert summary.valid and summary.model == _request().model_id
    assert summary.prompt is None
    assert "prompt" not in _created(_raw_manifest(clip)).get("parameters", {})
    # nowhere in the manifest either (the container's own comment is the metadata option's)
    assert PROMPT not in json.dumps(_raw_manifest(clip))


def test_a_file_edited_after_export_fails_validation(tmp_path):
    from sora_desktop.engine.export.provenance import ProvenanceOptions, sign_export
    from sora_desktop.studio.provenance import read_provenance

    clip = _export(tmp_path / "clip.mp4")
    sign_export(clip, _request(), ProvenanceOptions(data_dir=str(tmp_path / "d")))
    data = bytearray(clip.read_bytes())
    at = data.find(b"mdat") + 64  # inside the video data
    data[at : at + 8] = bytes(b ^ 0xFF for b in data[at : at + 8])
    edited = tmp_path / "edited.mp4"
    edited.write_bytes(bytes(data))

    store = _raw_manifest(edited)
    assert store["validation_state"] == "Invalid"
    summary = read_provenance(edited)
    assert not summary.valid and any("mismatch" in p for p in summary.problems)

    # the installed CLI says so: 0 for the intact file, 1 for the edited one
    exe = Path(sys.executable).with_name("sora-desktop")
    ok = subprocess.run(
        [str(exe), "provenance", str(clip)], capture_output=True, text=True, timeout=120
    )
    assert ok.returncode == 0, ok.stderr
    assert "manifest: valid" in ok.stdout and f"prompt: {PROMPT}" in ok.stdout
    assert f"source: {SOURCE_TYPE}" in ok.stdout
    bad = subprocess.run(
        [str(exe), "provenance", str(edited)], capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 1 and "INVALID" in bad.stdout
    assert "changed after it was signed" in bad.stderr
    plain = _export(tmp_path / "plain.mp4")  # never signed
    none = subprocess.run(
        [str(exe), "provenance", str(plain)], capture_output=True, text=True, timeout=120
    )
    assert none.returncode == 1 and "no proof-of-origin manifest" in none.stderr


def test_install_certificate_made_once_private_and_reused(tmp_path):
    from cryptography import x509

    from sora_desktop.engine.export.provenance import (
        ProvenanceOptions,
        install_certificate,
        sign_export,
    )

    data = tmp_path / "data"
    cert, key = install_certificate(data)
    first = (cert.read_bytes(), key.read_bytes())
    for f in (*cert.parent.iterdir(),):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert stat.S_IMODE(cert.parent.stat().st_mode) == 0o700
    chain = x509.load_pem_x509_certificates(first[0])
    assert len(chain) == 2 and chain[0].issuer == chain[1].subject  # issued by the local CA
    assert chain[0].issuer != chain[0].subject  # not self-signed (c2pa refuses that)

    a, b = _export(tmp_path / "a.mp4"), _export(tmp_path / "b.mp4")
    for clip in (a, b):
        assert sign_export(clip, _request(), ProvenanceOptions(data_dir=str(data))) is None
    assert (cert.read_bytes(), key.read_bytes()) == first  # reused, not made again
    assert install_certificate(data) == (cert, key)
    signers = {
        _raw_manifest(c)["manifests"][_raw_manifest(c)["active_manifest"]]["signature_info"][
            "cert_serial_number"
        ]
        for c in (a, b)
    }
    assert signers == {str(chain[0].serial_number)}


def test_users_own_certificate_signs(tmp_path):
    from sora_desktop.core.settings import Settings
    from sora_desktop.engine.export.provenance import install_certificate, sign_export
    from sora_desktop.studio.provenance import options_from_settings, read_provenance

    cert, key = install_certificate(tmp_path / "theirs")  # a chain made elsewhere
    settings = Settings(provenance_cert=str(cert), provenance_key=str(key))
    clip = _export(tmp_path / "clip.mp4")
    assert sign_export(clip, _request(), options_from_settings(settings)) is None
    assert read_provenance(clip).valid
    missing = Settings(provenance_cert=str(tmp_path / "nope.pem"), provenance_key=str(key))
    other = _export(tmp_path / "other.mp4")
    before = other.read_bytes()
    warning = sign_export(other, _request(), options_from_settings(missing))
    assert warning and "other.mp4" in warning and "nope.pem" in warning
    assert other.read_bytes() == before  # kept exactly as exported


def test_film_export_is_signed_and_a_failed_signature_keeps_the_film(tmp_path):
    from sora_desktop.engine.export.provenance import ProvenanceOptions
    from sora_desktop.studio.film import film_clips, film_request, render_film
    from sora_desktop.studio.provenance import read_provenance
    from tests.film_support import mixed_project

    project = mixed_project(tmp_path / "p")
    clips, request = film_clips(project), film_request(project)
    options = ProvenanceOptions(data_dir=str(tmp_path / "d"))
    warnings: list[str] = []
    out = render_film(
        clips,
        tmp_path / "film.mp4",
        24,
        fmt="mp4",
        request=request,
        provenance=options,
        on_warning=warnings.append,
    )
    assert warnings == []
    summary = read_provenance(out)
    assert summary.valid and summary.prompt == "shot 1" and summary.source_type == SOURCE_TYPE

    broken = ProvenanceOptions(cert_path=str(tmp_path / "gone.pem"), key_path=str(tmp_path / "k"))
    out = render_film(
        clips,
        tmp_path / "film2.mp4",
        24,
        fmt="mp4",
        request=request,
        provenance=broken,
        on_warning=warnings.append,
    )
    assert out.is_file() and out.stat().st_size > 0  # the film is kept
    assert len(warnings) == 1 and "film2.mp4" in warnings[0] and "not signed" in warnings[0]
    assert read_provenance(out) is None
    assert [p.name for p in tmp_path.iterdir() if ".c2pa" in p.name] == []  # no temp left


def test_cli_generate_signs_its_mp4(tmp_path, monkeypatch, capsys):
    from sora_desktop import cli
    from sora_desktop.engine import registry
    from sora_desktop.engine.backend import (
        Backend,
        BackendCapabilities,
        GenerationResult,
        StepEvent,
    )
    from sora_desktop.studio.provenance import read_provenance

    class Fake(Backend):  # a model that answers at once: the export path is what is tested
        model_id = "test/provenance"

        def capabilities(self) -> BackendCapabilities:
            return BackendCapabilities(sizes=(), max_frames=64, supports_start_image=False)

        def generate(self, request, cancel=None):
            yield StepEvent(1, 1)
            frames = np.random.default_rng(1).integers(0, 255, (4, 16, 16, 3), dtype=np.uint8)
            yield GenerationResult(frames, request.fps, request)

    monkeypatch.setitem(registry._factories, Fake.model_id, lambda model_id, device: Fake())
    registry.unload_all()
    home = tmp_path / "home"
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(home))
    out = tmp_path / "clip.mp4"
    argv = ["generate", PROMPT, "--model", Fake.model_id, "--device", "cpu", "-o", str(out)]
    try:
        code = cli.main(argv)
    finally:
        registry.unload_all()
    err = capsys.readouterr().err
    assert code == 0, err
    assert "signed: proof of origin" in err
    summary = read_provenance(out)
    assert summary.valid and summary.prompt == PROMPT and summary.model == Fake.model_id
    assert (home / "data" / "provenance" / "signing.pem").is_file()  # the per-install one
    assert os.stat(home / "data" / "provenance" / "signing.key").st_mode & 0o077 == 0


def test_settings_choose_the_prompt_and_the_certificate(qtbot, tmp_path):
    from sora_desktop.core.errors import FieldError
    from sora_desktop.core.settings import Settings, load_settings, save_settings
    from sora_desktop.studio.provenance import options_from_settings
    from sora_desktop.ui.settings_dialog import SettingsDialog

    assert Settings().provenance_prompt is True  # on unless the user turns it off
    with pytest.raises(FieldError) as err:
        Settings(provenance_cert="  ")
    assert err.value.field == "provenance_cert"
    from sora_desktop.engine.export.provenance import sign_export

    clip = _export(tmp_path / "half.mp4")  # a certificate without its key: a plain warning
    half = options_from_settings(Settings(provenance_cert=str(tmp_path / "c.pem")))
    assert "needs both a certificate and a key" in sign_export(clip, _request(), half)

    base = Settings(output_dir=str(tmp_path / "o"), models_dir=str(tmp_path / "m"))
    dialog = SettingsDialog(base)
    qtbot.addWidget(dialog)
    dialog.provenance_prompt.setChecked(False)
    dialog.provenance_cert.setText(str(tmp_path / "mine.pem"))
    dialog.provenance_key.setText(str(tmp_path / "mine.key"))
    chosen = dialog.build()
    save_settings(chosen, tmp_path / "settings.json")
    again = load_settings(tmp_path / "settings.json")
    options = options_from_settings(again)
    assert options.include_prompt is False
    assert options.cert_path == str(tmp_path / "mine.pem")
    assert options.key_path == str(tmp_path / "mine.key")


def test_export_dialog_signs_and_warns_when_it_cannot(qtbot, monkeypatch, tmp_path):
    from sora_desktop.core.settings import Settings, save_settings
    from sora_desktop.studio.provenance import read_provenance
    from tests.film_support import mixed_project
    from tests.ui_support import close_window, make_window

    home = tmp_path / "home"
    monkeypatch.setenv("SORA_DESKTOP_HOME", str(home))
    project = mixed_project(tmp_path / "p")
    window = make_window(tmp_path)
    qtbot.waitExposed(window)
    try:
        assert window.open_project(project.path)

        def export(name: str):
            dialog = window.open_export_dialog()
            dialog.scope.setCurrentIndex(dialog.scope.findData("storyboard"))
            dialog.format.setCurrentIndex(dialog.format.findData("mp4"))
            dialog.size.setCurrentIndex(dialog.size.findData(1))
            dialog.path_edit.setText(str(tmp_path / name))
            dialog.export_btn.click()
            qtbot.waitUntil(lambda: dialog.result_path is not None, timeout=60_000)
            status = dialog.status.text()
            dialog.close()
            return tmp_path / name, status

        film, status = export("film.mp4")
        assert "not signed" not in status
        summary = read_provenance(film)
        assert summary.valid and summary.prompt == "shot 1"
        assert (home / "data" / "provenance" / "signing.pem").is_file()

        # the user's certificate is gone: the film is still saved, and the dialog says so
        broken = Settings(provenance_cert=str(tmp_path / "gone.pem"), provenance_key="k.pem")
        save_settings(broken)
        film, status = export("film2.mp4")
        assert film.is_file() and "film2.mp4 was exported but not signed" in status
        assert read_provenance(film) is None
    finally:
        close_window(window)
