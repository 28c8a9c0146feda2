"""The SHOTS file of ``sora-desktop batch``: a CSV with a header row, or a JSON list of objects,
one shot per row, read and checked completely before anything runs.

Columns / keys (``COLUMNS``): ``prompt`` (required), ``seconds``, ``continue``, ``seed``,
``negative``, ``model``. Every problem is collected with the row as the user counts it (the
CSV's line number, which is also the spreadsheet's row number; the JSON list's item number,
from 1) and the column, so one run lists every bad row at once. An unknown column is an error
(a typo such as ``promt`` would silently lose that text otherwise).

The file is treated as hostile: it must be a regular file (a FIFO or device is refused
without blocking, ``core/safe_paths``), at most ``MAX_BYTES`` and ``MAX_ROWS`` rows, UTF-8
(a UTF-8 BOM, as Excel writes it, is fine; UTF-16 and other encodings get a message saying
how to save it), with no NUL bytes, and JSON nested at most ``MAX_JSON_DEPTH`` deep.

Turning rows into requests (the model's defaults and rules, the policy) is ``studio.batch``'s
``plan_shots``; this module only reads and types the values. Qt-free and torch-free.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sora_desktop.core.errors import short_repr
from sora_desktop.core.request import MAX_SEED
from sora_desktop.core.safe_paths import UnsafePathError, read_regular_file

log = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = ("prompt", "seconds", "continue", "seed", "negative", "model")
TRUE_WORDS: tuple[str, ...] = ("yes", "true", "1", "y")
FALSE_WORDS: tuple[str, ...] = ("no", "false", "0", "n", "")
MAX_BYTES = 8 * 1024 * 1024  # 1000 rows of the longest prompts fit with room to spare
MAX_ROWS = 1000
MAX_JSON_DEPTH = 16
MAX_CELL_CHARS = 10_000  # longer than any prompt may be; the request names the real limit
MAX_LISTED = 20  # problems listed in full; the rest are counted
CSV_DELIMITERS = (",", ";", "\t")  # Excel in many countries writes ';'


@dataclass(frozen=True)
class ShotRow:
    """One row, typed; ``None`` = the column was empty or missing (the default applies)."""

    where: str  # "line 4" (CSV) or "item 3" (JSON)
    prompt: str
    seconds: float | None = None
    continues: bool = False
    seed: int | None = None
    negative: str = ""
    model: str | None = None
    # what is wrong with the row (then the other fields mean nothing); ``plan_shots`` lists
    # these with its own findings, in row order
    problems: tuple[str, ...] = ()


def _bad_row(where: str, problems: list[str]) -> ShotRow:
    return ShotRow(where=where, prompt="", problems=tuple(problems))


class BadShots(ValueError):
    """The SHOTS file cannot be used; ``problems`` are one line each, for the user."""

    def __init__(self, name: str, problems: list[str]) -> None:
        self.name = name
        self.problems = problems
        super().__init__(summary(name, problems))


def summary(name: str, problems: list[str]) -> str:
    n = len(problems)
    return f"{name}: {n} problem{'s' if n != 1 else ''}; nothing was generated"


def problem(name: str, where: str, column: str | None, message: str) -> str:
    """One problem line: file, row and column, e.g. ``shots.csv line 3, column "seed": ...``."""
    what = "key" if where.startswith("item") else "column"
    col = f', {what} "{column}"' if column else ""
    return f"{name} {where}{col}: {message}"


# ---------------------------------------------------------------------------- reading
def read_shots(path: str | Path) -> list[ShotRow]:
    """The rows of a SHOTS file (a bad row carries its problems, ``ShotRow.problems``), or
    ``BadShots`` when the file itself cannot be used (not text, no header, not a list)."""
    name = Path(path).name or str(path)
    try:
        raw = read_regular_file(path, "SHOTS", MAX_BYTES)
    except UnsafePathError as exc:
        raise BadShots(name, [exc.message]) from exc
    text = _decode(name, raw)
    if not text.strip():
        raise BadShots(
            name, [f"{name}: the file is empty; it needs a header row and one row per shot"]
        )
    suffix = Path(path).suffix.lower()
    is_json = suffix == ".json" or (suffix != ".csv" and text.lstrip()[:1] in ("[", "{"))
    rows = _read_json(name, text) if is_json else _read_csv(name, text)
    if not rows:
        raise BadShots(name, [f"{name}: there are no shots in it (one row per shot)"])
    return rows


def _decode(name: str, raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise BadShots(
            name,
            [f"{name}: the file is UTF-16 text; save it as UTF-8 (in Excel: CSV UTF-8)"],
        )
    if b"\0" in raw:
        at = raw.index(b"\0")
        raise BadShots(name, [f"{name}: byte {at + 1} is a NUL character; this is not a text file"])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BadShots(
            name,
            [
                f"{name}: line {line} is not UTF-8 text (byte {exc.start + 1}); save the file "
                "as UTF-8 (in Excel: CSV UTF-8)"
            ],
        ) from exc


def _read_csv(name: str, text: str) -> list[ShotRow]:
    first = text.lstrip("\r\n").splitlines()[0] if text.strip() else ""
    delimiter = (
        max(CSV_DELIMITERS, key=first.count) if any(d in first for d in CSV_DELIMITERS) else ","
    )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    problems: list[str] = []
    header: list[str] | None = None
    rows: list[ShotRow] = []
    line = 0  # the line the next record starts on
    try:
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue  # a blank line, or a spreadsheet's empty row (",,,,")
            if header is None:
                header = _header(name, start, cells, problems)
                if header is None:
                    break
                continue
            if len(rows) >= MAX_ROWS:
                problems.append(f"{name}: more than {MAX_ROWS} shots; split it into several files")
                break
            where = f"line {start}"
            # a value under no column (past the header's end, or under an unnamed column)
            # would be lost without a word
            stray = [c for i, c in enumerate(cells) if c.strip() and not _named(header, i)]
            if stray:
                message = (
                    f"{short_repr(stray[0].strip(), 40)} is under no column (the header names "
                    f"{sum(1 for h in header if h)}); put text with '{delimiter}' in double quotes"
                )
                rows.append(_bad_row(where, [problem(name, where, None, message)]))
                continue
            rows.append(_row(name, where, dict(zip(header, cells, strict=False))))
    except csv.Error as exc:
        problems.append(f"{name} line {reader.line_num}: {exc} (check the quotes)")
    if header is None and not problems:
        problems.append(f"{name}: no header row; the first line must name the columns")
    if problems:
        raise BadShots(name, problems)
    return rows


def _named(header: list[str], index: int) -> bool:
    return index < len(header) and bool(header[index])


def _header(name: str, line: int, cells: list[str], problems: list[str]) -> list[str] | None:
    header = [c.strip().lower() for c in cells]
    bad = False
    for i, col in enumerate(header, 1):
        if col and col not in COLUMNS:
            bad = True
            problems.append(
                f"{name} line {line}: column {i} {short_repr(cells[i - 1].strip(), 40)} is not "
                f"a column Sora Desktop knows; allowed: {', '.join(COLUMNS)}"
            )
        elif col and header.count(col) > 1 and header.index(col) == i - 1:
            bad = True
            problems.append(f'{name} line {line}: column "{col}" appears more than once')
        elif not col:
            if any(c.strip() for c in cells[i:]):
                bad = True
                problems.append(f"{name} line {line}: column {i} has no name")
    if "prompt" not in header:
        bad = True
        problems.append(
            f'{name} line {line}: no "prompt" column; the first line must name the columns '
            f"({', '.join(COLUMNS)}), prompt at least"
        )
    return None if bad else header


def _unusable_json(name: str, text: str, exc: BaseException) -> str:
    """Valid JSON that holds a value no shot can use (NaN, Infinity, a number with thousands of
    digits): where it is, in words, and what to write instead."""
    if isinstance(exc, RecursionError):
        return f"{name}: the lists or objects are nested too deeply; a shot list needs 2 levels"
    if "digits" in str(exc):
        found, what = re.search(r"\d{100,}", text), "a number is far too long"
    else:  # NaN, Infinity, -Infinity (``_no_constant``)
        found, what = re.search(r"-?\b(NaN|Infinity)\b", text), ""
        what = f"“{found.group(0)}” is not a number a shot can use" if found else ""
    if found is None:
        return f"{name}: a value is not a usable number; write ordinary numbers (such as 42)"
    line = text.count("\n", 0, found.start()) + 1
    column = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
    return f"{name} line {line}, column {column}: {what}; write an ordinary number (such as 42)"


def _read_json(name: str, text: str) -> list[ShotRow]:
    depth = _max_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise BadShots(
            name, [f"{name}: the JSON is nested {depth} levels deep; a shot list needs 2"]
        )
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise BadShots(
            name,
            [f"{name} line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})"],
        ) from exc
    except (ValueError, RecursionError) as exc:  # NaN, a 5000-digit number
        log.info("%s: not usable JSON: %s", name, exc)
        raise BadShots(name, [_unusable_json(name, text, exc)]) from exc
    if not isinstance(data, list):
        raise BadShots(
            name,
            [
                f"{name}: expected a JSON list of shots, e.g. "
                '[{"prompt": "a red ball", "seconds": 2}], not a '
                f"{_json_type(data)}"
            ],
        )
    if len(data) > MAX_ROWS:
        raise BadShots(
            name, [f"{name}: {len(data)} shots; at most {MAX_ROWS}, split it into several files"]
        )
    rows: list[ShotRow] = []
    for n, item in enumerate(data, 1):
        where = f"item {n}"
        if not isinstance(item, dict):
            message = f"expected an object with a prompt, got a {_json_type(item)}"
            rows.append(_bad_row(where, [problem(name, where, None, message)]))
            continue
        unknown = [
            f"{name} {where}: key {short_repr(key, 40)} is not one Sora Desktop knows; "
            f"allowed: {', '.join(COLUMNS)}"
            for key in item
            if key not in COLUMNS
        ]
        rows.append(_bad_row(where, unknown) if unknown else _row(name, where, item))
    return rows


def _no_constant(word: str) -> Any:
    raise ValueError(f"{word} is not a number JSON allows")


def _max_depth(text: str) -> int:
    """How deeply ``text``'s brackets nest (strings skipped), without recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _json_type(value: Any) -> str:
    return {dict: "object", list: "list", str: "text", bool: "true/false"}.get(
        type(value), "number" if isinstance(value, (int, float)) else "null"
    )


