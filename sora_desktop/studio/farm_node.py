"""What runs on a render-farm node, and the files that travel with a take (issue 18).

A node may not share the driver's disk, so a take's inputs (its start frame / end keyframe, the
clips they come from, the saved latents of a "Retry in low memory") travel to the node as bytes
with the ``TakeRun``, and the finished clip and its side files travel back as bytes in the
node's last item (``NodeResult``). ``TakeNode`` is a plain class; ``studio.farm`` makes it a Ray
actor (one per GPU, or ``workers`` of them on CPU) that keeps its model loaded between takes.

Qt-free, and Ray- and torch-free at import (the model loads when a take runs on the node).
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sora_desktop.engine.backend import CancelToken
from sora_desktop.studio.audio import audio_path
from sora_desktop.studio.decode import latents_path
from sora_desktop.studio.media import first_frame_path, last_frame_path, thumbnail_path
from sora_desktop.studio.queue import TakeRun
from sora_desktop.studio.take_runner import (
    TakeEvent,
    TakeFailed,
    TakeFinished,
    TakeLatents,
    TakePreview,
    is_terminal,
    run_take,
)

log = logging.getLogger(__name__)

# Previews cross the network: a few a second are enough to watch a farm shot grow.
FARM_PREVIEW_INTERVAL_S = 0.25
# The roles a take's input files play; each travels into its own folder on the node, so two
# inputs with the same file name never collide.
INPUT_ROLES = ("start_image", "start_from", "end_image", "end_from", "decode_from")


@dataclass(frozen=True)
class NodeResult:
    """A take's end on the node: its terminal event (paths are the node's) and the files the
    driver writes into ``TakeRun.out_dir`` (file name -> bytes)."""

    event: TakeEvent
    files: dict[str, bytes] = field(default_factory=dict)


# ------------------------------------------------------------------------------- driver side
def pack_inputs(run: TakeRun) -> dict[str, tuple[str, bytes]]:
    """The take's input files that exist here, read now (role -> (file name, bytes)). Called
    when the take is dispatched: a continuation's start frame exists only once its
    predecessor finished. A missing one stays missing; the take's own message names it."""
    paths = {
        "start_image": run.request.start_image,
        "start_from": run.start_from,
        "end_image": run.request.end_image,
        "end_from": run.end_from,
        "decode_from": run.decode_from,
    }
    shipped: dict[str, tuple[str, bytes]] = {}
    for role, path in paths.items():
        if path is None or not Path(path).is_file():
            continue
        shipped[role] = (Path(path).name, Path(path).read_bytes())
    return shipped


def land_files(files: dict[str, bytes], out_dir: Path) -> None:
    """Write a take's files into its folder on the driver, each atomically, the clip last (a
    reader that sees the clip sees its side files)."""
    from sora_desktop.core.atomic import atomic_write_bytes

    out_dir.mkdir(parents=True, exist_ok=True)
    names = sorted(files, key=lambda n: n.endswith(".mp4"))
    for name in names:
        if Path(name).name != name or name in ("", ".", ".."):  # a node names only its files
            raise ValueError(f"a farm node sent a file named {name!r}")
        atomic_write_bytes(out_dir / name, files[name])


# ------------------------------------------------------------------------------- node side
def _localize(run: TakeRun, inputs: dict[str, tuple[str, bytes]], work: Path) -> TakeRun:
    """The driver's ``TakeRun`` with every path moved into ``work`` on this node."""
    placed: dict[str, Path] = {}
    for role, (name, data) in inputs.items():
        if role not in INPUT_ROLES or Path(name).name != name:
            raise ValueError(f"unexpected input {role!r} / {name!r}")
        folder = work / ("start" if role.startswith("start") else role.split("_")[0])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
        placed[role] = folder / name

    def moved(role: str, path: Any) -> Any:
        if path is None:
            return None
        if role in placed:
            return placed[role]
        folder = "start" if role.startswith("start") else role.split("_")[0]
        return work / folder / Path(path).name  # missing here as there: the take says so

    req = run.request
    request = req.with_changes(
        start_image=None if req.start_image is None else str(moved("start_image", req.start_image)),
        end_image=None if req.end_image is None else str(moved("end_image", req.end_image)),
    )
    return replace(
        run,
        request=request,
        out_dir=work / "out",
        start_from=moved("start_from", run.start_from),
        end_from=moved("end_from", run.end_from),
        decode_from=moved("decode_from", run.decode_from),
    )


