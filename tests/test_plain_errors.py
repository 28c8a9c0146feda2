"""Errors in the user's terms (issue 20): each failure a user can meet is triggered for real and
the message they get is checked against a deny list of programmer words (field names such as
``num_frames``, exception class names, "errno", "dtype", "tensor", "CUDA", "None", Python
reprs) and for a next step where one exists.

The failures: a take's engine failing (torch's out-of-memory error, a graphics-card error, a
full disk, no permission, damaged model files in the real loader, a shot the model cannot make)
through the studio's ``run_take``; the CLI's bad values through the installed ``sora-desktop``
in a subprocess and through ``cli.main``; a damaged project, a bad sound file, a failed save,
a failed download, the worker process's crash text; and the window's Generate with an engine
that runs out of memory (the real start-up path, ``make_window``).
"""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sora_desktop.core.errors import FieldError
from sora_desktop.core.request import GenerationRequest
from tests.robust_support import untrained_checkpoint

CLI = str(Path(sys.executable).with_name("sora-desktop"))

# what a message for a non-programmer must not hold
DENY = [
    (r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b", "a code word (snake_case)"),
    (r"(^|error: )[a-z][a-z0-9_.]*: ", "a field name before the message"),
    (r"Traceback", "a traceback"),
    (r"\b[A-Z][A-Za-z]*(Error|Exception)\b", "an exception class name"),
    (r"\b[A-Z][a-z]+[A-Z][A-Za-z]*:", "a class name before a colon"),
    (r"\berrno\b|\[Errno", "an error number"),
    (r"\bdtype\b", "dtype"),
    (r"\btensors?\b", "tensor"),
    (r"\bCUDA\b", "CUDA"),
    (r"\bOOM\b", "OOM"),
    (r"\bNone\b", "None"),
    (r"\d+k\+1\b", "a frame rule as a formula"),
    (r"[\[({]'|'[\])}]|<\w[^>]* at 0x|\bb'", "a Python repr"),
]
# words that say what to do next (or the limit to keep to)
NEXT_STEP = re.compile(
    r"\b(try|use|choose|pick|change|free|download|open|give|turn|save|generate|remove|"
    r"check|update|restart|close|make|allowed|longest|shortest|at most|at least)\b",
    re.IGNORECASE,
)


def jargon(text: str) -> list[str]:
    return [why for pattern, why in DENY if re.search(pattern, text)]


def assert_plain(text: str, next_step: bool = True) -> None:
    assert text.strip(), "an empty message"
    assert not jargon(text), f"{jargon(text)} in: {text!r}"
    if next_step:
        assert NEXT_STEP.search(text), f"no next step in: {text!r}"


def test_the_deny_list_catches_the_old_messages():
    """The checker itself: each old message (as main printed them) is caught."""
    old = [
        "This shot's settings cannot be used: num_frames: 800 is out of range for "
        "sora-desktop/embedded-tiny; allowed 1 to 121",
        "Generation failed: CUDA error: device-side assert triggered",
        "A file could not be written or read ([Errno 28] No space left on device)",
        "error: guidance: 99.0 is out of range; allowed 0.0 to 30.0",
        "seed: expected int, got NoneType",
        "quality: 'x' is not allowed; allowed ('low', 'medium', 'high')",
        "The server answered: ReadTimeout: timed out",
        "Wan needs 4k+1 frames",
    ]
    for text in old:
        assert jargon(text), text


# ---------------------------------------------------------------------------- a take's failures
def _run(tmp_path: Path, generate=None, request: GenerationRequest | None = None) -> str:
    """Run one take through the studio's use case; the failure message the user gets."""
    from sora_desktop.engine.backend import CancelToken
    from sora_desktop.studio.queue import TakeRun
    from sora_desktop.studio.take_runner import TakeFailed, run_take

    run = TakeRun("job", request or GenerationRequest("a red ball", steps=2), tmp_path, "take")
    events = []
    end = run_take(run, CancelToken(), events.append, generate=generate)
    assert isinstance(end, TakeFailed), end
    assert [e for e in events if isinstance(e, TakeFailed)] == [end]  # exactly one
    return end.message


def _raising(exc: BaseException):
    def generate(request, cancel, **_kw):
        raise exc
        yield  # a generator, like a backend

    return generate


def test_torch_out_of_memory_is_in_plain_words(tmp_path):
    import torch

    message = _run(tmp_path, _raising(torch.OutOfMemoryError("CUDA out of memory. Tried to")))
    assert_plain(message)
    assert "memory" in message and "Low memory" in message  # the mode as Settings names it


def test_a_graphics_card_error_says_what_to_do(tmp_path):
    exc = RuntimeError("CUDA error: device-side assert triggered\nCompile with TORCH_USE_DSA")
    message = _run(tmp_path, _raising(exc))
    assert_plain(message)
    assert "graphics card" in message and "Settings" in message


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/x/take.mp4"), "disk is full"),
        (PermissionError(errno.EACCES, "Permission denied", "/x/take.mp4"), "not allowed"),
        (OSError(errno.EIO, "Input/output error", "/x/take.mp4"), "could not be written"),
    ],
)
def test_file_failures_name_the_cause_not_the_error_number(tmp_path, exc, words):
    message = _run(tmp_path, _raising(exc))
    assert_plain(message)
    assert words in message


