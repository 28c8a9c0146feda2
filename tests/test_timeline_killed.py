"""A timeline export killed outright (kill -9) leaves only its hidden staging folder, never a
half-filled media folder or timeline; the next export of that timeline sweeps it away, while a
staging folder whose writer is still alive is left alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.film_support import mixed_project

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).with_name("sora-desktop")

# exports a timeline, and stops for good in the second clip (after saying so): the test kills it
_STUCK = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from sora_desktop.core.project import load_project
    from sora_desktop.studio import timeline

    original, calls = timeline._make_media, []

    def stuck(ts, dest, rate, cancel):
        calls.append(1)
        if len(calls) == 2:
            Path(sys.argv[3]).write_text("in the second clip")
            time.sleep(600)
        return original(ts, dest, rate, cancel)

    timeline._make_media = stuck
    timeline.export_timeline(load_project(sys.argv[1]), Path(sys.argv[2]))
    """
)


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_killed_export_is_swept_by_the_next(tmp_path):
    project = mixed_project(tmp_path / "p")
    out_dir = tmp_path / "edit"
    out_dir.mkdir()
    out, flag = out_dir / "cut.otio", tmp_path / "flag"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SORA_DESKTOP_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [sys.executable, "-c", _STUCK, str(project.path), str(out), str(flag)], env=env
    )
    try:
        for _ in range(1200):  # until it is inside the second clip (at most 2 minutes)
            if flag.exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert flag.exists(), "the export never reached the second clip"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    left = _hidden(out_dir)
    assert len(left) == 1 and left[0].startswith(".cut_media.") and left[0].endswith(".part")
    assert not out.exists() and not (out_dir / "cut_media").exists()  # nothing half-written

    # a live writer's staging folder (this test's own process) is never touched
    from sora_desktop.core.atomic import writer_tag

    live = out_dir / f".cut_media.live0000.{writer_tag()}.part"
    live.mkdir()

    done = subprocess.run(
        [str(EXE), "export-timeline", str(project.path), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert _hidden(out_dir) == [live.name]  # the killed one's is gone
    assert len(list((out_dir / "cut_media").iterdir())) == 3
