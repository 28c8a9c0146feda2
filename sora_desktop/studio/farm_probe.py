"""Settings' "Test connection": what a Ray cluster has (machines, CPUs, GPUs), asked in a
short-lived child process so the app never joins a cluster just to look at it (and a cluster
that does not answer cannot hang the app: the child is stopped after a timeout).

``python -m sora_desktop.studio.farm_probe ADDRESS`` prints one JSON line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

PROBE_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class ClusterInfo:
    machines: list[str]
    cpus: int
    gpus: int

    def summary(self) -> str:
        names = ", ".join(self.machines[:4]) + (" …" if len(self.machines) > 4 else "")
        count = len(self.machines)
        return (
            f"Connected: {count} machine{'s' if count != 1 else ''} ({names}), "
            f"{self.gpus} GPU{'s' if self.gpus != 1 else ''}, {self.cpus} CPU cores."
        )


class ProbeError(RuntimeError):
    """The cluster could not be reached; the message is the user's."""


def probe(address: str, timeout: float = PROBE_TIMEOUT_S) -> ClusterInfo:
    """Ask the cluster at ``address`` what it has (blocks: call it off the GUI thread)."""
    cmd = [sys.executable, "-m", "sora_desktop.studio.farm_probe", address]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ProbeError(
            f"The Ray cluster at {address} did not answer within {int(timeout)} s."
        ) from exc
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise ProbeError(
            f"The connection test could not run ({(done.stderr or '').strip()[-200:]})."
        )
    data = json.loads(lines[-1])
    if "error" in data:
        raise ProbeError(data["error"])
    return ClusterInfo(list(data["machines"]), int(data["cpus"]), int(data["gpus"]))


def _main(address: str) -> dict:
    from sora_desktop.core.farm_address import parse_ray_address
    from sora_desktop.studio.farm import FarmError, _import_ray, connect

    try:
        parsed = parse_ray_address(address, "address")
        ray = _import_ray()
        connect(parsed)
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        resources = ray.cluster_resources()
        machines = sorted(
            {n.get("NodeManagerHostname") or n.get("NodeManagerAddress") for n in nodes}
        )
        return {
            "machines": machines,
            "cpus": int(resources.get("CPU", 0)),
            "gpus": int(resources.get("GPU", 0)),
        }
    except (FarmError, ValueError) as exc:
        return {"error": getattr(exc, "message", None) or str(exc)}


if __name__ == "__main__":
    print(json.dumps(_main(sys.argv[1] if len(sys.argv) > 1 else "")), flush=True)