def test_damaged_model_files_in_the_real_loader_point_to_the_model_manager(tmp_path, monkeypatch):
    from sora_desktop.engine import registry

    model = untrained_checkpoint(tmp_path / "model")
    (model / "dit.safetensors").write_bytes(b"\x00" * 64)  # cut off: not a safetensors file
    monkeypatch.setenv("SORA_DESKTOP_EMBEDDED_MODEL", str(model))
    registry.unload_all()
    try:
        message = _run(tmp_path / "out", request=GenerationRequest("a red ball", steps=2))
    finally:
        registry.unload_all()
    assert_plain(message)
    assert "Model manager" in message and str(model) not in message


def test_a_shot_too_long_for_the_model_names_duration_in_seconds(tmp_path):
    from sora_desktop.core.capabilities import embedded_capabilities

    caps = embedded_capabilities()
    frames = caps.max_frames + 8
    message = _run(tmp_path, request=GenerationRequest("a red ball", steps=2, num_frames=frames))
    assert_plain(message)
    assert "Duration" in message and f"{frames / caps.default_fps:.1f} s" in message
    assert f"the longest is {caps.max_frames / caps.default_fps:.1f} s" in message


def test_a_missing_previous_clip_says_to_generate_it_first(tmp_path):
    from sora_desktop.studio.messages import friendly_error

    message = friendly_error(FieldError("start_image", "last.png was not found"))
    assert_plain(message)
    assert "previous shot" in message


def test_an_unforeseen_error_shows_no_class_name_or_repr(tmp_path):
    message = _run(tmp_path, _raising(KeyError("w0.video")))
    assert_plain(message)
    assert "log" in message  # where the details are


def test_the_worker_process_crash_and_start_texts_are_plain():
    from sora_desktop.studio.worker_process import CRASH_MESSAGE, START_MESSAGE

    assert_plain(CRASH_MESSAGE)
    assert_plain(START_MESSAGE)


def test_music_failures_speak_of_the_music():
    from sora_desktop.studio.messages import friendly_error

    message = friendly_error(MemoryError(), job="music")
    assert_plain(message)
    assert "this music" in message and "shot" not in message


# ---------------------------------------------------------------------------- the command line
def _cli(tmp_path: Path, *args: str) -> tuple[int, str]:
    env = {**os.environ, "SORA_DESKTOP_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [CLI, *args], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env
    )
    return proc.returncode, proc.stderr


def _error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    assert lines, err
    return lines[-1][len("error: ") :]


