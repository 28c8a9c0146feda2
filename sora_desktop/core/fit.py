"""Will a model run on this machine, in which memory mode, and roughly how fast? One method.

The method (written out with every figure in docs/models.md, whose verdict table is generated
by bench/fit_table.py from this module):

- **Weights.** A catalog entry's ``fit`` block lists each pipeline component with its parameter
  count (billions) and the dtype it runs in: weights GB = params x bytes per parameter.
- **Activations.** The denoiser's activations at a size: tokens x hidden x 2 bytes x
  ``ACT_FACTOR``; tokens = latent frames x latent height x latent width over the patch (from the
  VAE's compression and the transformer's patch size). The VAE decode has its own figure per
  entry at the default size (``vae_decode_gb``: ``full`` untiled, ``tiled``), scaled with the
  pixels for other sizes (untiled) or kept (tiled). The text encoder's activations are small
  (``TEXT_ACT_GB``).
- **Memory modes** (what sits on the GPU): ``fast`` = every component + the largest activation;
  ``balanced`` (``enable_model_cpu_offload``) = one component at a time: the largest of
  (component + its phase's activations); ``low_vram`` (sequential / group offload) = one block
  (``unit_b``: the largest piece moved at once, a layer or an embedding table) + activations,
  with the tiled VAE decode. Each adds ``CUDA_CONTEXT_GB``.
- **System RAM** = ``APP_RAM_GB`` (OS, Python, torch, the app) + every weight in its dtype
  (``from_pretrained`` builds the whole pipeline in RAM before it moves to the GPU, and the
  offload modes keep what is not on the GPU there) + the decoded frames as float32.
- **Verdict**: ``fits`` with 5 % of the GPU memory to spare and the RAM need within RAM;
  ``tight`` with no GPU margin, or RAM up to 25 % short (the OS pages weights out while
  loading: slow, may fail); ``too_big`` beyond; ``no_gpu`` without an NVIDIA GPU. Advice only:
  the user may run anyway.
- **Time** (an estimate, never measured here): FLOPs per step = 2 x denoiser params x tokens
  + 4 x tokens^2 x hidden x layers (attention; linear for linear-attention models), times the
  passes per step (2 with classifier-free guidance) and steps, over the GPU's bf16 dense
  throughput (``GPU_TFLOPS``) x ``MFU``; offload modes add the weights moved over PCIe
  (``PCIE_GBPS``): once per clip in ``balanced``, every pass in ``low_vram``.

Plain data: no torch, no Qt. ``engine/preflight.py`` builds a ``Machine`` from its probe.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sora_desktop.core.memory_modes import MEMORY_MODES, mode_name

if TYPE_CHECKING:
    from sora_desktop.core.catalog import CatalogEntry

GIB = 1024**3
DTYPE_BYTES: dict[str, int] = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1}
ACT_FACTOR = 16  # live tensors per token x hidden in one block (qkv, attention out, 4x MLP, ...)
TEXT_ACT_GB = 0.5  # the text encoder's activations for one prompt (a few hundred tokens)
CUDA_CONTEXT_GB = 0.8  # CUDA context, cuBLAS workspace and allocator slack
APP_RAM_GB = 3.0  # the OS share, Python, torch and the app itself
GPU_MARGIN = 0.95  # "fits" leaves 5 % of the GPU's memory free
RAM_TIGHT = 1.25  # up to 25 % over RAM: the OS pages weights out (slow), "tight"
MFU = 0.5  # share of the GPU's peak bf16 throughput a DiT step reaches (an estimate)
PCIE_GBPS = 12.0  # host-to-GPU copy speed, GB/s (PCIe 4.0 x16 in practice)
DEFAULT_TFLOPS = 40.0  # a GPU whose name is not in the table below
# Dense bf16/fp16 tensor throughput (TFLOPS, fp32 accumulate) from the vendors' spec sheets;
# the first name found in the GPU's name counts, so longer names come first.
GPU_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H200", 989.0),
    ("H100", 756.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L40", 181.0),
    ("RTX 6000 Ada", 364.0),
    ("A6000", 155.0),
    ("RTX 5090", 209.0),
    ("RTX 5080", 113.0),
    ("RTX 5070 Ti", 88.0),
    ("RTX 5070", 62.0),
    ("RTX 5060", 38.0),
    ("RTX 4090", 165.0),
    ("RTX 4080", 97.0),
    ("RTX 4070 Ti", 80.0),
    ("RTX 4070", 58.0),
    ("RTX 4060 Ti", 44.0),
    ("RTX 4060", 30.0),
    ("RTX 3090", 71.0),
    ("RTX 3080", 59.0),
    ("RTX 3070", 40.0),
    ("RTX 3060", 25.0),
    ("RTX 2080", 40.0),
    ("RTX 2070", 30.0),
    ("RTX 2060", 26.0),
    ("T4", 65.0),
)
VERDICTS = ("fits", "tight", "too_big", "no_gpu")


@dataclass(frozen=True)
class Machine:
    """What a computer has: GPU name, its memory and the system RAM in GB (None = unknown / no
    GPU). The engine builds one from its memory probe (``engine.preflight.machine_from_memory``).
    """

    gpu_name: str | None
    vram_gb: float | None
    ram_gb: float | None


@dataclass(frozen=True)
class FitVerdict:
    """Whether one model runs in one memory mode on one machine. Advice, never a wall."""

    mode: str
    verdict: str  # "fits" | "tight" | "too_big" | "no_gpu"
    need_vram_gb: float
    need_ram_gb: float
    seconds: float | None  # estimated time for the default clip
    reason: str  # one plain sentence for the user

    @property
    def runs(self) -> bool:
        return self.verdict in ("fits", "tight")

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "need_vram_gb": round(self.need_vram_gb, 1),
            "need_ram_gb": round(self.need_ram_gb, 1),
            "seconds": None if self.seconds is None else round(self.seconds),
            "reason": self.reason,
        }


# ---------------------------------------------------------------------------- the fit block
@dataclass(frozen=True)
class Component:
    name: str
    params_b: float  # billions of parameters
    dtype: str
    unit_b: float  # the largest piece offloading moves at once (a layer or an embedding)

    @property
    def weights_gb(self) -> float:
        return self.params_b * 1e9 * DTYPE_BYTES[self.dtype] / GIB

    @property
    def unit_gb(self) -> float:
        return self.unit_b * 1e9 * DTYPE_BYTES[self.dtype] / GIB


@dataclass(frozen=True)
class FitSpec:
    """A catalog entry's ``fit`` block, validated (``parse_fit``)."""

    components: tuple[Component, ...]
    denoiser: str
    hidden: int
    layers: int
    vae_scale: tuple[int, int]  # (frames, pixels) per latent cell
    patch: tuple[int, int, int]  # (frames, height, width) of latent cells per token
    vae_decode_gb: tuple[float, float]  # (untiled, tiled) at the default size
    linear_attention: bool = False
    cfg_passes: int | None = None  # denoiser passes per step; None = 2 with guidance > 1
    section_frames: int = 0  # FramePack: frames made per section (0 = the whole clip at once)
    context_latent_frames: int = 0  # FramePack: latent frames of context in each section

    def component(self, name: str) -> Component:
        return next(c for c in self.components if c.name == name)

    @property
    def weights_gb(self) -> float:
        return sum(c.weights_gb for c in self.components)


