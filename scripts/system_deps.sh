#!/usr/bin/env bash
# Debian/Ubuntu libraries that Qt needs (offscreen and xcb) and Xvfb for screenshots.
# ffmpeg itself comes bundled inside the imageio-ffmpeg wheel, so it is not listed here.
set -euo pipefail
PKGS=(libegl1 libgl1 libglib2.0-0 libfontconfig1 libxkbcommon0 libxkbcommon-x11-0 libdbus-1-3
      libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
      libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-xfixes0 libpulse0 fonts-dejavu-core xvfb)
if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "system_deps: not a Debian-like system; install Qt's runtime libraries yourself" >&2
  exit 0
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "system_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
