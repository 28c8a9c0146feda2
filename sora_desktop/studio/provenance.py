"""Proof of origin for exports (the use case): which options the user chose (Settings), which
formats carry a manifest and what the user is told about it (the Export dialog's note beside
the format, the CLI's warning, the line after an export), sign an exported file, read a
file's manifest back. The signing itself lives in ``engine/export/provenance.py``
(c2pa-python), imported when used."""

from __future__ import annotations

import os
from typing import Any


def options_from_settings(settings: Any = None) -> Any:
    """The ``ProvenanceOptions`` of ``settings`` (None: the saved settings)."""
    from sora_desktop.engine.export.provenance import ProvenanceOptions

    if settings is None:
        from sora_desktop.core.settings import load_settings

        settings = load_settings()
    return ProvenanceOptions.from_settings(settings)


def signable_formats() -> tuple[str, ...]:
    """The export formats that carry a manifest (read from the C2PA library)."""
    from sora_desktop.engine.export.provenance import signable_formats as formats

    return formats()


def can_carry_proof(fmt: str) -> bool:
    return fmt in signable_formats()


def unsigned_note(fmt: str) -> str | None:
    """One line for the user when an export in ``fmt`` cannot carry proof of origin (the
    Export dialog beside the format, ``sora-desktop generate``/``decode`` on stderr); None
    when it can."""
    from sora_desktop.core.export_settings import FORMAT_LABELS

    formats = signable_formats()
    if fmt in formats:
        return None
    if not formats:
        return "Exports can't carry proof of origin: the C2PA library (c2pa-python) is missing."
    best = "mp4" if "mp4" in formats else formats[0]
    return (
        f"{FORMAT_LABELS[fmt]} can't carry proof of origin yet; "
        f"choose {FORMAT_LABELS[best]} to include it."
    )


def proof_outcome(fmt: str, warnings: list[str] | tuple[str, ...] = ()) -> tuple[bool, str]:
    """Whether an export in ``fmt`` that ended with ``warnings`` was signed, and the words
    that say so after the export."""
    from sora_desktop.engine.export.provenance import NOT_SIGNED

    if not can_carry_proof(fmt):
        return False, f"Not signed: {unsigned_note(fmt)}"
    if any(NOT_SIGNED in w for w in warnings):
        return False, "Not signed: the proof of origin could not be added (see above)."
    what = "every frame is signed" if fmt == "png" else "signed"
    return True, f"Proof of origin (C2PA): {what}; check it at contentcredentials.org/verify."


def sign_exported(path: str | os.PathLike, request: Any, options: Any = None) -> str | None:
    """Sign the export at ``path`` (the formats of ``signable_formats``; others are left as
    they are). None when done, else a one-line warning: the export is kept, unsigned."""
    from sora_desktop.engine.export.provenance import sign_export

    return sign_export(path, request, options if options is not None else options_from_settings())


def read_provenance(path: str | os.PathLike) -> Any:
    """The file's ``ProvenanceSummary`` (None: no manifest); ``ProvenanceError`` if unreadable."""
    from sora_desktop.engine.export.provenance import read_provenance as read

    return read(path)
