"""The SHOTS file of ``sora-desktop batch``: reading (CSV, JSON, hostile files), checking every
row against the request's and the model's rules before anything runs, and matching the rows
to an existing project on a re-run (studio/batch_file.py, studio/batch.py)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from sora_desktop.cli_generate import model_defaults
from sora_desktop.core import project as core_project
from sora_desktop.core.capabilities import ModelCapabilities, embedded_capabilities
from sora_desktop.core.request import EMBEDDED_MODEL_ID, MAX_SEED
from sora_desktop.studio.batch import BatchOptions, plan_shots, prepare_project
from sora_desktop.studio.batch_file import (
    COLUMNS,
    MAX_BYTES,
    MAX_JSON_DEPTH,
    MAX_ROWS,
    BadShots,
    read_shots,
)
from sora_desktop.studio.media import last_frame_path

OPTIONS = BatchOptions(EMBEDDED_MODEL_ID, steps=2)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def plan(path: Path, options: BatchOptions = OPTIONS, model_info=model_defaults):
    return plan_shots(path.name, read_shots(path), options, model_info)


def problems_of(path: Path, **kwargs) -> list[str]:
    with pytest.raises(BadShots) as info:
        plan(path, **kwargs)
    return info.value.problems


# ------------------------------------------------------------------------------ reading


def test_csv_with_bom_quotes_blank_rows_and_any_case_header(tmp_path):
    path = write(
        tmp_path,
        "shots.csv",
        "\ufeffPrompt, Seconds ,CONTINUE,seed,negative,model\r\n"
        '"a red ball, rolling",2,,5,blur,\r\n'
        "\r\n"
        ",,,,,\r\n"
        '"a blue sky\nwith clouds",1.5,Yes,,,\r\n',
    )
    rows = read_shots(path)
    assert [r.where for r in rows] == ["line 2", "line 5"]  # as an editor numbers them
    assert rows[0].prompt == "a red ball, rolling" and rows[0].seconds == 2.0
    assert rows[0].seed == 5 and rows[0].negative == "blur" and not rows[0].continues
    assert rows[1].prompt == "a blue sky\nwith clouds" and rows[1].continues
    assert rows[1].seed is None and rows[1].model is None


def test_semicolon_csv_as_excel_writes_it(tmp_path):
    rows = read_shots(write(tmp_path, "s.csv", "prompt;seconds\na red ball;1\n"))
    assert rows[0].prompt == "a red ball" and rows[0].seconds == 1.0


def test_json_list_of_objects(tmp_path):
    data = [
        {"prompt": "a red ball", "seconds": 1, "seed": 3},
        {"prompt": "it rolls on", "continue": True, "negative": "blur"},
    ]
    shots, notes = plan(write(tmp_path, "s.json", json.dumps(data)))
    assert [s.number for s in shots] == [1, 2] and notes == []
    assert shots[0].request.num_frames == 8 and shots[0].request.seed == 3
    assert shots[0].seed_given and not shots[1].seed_given
    assert shots[1].continues and shots[1].request.negative_prompt == "blur"
    assert all(s.request.steps == 2 for s in shots)
    assert shots[1].request.num_frames == embedded_capabilities().default_frames


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("promt,seconds\na,1\n", ["line 1", "'promt'", "allowed: " + ", ".join(COLUMNS)]),
        ("seconds\n1\n", ['no "prompt" column']),
        ("prompt,prompt\na,b\n", ['"prompt" appears more than once']),
        ("", ["empty"]),
        ("prompt\n", ["no shots"]),
        ('prompt\n"a red ball\n', ["line", "quote"]),
    ],
)
def test_file_level_problems(tmp_path, content, words):
    with pytest.raises(BadShots) as info:
        read_shots(write(tmp_path, "s.csv", content))
    text = "\n".join(info.value.problems)
    assert all(w in text for w in words), text


def test_every_bad_row_is_named_with_its_column_before_anything_runs(tmp_path):
    path = write(
        tmp_path,
        "shots.csv",
        "prompt,seconds,continue,seed\n"
        "a red ball,abc,,5\n"  # line 2
        ",1,,\n"  # line 3
        "ok,1,maybe,-3\n"  # line 4
        "long,500,,\n"  # line 5
        f"seedy,1,,{MAX_SEED + 1}\n"  # line 6
        "fine,1,no,\n"  # line 7
        "extra,1,,,surplus\n",  # line 8
    )
    problems = problems_of(path)
    lines = [p.split(":")[0] for p in problems]
    assert lines == [
        'shots.csv line 2, column "seconds"',
        'shots.csv line 3, column "prompt"',
        'shots.csv line 4, column "continue"',
        'shots.csv line 4, column "seed"',
        'shots.csv line 5, column "seconds"',
        'shots.csv line 6, column "seed"',
        "shots.csv line 8",
    ]
    text = "\n".join(problems)
    caps = embedded_capabilities()
    longest = f"{caps.max_frames / caps.default_fps:.2f} s"
    assert longest in problems[4] and str(caps.max_frames) in problems[4]  # the model's range
    assert f"allowed 0 to {MAX_SEED}" in problems[5]
    assert "yes/true/1" in problems[2] and "no/false/0" in problems[2]
    assert "'surplus' is under no column" in text


def test_a_value_under_an_unnamed_column_is_not_lost(tmp_path):
    path = write(tmp_path, "s.csv", "prompt,seconds,\na red ball,1,\nblue,1,a note\n")
    problems = problems_of(path)
    assert len(problems) == 1 and problems[0].startswith("s.csv line 3: 'a note' is under no")


def test_first_row_cannot_continue(tmp_path):
    problems = problems_of(write(tmp_path, "s.csv", "prompt,continue\na red ball,yes\n"))
    assert problems[0].startswith('s.csv line 2, column "continue": the first shot')


def test_unknown_model_and_request_rules_name_their_column(tmp_path):
    path = write(
        tmp_path,
        "s.json",
        json.dumps(
            [
                {"prompt": "a", "model": "nobody/nothing"},
                {"prompt": "b" * 3000},
                {"prompt": "c", "negative": "n" * 3000},
                {"prompt": "d", "seconds": "1"},
                {"prompt": 5, "continue": "perhaps", "colour": "red"},
                [1, 2],
            ]
        ),
    )
    problems = problems_of(path)
    assert (
        problems[0].startswith('s.json item 1, key "model": ') and "nobody/nothing" in problems[0]
    )
    assert problems[1].startswith('s.json item 2, key "prompt": ') and "2000" in problems[1]
    assert problems[2].startswith('s.json item 3, key "negative": ')
    assert problems[3].startswith("s.json item 5: key 'colour'")  # unknown key: not typed on
    assert problems[4].startswith("s.json item 6: expected an object")
    assert len(problems) == 5  # item 4's "1" is a usable number of seconds


def test_model_rules_snap_seconds_and_refuse_continuing_without_start_images(tmp_path):
    """A model with a 4k+1 frame rule: seconds become the nearest frame count it takes (said
    in a note, as ``generate --seconds`` does); a model that cannot start from an image
    cannot continue."""
    wan_like = ModelCapabilities(
        max_frames=81, frame_multiple=4, supports_start_image=True, name="Wan-like"
    )
    no_image = ModelCapabilities(max_frames=81, name="Text-only")
    infos = {"wan/like": ({"fps": 16, "num_frames": 81}, wan_like), "text/only": ({}, no_image)}
    path = write(
        tmp_path,
        "s.csv",
        "prompt,seconds,model,continue\na,5,wan/like,\nb,1,text/only,yes\n",
    )
    with pytest.raises(BadShots) as info:
        plan(path, model_info=lambda m: infos[m])
    assert info.value.problems == [
        's.csv line 3, column "continue": Text-only cannot start from an image, so it cannot '
        "continue from the previous shot."
    ]
    path.write_text("prompt,seconds,model\na,5,wan/like\n", encoding="utf-8")
    shots, notes = plan(path, model_info=lambda m: infos[m])
    frames = shots[0].request.num_frames
    assert (frames - 1) % 4 == 0 and abs(frames - 80) <= 2  # 5 s at 16 fps = 80 frames
    assert notes and "line 2" in notes[0] and f"{frames} frames" in notes[0]


# ------------------------------------------------------------------------------ hostile files


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "shots.csv"
    os.mkfifo(fifo)
    result: list[str] = []

    def read() -> None:
        try:
            read_shots(fifo)
        except BadShots as exc:
            result.append(exc.problems[0])

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(10)
    assert result and "pipe" in result[0]


def test_a_device_is_refused():
    with pytest.raises(BadShots) as info:
        read_shots("/dev/zero")
    assert "device" in info.value.problems[0]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"prompt\nred\x00ball\n", ["NUL"]),
        (b"prompt\nd\xe9j\xe0 vu\n", ["line 2", "UTF-8"]),
        ("prompt\nred ball\n".encode("utf-16"), ["UTF-16", "UTF-8"]),
    ],
)
def test_not_text(tmp_path, content, words):
    with pytest.raises(BadShots) as info:
        read_shots(write(tmp_path, "s.csv", content))
    assert all(w in info.value.problems[0] for w in words), info.value.problems


def test_too_large_and_too_many_rows(tmp_path):
    big = tmp_path / "big.csv"
    with open(big, "wb") as fh:
        fh.write(b"prompt\n")
        fh.truncate(MAX_BYTES + 1)  # sparse: no 8 MB written
    with pytest.raises(BadShots) as info:
        read_shots(big)
    assert "limit" in info.value.problems[0]
    many = write(tmp_path, "many.csv", "prompt\n" + "a ball\n" * (MAX_ROWS + 1))
    with pytest.raises(BadShots) as info:
        read_shots(many)
    assert f"more than {MAX_ROWS} shots" in info.value.problems[0]
    many_json = write(tmp_path, "many.json", json.dumps([{"prompt": "a"}] * (MAX_ROWS + 1)))
    with pytest.raises(BadShots):
        read_shots(many_json)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("[" * 100_000 + "]" * 100_000, ["nested", str(100_000)]),
        ('[{"prompt": [[[[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]]]}]', ["nested"]),
        ('{"prompt": "a"}', ["expected a JSON list"]),
        ('[{"prompt": "a", "seconds": NaN}]', ["NaN"]),
        ('[{"prompt": "a",}]', ["line 1", "not valid JSON"]),
    ],
)
def test_hostile_json(tmp_path, content, words):
    assert MAX_JSON_DEPTH < 18
    with pytest.raises(BadShots) as info:
        read_shots(write(tmp_path, "s.json", content))
    assert all(w in info.value.problems[0] for w in words), info.value.problems


# ------------------------------------------------------------------------------ re-runs


def _finish(project, shot, start_image: str | None = None):
    """Give a shot a finished take with a clip file (what a run leaves)."""
    request = shot.request
    if start_image is not None:
        request = request.with_changes(start_image=start_image)
    take = core_project.Take.create(request)
    project.add_take(shot.id, take)
    rel = core_project.clip_relpath(project, shot.id, take.id)
    clip = core_project.resolve_media(project, rel)
    clip.parent.mkdir(parents=True, exist_ok=True)
    clip.write_bytes(b"clip")
    project.update_take(shot.id, take.id, status="done", clip=rel)
    return clip


def test_rerun_keeps_made_shots_and_remakes_changed_rows_and_their_continuations(tmp_path):
    csv_path = write(
        tmp_path,
        "s.csv",
        "prompt,seconds,continue,seed\na,1,,1\nb,1,,2\nc,1,yes,3\nd,1,,4\n",
    )
    shots, _ = plan(csv_path)
    project_path = tmp_path / "film.sdproj"
    first = prepare_project(shots, project_path)
    assert first.created and first.kept == [] and len(first.make) == 4
    project = first.project
    clips = []
    for shot in project.shots:
        start = str(last_frame_path(clips[-1])) if shot.continue_from_previous else None
        clips.append(_finish(project, shot, start))
    core_project.save_project(project)

    again = prepare_project(plan(csv_path)[0], project_path)
    assert again.kept == [1, 2, 3, 4] and again.make == [] and not again.changed

    # row 2 changed: shot 2 gets a new take, and shot 3 (it continues from 2) is remade too
    csv_path.write_text(
        "prompt,seconds,continue,seed\na,1,,1\nb changed,1,,2\nc,1,yes,3\nd,1,,4\n",
        encoding="utf-8",
    )
    changed = prepare_project(plan(csv_path)[0], project_path)
    ids = [s.id for s in changed.project.shots]
    assert changed.kept == [1, 4] and changed.make == [ids[1], ids[2]]
    assert changed.changed == [2]
    assert changed.project.shots[1].request.prompt == "b changed"
    assert len(changed.project.shots[1].takes) == 1  # the old take stays in its history

    # a new seed in the file remakes that shot; rows added at the end become shots
    csv_path.write_text(
        "prompt,seconds,continue,seed\na,1,,9\nb,1,,2\nc,1,yes,3\nd,1,,4\ne,1,,\n",
        encoding="utf-8",
    )
    grown = prepare_project(plan(csv_path)[0], project_path)
    assert grown.added == 1 and grown.kept == [2, 3, 4]
    assert grown.make == [grown.project.shots[0].id, grown.project.shots[4].id]


def test_a_project_with_more_shots_than_rows_is_refused(tmp_path):
    csv_path = write(tmp_path, "s.csv", "prompt\na\nb\n")
    project_path = tmp_path / "film.sdproj"
    core_project.save_project(prepare_project(plan(csv_path)[0], project_path).project)
    csv_path.write_text("prompt\na\n", encoding="utf-8")
    with pytest.raises(core_project.ProjectError, match="never deletes shots"):
        prepare_project(plan(csv_path)[0], project_path)