_FIT_KEYS = {
    "components",
    "denoiser",
    "hidden",
    "layers",
    "vae_scale",
    "patch",
    "vae_decode_gb",
    "linear_attention",
    "cfg_passes",
    "section_frames",
    "context_latent_frames",
}


def parse_fit(where: str, data: Any) -> FitSpec:
    """Validate an entry's ``fit`` block; ValueError naming the field on anything wrong."""
    where = f"{where}.fit"
    if not isinstance(data, dict):
        raise ValueError(f"{where}: must be an object")
    unknown = sorted(set(data) - _FIT_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")
    comps = data.get("components")
    if not isinstance(comps, dict) or not comps:
        raise ValueError(f"{where}.components: must map component names to their figures")
    components = []
    for name, c in comps.items():
        w = f"{where}.components.{name}"
        if not isinstance(c, dict) or set(c) - {"params_b", "dtype", "unit_b"}:
            raise ValueError(f"{w}: must be an object with params_b, dtype and unit_b")
        params = _number(w, "params_b", c.get("params_b"), low=0.0, strict=True)
        unit = _number(w, "unit_b", c.get("unit_b"), low=0.0, strict=True)
        if unit > params:
            raise ValueError(f"{w}.unit_b: {unit} is larger than the component ({params})")
        dtype = c.get("dtype")
        if dtype not in DTYPE_BYTES:
            raise ValueError(f"{w}.dtype: {dtype!r}; allowed {', '.join(DTYPE_BYTES)}")
        components.append(Component(name, params, dtype, unit))
    denoiser = data.get("denoiser")
    if denoiser not in comps:
        raise ValueError(f"{where}.denoiser: must name one of the components")
    decode = data.get("vae_decode_gb")
    if not isinstance(decode, dict) or set(decode) != {"full", "tiled"}:
        raise ValueError(f"{where}.vae_decode_gb: must give 'full' and 'tiled' GB")
    cfg = data.get("cfg_passes")
    if cfg is not None and cfg not in (1, 2):
        raise ValueError(f"{where}.cfg_passes: must be 1 or 2")
    linear = data.get("linear_attention", False)
    if not isinstance(linear, bool):
        raise ValueError(f"{where}.linear_attention: must be true or false")
    return FitSpec(
        components=tuple(components),
        denoiser=denoiser,
        hidden=_whole(where, "hidden", data.get("hidden")),
        layers=_whole(where, "layers", data.get("layers")),
        vae_scale=_ints(where, "vae_scale", data.get("vae_scale"), 2),
        patch=_ints(where, "patch", data.get("patch"), 3),
        vae_decode_gb=(
            _number(where, "vae_decode_gb.full", decode["full"], low=0.0),
            _number(where, "vae_decode_gb.tiled", decode["tiled"], low=0.0),
        ),
        linear_attention=linear,
        cfg_passes=cfg,
        section_frames=_whole(where, "section_frames", data.get("section_frames", 0), low=0),
        context_latent_frames=_whole(
            where, "context_latent_frames", data.get("context_latent_frames", 0), low=0
        ),
    )


def _number(where: str, key: str, value: Any, *, low: float, strict: bool = False) -> float:
    bad = isinstance(value, bool) or not isinstance(value, (int, float))
    if bad or not math.isfinite(value) or value < low or (strict and value == low):
        more = "greater than" if strict else "at least"
        raise ValueError(f"{where}.{key}: must be a number {more} {low:g}")
    return float(value)


def _whole(where: str, key: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{where}.{key}: must be a whole number >= {low}")
    return value


def _ints(where: str, key: str, value: Any, n: int) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) != n:
        raise ValueError(f"{where}.{key}: must be a list of {n} whole numbers >= 1")
    return tuple(_whole(where, f"{key}[{i}]", v) for i, v in enumerate(value))


# ---------------------------------------------------------------------------- the method
@dataclass(frozen=True)
class Shape:
    width: int
    height: int
    num_frames: int
    steps: int
    guidance: float


def default_shape(entry: CatalogEntry) -> Shape:
    d = entry.defaults
    return Shape(
        int(d.get("width", 64)),
        int(d.get("height", 64)),
        int(d.get("num_frames", 16)),
        int(d.get("steps", 25)),
        float(d.get("guidance", 1.0)),
    )


def tokens(spec: FitSpec, shape: Shape) -> tuple[int, int]:
    """(tokens per denoiser pass, passes per step) for one clip. FramePack makes a long clip
    section by section, each with its context frames."""
    ft, px = spec.vae_scale
    pt, ph, pw = spec.patch
    per_frame = math.ceil(shape.height / (px * ph)) * math.ceil(shape.width / (px * pw))
    sections = 1
    frames = shape.num_frames
    if spec.section_frames:
        sections = math.ceil(frames / spec.section_frames)
        frames = min(frames, spec.section_frames)
    latent_frames = (frames - 1) // ft + 1 + spec.context_latent_frames
    return math.ceil(latent_frames / pt) * per_frame, sections


def activations_gb(spec: FitSpec, shape: Shape) -> float:
    n, _ = tokens(spec, shape)
    return n * spec.hidden * 2 * ACT_FACTOR / GIB


def decode_gb(spec: FitSpec, shape: Shape, ref: Shape, tiled: bool) -> float:
    full, tile = spec.vae_decode_gb
    if tiled:
        return tile
    scale = (shape.width * shape.height * shape.num_frames) / max(
        1, ref.width * ref.height * ref.num_frames
    )
    return full * scale


def need_vram_gb(spec: FitSpec, mode: str, shape: Shape, ref: Shape) -> float:
    """GPU memory one clip of ``shape`` takes in ``mode`` (the method above)."""
    act = activations_gb(spec, shape)
    dec = decode_gb(spec, shape, ref, tiled=mode == "low_vram")
    denoiser = spec.component(spec.denoiser)
    vae = next((c for c in spec.components if c.name == "vae"), None)

    def phase(c: Component) -> float:
        if c is denoiser:
            return act
        if c is vae:
            return dec
        return TEXT_ACT_GB

    if mode == "fast":
        need = spec.weights_gb + max(act, dec, TEXT_ACT_GB)
    elif mode == "balanced":
        need = max(c.weights_gb + phase(c) for c in spec.components)
    else:  # low_vram: one offload unit of each component at a time (the VAE whole, tiled)
        need = max((c.weights_gb if c is vae else c.unit_gb) + phase(c) for c in spec.components)
    return need + CUDA_CONTEXT_GB


def need_ram_gb(spec: FitSpec, shape: Shape) -> float:
    """System RAM: the app, every weight (built in RAM before the GPU; offloading keeps it
    there) and the decoded frames as float32."""
    frames = shape.width * shape.height * shape.num_frames * 3 * 4 / GIB
    return APP_RAM_GB + spec.weights_gb + frames


def gpu_tflops(gpu_name: str | None) -> tuple[float, bool]:
    """(dense bf16 TFLOPS, known) for a GPU name; unknown names get ``DEFAULT_TFLOPS``."""
    name = (gpu_name or "").upper()
    for key, tflops in GPU_TFLOPS:
        if key.upper() in name:
            return tflops, True
    return DEFAULT_TFLOPS, False


def estimate_seconds(spec: FitSpec, mode: str, shape: Shape, gpu_name: str | None) -> float:
    """Estimated seconds for the denoising of one clip (an estimate; see the module doc)."""
    n, sections = tokens(spec, shape)
    params = spec.component(spec.denoiser).params_b * 1e9
    attention = 4 * spec.hidden * spec.layers * (n if spec.linear_attention else n * n)
    passes = spec.cfg_passes or (2 if shape.guidance > 1.0 else 1)
    forwards = passes * shape.steps * sections
    flops = forwards * (2 * params * n + attention)
    tflops, _ = gpu_tflops(gpu_name)
    seconds = flops / (tflops * 1e12 * MFU)
    moved = 0.0
    if mode == "balanced":
        moved = spec.weights_gb * sections
    elif mode == "low_vram":
        moved = spec.component(spec.denoiser).weights_gb * forwards + spec.weights_gb
    return seconds + moved * GIB / (PCIE_GBPS * 1e9)


# ---------------------------------------------------------------------------- verdicts
def _gb(x: float) -> str:
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}"


