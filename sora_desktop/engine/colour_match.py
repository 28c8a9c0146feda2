"""Colour matching between the windows of a long shot (issue 17; Wan2GP #2132: colour shift
where long videos join windows).

Each window after the first comes back from the model a little brighter, darker or tinted
compared with the frame it started from (the start image goes through the VAE again and the
model drifts). The fix here is the classic statistics transfer (Reinhard et al., "Color
Transfer between Images", 2001) in CIELAB, a perceptual space where lightness (L) and the two
colour axes (a, b) are separate: for each channel, a gain and an offset that give the new
window's overlap frames the mean and standard deviation of the previous window's overlap
frames. As the previous window was matched the same way, every window ends up on the first
window's colours, and the next window starts from the corrected frame, so the drift cannot
compound. Motion and lighting changes *inside* a window are left alone.

numpy only; frames are converted one at a time so memory stays at a few frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# sRGB (D65) -> CIE XYZ, and the D65 white point
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_WHITE = _RGB_TO_XYZ.sum(axis=1)  # XYZ of RGB (1, 1, 1)
_EPS = 216 / 24389
_KAPPA = 24389 / 27
# XYZ normalised by the white point, so the white is (1, 1, 1); float32 is plenty for 8-bit
_TO_XYZ_N = (_RGB_TO_XYZ / _WHITE[:, None]).T.astype(np.float32)  # row-vector form
_FROM_XYZ_N = np.linalg.inv(_RGB_TO_XYZ / _WHITE[:, None]).T.astype(np.float32)
# Tables instead of powers: every 8-bit value's linear light, and linear light (in 1/65535
# steps, finer than an 8-bit level needs anywhere on the curve) back to 8 bits. A frame of
# 1280x704 converts in a fraction of the time the power functions take.
_LEVELS = np.arange(256) / 255.0
_TO_LINEAR = np.where(
    _LEVELS <= 0.04045, _LEVELS / 12.92, ((_LEVELS + 0.055) / 1.055) ** 2.4
).astype(np.float32)
_STEPS = 65535
_lin = np.arange(_STEPS + 1) / _STEPS
_TO_SRGB8 = np.clip(
    np.round(255 * np.where(_lin <= 0.0031308, 12.92 * _lin, 1.055 * _lin ** (1 / 2.4) - 0.055)),
    0,
    255,
).astype(np.uint8)
# CIELAB's f(t) (cube root, linear near black) of white-normalised XYZ, which lies in 0..1
# for any sRGB colour: a table in 1/65535 steps is within 0.01 L of the exact value, and
# np.cbrt over a whole frame was most of the conversion's time
_F_OF_T = np.where(_lin > _EPS, np.cbrt(_lin), (_KAPPA * _lin + 16) / 116).astype(np.float32)
del _lin
# A window is not stretched or squeezed more than this (a flat overlap frame, e.g. a fade to
# black, would otherwise give a huge gain).
MIN_GAIN, MAX_GAIN = 0.5, 2.0
_FLAT = 1e-3  # a channel's std below this is "flat": keep its contrast (gain 1)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB (..., 3) -> float32 CIELAB (..., 3): L in 0..100, a and b about -128..127."""
    xyz = _TO_LINEAR[rgb] @ _TO_XYZ_N
    index = (xyz * _STEPS + 0.5).astype(np.int32)
    np.clip(index, 0, _STEPS, out=index)  # float rounding can step a hair past 0..1
    f = _F_OF_T[index]
    lab = np.empty_like(f)
    lab[..., 0] = 116 * f[..., 1] - 16
    lab[..., 1] = 500 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200 * (f[..., 1] - f[..., 2])
    return lab


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """CIELAB (..., 3) -> uint8 sRGB (..., 3), out-of-gamut colours clipped."""
    lab = lab.astype(np.float32, copy=False)
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
    xyz = f * f * f
    low = xyz <= _EPS
    xyz[low] = (116 * f[low] - 16) / _KAPPA
    linear = np.clip(xyz @ _FROM_XYZ_N, 0.0, 1.0)
    return _TO_SRGB8[(linear * _STEPS + 0.5).astype(np.int32)]


@dataclass(frozen=True)
class ColourStats:
    """Per-channel mean and standard deviation in CIELAB."""

    mean: np.ndarray  # (3,)
    std: np.ndarray  # (3,)


def colour_stats(frames: np.ndarray) -> ColourStats:
    """Statistics of (T, H, W, 3) or (H, W, 3) uint8 frames, over all their pixels."""
    video = frames.reshape(-1, *frames.shape[-3:])
    total = np.zeros(3)
    squares = np.zeros(3)
    n = 0
    for frame in video:  # one frame at a time: a window can be hundreds of MB as float64
        lab = rgb_to_lab(frame).reshape(-1, 3).astype(np.float64)
        total += lab.sum(axis=0)
        squares += (lab**2).sum(axis=0)
        n += len(lab)
    mean = total / max(n, 1)
    std = np.sqrt(np.maximum(squares / max(n, 1) - mean**2, 0.0))
    return ColourStats(mean, std)


@dataclass(frozen=True)
class ColourTransfer:
    """lab' = gain * lab + offset, per channel."""

    gain: np.ndarray  # (3,)
    offset: np.ndarray  # (3,)

    @property
    def is_identity(self) -> bool:
        same_gain = np.allclose(self.gain, 1.0, atol=1e-4)
        return bool(same_gain and np.allclose(self.offset, 0.0, atol=1e-3))

    def to_json(self) -> dict[str, list[float]]:
        return {
            "gain": [round(float(g), 5) for g in self.gain],
            "offset": [round(float(o), 4) for o in self.offset],
        }


def transfer(source: ColourStats, target: ColourStats) -> ColourTransfer:
    """The per-channel map that gives frames with ``source`` statistics ``target``'s."""
    flat = (source.std < _FLAT) | (target.std < _FLAT)
    gain = np.where(flat, 1.0, target.std / np.maximum(source.std, _FLAT))
    gain = np.clip(gain, MIN_GAIN, MAX_GAIN)
    return ColourTransfer(gain, target.mean - gain * source.mean)


def apply_transfer(frames: np.ndarray, change: ColourTransfer) -> np.ndarray:
    """``frames`` (T, H, W, 3) uint8 with ``change`` applied (a new array; the identity gives a
    copy, unchanged)."""
    if change.is_identity:
        return frames.copy()
    out = np.empty_like(frames)
    for i, frame in enumerate(frames):
        lab = rgb_to_lab(frame)
        lab *= change.gain.astype(np.float32)
        lab += change.offset.astype(np.float32)
        out[i] = lab_to_rgb(lab)
    return out


def match_window(
    frames: np.ndarray, overlap: np.ndarray, reference: np.ndarray
) -> tuple[np.ndarray, ColourTransfer]:
    """A window's ``frames`` matched so that its ``overlap`` frames (its first frames, the same
    moments as ``reference``, the previous window's matched last frames) take the reference's
    colour statistics. Returns the matched frames and the map used."""
    change = transfer(colour_stats(overlap), colour_stats(reference))
    return apply_transfer(frames, change), change
