#!/bin/sh
# Install the Sora Desktop bundle this script sits in, for the current user.
#
#   ./install.sh                  # into ~/.local (no root needed)
#   sudo PREFIX=/usr/local ./install.sh      # for every user
#   ./install.sh --uninstall      # remove it again (your projects, settings and videos stay)
#
# What goes where (PREFIX defaults to ~/.local):
#   PREFIX/lib/sora-desktop/                   the program folder (a copy of this one)
#   PREFIX/bin/sora-desktop                    a link to the program (command line and app)
#   PREFIX/share/applications/sora-desktop.desktop         the menu entry
#   PREFIX/share/icons/hicolor/512x512/apps/sora-desktop.png   its icon
#   PREFIX/share/mime/packages/sora-desktop.xml            the .sdproj file type (double-click)
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=${PREFIX:-"$HOME/.local"}
APPDIR="$PREFIX/lib/sora-desktop"
BIN="$PREFIX/bin/sora-desktop"
DESKTOP="$PREFIX/share/applications/sora-desktop.desktop"
ICON="$PREFIX/share/icons/hicolor/512x512/apps/sora-desktop.png"
MIME="$PREFIX/share/mime/packages/sora-desktop.xml"

refresh_menus() {
    if command -v update-mime-database >/dev/null 2>&1; then
        update-mime-database "$PREFIX/share/mime" 2>/dev/null || true
    fi
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$PREFIX/share/applications" 2>/dev/null || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1; then
        gtk-update-icon-cache -q -t "$PREFIX/share/icons/hicolor" 2>/dev/null || true
    fi
}

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$BIN" "$DESKTOP" "$ICON" "$MIME"
    rm -rf "$APPDIR"
    refresh_menus
    echo "Sora Desktop removed from $PREFIX (user files in your config, data and Videos folders are kept)."
    exit 0
fi
if [ -n "${1:-}" ]; then
    echo "usage: [PREFIX=DIR] $0 [--uninstall]" >&2
    exit 2
fi
if [ ! -x "$HERE/sora-desktop" ] || [ ! -d "$HERE/_internal" ]; then
    echo "error: $HERE does not hold the Sora Desktop program (sora-desktop and _internal/)" >&2
    exit 1
fi

mkdir -p "$PREFIX/bin" "$(dirname "$APPDIR")" "$(dirname "$DESKTOP")" "$(dirname "$ICON")" \
    "$(dirname "$MIME")"
if [ "$HERE" != "$APPDIR" ]; then
    # Copy into a fresh folder, then swap it in: a failed copy leaves any old install intact.
    rm -rf "$APPDIR.new"
    cp -R "$HERE" "$APPDIR.new"
    rm -rf "$APPDIR"
    mv "$APPDIR.new" "$APPDIR"
fi
ln -sf "$APPDIR/sora-desktop" "$BIN"
cp "$HERE/sora-desktop.png" "$ICON"
cp "$HERE/sora-desktop.xml" "$MIME"
# The menu entry runs the program by its full path: PREFIX/bin is not always on a desktop's PATH.
sed -e "s|^Exec=sora-desktop|Exec=$BIN|" -e "s|^TryExec=.*|TryExec=$BIN|" \
    "$HERE/sora-desktop.desktop" >"$DESKTOP.tmp"
mv "$DESKTOP.tmp" "$DESKTOP"
refresh_menus
echo "Sora Desktop installed: run 'sora-desktop' (link in $PREFIX/bin) or open it from your menu."