def _verdict(
    entry: CatalogEntry, mode: str, vram: float, ram: float, machine: Machine, secs: float | None
) -> FitVerdict:
    name = entry.name
    where = f"{name} in {mode_name(mode)} mode"
    if machine.vram_gb is None:
        return FitVerdict(
            mode,
            "no_gpu",
            vram,
            ram,
            None,
            f"No NVIDIA GPU was found: {name} would run on the processor and take hours per clip.",
        )
    gpu_ok = vram <= machine.vram_gb * GPU_MARGIN
    gpu_tight = vram <= machine.vram_gb
    ram_ok = machine.ram_gb is None or ram <= machine.ram_gb
    ram_tight = machine.ram_gb is None or ram <= machine.ram_gb * RAM_TIGHT
    have = f"{_gb(machine.vram_gb)} GB"
    if not gpu_tight:
        return FitVerdict(
            mode,
            "too_big",
            vram,
            ram,
            secs,
            f"{where} needs about {_gb(vram)} GB of graphics memory; this GPU has {have}.",
        )
    if not ram_tight:
        return FitVerdict(
            mode,
            "too_big",
            vram,
            ram,
            secs,
            f"{where} needs about {_gb(ram)} GB of system memory; this computer has "
            f"{_gb(machine.ram_gb or 0)} GB.",
        )
    if gpu_ok and ram_ok:
        return FitVerdict(
            mode,
            "fits",
            vram,
            ram,
            secs,
            f"{where} needs about {_gb(vram)} GB of the GPU's {have} and {_gb(ram)} GB of "
            "system memory.",
        )
    why = (
        f"about {_gb(vram)} GB of the GPU's {have}, with nothing to spare"
        if not gpu_ok
        else f"about {_gb(ram)} GB of system memory, more than the {_gb(machine.ram_gb or 0)} GB "
        "here, so loading will be slow"
    )
    return FitVerdict(mode, "tight", vram, ram, secs, f"{where} needs {why}; it may still run.")


