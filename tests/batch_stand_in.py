"""A stand-in model for ``sora-desktop batch`` tests: grey clips, three steps, no weights.

``stand_in_generate`` is a ``take_runner.GenerateFn``; ``install`` makes the batch's
``LocalRunner`` use it (in this process, or, run as ``python tests/batch_stand_in.py
STEP_SECONDS -- batch ARGS``, in a child process that tests can kill)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from sora_desktop.engine.backend import GenerationResult, StepEvent
from sora_desktop.studio import runners

REAL_RUNNER = runners.LocalRunner


def stand_in_generate(on_step=None, step_seconds: float = 0.0):
    """``on_step(prompt, step, cancel)`` may raise or signal."""

    def generate(request, cancel):
        if request.start_image is not None and not Path(request.start_image).is_file():
            raise FileNotFoundError(f"start image {request.start_image} is missing")  # as a model
        for step in (1, 2, 3):
            cancel.raise_if_cancelled()
            if on_step is not None:
                on_step(request.prompt, step, cancel)
            time.sleep(step_seconds)
            yield StepEvent(step, 3)
        frames = np.full((request.num_frames, request.height, request.width, 3), 90, np.uint8)
        yield GenerationResult(frames, request.fps, request)

    return generate


def runner_factory(generate):
    return lambda emit: REAL_RUNNER(emit, generate=generate)


if __name__ == "__main__":
    step_seconds = float(sys.argv[1])
    runners.LocalRunner = runner_factory(stand_in_generate(step_seconds=step_seconds))
    from sora_desktop import cli

    sys.exit(cli.main(sys.argv[3:]))
