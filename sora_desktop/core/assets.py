"""Where the files the program reads at run time live.

In the repository, source assets (themes, icons, the content policy) sit in the top-level
``resources/`` folder and the embedded model and the catalog in ``model/``. A wheel carries
both inside the package (pyproject.toml maps them to ``sora_desktop/resources`` and
``sora_desktop/model``), so a plain ``pip install`` runs offline from any folder. A PyInstaller
bundle unpacks them under its own folder (installers/sora-desktop.spec).
"""

from __future__ import annotations

import sys
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # .../sora_desktop
_CHECKOUT = _PACKAGE.parent  # the repository root in a source checkout or editable install


def _locate(name: str) -> Path:
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / name
    packaged = _PACKAGE / name  # an installed wheel
    if packaged.is_dir():
        return packaged
    return _CHECKOUT / name


def resources_dir() -> Path:
    """Themes (``theme_*.qss``), icons (``icons/``) and the bundled ``policy.json``."""
    return _locate("resources")


def model_dir() -> Path:
    """The ``model`` folder: ``catalog.json`` and the embedded checkpoint in ``embedded/``."""
    return _locate("model")
