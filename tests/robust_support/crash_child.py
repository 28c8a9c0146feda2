"""The process that gets killed in the crash-safety tests: it saves (or autosaves) a project
over and over and acknowledges each completed save, until it is killed.

Two ways to run it:
- ``run_loop(kind, path, ack)`` inside a forked child (the quick test: no interpreter start-up);
- ``python -m tests.robust_support.crash_child save|autosave <path>`` (the bench: a fresh
  process, like the real app), acknowledging on stdout after printing ``ready``.

The generation number ``n`` of each save is in the project name (``"gen <n>"``), so the parent
can tell which save the file on disk holds.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Callable
from pathlib import Path

from sora_desktop.core.autosave import Autosaver
from sora_desktop.core.project import Project, Take, load_project, new_project, save_project
from sora_desktop.core.request import GenerationRequest

SHOTS = 30


def generation(project: Project) -> int:
    return int(project.name.split()[1])


def seed_project(path: Path) -> Project:
    """A saved project of realistic size (30 shots with takes; about 60 KB of JSON)."""
    project = new_project("gen 0")
    for i in range(SHOTS):
        shot = project.add_shot(GenerationRequest(f"shot {i}: a red ball bouncing", seed=i))
        take = project.add_take(shot.id, Take.create(shot.request))
        project.update_take(shot.id, take.id, status="done", clip=f"film_media/{shot.id}/a.mp4")
    save_project(project, path)
    return project


def _next(project: Project, n: int, rng: random.Random) -> None:
    project.name = f"gen {n}"
    # different lengths each time, so a torn write could not look like an older complete file
    shot = project.shots[n % len(project.shots)]
    project.set_shot_title(shot.id, "t" * rng.randint(0, 500))


def run_loop(kind: str, path: Path, ack: Callable[[int], None], seed: int = 0) -> None:
    """Save (``kind="save"``) or autosave (``"autosave"``, recovery folder ``path.parent /
    "recovery"``) forever, calling ``ack(n)`` after save ``n`` is complete."""
    rng = random.Random(seed)
    project = load_project(path)
    n = generation(project)
    saver = Autosaver(path.parent / "recovery") if kind == "autosave" else None
    while True:
        n += 1
        _next(project, n, rng)
        if saver is not None:
            saver.write(project)
        else:
            save_project(project)
        ack(n)


def main(argv: list[str]) -> None:
    kind, path = argv[0], Path(argv[1])
    out = sys.stdout

    def ack(n: int) -> None:
        out.write(f"{n}\n")
        out.flush()

    out.write("ready\n")
    out.flush()
    run_loop(kind, path, ack, seed=os.getpid())


if __name__ == "__main__":
    main(sys.argv[1:])