def test_the_installed_cli_names_option_and_label_for_a_too_long_shot(tmp_path):
    from sora_desktop.core.capabilities import embedded_capabilities

    caps = embedded_capabilities()
    code, err = _cli(tmp_path, "generate", "a red ball", "--seconds", "100", "-o", "x.mp4")
    assert code == 2 and "Traceback" not in err
    line = _error_line(err)
    assert_plain(line)
    assert (
        "(Duration)" in line
        and f"the longest is {caps.max_frames / caps.default_fps:.1f} s" in line
    )
    assert not (tmp_path / "x.mp4").exists()


def test_the_installed_cli_says_a_bad_guidance_in_words(tmp_path):
    code, err = _cli(tmp_path, "generate", "a red ball", "--guidance", "99", "-o", "x.mp4")
    assert code == 2
    line = _error_line(err)
    assert line.startswith("--guidance (Guidance): ")
    assert_plain(line)


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["--frames", "9999"], "--frames (Duration)"),
        (["--steps", "0"], "--steps (Steps)"),
        (["--size", "63x64"], "--size (Size)"),
        (["--fps", "0"], "--fps (Frame rate)"),
        (["--seconds", "-1"], "--seconds (Duration)"),
        (["--prompt-at", "0.5", "later"], "--prompt-at (Prompts over time)"),
        (["--upscale", "99"], "--upscale (Size)"),
    ],
)
def test_cli_bad_values_name_the_option_and_the_label(capsys, tmp_path, monkeypatch, argv, option):
    from sora_desktop import cli

    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    code = cli.main(["generate", "a red ball", *argv, "-o", "x.mp4"])
    err = capsys.readouterr().err
    assert code == 2, err
    line = _error_line(err)
    assert line.startswith(option), line
    assert_plain(line)


def test_cli_engine_failures_are_plain(capsys, tmp_path, monkeypatch):
    """The engine fails mid-generate (out of memory, a full disk): one plain line, exit 1."""
    import torch

    from sora_desktop import cli
    from sora_desktop.engine import registry

    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    for exc, words in (
        (torch.OutOfMemoryError("CUDA out of memory."), "not enough memory"),
        (OSError(errno.ENOSPC, "No space left on device", "x.mp4"), "the disk is full"),
    ):
        monkeypatch.setattr(registry, "generate", _raising(exc))
        code = cli.main(["generate", "a red ball", "--steps", "2", "-o", "x.mp4"])
        err = capsys.readouterr().err
        assert code == 1, err
        line = _error_line(err)
        assert_plain(line)
        assert words in line


# ---------------------------------------------------------------------------- files
def test_a_damaged_project_names_the_setting_by_its_label(tmp_path):
    from sora_desktop.core.project import ProjectError, load_project, new_project, save_project

    path = save_project(new_project("Film"), tmp_path / "film.sdproj")
    data = json.loads(path.read_text())
    data["settings"]["crossfade_frames"] = 10**6
    path.write_text(json.dumps(data))
    with pytest.raises(ProjectError) as info:
        load_project(path)
    message = str(info.value)
    assert_plain(message.replace("film.sdproj", "the file"), next_step=False)
    assert "Cross-fade" in message


def test_a_failed_save_says_what_to_do(tmp_path, monkeypatch):
    from sora_desktop.core.project import ProjectError, new_project, save_project, storage

    project = new_project("Film")
    path = save_project(project, tmp_path / "film.sdproj")

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage, "atomic_write_text", full)
    with pytest.raises(ProjectError) as info:
        save_project(project, path)
    message = str(info.value).replace("film.sdproj", "the file")
    assert_plain(message)
    assert "disk is full" in message and "Save As" in message


def test_a_bad_sound_file_is_refused_in_plain_words(tmp_path):
    from sora_desktop.core.project import new_project, save_project
    from sora_desktop.studio.soundtrack import import_audio

    project = new_project("Film")
    save_project(project, tmp_path / "film.sdproj")
    bad = tmp_path / "song.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(64))
    with pytest.raises(ValueError) as info:
        import_audio(project, bad)
    from sora_desktop.core.labels import in_words

    message = in_words(info.value).replace("song.wav", "the file")
    assert_plain(message, next_step=False)


