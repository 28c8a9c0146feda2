"""Save docs/screenshots/storyboard_audio.png: the storyboard with music on its sound track.

    xvfb-run -a python scripts/screenshot_sound.py [--out DIR]
    (or QT_QPA_PLATFORM=offscreen python scripts/screenshot_sound.py)

Makes the screenshot storyboard's shots (scripts/screenshots.py's SHOTS; their clips are drawn
here, shapes moving as the prompts say, so no model runs), imports a made-up piece of music (an
MP3: chords over a beat) and a short sound, with fades and a lowered volume, and shows the
whole storyboard in the player.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.screenshots import SHOTS, settle, wait_until  # noqa: E402

RATE = 44_100


def music(seconds: float) -> np.ndarray:
    """Chords changing every two seconds over a beat: a waveform that looks like music."""
    t = np.arange(int(seconds * RATE)) / RATE
    chords = [(220.0, 277.2, 329.6), (196.0, 246.9, 293.7), (174.6, 220.0, 261.6)]
    out = np.zeros_like(t)
    for i, chord in enumerate(chords * int(seconds // 6 + 1)):
        part = (t >= 2 * i) & (t < 2 * i + 2)
        for f in chord:
            out[part] += 0.3 * np.sin(2 * np.pi * f * t[part])
    beat = np.exp(-((t * 2) % 1.0) * 9)  # two beats a second
    swell = 0.55 + 0.45 * np.sin(2 * np.pi * t / seconds - np.pi / 2) ** 2
    return np.clip(out * (0.35 + 0.65 * beat) * swell, -1, 1)


def write(path: Path, samples: np.ndarray) -> Path:
    import wave

    pcm = np.round(samples * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    return path


def shape_clip(index: int, frames: int, side: int = 64) -> np.ndarray:
    """A small clip like the built-in model's: a shape moving on a coloured background."""
    backgrounds = [(40, 150, 60), (20, 30, 90), (70, 20, 90), (220, 120, 30)]
    colours = [(220, 40, 40), (240, 220, 40), (245, 245, 245), (40, 220, 230)]
    yy, xx = np.mgrid[0:side, 0:side]
    out = np.empty((frames, side, side, 3), np.uint8)
    for f in range(frames):
        a = f / max(1, frames - 1)
        out[f] = backgrounds[index]
        if index == 0:  # bounces up and down
            cx, cy = side / 2, side * (0.3 + 0.4 * abs(np.sin(np.pi * 2 * a)))
        elif index == 1:  # drifts to the top right
            cx, cy = side * (0.3 + 0.4 * a), side * (0.7 - 0.4 * a)
        elif index == 2:  # moves in a circle
            cx = side / 2 + side * 0.25 * np.cos(2 * np.pi * a)
            cy = side / 2 + side * 0.25 * np.sin(2 * np.pi * a)
        else:  # slides right
            cx, cy = side * (0.2 + 0.6 * a), side / 2
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 < (side * 0.14) ** 2
        if index == 2:
            mask = (abs(xx - cx) < side * 0.12) & (abs(yy - cy) < side * 0.12)
        out[f][mask] = colours[index]
    return out


def storyboard(folder: Path):
    """The screenshot project, each shot with a finished clip."""
    from sora_desktop.core.project import (
        Take,
        clip_relpath,
        new_project,
        resolve_media,
        save_project,
    )
    from sora_desktop.core.request import GenerationRequest
    from sora_desktop.engine.export import export_video
    from sora_desktop.studio.media import make_side_files

    project = new_project("Shapes at play")
    project.path = folder / "Shapes at play.sdproj"
    for i, (prompt, frames) in enumerate(SHOTS):
        request = GenerationRequest(prompt, num_frames=frames, fps=8, seed=100 + i, steps=25)
        shot = project.add_shot(request)
        if i == 0:
            project.set_shot_title(shot.id, "Opening")
        take = Take.create(request)
        project.add_take(shot.id, take)
        rel = clip_relpath(project, shot.id, take.id)
        clip = resolve_media(project, rel)
        clip.parent.mkdir(parents=True, exist_ok=True)
        export_video(shape_clip(i, frames), clip, 8, request=request)
        make_side_files(clip)
        project.update_take(shot.id, take.id, status="done", clip=rel)
    save_project(project, project.path)
    return project.path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
    home = Path(tempfile.mkdtemp(prefix="sd-sound-shot-"))
    os.environ["SORA_DESKTOP_HOME"] = str(home)
    args.out.mkdir(parents=True, exist_ok=True)

    import imageio_ffmpeg

    from sora_desktop.core.autosave import Autosaver
    from sora_desktop.core.settings import Settings
    from sora_desktop.ui.app import create_app
    from sora_desktop.ui.main_window import MainWindow
    from sora_desktop.ui.style import app_icon, apply_theme

    wav = write(home / "theme.wav", music(9.0))
    mp3 = home / "Opening theme.mp3"
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(wav), str(mp3)], check=True)
    t = np.arange(int(2.5 * RATE)) / RATE
    chime = write(home / "chime.wav", 0.8 * np.sin(2 * np.pi * 880 * t) * np.exp(-t * 1.6))

    app = create_app()
    apply_theme(app, "dark")
    app.setWindowIcon(app_icon())
    settings = Settings(
        output_dir=str(home / "Videos"), models_dir=str(home / "models"), autosave_seconds=0
    )
    w = MainWindow(settings, autosaver=Autosaver(home / "recovery"), warm_up=False)
    w.ask = lambda *a, **k: "Don't save"
    w.resize(1440, 940)
    w.show()
    settle(app)

    assert w.open_project(storyboard(home))
    settle(app, 300)

    vm = w.audio_vm
    w.import_sound(mp3, 0.0)
    wait_until(app, lambda: len(vm.items) == 1, timeout=60)
    theme = vm.items[0]
    vm.update_item(theme.id, "fade_in", fade_in=1.5)
    vm.update_item(theme.id, "fade_out", fade_out=2.0)
    w.import_sound(chime, 6.2)
    wait_until(app, lambda: len(vm.items) == 2, timeout=60)
    vm.update_item(vm.items[1].id, "volume_db", volume_db=-4.0)
    vm.update_item(vm.items[1].id, "fade_out", fade_out=1.0)
    wait_until(app, lambda: not w.waveforms.busy, timeout=60)
    vm.select(theme.id)
    w.project_vm.select(w.project_vm.shots[1].id)
    w.player.source_combo.setCurrentIndex(1)  # the whole storyboard, with its sound
    w.player.vm.stop()
    w.player.vm.seek(30)
    settle(app, 400)
    path = args.out / "storyboard_audio.png"
    w.grab().save(str(path))
    print("saved", path)
    w.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