# ---------------------------------------------------------------------------- typing a row
def _row(name: str, where: str, values: dict[str, Any]) -> ShotRow:
    """The typed row; a bad one carries its problems (every bad cell is listed)."""
    problems: list[str] = []

    def bad(column: str, message: str) -> None:
        problems.append(problem(name, where, column, message))

    fields: dict[str, Any] = {}
    for column in ("prompt", "negative", "model"):
        value = values.get(column)
        if value is None:
            continue
        if not isinstance(value, str):
            bad(column, f"expected text, got {_json_type(value)} {short_repr(value, 40)}")
        elif len(value) > MAX_CELL_CHARS:
            bad(column, f"{len(value)} characters is too long")
        else:
            fields[column] = value.strip() if column == "model" else value
    prompt = values.get("prompt")
    if prompt is None or (isinstance(prompt, str) and not prompt.strip()):
        bad("prompt", "is empty; every shot needs a prompt (what the shot shows)")
    seconds = _seconds(values.get("seconds"), bad)
    continues = _continues(values.get("continue"), bad)
    seed = _seed(values.get("seed"), bad)
    if problems:
        return _bad_row(where, problems)
    return ShotRow(
        where=where,
        prompt=fields["prompt"],
        seconds=seconds,
        continues=bool(continues),
        seed=seed,
        negative=fields.get("negative", ""),
        model=fields.get("model") or None,
    )


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _seconds(value: Any, bad: Any) -> float | None:
    if _blank(value):
        return None
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            bad(
                "seconds",
                f"{short_repr(value.strip(), 40)} is not a number of seconds; use e.g. 2 or 2.5",
            )
            return None
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        bad(
            "seconds",
            f"expected a number of seconds, got {_json_type(value)} {short_repr(value, 40)}",
        )
        return None
    try:
        as_float = float(number)
    except OverflowError:
        as_float = math.inf
    if not math.isfinite(as_float) or as_float <= 0:
        bad("seconds", f"{short_repr(value, 40)} must be a positive number of seconds")
        return None
    return as_float


def _continues(value: Any, bad: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    allowed = (
        "yes/true/1 to continue from the previous shot's last frame, no/false/0 or empty not to"
    )
    bad("continue", f"{short_repr(value, 40)} is not allowed; use {allowed}")
    return None


def _seed(value: Any, bad: Any) -> int | None:
    if _blank(value):
        return None
    number: Any = value
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 20:
            bad(
                "seed", f"{short_repr(text, 40)} is not allowed; use a whole number 0 to {MAX_SEED}"
            )
            return None
        number = int(text)
    if isinstance(number, bool) or not isinstance(number, int):
        bad("seed", f"{short_repr(value, 40)} is not allowed; use a whole number 0 to {MAX_SEED}")
        return None
    if not 0 <= number <= MAX_SEED:
        shown = str(number) if abs(number) < 10**20 else "a number too large to use"
        bad("seed", f"{shown} is out of range; allowed 0 to {MAX_SEED}")
        return None
    return number
