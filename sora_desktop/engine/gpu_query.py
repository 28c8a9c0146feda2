"""The GPU's name and memory without importing torch (the GUI process never imports it).

Asks ``nvidia-smi`` (installed with every NVIDIA driver) for the first GPU the app may use
(``CUDA_VISIBLE_DEVICES``' first entry, else GPU 0). No NVIDIA GPU, no driver, or an answer
that does not parse: ``(None, None, None)``, as "no GPU".
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess

log = logging.getLogger(__name__)

GB = 1024**3
QUERY_TIMEOUT_S = 5.0


def _first_visible() -> str:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    return visible or "0"


def query_gpu() -> tuple[str | None, float | None, float | None]:
    """(name, free GB, total GB) of the GPU the model would use, or (None, None, None)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None, None, None
    visible = _first_visible()
    if visible in ("-1", "none", "NoDevFiles"):
        return None, None, None
    cmd = [
        exe,
        f"--id={visible}",
        "--query-gpu=name,memory.free,memory.total",
        "--format=csv,noheader,nounits",
    ]
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=QUERY_TIMEOUT_S, check=True
        ).stdout
        name, free_mib, total_mib = (
            part.strip() for part in out.strip().splitlines()[0].split(",")
        )
        mib = 1024**2
        return name, float(free_mib) * mib / GB, float(total_mib) * mib / GB
    except Exception:  # noqa: BLE001 - a broken driver must not stop the app: "no GPU"
        log.info("nvidia-smi gave no usable answer", exc_info=True)
        return None, None, None