def _legacy(entry: CatalogEntry, machine: Machine) -> dict[str, FitVerdict]:
    """Entries without a ``fit`` block (the built-in model, prompt enhancers, hand-written
    catalogs): their per-mode figures as given."""
    out: dict[str, FitVerdict] = {}
    for mode in MEMORY_MODES:
        vram, ram = entry.min_vram_gb[mode], entry.min_ram_gb[mode]
        if not entry.needs_download or (entry.kind == "enhancer" and machine.vram_gb is None):
            where = "any computer" if not entry.needs_download else "the processor"
            ram_ok = machine.ram_gb is None or ram <= machine.ram_gb
            out[mode] = FitVerdict(
                mode,
                "fits" if ram_ok else "tight",
                0.0 if machine.vram_gb is None else vram,
                ram,
                None,
                f"{entry.name} runs on {where}.",
            )
            continue
        out[mode] = _verdict(entry, mode, vram, ram, machine, None)
    return out


def fit_for(
    entry: CatalogEntry, machine: Machine, shape: Shape | None = None
) -> dict[str, FitVerdict]:
    """One verdict per memory mode for ``entry`` on ``machine`` (at ``shape``, default: the
    entry's default clip)."""
    spec: FitSpec | None = getattr(entry, "fit", None)
    if spec is None:
        return _legacy(entry, machine)
    ref = default_shape(entry)
    shape = shape or ref
    ram = need_ram_gb(spec, shape)
    out = {}
    for mode in MEMORY_MODES:
        vram = need_vram_gb(spec, mode, shape, ref)
        secs = (
            None
            if machine.vram_gb is None
            else estimate_seconds(spec, mode, shape, machine.gpu_name)
        )
        out[mode] = _verdict(entry, mode, vram, ram, machine, secs)
    return out


def best_mode(entry: CatalogEntry, machine: Machine, shape: Shape | None = None) -> str | None:
    """The fastest mode that fits, else the fastest that is tight; None when none runs."""
    verdicts = fit_for(entry, machine, shape)
    for wanted in ("fits", "tight"):
        for mode in MEMORY_MODES:
            if verdicts[mode].verdict == wanted:
                return mode
    return None


def mode_figures(spec: FitSpec, entry_defaults: Mapping[str, Any]) -> tuple[dict, dict]:
    """(min_vram_gb, min_ram_gb) per mode at the default size: what older readers of the
    catalog (the first-run guide, the model manager) show."""

    class _E:  # default_shape needs only .defaults
        defaults = entry_defaults

    ref = default_shape(_E)  # type: ignore[arg-type]
    ram = round(need_ram_gb(spec, ref), 1)
    vram = {m: round(need_vram_gb(spec, m, ref, ref), 1) for m in MEMORY_MODES}
    return vram, {m: ram for m in MEMORY_MODES}