def _clip_files(clip: Path) -> dict[str, bytes]:
    side = (thumbnail_path(clip), last_frame_path(clip), first_frame_path(clip), audio_path(clip))
    files = {p.name: p.read_bytes() for p in side if p.is_file()}
    files[clip.name] = clip.read_bytes()
    return files


class _Ended:
    def __init__(self, event: TakeEvent) -> None:
        self.event = event


class TakeNode:
    """One farm worker: runs takes one at a time with ``run_take`` and streams their events.
    Made a Ray actor by ``studio.farm`` (threaded, so ``cancel`` arrives while ``run`` runs);
    the model stays loaded in this process between takes (``engine.registry``)."""

    def __init__(self) -> None:
        self._host = socket.gethostname() or "node"
        self._tokens: dict[str, CancelToken] = {}
        self._cancelled: set[str] = set()  # cancels that arrived before their take
        self._lock = threading.Lock()

    def pid(self) -> int:
        return os.getpid()

    def host(self) -> str:
        return self._host

    def cancel(self, job_id: str) -> None:
        with self._lock:
            token = self._tokens.get(job_id)
            if token is None:
                self._cancelled.add(job_id)
        if token is not None:
            token.cancel()

    def run(self, run: TakeRun, inputs: dict[str, tuple[str, bytes]]) -> Iterator[Any]:
        """Yield the take's events (previews thinned, latents held back), then a
        ``NodeResult`` with its terminal event and files."""
        jid = run.job_id
        token = CancelToken()
        with self._lock:
            self._tokens[jid] = token
            if jid in self._cancelled:
                self._cancelled.discard(jid)
                token.cancel()
        work = Path(tempfile.mkdtemp(prefix="sora-farm-"))
        events: queue.Queue[Any] = queue.Queue()
        try:
            local = _localize(run, inputs, work)

            def body() -> None:
                try:
                    events.put(_Ended(run_take(local, token, events.put, host=self._host)))
                except BaseException as exc:  # noqa: BLE001 - run_take never raises; be sure
                    log.exception("farm take %s crashed", jid)
                    events.put(_Ended(TakeFailed(jid, f"The take stopped on the node: {exc}")))

            threading.Thread(target=body, name=f"farm-take-{jid}", daemon=True).start()
            last_preview = 0.0
            latents: str | None = None
            while True:
                item = events.get()
                if isinstance(item, _Ended):
                    break
                if is_terminal(item):
                    continue  # the _Ended that follows carries it
                if isinstance(item, TakeLatents):
                    latents = item.path  # a node path: it travels only if the decode fails
                    continue
                if isinstance(item, TakePreview):
                    now = time.monotonic()
                    if now - last_preview < FARM_PREVIEW_INTERVAL_S:
                        continue
                    last_preview = now
                yield item
            yield self._result(item.event, local, latents)
        finally:
            with self._lock:
                self._tokens.pop(jid, None)
            shutil.rmtree(work, ignore_errors=True)

    @staticmethod
    def _result(event: TakeEvent, run: TakeRun, latents: str | None) -> NodeResult:
        if isinstance(event, TakeFinished):
            return NodeResult(event, _clip_files(Path(event.path)))
        kept = Path(latents) if latents else latents_path(run.out_dir / f"{run.stem}.mp4")
        if isinstance(event, TakeFailed) and run.decode_from is None and kept.is_file():
            return NodeResult(event, {kept.name: kept.read_bytes()})  # "Retry in low memory"
        return NodeResult(event)
