"""Which model files Sora Desktop never fetches nor loads: formats that unpickle (and so can run
code) when read. Defined once; the downloader, the importer and every loader use it (it was
written four times, in two versions)."""

from __future__ import annotations

PICKLE_SUFFIXES: tuple[str, ...] = (
    ".bin",
    ".pt",
    ".pth",
    ".ckpt",
    ".pkl",
    ".pickle",
    ".joblib",
    ".npy",
    ".npz",
)


def is_pickle_name(name: str) -> bool:
    """Whether a file name (any case) has a pickle format's suffix."""
    return name.lower().endswith(PICKLE_SUFFIXES)
