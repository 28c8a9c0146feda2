"""Where shots are rendered: this computer, or a Ray cluster (the render farm, issue 18).

The one place that says what a cluster address may look like; Settings, the batch command's
``--ray`` and ``studio.farm`` all read it. Plain data: no Ray import here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sora_desktop.core.errors import FieldError

RENDER_ON = ("this computer", "ray")  # Settings.render_on
LOCAL = "local"  # "--ray local": start a Ray cluster on this computer
DEFAULT_PORT = 6379  # `ray start --head` listens here
CLIENT_PORT = 10001  # ray:// (Ray Client) listens here
EXAMPLE = "192.168.1.20:6379"
MAX_ADDRESS_CHARS = 255


@dataclass(frozen=True)
class RayAddress:
    text: str  # what ray.init is given ("local" for a cluster started here)
    host: str = ""
    port: int = 0
    client: bool = False  # ray://host:port

    @property
    def local(self) -> bool:
        return self.text == LOCAL


def parse_ray_address(text: str, field: str = "ray_address") -> RayAddress:
    """``local``, ``host:port`` (a node of the cluster, `ray start --head`) or
    ``ray://host:port`` (Ray Client). ``FieldError`` naming ``field`` for anything else."""
    if not isinstance(text, str):
        raise FieldError(field, f"expected an address like {EXAMPLE}")
    raw = text.strip()
    if not raw:
        raise FieldError(field, f"enter the cluster's address, for example {EXAMPLE}")
    if len(raw) > MAX_ADDRESS_CHARS or any(c.isspace() or ord(c) < 32 for c in raw):
        raise FieldError(field, f"{raw[:40]!r} is not an address like {EXAMPLE}")
    if raw.lower() == LOCAL:
        return RayAddress(LOCAL)
    client = raw.lower().startswith("ray://")
    rest = raw[len("ray://") :] if client else raw
    if "://" in rest or "/" in rest:
        raise FieldError(
            field, f"{raw!r} is not a Ray address; write host:port, e.g. {EXAMPLE}, or ray://…"
        )
    host, sep, port_text = rest.rpartition(":")
    if not sep:
        host, port_text = rest, str(CLIENT_PORT if client else DEFAULT_PORT)
    host = host.strip("[]")  # [::1]:6379
    if not host:
        raise FieldError(field, f"{raw!r} has no host name; e.g. {EXAMPLE}")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise FieldError(field, f"{raw!r}: the port must be a number from 1 to 65535")
    port = int(port_text)
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return RayAddress(f"ray://{shown}" if client else shown, host, port, client)
