#!/usr/bin/env bash
# Optional: wrap the built bundle (dist/sora-desktop, from installers/build_linux.sh) as an AppImage.
#
#   bash installers/linux/build_appimage.sh
#
# Makes build/SoraDesktop.AppDir (AppRun, .desktop entry, icon, the bundle under usr/lib), then
# runs appimagetool when it is on PATH (from the AppImage project's releases; not fetched here).
# Output: dist/SoraDesktop-VERSION-ARCH.AppImage. The AppImage mounts read-only, which suits the
# app: it writes only to the user's config, data, cache and Videos folders.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUNDLE=dist/sora-desktop
if [ ! -x "$BUNDLE/sora-desktop" ]; then
    echo "error: $BUNDLE/sora-desktop is missing; run installers/build_linux.sh first" >&2
    exit 1
fi
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' pyproject.toml | head -n1)
ARCH=$(uname -m)
APPDIR=build/SoraDesktop.AppDir
rm -rf "$APPDIR"
mkdir -p "$APPDIR/usr/lib" "$APPDIR/usr/share/icons/hicolor/512x512/apps"
cp -R "$BUNDLE" "$APPDIR/usr/lib/sora-desktop"
rm -f "$APPDIR/usr/lib/sora-desktop/install.sh"  # an AppImage is not installed
cp installers/linux/sora-desktop.desktop "$APPDIR/sora-desktop.desktop"
mkdir -p "$APPDIR/usr/share/mime/packages"
cp installers/linux/sora-desktop.xml "$APPDIR/usr/share/mime/packages/"  # the .sdproj type
cp installers/icons/sora-desktop.png "$APPDIR/sora-desktop.png"
cp installers/icons/sora-desktop.png "$APPDIR/usr/share/icons/hicolor/512x512/apps/"
cat >"$APPDIR/AppRun" <<'APPRUN'
#!/bin/sh
HERE=$(dirname "$(readlink -f "$0")")
exec "$HERE/usr/lib/sora-desktop/sora-desktop" "$@"
APPRUN
chmod +x "$APPDIR/AppRun"
"$APPDIR/AppRun" --version
if command -v appimagetool >/dev/null 2>&1; then
    OUT="dist/SoraDesktop-$VERSION-$ARCH.AppImage"
    ARCH=$ARCH appimagetool "$APPDIR" "$OUT"
    echo "AppImage: $OUT"
else
    echo "AppDir ready in $APPDIR; install appimagetool and run: ARCH=$ARCH appimagetool $APPDIR"
fi
