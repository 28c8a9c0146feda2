"""Proof of origin for exports (the use case): which options the user chose (Settings), sign
an exported file, read a file's manifest back. The signing itself lives in
``engine/export/provenance.py`` (c2pa-python), imported when used."""

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


def sign_exported(path: str | os.PathLike, request: Any, options: Any = None) -> str | None:
    """Sign the export at ``path`` (MP4; other formats are left as they are). None when done,
    else a one-line warning: the export is kept, unsigned."""
    from sora_desktop.engine.export.provenance import sign_export

    return sign_export(path, request, options if options is not None else options_from_settings())


def read_provenance(path: str | os.PathLike) -> Any:
    """The file's ``ProvenanceSummary`` (None: no manifest); ``ProvenanceError`` if unreadable."""
    from sora_desktop.engine.export.provenance import read_provenance as read

    return read(path)
