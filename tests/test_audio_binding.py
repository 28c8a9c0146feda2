"""PySide6-Addons (QtMultimedia, the player's sound) must not leak references to ``None`` either
(see test_qt_binding.py: PySide6 6.12.0 on Python < 3.12 drops one on every void call). The
probe runs in a fresh interpreter and makes the sound's own void calls (volume, seek, pause)
many thousands of times."""

from __future__ import annotations

import sys

import pytest

from tests.test_qt_binding import _counts, _run

PROBE = """
import sys
from pathlib import Path
import numpy as np
from PySide6.QtCore import QUrl
from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer
from sora_desktop.ui.app import create_app
from tests.audio_support import tone_file

app = create_app()
tone = tone_file(Path("tone.wav"), 1.0)
player, output = QMediaPlayer(), QAudioOutput()
player.setAudioOutput(output)
player.setSource(QUrl.fromLocalFile(str(tone.resolve())))
app.processEvents()
before = sys.getrefcount(None)
for i in range(20_000):
    output.setVolume((i % 10) / 10)
    player.setPosition(i % 900)
    player.pause()
    app.processEvents()
after = sys.getrefcount(None)
print("NONE", before, after, flush=True)
"""


def test_the_packaging_declares_the_addons_with_the_essentials_pin():
    from pathlib import Path

    import tomllib

    data = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    deps = data["project"]["dependencies"]
    essentials = sorted(d.split("Essentials", 1)[1] for d in deps if "PySide6-Essentials" in d)
    addons = sorted(d.split("Addons", 1)[1] for d in deps if "PySide6-Addons" in d)
    assert addons and addons == essentials  # the same versions: one Qt


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12")
def test_sound_calls_do_not_drop_references_to_none(tmp_path):
    run = _run(PROBE, tmp_path)
    assert run.returncode == 0, f"the probe died ({run.returncode}):\n{run.stderr[-2000:]}"
    before, after = (int(x) for x in _counts(run.stdout, "NONE"))
    assert after >= before - 50, f"None lost {before - after} references over 20,000 calls"
