"""A project's clips when it is saved somewhere new ("Save As").

The saved project gets its own media folder, named after the new file, so it is complete on
its own: deleting or moving the old project (or its ``_media`` folder) cannot empty it. Clips
are hard-linked where the file system allows (no extra space; a link survives deletion of the
other name), else copied atomically. Kept apart from core/project/ (the file format).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
from pathlib import Path
from typing import Any

from sora_desktop.core.atomic import atomic_write_with


def copy_media(
    project: Any, old_folder: Path, old_media: str, new_folder: Path, new_media: str
) -> None:
    """Give every clip and sound file a place in the new media folder (named after the new
    file) and point the takes and audio items at it. A clip in the old media folder is
    hard-linked there with its side files (thumbnail, last frame, sound: same name stem), else
    copied. Raises OSError; the caller restores the takes and the audio items."""
    copied: dict[str, str] = {}
    for shot in project.shots:
        for take in shot.takes:
            if take.clip:
                take.clip = _carry(take.clip, copied, old_folder, old_media, new_folder, new_media)
            if take.latents:  # a take waiting for "Retry in low memory" keeps its denoising
                take.latents = _carry(
                    take.latents, copied, old_folder, old_media, new_folder, new_media, False
                )
    audio = getattr(project, "audio", [])
    for i, item in enumerate(audio):  # frozen items: each is replaced by its moved copy
        moved = _carry(item.file, copied, old_folder, old_media, new_folder, new_media, False)
        if moved != item.file:
            audio[i] = item.with_changes(file=moved)


def _carry(
    rel: str,
    copied: dict[str, str],
    old_folder: Path,
    old_media: str,
    new_folder: Path,
    new_media: str,
    side_files: bool = True,
) -> str:
    """One media file's new relative path, linked or copied there (with its side files)."""
    if rel in copied:
        return copied[rel]
    parts = re.split(r"[\\/]+", rel)
    renamed = parts[0] == old_media
    if renamed:
        parts[0] = new_media
    new_rel = "/".join(parts)
    src = old_folder / Path(*re.split(r"[\\/]+", rel))
    dst = new_folder / Path(*parts)
    # A symbolic link that leads out of the old folder is not followed.
    inside = src.resolve().is_relative_to(old_folder.resolve())
    if inside and src.is_file() and src.absolute() != dst.absolute():
        side = [src]
        if renamed and side_files:
            side += [
                f
                for f in src.parent.glob(f"{glob.escape(src.stem)}_*")
                if f.is_file() and not f.is_symlink()
            ]
        for f in side:
            link_or_copy(f, dst.with_name(f.name))
    copied[rel] = new_rel
    return new_rel


def link_or_copy(src: Path, dst: Path) -> None:
    """Put ``src`` at ``dst`` (left alone if it exists): a hard link costs no space and
    survives the deletion of ``src``; another drive or a file system without links gets a
    copy."""
    if dst.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
        return
    except FileExistsError:
        return
    except OSError:
        pass
    atomic_write_with(dst, lambda tmp, s=src: shutil.copyfile(s, tmp))
