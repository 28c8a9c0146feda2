#!/usr/bin/env bash
# Install everything the tests need and run them (this is what .ci/run calls).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# shellcheck disable=SC1091
. .venv/bin/activate
export QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1
ruff check sora_desktop tests bench model scripts
lint-imports  # the layers and "core/studio import no Qt" (pyproject.toml [tool.importlinter])
python -m pytest -q -p no:cacheprovider --durations=30 "$@"
