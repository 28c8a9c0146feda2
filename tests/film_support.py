"""A mixed storyboard on disk (shots of different frame rates and sizes, each with a finished
clip) and the measurements the film tests make on a decoded export."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

# background colour per shot: tells in the decoded film which shot a frame comes from
COLOURS = [(200, 40, 40), (40, 200, 40), (40, 40, 200)]


@dataclass(frozen=True)
class MixedShot:
    fps: int
    frames: int
    width: int
    height: int

    @property
    def seconds(self) -> float:
        return self.frames / self.fps


# the built-in model (8 fps, square), a Wan-like shot (16 fps, 4k+1 frames, square), and an
# LTX-like shot (24 fps, 8k+1 frames) in a wide 3:2 frame (a tiny 704x480)
MIXED = [MixedShot(8, 16, 64, 64), MixedShot(16, 21, 48, 48), MixedShot(24, 25, 96, 64)]


def shot_frames(index: int, shot: MixedShot) -> np.ndarray:
    """(T, H, W, 3): the shot's colour with a white centred square of half the short side."""
    frames = np.empty((shot.frames, shot.height, shot.width, 3), np.uint8)
    frames[:] = COLOURS[index]
    side = min(shot.width, shot.height) // 2
    y, x = (shot.height - side) // 2, (shot.width - side) // 2
    frames[:, y : y + side, x : x + side] = 255
    return frames


def mixed_project(folder: Path, shots: list[MixedShot] = MIXED):
    """A saved project whose shots each have a finished clip of their own fps and size."""
    from sora_desktop.core.project import (
        Take,
        clip_relpath,
        new_project,
        resolve_media,
        save_project,
    )
    from sora_desktop.core.request import GenerationRequest
    from sora_desktop.engine.export import export_video

    project = new_project("Mixed")
    project.path = folder / "mixed.sdproj"
    folder.mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(shots):
        request = GenerationRequest(
            f"shot {i + 1}", num_frames=s.frames, fps=s.fps, width=s.width, height=s.height
        )
        shot = project.add_shot(request)
        take = Take.create(request)
        project.add_take(shot.id, take)
        rel = clip_relpath(project, shot.id, take.id)
        clip = resolve_media(project, rel)
        clip.parent.mkdir(parents=True, exist_ok=True)
        export_video(shot_frames(i, s), clip, s.fps, request=request)
        project.update_take(shot.id, take.id, status="done", clip=rel)
    save_project(project, project.path)
    return project


def decode(path: str | Path) -> tuple[np.ndarray, float]:
    """The exported file played back with OpenCV: ((T, H, W, 3) RGB, fps)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    assert frames, f"{path} has no frames"
    return np.stack(frames), fps


def shot_of(frame: np.ndarray) -> int:
    """Which shot a film frame shows: the dominant channel of a background patch (top-middle,
    above the square and inside every letterbox/crop)."""
    w = frame.shape[1]
    patch = frame[1:4, w // 2 - 4 : w // 2 + 4].reshape(-1, 3).astype(float).mean(axis=0)
    return int(np.argmax(patch))


def square_box(frame: np.ndarray) -> tuple[int, int]:
    """(width, height) of the white square (pixels bright in every channel)."""
    white = (frame > 200).all(axis=2)
    rows, cols = np.flatnonzero(white.any(axis=1)), np.flatnonzero(white.any(axis=0))
    assert len(rows) and len(cols), "no white square in the frame"
    return int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def bars(frame: np.ndarray) -> tuple[int, int]:
    """(left, right) widths of black columns at the frame's edges (letterbox bars)."""
    dark = frame.astype(float).mean(axis=(0, 2)) < 25
    left = int(np.argmin(dark)) if not dark.all() else len(dark)
    right = int(np.argmin(dark[::-1])) if not dark.all() else len(dark)
    return left, right


def runs(frames: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive (shot index, frame count) runs in a decoded film."""
    out: list[tuple[int, int]] = []
    for frame in frames:
        s = shot_of(frame)
        if out and out[-1][0] == s:
            out[-1] = (s, out[-1][1] + 1)
        else:
            out.append((s, 1))
    return out
