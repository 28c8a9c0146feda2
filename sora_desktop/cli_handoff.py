"""Handing work on: ``sora-desktop export-timeline`` (a storyboard's timeline for an editor,
studio/timeline.py) and ``sora-desktop provenance`` (the signed C2PA manifest an export
carries, studio/provenance.py).

    sora-desktop export-timeline film.sdproj -o film.otio|film.fcpxml|film.edl [--force]
    sora-desktop provenance clip.mp4

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
    pv.add_argument("file", help="an exported video")


def run_export_timeline(args: argparse.Namespace) -> int:
    from sora_desktop.core import safe_paths
    from sora_desktop.core.project import load_project
    from sora_desktop.studio.timeline import export_timeline

    project_path = safe_paths.check_path_text(args.project, "project")
    project = load_project(project_path)  # ProjectError (a ValueError): one line, exit 2
    result = export_timeline(project, Path(args.output), overwrite=args.force)
    print(f"saved: {result.path}")
    print(f"clips: {len(result.media)} in {result.media_dir}")
    return 0


def run_provenance(args: argparse.Namespace) -> int:
    from sora_desktop.core import safe_paths
    from sora_desktop.engine.export.provenance import ProvenanceError
    from sora_desktop.studio.provenance import read_provenance

    path = safe_paths.check_path_text(args.file, "file")
    safe_paths.check_regular_file(path, "file")
    try:
        summary = read_provenance(path)
    except ProvenanceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if summary is None:
        print(f"{path.name}: no proof-of-origin manifest", file=sys.stderr)
        return EXIT_FAILED
    for line in summary.lines():
        print(line)
    if not summary.valid:
        print(f"{path.name} was changed after it was signed", file=sys.stderr)
        return EXIT_FAILED
    return 0


def sign_and_report(path: Path, request: Any) -> None:
    """Sign a CLI export (``generate``, ``decode``) with the proof-of-origin manifest; say on
    stderr what happened. A failure keeps the export and is a warning, not an error."""
    from sora_desktop.engine.export.provenance import SIGNABLE_FORMATS
    from sora_desktop.studio.provenance import sign_exported

    if Path(path).suffix.lower().lstrip(".") not in SIGNABLE_FORMATS:
        return
    warning = sign_exported(path, request)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    else:
        print(
            "signed: proof of origin (C2PA); check it with sora-desktop provenance", file=sys.stderr
        )
