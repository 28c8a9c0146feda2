"""Fuzzing the project-file loader and the request validator (issue #5, robustness).

The property everywhere: an input is either accepted, or refused with a ``ValueError``-family
exception whose message names the problem (``ProjectError`` for project files, ``"<field>: ..."``
for requests). No other exception, no hang. Accepted input must also survive the way the app
uses it next: a request round-trips through JSON, a project saves and reopens unchanged.

Inputs: structured fuzz (a valid project or request with fields replaced by wrong types,
missing keys, huge numbers, NaN/Infinity, deep nesting, unicode including lone surrogates,
old format versions) and raw bytes (random, and a valid file truncated or corrupted).
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import fields
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sora_desktop.core import project as proj
from sora_desktop.core.project import (
    MAX_JSON_DEPTH,
    Project,
    ProjectError,
    Take,
    load_project,
    read_project_file,
    save_project,
)
from sora_desktop.core.request import GenerationRequest
from tests.robust_support import hang_guard

FUZZ = settings(
    max_examples=200,
    deadline=timedelta(seconds=5),  # a slow example is a bug too (the GUI thread opens files)
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # the same examples every run: a CI failure reproduces locally
)
HANG_S = 20.0

REQUEST_FIELDS = [f.name for f in fields(GenerationRequest)]
# What a refused request's message may start with: the field it names, or the request itself.
REQUEST_MESSAGE_HEADS = set(REQUEST_FIELDS) | {"request"}

# ------------------------------------------------------------------------------ strategies
SURROGATES = st.sampled_from(["\ud800", "a\udfffb", "\udc80" * 3])
HUGE_INTS = st.sampled_from(
    [2**31, 2**32, 2**63, -(2**63), 2**64 + 1, 10**100, -(10**400), 10**4000]
)
SPECIAL_FLOATS = st.sampled_from(
    [math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, -0.0, 0.1 + 0.2]
)
UNICODE = st.text(max_size=40) | st.sampled_from(
    ["", " ", "\x00", "\u202e\u0645\u0631\u062d\u0628\u0627", "🎬" * 5, "e\u0301" * 10, "\ufeff"]
)
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | HUGE_INTS
    | st.floats(allow_nan=True, allow_infinity=True)
    | SPECIAL_FLOATS
    | UNICODE
    | SURROGATES
    | st.text(min_size=2000, max_size=2100, alphabet="ab")  # over the prompt limit
)
json_values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def nested(depth: int, leaf: Any = 0) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} cannot be stored in a project file")


# ------------------------------------------------------------------------------ checks
def check_request_refusal(exc: BaseException) -> None:
    assert isinstance(exc, ValueError), f"{type(exc).__name__} escaped: {exc!r}"
    message = str(exc)
    head = message.split(":", 1)[0]
    assert head in REQUEST_MESSAGE_HEADS, f"message does not name the field: {message!r}"
    assert len(message) > len(head) + 3, f"message says nothing: {message!r}"


def check_accepted_request(req: GenerationRequest) -> None:
    # the types the rest of the app relies on (policy reads original_prompt, backends extra)
    assert isinstance(req.extra, dict)
    assert req.original_prompt is None or isinstance(req.original_prompt, str)
    text = req.to_json()
    assert GenerationRequest.from_json(text) == req
    text.encode("utf-8")  # storable as UTF-8 (project files, metadata)
    json.loads(text, parse_constant=_reject_constant)  # strict JSON, as project files are read


def check_project_refusal(exc: BaseException, name: str | None = None) -> None:
    assert isinstance(exc, ProjectError), f"{type(exc).__name__} escaped: {exc!r}"
    message = str(exc)
    assert message.strip() and "Traceback" not in message
    if name is not None:
        assert name in message, f"message does not name the file: {message!r}"


def check_accepted_project(project: Project) -> None:
    """What the app does next with an opened project: save it and open it again."""
    with tempfile.TemporaryDirectory() as tmp:
        path = save_project(project, Path(tmp) / "again.sdproj")
        reopened = load_project(path)
    a, b = project.to_dict(), reopened.to_dict()
    a.pop("modified_at"), b.pop("modified_at")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def open_bytes(raw: bytes) -> Project | None:
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "fuzz.sdproj"
        f.write_bytes(raw)
        try:
            with hang_guard(HANG_S):
                project = read_project_file(f)
        except BaseException as exc:  # noqa: BLE001 - the property is about the type
            check_project_refusal(exc, "fuzz.sdproj")
            assert f.read_bytes() == raw  # opening never writes
            return None
        assert f.read_bytes() == raw
    check_accepted_project(project)
    return project


# ------------------------------------------------------------------------------ requests
VALID_REQUEST = GenerationRequest(
    "a red ball bouncing", negative_prompt="blur", seed=3, steps=4, start_image="last.png"
).to_dict()
request_keys = st.sampled_from([*REQUEST_FIELDS, "version", "unknown_key"])


@FUZZ
@given(
    changes=st.lists(
        st.tuples(request_keys, st.one_of(st.just("<delete>"), json_values)), max_size=4
    )
)
@example(changes=[("guidance", 10**400)])  # int too big for a float
@example(changes=[("guidance", math.nan)])
@example(changes=[("prompt", "\ud800")])  # cannot be written as UTF-8
@example(changes=[("version", 10**100)])
@example(changes=[("extra", [1, 2])])
@example(changes=[("original_prompt", 5)])
def test_request_from_dict_accepts_or_names_the_field(changes):
    data = dict(VALID_REQUEST)
    for key, value in changes:
        if value == "<delete>":
            data.pop(key, None)
        else:
            data[key] = value
    try:
        with hang_guard(HANG_S):
            req = GenerationRequest.from_dict(data)
    except BaseException as exc:  # noqa: BLE001
        check_request_refusal(exc)
        return
    check_accepted_request(req)


@FUZZ
@given(value=json_values)
def test_request_from_dict_with_any_json_value(value):
    try:
        with hang_guard(HANG_S):
            req = GenerationRequest.from_dict(value)
    except BaseException as exc:  # noqa: BLE001
        check_request_refusal(exc)
        return
    check_accepted_request(req)


@FUZZ
@given(text=st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
@example(text="[" * 100_000)
@example(text='{"prompt": "x", "seed": ' + "9" * 5000 + "}")
@example(text='{"prompt": "x", "guidance": NaN}')
@example(text='{"prompt": "x", "guidance": 1e400}')
@example(text='{"prompt": "\\ud800"}')
def test_request_from_json_with_any_text(text):
    try:
        with hang_guard(HANG_S):
            req = GenerationRequest.from_json(text)
    except BaseException as exc:  # noqa: BLE001
        check_request_refusal(exc)
        return
    check_accepted_request(req)


# ------------------------------------------------------------------------------ projects
def _valid_project() -> Project:
    p = proj.new_project("Fuzz film")
    base = GenerationRequest("a red ball bouncing", seed=1, steps=4)
    first = p.add_shot(base)
    second = p.add_shot(base.with_changes(prompt="a blue square", seed=2))
    p.set_shot_title(second.id, "Second")
    p.set_continue_from_previous(second.id, True)
    done = p.add_take(first.id, Take.create(base))
    p.update_take(first.id, done.id, status="done", clip=f"film_media/{first.id}/{done.id}.mp4")
    p.add_take(first.id, Take.create(base.with_changes(seed=9)))
    p.update_take(first.id, p.shots[0].takes[1].id, status="failed", error="out of memory")
    return p


VALID_PROJECT = _valid_project().to_dict()


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


PROJECT_PATHS = _paths(VALID_PROJECT)[1:]


def _mutate(data: Any, path: tuple, action: str, value: Any) -> Any:
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if action == "delete":
        if isinstance(parent, dict):
            parent.pop(key, None)
        else:
            parent.pop(key)
    elif action == "wrap":  # the same value buried in nesting
        parent[key] = nested(value if isinstance(value, int) else 3, parent[key])
    else:
        parent[key] = value
    return data


mutation = st.tuples(
    st.sampled_from(PROJECT_PATHS),
    st.sampled_from(["set", "set", "delete", "wrap"]),
    json_values | st.integers(0, 200),
)


@FUZZ
@given(mutations=st.lists(mutation, min_size=1, max_size=3))
@example(mutations=[(("shots", 0, "takes"), "set", 5)])  # takes that is not a list
@example(mutations=[(("shots", 0, "request", "guidance"), "set", 10**400)])
@example(mutations=[(("name",), "set", "\udcff")])
@example(mutations=[(("shots", 1, "request", "extra"), "wrap", 200)])
@example(mutations=[(("version",), "set", 0)])  # an old version with a new layout
@example(mutations=[(("version",), "set", 10**100)])
@example(mutations=[(("id",), "set", 5)])
def test_project_structured_fuzz(mutations):
    data = json.loads(json.dumps(VALID_PROJECT))
    for path, action, value in mutations:
        try:
            data = _mutate(data, path, action, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this path
    try:
        with hang_guard(HANG_S):
            project = Project.from_dict(data)
    except BaseException as exc:  # noqa: BLE001
        check_project_refusal(exc)
        return
    check_accepted_project(project)


V0_CLIP_KEYS = [
    "prompt",
    "negative",
    "seed",
    "steps",
    "guidance",
    "frames",
    "fps",
    "size",
    "model",
    "file",
]


@FUZZ
@given(
    title=json_values,
    crossfade=json_values,
    clips=st.lists(
        st.dictionaries(st.sampled_from(V0_CLIP_KEYS), json_values, max_size=6)
        | st.fixed_dictionaries(
            {"prompt": st.text(min_size=1, max_size=20)},
            optional={
                "size": st.lists(st.integers(0, 5000), max_size=3),
                "file": json_values,
                "seed": st.integers(),
                "frames": json_values,
            },
        )
        | json_values,
        max_size=4,
    )
    | json_values,
)
@example(title="Old", crossfade=0, clips=[{"prompt": "x", "file": "../../etc/passwd"}])
@example(title="Old", crossfade=0, clips=[{"prompt": "x", "size": [64, 10**400]}])
@example(title="Old", crossfade=0, clips=[{"prompt": "x", "file": 7}])
def test_old_version_projects_migrate_or_are_refused(title, crossfade, clips):
    data = {
        "format": proj.PROJECT_FORMAT,
        "version": 0,
        "title": title,
        "crossfade": crossfade,
        "clips": clips,
    }
    try:
        with hang_guard(HANG_S):
            project = Project.from_dict(data)
    except BaseException as exc:  # noqa: BLE001
        check_project_refusal(exc)
        return
    assert project.version == proj.PROJECT_VERSION
    assert any("older Sora Desktop" in w for w in project.warnings)
    check_accepted_project(project)


DEEP = "__deep_placeholder__"


def deep_text(depth: int) -> str:
    """``depth`` levels of alternating objects and lists around a 0, built without recursion."""
    kinds = ["{" if i % 2 == 0 else "[" for i in range(depth)]
    head = "".join('{"k":' if k == "{" else "[" for k in kinds)
    tail = "".join("}" if k == "{" else "]" for k in reversed(kinds))
    return head + "0" + tail


@FUZZ
@given(depth=st.integers(1, 3000), where=st.sampled_from(["extra", "settings", "top"]))
@example(depth=MAX_JSON_DEPTH, where="top")
@example(depth=MAX_JSON_DEPTH + 1, where="top")
@example(depth=200_000, where="extra")
def test_deep_nesting_is_refused_by_depth_not_by_crash(depth, where):
    data = json.loads(json.dumps(VALID_PROJECT))
    if where == "extra":
        data["shots"][0]["request"]["extra"] = {"deep": DEEP}
        levels_above = 6  # project, shots, shot, request, extra, "deep"
    elif where == "settings":
        data["settings"]["deep"] = DEEP
        levels_above = 2
    else:
        data = DEEP
        levels_above = 0
    raw = json.dumps(data).replace(f'"{DEEP}"', deep_text(depth)).encode()
    project = open_bytes(raw)
    if depth + levels_above + 1 > MAX_JSON_DEPTH:
        assert project is None  # refused (by the depth limit or the request's own limit)
    elif where == "settings":
        assert project is not None  # shallow unknown settings are kept


# ------------------------------------------------------------------------------ raw bytes
@FUZZ
@given(raw=st.binary(max_size=3000))
@example(raw=b"")
@example(raw=b"\xef\xbb\xbf")
@example(raw=b"\xff\xfe{\x00}\x00")
@example(raw=b"[" * 500_000)
@example(raw=b'{"format": "sora-desktop-project", "version": 1, "shots": [' + b"1" * 5000 + b"]}")
@example(raw=b'{"format": "sora-desktop-project", "version": 1, "name": NaN}')
@example(raw=b'{"format": "sora-desktop-project", "version": 1e999}')
def test_raw_bytes_are_opened_or_refused(raw):
    open_bytes(raw)


VALID_BYTES = json.dumps(VALID_PROJECT, indent=2).encode()


@FUZZ
@given(
    cut=st.integers(0, len(VALID_BYTES)),
    flips=st.lists(
        st.tuples(st.integers(0, len(VALID_BYTES) - 1), st.integers(0, 255)), max_size=4
    ),
    insert=st.binary(max_size=20),
)
def test_corrupted_valid_file_is_opened_or_refused(cut, flips, insert):
    raw = bytearray(VALID_BYTES)
    for pos, byte in flips:
        raw[pos] = byte
    raw = bytes(raw[:cut]) + insert + bytes(raw[cut:]) if insert else bytes(raw[:cut])
    open_bytes(raw)


@pytest.mark.parametrize("digits", [10, 400, 4300, 4301, 100_000])
def test_huge_number_literals_are_refused_or_range_checked(digits):
    raw = json.dumps(VALID_PROJECT).replace('"seed": 1', '"seed": ' + "9" * digits, 1).encode()
    assert open_bytes(raw) is None  # every such seed is out of range or unparseable
