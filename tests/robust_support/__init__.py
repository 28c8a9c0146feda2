"""Shared helpers for the robustness suite (tests/test_robust_*.py, bench/)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Hang(AssertionError):
    """The code under test ran past its time limit (a hang, not a slow example)."""


@contextlib.contextmanager
def hang_guard(seconds: float) -> Iterator[None]:
    """Fail with ``Hang`` if the block runs longer than ``seconds`` (SIGALRM, main thread only).

    Hypothesis deadlines only report a slow example after it returns; this guard also stops a
    real infinite loop so the suite cannot stall.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):
        yield
        return

    def _raise(signum, frame):  # noqa: ARG001
        raise Hang(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def untrained_checkpoint(out):
    """A micro-preset embedded checkpoint with random weights, written in well under a second.

    For tests of the loader's checks, which never need a trained model (``micro_model_dir``
    trains one, which takes minutes on a busy 2-core machine).
    """
    from pathlib import Path

    from sora_desktop.engine.embedded.dit import DiTConfig, VideoDiT
    from sora_desktop.engine.embedded.vae import VAEConfig, VideoVAE
    from sora_desktop.engine.embedded.weights import save_checkpoint

    vae = VideoVAE(VAEConfig.preset("micro"))
    dit = VideoDiT(DiTConfig.preset("micro"))
    c = vae.cfg.latent_channels
    save_checkpoint(
        Path(out),
        vae=vae,
        dit=dit,
        latent_mean=[0.0] * c,
        latent_std=[1.0] * c,
        latent_rgb=[[0.0, 0.0, 0.0]] * (c + 1),
        training={"note": "untrained, for loader tests"},
    )
    return Path(out)
