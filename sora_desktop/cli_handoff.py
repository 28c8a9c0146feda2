"""Handing work on: ``sora-desktop export-timeline`` (a storyboard's timeline for an editor,
studio/timeline.py) and ``sora-desktop provenance`` (the signed C2PA manifest an export
carries, studio/provenance.py).

    sora-desktop export-timeline film.sdproj -o film.otio|film.fcpxml|film.edl [--force]
    sora-desktop provenance clip.mp4 | clip.gif | frames_folder/

Exit codes: 0 done (``provenance``: a valid manifest), 1 failed (``provenance``: no manifest,
or one that fails validation, e.g. the file was edited after export), 2 invalid input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_FAILED = 1
EXIT_USAGE = 2


def add_parsers(sub: Any) -> None:
    from sora_desktop.studio.timeline import TIMELINE_FORMATS

    kinds = ", ".join(f"{s} ({label})" for s, (_a, label) in TIMELINE_FORMATS.items())
    tl = sub.add_parser(
        "export-timeline",
        help="write a storyboard's timeline for an editor, with its clips beside it",
        description=f"Formats by the output's suffix: {kinds}. The clips go into a folder "
        "named after the timeline (<name>_media/) beside it.",
    )
    tl.add_argument("project", help="the .sdproj project")
    tl.add_argument(
        "-o", "--output", required=True, help="the timeline file (.otio, .fcpxml, .edl)"
    )
    tl.add_argument(
        "--force", action="store_true", help="replace the timeline and its clip folder if present"
    )
    pv = sub.add_parser(
        "provenance", help="show and check the signed proof-of-origin manifest of an export"
    )
    pv.add_argument("file", help="an exported video, GIF, or folder of PNG frames")


def run_export_timeline(args: argparse.Namespace) -> int:
    from sora_desktop.core import safe_paths
    from sora_desktop.core.project import load_project
    from sora_desktop.studio.timeline import export_timeline

    project_path = safe_paths.check_path_text(args.project, "project")
    project = load_project(project_path)  # ProjectError (a ValueError): one line, exit 2
    from sora_desktop.studio.provenance import options_from_settings

    options = options_from_settings()  # each clip signed, as Settings say (the prompt or not)
    result = export_timeline(project, Path(args.output), overwrite=args.force, provenance=options)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"saved: {result.path}")
    print(f"clips: {len(result.media)} in {result.media_dir}")
    if result.signed:
        print("signed: each clip carries proof of origin (C2PA)", file=sys.stderr)
    return 0


def run_provenance(args: argparse.Namespace) -> int:
    from sora_desktop.core import safe_paths
    from sora_desktop.engine.export.provenance import ProvenanceError, frame_files
    from sora_desktop.studio.provenance import read_provenance

    path = safe_paths.check_path_text(args.file, "file")
    if path.is_dir() and not path.is_symlink():  # a PNG-frames export: every frame is checked
        frames = frame_files(path)
        if not frames:
            print(f"{path.name}: no PNG frames in this folder", file=sys.stderr)
            return EXIT_FAILED
        files = frames
    else:
        safe_paths.check_regular_file(path, "file")
        files = [path]
    summaries = []
    try:
        for file in files:
            summaries.append((file, read_provenance(file)))
    except ProvenanceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    unsigned = [f.name for f, s in summaries if s is None]
    changed = [f.name for f, s in summaries if s is not None and not s.valid]
    first = next((s for _f, s in summaries if s is not None), None)
    if first is None:
        print(f"{path.name}: no proof-of-origin manifest", file=sys.stderr)
        return EXIT_FAILED
    shown = next((s for _f, s in summaries if s is not None and not s.valid), first)
    for line in shown.lines():
        print(line)
    if len(files) > 1:
        good = len(files) - len(unsigned) - len(changed)
        print(f"frames: {good} of {len(files)} signed and valid")
    if unsigned:
        print(f"{_names(unsigned)}: no proof-of-origin manifest", file=sys.stderr)
    if changed:
        print(f"{_names(changed)} was changed after it was signed", file=sys.stderr)
    return EXIT_FAILED if unsigned or changed else 0


def _names(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def warn_unsigned(fmt: str) -> None:
    """Say on stderr, before the work, that an export in ``fmt`` cannot carry proof of origin."""
    from sora_desktop.studio.provenance import unsigned_note

    note = unsigned_note(fmt)
    if note:
        print(f"warning: {note}", file=sys.stderr)


def sign_and_report(path: Path, request: Any, *, warned: bool = False) -> None:
    """Sign a CLI export (``generate``, ``decode``) with the proof-of-origin manifest; say on
    stderr what happened (a format that cannot carry one: the same warning as the Export
    dialog's note, unless ``warned`` already). A failure keeps the export and is a warning,
    not an error."""
    from sora_desktop.engine.export.provenance import export_format
    from sora_desktop.studio.provenance import can_carry_proof, sign_exported

    fmt = export_format(path)
    if fmt is None or not can_carry_proof(fmt):
        if fmt is not None and not warned:
            warn_unsigned(fmt)
        return
    warning = sign_exported(path, request)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    else:
        print(
            "signed: proof of origin (C2PA); check it with sora-desktop provenance", file=sys.stderr
        )
