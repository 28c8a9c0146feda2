"""Latents files are the user's files: saved atomically without pickle, loaded as hostile input
(pickled objects, wrong or huge declared sizes, cut off, compressed, not ours) with a clear
message. The take's sound is a 16-bit WAV side file that follows the take. The project keeps a
"decode failed" take (and its latents) across save and reopen."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sora_desktop.core.request import GenerationRequest
from sora_desktop.studio.decode import (
    LatentsFileError,
    clip_path_for,
    latents_path,
    load_latents,
    save_latents,
)

REQ = GenerationRequest("a red ball", steps=2, seed=3)


def _latents():
    rng = np.random.default_rng(0)
    return {
        "w0.video": rng.standard_normal((1, 4, 8, 16, 16)).astype(np.float32),
        "audio": rng.standard_normal((2, 8, 100)).astype(np.float32),
    }


def test_round_trip_keeps_every_array_audio_included(tmp_path):
    path = save_latents(tmp_path / "t.latents.npz", _latents(), {"segments": 1}, REQ)
    saved = load_latents(path)
    assert sorted(saved.latents) == ["audio", "w0.video"]
    for key, value in _latents().items():
        np.testing.assert_array_equal(saved.latents[key], value)
    assert saved.info == {"segments": 1} and saved.request == REQ
    assert latents_path(tmp_path / "abc.mp4") == tmp_path / "abc.latents.npz"
    assert clip_path_for(tmp_path / "abc.latents.npz") == tmp_path / "abc.mp4"
    assert not list(tmp_path.glob("*.part"))  # atomic: no temp file left


def _zip_with(tmp_path: Path, members: dict[str, bytes], compress=zipfile.ZIP_STORED) -> Path:
    path = tmp_path / "bad.latents.npz"
    with zipfile.ZipFile(path, "w", compress) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _npy(arr, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def _info(request=None) -> bytes:
    request = REQ.to_dict() if request is None else request
    meta = {"format": "sora-desktop-latents", "version": 1, "request": request, "info": {}}
    return _npy(np.frombuffer(json.dumps(meta).encode(), np.uint8))


def _huge_header() -> bytes:
    """A .npy header declaring 10**12 float32 values, followed by 64 bytes."""
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 64


@pytest.mark.parametrize(
    "case, words",
    [
        ("pickle", "not numbers"),
        ("huge", "declares"),
        ("truncated", "damaged or cut off"),
        ("not_zip", "damaged or cut off"),
        ("compressed", "compressed"),
        ("no_info", "no info"),
        ("bad_request", "request is not valid"),
        ("nan", "invalid numbers"),
        ("newer", "newer"),
        ("odd_name", "unexpected entry"),
    ],
)
def test_hostile_latents_files_get_a_clear_message(tmp_path, case, words):
    good = _npy(np.zeros((1, 4, 2, 4, 4), np.float32))
    if case == "pickle":
        path = _zip_with(
            tmp_path,
            {"__info__.npy": _info(), "w0.video.npy": _npy(np.array([{"x": 1}], object), True)},
        )
    elif case == "huge":
        path = _zip_with(tmp_path, {"__info__.npy": _info(), "w0.video.npy": _huge_header()})
    elif case == "truncated":
        full = save_latents(tmp_path / "ok.latents.npz", _latents(), {}, REQ).read_bytes()
        path = tmp_path / "bad.latents.npz"
        path.write_bytes(full[: len(full) // 2])
    elif case == "not_zip":
        path = tmp_path / "bad.latents.npz"
        path.write_bytes(b"hello, not a zip")
    elif case == "compressed":
        path = _zip_with(
            tmp_path, {"__info__.npy": _info(), "w0.video.npy": good}, zipfile.ZIP_DEFLATED
        )
    elif case == "no_info":
        path = _zip_with(tmp_path, {"w0.video.npy": good})
    elif case == "bad_request":
        path = _zip_with(
            tmp_path, {"__info__.npy": _info({**REQ.to_dict(), "steps": -9}), "w0.video.npy": good}
        )
    elif case == "nan":
        path = _zip_with(
            tmp_path,
            {"__info__.npy": _info(), "w0.video.npy": _npy(np.full((2, 2), np.nan, np.float32))},
        )
    elif case == "newer":
        meta = {
            "format": "sora-desktop-latents",
            "version": 99,
            "request": REQ.to_dict(),
            "info": {},
        }
        info = _npy(np.frombuffer(json.dumps(meta).encode(), np.uint8))
        path = _zip_with(tmp_path, {"__info__.npy": info, "w0.video.npy": good})
    else:
        path = _zip_with(tmp_path, {"__info__.npy": _info(), "../../evil.npy": good})
    with pytest.raises(LatentsFileError) as info:
        load_latents(path)
    message = str(info.value)
    assert message.startswith("latents: bad.latents.npz cannot be used") and words in message


def test_a_fifo_or_folder_is_refused_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "pipe.latents.npz"
    os.mkfifo(fifo)
    with pytest.raises(LatentsFileError, match="not a file"):
        load_latents(fifo)
    with pytest.raises(LatentsFileError):
        load_latents(tmp_path)


def test_wav_side_file_round_trip(tmp_path):
    from sora_desktop.studio.audio import audio_path, read_wav, write_wav

    t = np.arange(4800) / 48_000
    audio = np.stack([np.sin(2 * np.pi * 440 * t), 0.5 * np.cos(2 * np.pi * 220 * t)], 1)
    path = write_wav(audio_path(tmp_path / "take.mp4"), audio.astype(np.float32), 48_000)
    assert path.name == "take_audio.wav"
    back, rate = read_wav(path)
    assert rate == 48_000 and back.shape == (4800, 2)
    assert np.abs(back - audio).max() <= 1 / 32767 + 1e-6
    with pytest.raises(ValueError, match="sample_rate"):
        write_wav(tmp_path / "x.wav", audio, 0)


def test_project_keeps_a_decode_failed_take_and_older_readers_see_it_failed(tmp_path):
    from sora_desktop.core import project as core_project
    from sora_desktop.core.project import Take

    project = core_project.new_project("film")
    shot = project.add_shot(REQ)
    take = project.add_take(shot.id, Take.create(REQ))
    rel = f"untitled_media/{shot.id}/{take.id}.latents.npz"
    project.update_take(shot.id, take.id, status="decode_failed", latents=rel, error="OOM")
    assert shot.status == "decode_failed"
    data = project.to_dict()
    raw = data["shots"][0]["takes"][0]
    assert raw["status"] == "failed" and raw["latents"] == rel  # what an older reader accepts
    back = core_project.Project.from_dict(json.loads(json.dumps(data)))
    again = back.shots[0].takes[0]
    assert again.status == "decode_failed" and again.latents == rel
    # a latents path leading out of the project is refused like a clip path
    raw["latents"] = "../../etc/passwd"
    with pytest.raises(core_project.ProjectError, match="outside"):
        core_project.Project.from_dict(data)
    # done: the clip exists, no latents are kept
    project.update_take(shot.id, take.id, status="done", clip=f"untitled_media/{shot.id}/x.mp4")
    assert take.latents is None and "latents" not in project.to_dict()["shots"][0]["takes"][0]


def test_a_take_interrupted_during_its_decode_reopens_as_decode_failed(tmp_path):
    from sora_desktop.core import project as core_project
    from sora_desktop.core.project import Take

    project = core_project.new_project("film")
    shot = project.add_shot(REQ)
    during = project.add_take(shot.id, Take.create(REQ))
    before = project.add_take(shot.id, Take.create(REQ))
    rel = f"film_media/{shot.id}/{during.id}.latents.npz"
    project.update_take(shot.id, during.id, status="generating", latents=rel)
    project.update_take(shot.id, before.id, status="generating")
    path = core_project.save_project(project, tmp_path / "film.sdproj")
    back = core_project.load_project(path)
    statuses = [t.status for t in back.shots[0].takes]
    assert statuses == ["decode_failed", "failed"]


def test_latents_that_cannot_be_saved_do_not_cost_the_clip(tmp_path):
    from sora_desktop.engine.backend import GenerationResult, LatentsReady, StepEvent
    from sora_desktop.studio.decode import run_generation

    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")  # the latents would go inside a file: the save fails
    result = GenerationResult(np.zeros((2, 8, 8, 3), np.uint8), 8, REQ)
    events = [StepEvent(1, 1), LatentsReady(_latents(), {}), result]
    steps = []
    got = run_generation(events, blocker / "t.latents.npz", REQ, on_step=steps.append)
    assert got is result and len(steps) == 1


def test_a_long_shots_latents_accumulate_window_by_window(tmp_path):
    from sora_desktop.engine.backend import GenerationResult, LatentsReady
    from sora_desktop.studio.decode import DecodeKept, run_generation

    w0 = np.zeros((1, 2, 2, 4, 4), np.float32)

    def events():  # engine/long_shot.py: one LatentsReady per window, then window 1 fails
        yield LatentsReady({"w0.video": w0}, {"w0": {"a": 1}, "long_shot": {"windows": 2}}, 0, 2)
        yield LatentsReady(
            {"w1.video": w0 + 1}, {"w1": {"b": 2}, "long_shot": {"windows": 2}}, 1, 2
        )
        raise MemoryError("out of memory")
        yield GenerationResult(np.zeros((2, 8, 8, 3), np.uint8), 8, REQ)

    path = tmp_path / "long.latents.npz"
    with pytest.raises(DecodeKept, match="ran out of memory") as info:
        run_generation(events(), path, REQ)
    assert info.value.latents == path
    saved = load_latents(path)
    assert sorted(saved.latents) == ["w0.video", "w1.video"]
    assert saved.info == {"w0": {"a": 1}, "w1": {"b": 2}, "long_shot": {"windows": 2}}