def test_an_unforeseen_download_failure_shows_no_class_name():
    from sora_desktop.core.catalog import load_catalog
    from sora_desktop.engine.download_plan import explain_hub_error
    from sora_desktop.engine.downloads import HubConfig

    entry = next(e for e in load_catalog() if e.backend == "diffusers")
    message = explain_hub_error(HubConfig(), RuntimeError("boom <object at 0x7f>"), entry)
    assert_plain(message)


# ---------------------------------------------------------------------------- the window
def test_the_window_shows_an_engine_out_of_memory_in_plain_words(qtbot, tmp_path, monkeypatch):
    import torch

    from tests.ui_support import close_window, make_window

    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    w = make_window(tmp_path, generate_fn=_raising(torch.OutOfMemoryError("CUDA out of memory")))
    try:
        jobs = w.make_first_video()
        qtbot.waitUntil(lambda: jobs[0].is_terminal, timeout=20_000)
        assert jobs[0].status == "failed"
        texts = [text for _title, text in w.messages]
        assert texts, "no message reached the user"
        for text in texts:
            assert_plain(text)
        assert any("Low memory" in text for text in texts)
        assert np.all([("CUDA" not in t) for t in texts])
    finally:
        close_window(w)


def test_the_editor_labels_are_the_ones_the_messages_use(qtbot, tmp_path, monkeypatch):
    """One place for the labels: the prompt editor's section titles are core/labels.py's."""
    from PySide6.QtWidgets import QLabel

    from sora_desktop.core.labels import field_label
    from tests.ui_support import close_window, make_window

    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    w = make_window(tmp_path)
    try:
        shown = {lab.text().lower() for lab in w.editor.findChildren(QLabel)}
        for field in ("prompt", "negative_prompt", "timed_prompts", "num_frames", "fps"):
            assert field_label(field).lower() in shown, field
        for field in ("width", "steps", "guidance", "seed", "model_id"):
            assert field_label(field).lower() in shown, field
    finally:
        close_window(w)


def test_the_undo_menu_names_changes_by_their_labels():
    from sora_desktop.ui import prompt_editor_vm as logic

    keys = ("prompt", "negative_prompt", "seed", "duration", "fps", "steps", "guidance", "size")
    labels = [logic.commit_label(k) for k in (*keys, "timed_prompts", "model")]
    for label in labels:
        assert_plain(label, next_step=False)
    assert logic.commit_label("fps") == "Change frame rate"
    assert logic.commit_label("timed_prompts") == "Change prompts over time"


def test_settings_errors_use_the_labels_on_screen(qtbot, tmp_path, monkeypatch):
    """Settings → a bad Mirror address: the message starts with the row's label."""
    from sora_desktop.core.settings import Settings
    from sora_desktop.ui.settings_dialog import SettingsDialog

    monkeypatch.setenv("SORA_DESKTOP_HOME", str(tmp_path / "home"))
    dialog = SettingsDialog(Settings(models_dir=str(tmp_path / "m")))
    qtbot.addWidget(dialog)
    dialog.mirror.setText("hf-mirror")
    dialog.accept()
    text = dialog.error.text()
    assert text.startswith("Mirror: ") and "web address" in text
    assert_plain(text.replace("hf-mirror", "the address"))


def test_a_failed_decode_keeps_the_denoising_and_says_so_plainly(tmp_path):
    """The graphics card fails in the decode, after the latents were handed out: the take ends
    "Decode failed" with the retry to use, and no driver text."""
    from sora_desktop.engine.backend import DecodeFailed, LatentsReady

    def generate(request, cancel, **_kw):
        yield LatentsReady({"video": np.zeros((1, 4, 2, 8, 8), np.float32)})
        try:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        except RuntimeError as exc:
            raise DecodeFailed("decode") from exc

    message = _run(tmp_path, generate)
    assert message.startswith("Decode failed: the graphics card stopped with an error")
    assert "Retry in low memory" in message
    assert_plain(message)
