"""The speed switches a clip is made with ("Faster" in Settings), recorded in the request.

They change the result a little (a cache skips work on steps that change little; fp8 weights
round), so each clip's request carries them under ``extra["speed"]`` and a clip can be made
again exactly. The engine applies them (engine/speed.py); this module is the one list of what
exists and what values are allowed. Plain data: no torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sora_desktop.core.errors import FieldError, short_repr

# diffusers' caches: FirstBlockCache works on any transformer whose blocks diffusers knows;
# MagCache needs per-model magnitude ratios (a catalog entry's defaults.mag_ratios).
CACHES: tuple[str, ...] = ("first_block", "mag")
CACHE_NAMES = {"first_block": "First-block cache", "mag": "MagCache"}
# our names → diffusers attention backends; anything but "native" needs a CUDA GPU + its kernel
ATTENTION_BACKENDS: dict[str, str] = {
    "native": "native",
    "flash": "flash",
    "sage": "sage",
    "xformers": "xformers",
}
SPEED_KEY = "speed"


@dataclass(frozen=True)
class SpeedOptions:
    cache: str | None = None
    attention: str = "native"
    fp8: bool = False  # transformer weights stored in fp8, computed in the model's dtype
    compile: bool = False  # torch.compile the transformer (CUDA only)

    def __post_init__(self) -> None:
        if self.cache is not None and self.cache not in CACHES:
            raise FieldError(
                "speed.cache", f"{short_repr(self.cache)}; allowed none, {', '.join(CACHES)}"
            )
        if self.attention not in ATTENTION_BACKENDS:
            raise FieldError(
                "speed.attention",
                f"{short_repr(self.attention)}; allowed {', '.join(ATTENTION_BACKENDS)}",
            )
        for key in ("fp8", "compile"):
            if not isinstance(getattr(self, key), bool):
                raise FieldError(f"speed.{key}", "must be true or false")

    @property
    def is_default(self) -> bool:
        return self == SpeedOptions()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> SpeedOptions:
        """The options a request's ``extra`` records (none recorded: all off)."""
        data = extra.get(SPEED_KEY)
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise FieldError("speed", "must be an object with cache, attention, fp8, compile")
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise FieldError("speed", f"unknown option {short_repr(unknown[0])}")
        return cls(**data)

    def into_extra(self, extra: dict[str, Any]) -> dict[str, Any]:
        """``extra`` with these options recorded (left out when all are off)."""
        out = {k: v for k, v in extra.items() if k != SPEED_KEY}
        if not self.is_default:
            out[SPEED_KEY] = self.to_dict()
        return out
