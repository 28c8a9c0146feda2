"""Make the platform icons (Windows .ico, macOS .icns, a 512 px PNG for Linux) from the app icon.

    QT_QPA_PLATFORM=offscreen python installers/make_icons.py

The source is ``resources/icons/app.svg``, rendered at 1024 px with QtSvg so the
large macOS sizes stay sharp; without QtSvg it falls back to the 256 px ``app.png``. The
results are committed under ``installers/icons/`` so a build needs neither Qt nor Pillow tricks.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
ICONS = ROOT / "resources" / "icons"
OUT = Path(__file__).resolve().parent / "icons"
ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]


def render_svg(path: Path, size: int) -> Image.Image | None:
    """The SVG drawn at size x size (RGBA), or None when QtSvg is not available."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        from PySide6.QtCore import QBuffer, QIODevice, Qt
        from PySide6.QtGui import QGuiApplication, QImage, QPainter
        from PySide6.QtSvg import QSvgRenderer
    except ImportError:
        return None
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841
    renderer = QSvgRenderer(str(path))
    if not renderer.isValid():
        return None
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    return Image.open(io.BytesIO(bytes(buf.data()))).convert("RGBA")


def main() -> int:
    big = render_svg(ICONS / "app.svg", 1024)
    if big is None:
        print("QtSvg unavailable: using the 256 px app.png (macOS sizes above 256 are upscaled)")
        big = Image.open(ICONS / "app.png").convert("RGBA").resize((1024, 1024), Image.LANCZOS)
    OUT.mkdir(parents=True, exist_ok=True)
    big.save(OUT / "app.ico", format="ICO", sizes=ICO_SIZES)
    big.save(OUT / "app.icns", format="ICNS")
    big.resize((512, 512), Image.LANCZOS).save(OUT / "sora-desktop.png", format="PNG")
    for name in ("app.ico", "app.icns", "sora-desktop.png"):
        print(f"{OUT / name}: {(OUT / name).stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
