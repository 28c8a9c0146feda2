"""The render farm: the studio queue's takes on a Ray cluster (issue 18, extra ``[farm]``).

``make_farm_runner(address, emit)`` gives an ``EventRunner`` (studio/runners.py). Takes run on
Ray actors (``studio.farm_node.TakeNode``) that keep a model loaded: one per GPU on a GPU
cluster, else ``workers`` of them (default: one per machine). Independent shots run in
parallel; a take with ``TakeRun.after_job`` starts only after that job finished (its clip's
last frame is the start frame). Each take's inputs travel to the node and its clip and side
files come back as bytes, written into ``TakeRun.out_dir`` here, so clips land in the project
as they finish. A driver-side thread per running take calls ``emit``.

Faults: a node process that dies mid-take (killed, out of memory, machine gone) costs that
take one retry on a fresh actor; a second loss fails it with a plain message. Every submitted
take gets exactly one terminal event, also after ``close``.

Ray is imported inside functions: this module imports without the extra.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sora_desktop.core.farm_address import EXAMPLE, RayAddress, parse_ray_address
from sora_desktop.studio.farm_node import NodeResult, TakeNode, land_files, pack_inputs
from sora_desktop.studio.messages import friendly_error
from sora_desktop.studio.queue import TakeRun
from sora_desktop.studio.runners import Emit, EventRunner
from sora_desktop.studio.take_runner import (
    TakeCancelled,
    TakeEvent,
    TakeFailed,
    TakeFinished,
    TakeLatents,
    TakeStarted,
)

log = logging.getLogger(__name__)

NEEDS_RAY = (
    "The render farm needs Ray, which is not installed. Install it with: "
    "pip install 'sora-desktop[farm]'"
)
CONNECT_TIMEOUT_S = 5.0
ATTEMPTS = 2  # a take whose node dies is retried once


class FarmError(RuntimeError):
    """The farm cannot be used (no Ray, no cluster at the address); the message is the user's."""


@dataclass
class _Slot:
    actor: Any
    pid: int
    host: str


@dataclass
class _Job:
    run: TakeRun
    attempts: int = 0
    cancelled: bool = False
    ended: bool = False
    slot: _Slot | None = None
    hosts: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------ connecting
def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise FarmError(NEEDS_RAY) from exc
    return ray


def _reachable(address: RayAddress) -> None:
    """A quick TCP check first: Ray itself waits minutes on an address nobody answers."""
    try:
        with socket.create_connection((address.host, address.port), CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        log.warning("no Ray cluster at %s: %s", address.text, exc)
        if isinstance(exc, ConnectionRefusedError):
            reason = "nothing answered at that address"
        elif isinstance(exc, (TimeoutError, socket.timeout)):
            reason = f"no answer within {CONNECT_TIMEOUT_S:g} seconds"
        else:
            reason = "the network could not reach it"
        raise FarmError(
            f"Could not reach a Ray cluster at {address.text} ({reason}). Check the address "
            f"(for example {EXAMPLE}) and that `ray start --head` runs on that machine."
        ) from exc


def connect(address: RayAddress, cpus: int | None = None) -> bool:
    """Join the cluster (``local``: start one here). True when this call started or joined it
    (so ``close`` leaves it); False when Ray was already running in this process."""
    ray = _import_ray()
    if not address.local:
        _reachable(address)
    if ray.is_initialized():
        return False
    if address.local:
        ray.init(
            num_cpus=max(os.cpu_count() or 1, cpus or 1),
            include_dashboard=False,
            log_to_driver=False,
        )
        return True
    try:
        ray.init(address=address.text, log_to_driver=False)
    except Exception as exc:  # noqa: BLE001 - Ray raises many kinds; the user needs one line
        log.warning("could not join the Ray cluster at %s", address.text, exc_info=True)
        raise FarmError(
            f"Could not connect to the Ray cluster at {address.text}: something answered there, "
            "but not as a Ray cluster this computer can join. Check the address (for example "
            f"{EXAMPLE}), and that the same Ray and Python versions are installed on both "
            "machines; Help → Open log folder has the details."
        ) from exc
    return True


def _plan(ray: Any, workers: int | None) -> tuple[int, dict[str, float]]:
    """How many actors and what each holds: a GPU each on a GPU cluster, else one CPU."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if gpus:
        return (min(workers, gpus) if workers else gpus), {"num_gpus": 1, "num_cpus": 1}
    cpus = max(1, int(resources.get("CPU", 1)))
    machines = sum(1 for n in ray.nodes() if n.get("Alive"))
    wanted = workers or max(1, machines)
    if wanted > cpus:
        log.warning("the farm has %d CPUs: %d workers instead of %d", cpus, cpus, wanted)
    return min(wanted, cpus), {"num_cpus": 1}


# ------------------------------------------------------------------------------ the runner
class FarmRunner:
    """An ``EventRunner`` on a Ray cluster. Make it with ``make_farm_runner``."""

    def __init__(self, emit: Emit, address: RayAddress, workers: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise FarmError("workers: must be at least 1")
        self._emit = emit
        self.address = address
        self._workers = workers
        self._cond = threading.Condition()
        self._jobs: dict[str, _Job] = {}
        self._waiting: list[_Job] = []
        self._ended: dict[str, str] = {}  # job id -> "finished" | "failed" | "cancelled"
        self._idle: list[_Slot] = []
        self._slots: list[_Slot] = []
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._owns_ray = False
        self._options: dict[str, float] = {}
        self._dispatcher: threading.Thread | None = None

    # -------------------------------------------------------------- set-up
    def start(self) -> FarmRunner:
        """Connect and make the actors (``FarmError`` with the user's message)."""
        ray = _import_ray()
        self._owns_ray = connect(self.address, self._workers)
        try:
            count, self._options = _plan(ray, self._workers)
            for _ in range(count):
                self._slots.append(self._new_slot())
        except Exception as exc:  # noqa: BLE001 - no worker could start there
            self.close()
            log.warning("no farm worker at %s", self.address.text, exc_info=True)
            raise FarmError(
                f"The Ray cluster at {self.address.text} could not start a Sora Desktop worker. "
                "Try: install Sora Desktop with its farm part (sora-desktop[farm]) on the "
                "cluster's machines; Help → Open log folder has the details."
            ) from exc
        self._idle = list(self._slots)
        self._dispatcher = threading.Thread(target=self._dispatch, name="farm", daemon=True)
        self._dispatcher.start()
        log.info("render farm at %s: %d workers on %s", self.address.text, count, self.hosts())
        return self

    def _new_slot(self) -> _Slot:
        ray = _import_ray()
        node = ray.remote(max_concurrency=2, max_restarts=0, **self._options)(TakeNode)
        actor = node.remote()
        pid, host = ray.get([actor.pid.remote(), actor.host.remote()], timeout=120)
        return _Slot(actor, pid, host)

    def hosts(self) -> list[str]:
        return sorted({s.host for s in self._slots})

    def worker_pid(self, job_id: str) -> int | None:
        """The process id of the actor running ``job_id`` (None when it waits or ended)."""
        with self._cond:
            job = self._jobs.get(job_id)
            return job.slot.pid if job is not None and job.slot is not None else None

    # -------------------------------------------------------------- EventRunner
    def submit(self, run: TakeRun) -> None:
        with self._cond:
            job = _Job(run)
            self._jobs[run.job_id] = job
            if self._closed:
                self._end(job, TakeCancelled(run.job_id))
                return
            self._waiting.append(job)
            self._cond.notify_all()

    def cancel(self, job_id: str) -> None:
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None or job.ended:
                return
            job.cancelled = True
            if job in self._waiting:
                self._waiting.remove(job)
                self._end(job, TakeCancelled(job_id))
                return
            slot = job.slot
        if slot is not None:
            try:
                slot.actor.cancel.remote(job_id)  # cooperative: the take ends at its next step
            except Exception:  # noqa: BLE001 - a dead actor: its stream thread ends the take
                log.info("cancel of %s could not reach its node", job_id)

    def close(self, timeout: float = 60.0) -> None:
        """Cancel what is left, wait for the running takes' ends, let the actors go."""
        with self._cond:
            self._closed = True
            ids = [j.run.job_id for j in self._jobs.values() if not j.ended]
            self._cond.notify_all()
        for jid in ids:
            self.cancel(jid)
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.1, deadline - time.monotonic()))
        try:
            ray = _import_ray()
            for slot in self._slots:
                ray.kill(slot.actor, no_restart=True)
            if self._owns_ray:
                ray.shutdown()
        except Exception:  # noqa: BLE001 - closing must not raise
            log.warning("the farm did not close cleanly", exc_info=True)

    # -------------------------------------------------------------- dispatching
    def _end(self, job: _Job, event: TakeEvent) -> None:
        """Emit a take's one terminal event (call with the lock held)."""
        if job.ended:
            return
        job.ended = True
        job.slot = None
        kind = {TakeFinished: "finished", TakeFailed: "failed"}.get(type(event), "cancelled")
        self._ended[job.run.job_id] = kind
        self._emit(event)
        self._cond.notify_all()

    def _ready(self) -> list[_Job]:
        ready = []
        for job in list(self._waiting):
            parent = job.run.after_job
            state = self._ended.get(parent) if parent else "finished"
            if state is None and parent not in self._jobs:
                state = "finished"  # not ours: it ended before this runner saw it
            if state == "finished":
                ready.append(job)
            elif state is not None:  # the queue skips it too; end it here in any case
                self._waiting.remove(job)
                self._end(job, TakeCancelled(job.run.job_id))
        return ready

    def _dispatch(self) -> None:
        with self._cond:
            while not self._closed:
                for job in self._ready():
                    if not self._idle:
                        break
                    slot = self._idle.pop(0)
                    self._waiting.remove(job)
                    job.slot = slot
                    job.attempts += 1
                    thread = threading.Thread(
                        target=self._stream, args=(job, slot), name="farm-take", daemon=True
                    )
                    self._threads = [t for t in self._threads if t.is_alive()] + [thread]
                    thread.start()
                self._cond.wait()
            for job in list(self._waiting):
                self._waiting.remove(job)
                self._end(job, TakeCancelled(job.run.job_id))

    def _stream(self, job: _Job, slot: _Slot) -> None:
        ray = _import_ray()
        run = job.run
        jid = run.job_id
        lost = False
        try:
            inputs = pack_inputs(run)
            items = slot.actor.run.options(num_returns="streaming").remote(run, inputs)
            if job.cancelled:
                slot.actor.cancel.remote(jid)
            result: NodeResult | None = None
            for ref in items:
                item = ray.get(ref)
                if isinstance(item, NodeResult):
                    result = item
                elif isinstance(item, TakeStarted):
                    job.hosts.append(item.host)
                    self._emit(item)
                else:
                    self._emit(item)
            final = self._land(run, result)
        except OSError as exc:  # reading an input or writing the clip here
            final = TakeFailed(jid, friendly_error(exc))
        except ray.exceptions.RayTaskError as exc:  # our code on the node raised
            log.error("farm take %s failed on %s: %s", jid, slot.host, exc)
            cause = getattr(exc, "cause", None) or exc
            final = TakeFailed(jid, f"The take failed on {slot.host}.\n{friendly_error(cause)}")
        except ray.exceptions.RayError as exc:  # the node's process or machine is gone
            log.warning(
                "farm worker on %s (pid %s) lost during %s: %s", slot.host, slot.pid, jid, exc
            )
            lost = True
            final = None
        except Exception as exc:  # noqa: BLE001 - e.g. a node's file refused when landing it:
            # every submitted take must still end exactly once
            log.exception("farm take %s could not be finished here", jid)
            final = TakeFailed(jid, friendly_error(exc))
        if lost:
            slot = self._replace(slot)  # outside the lock: a new actor takes seconds
        with self._cond:
            if lost and slot is None and not self._slots:
                self._fail_waiting("The render farm has no worker left. Check the cluster.")
            if slot is not None:
                self._idle.append(slot)
            if not lost:
                self._end(job, final)  # type: ignore[arg-type]
            elif job.cancelled or self._closed:
                self._end(job, TakeCancelled(jid))
            elif job.attempts < ATTEMPTS:
                job.slot = None
                self._waiting.insert(0, job)  # first in line, on a fresh actor
            else:
                where = ", ".join(dict.fromkeys(job.hosts)) or "a farm machine"
                self._end(
                    job,
                    TakeFailed(
                        jid,
                        f"The farm machine making this shot ({where}) stopped twice while "
                        "making it (its process was killed, ran out of memory, or the machine "
                        "went away). Nothing in the project was lost.\n"
                        "Try: generate the shot again; check that machine if it happens again.",
                    ),
                )
            self._cond.notify_all()

    def _replace(self, dead: _Slot) -> _Slot | None:
        """A fresh actor in place of a lost one (None when the cluster has none to give)."""
        ray = _import_ray()
        try:
            ray.kill(dead.actor, no_restart=True)
        except Exception:  # noqa: BLE001 - it is gone already
            pass
        try:
            fresh = self._new_slot()
        except Exception:  # noqa: BLE001 - the cluster lost this capacity
            log.warning("no fresh farm worker to replace the one on %s", dead.host, exc_info=True)
            with self._cond:
                self._slots.remove(dead)
            return None
        with self._cond:
            self._slots[self._slots.index(dead)] = fresh
        return fresh

    def _fail_waiting(self, message: str) -> None:
        for job in list(self._waiting):
            self._waiting.remove(job)
            self._end(job, TakeFailed(job.run.job_id, message))

    def _land(self, run: TakeRun, result: NodeResult | None) -> TakeEvent:
        """The node's last item into a terminal event here, its files written to ``out_dir``."""
        jid = run.job_id
        if result is None:
            return TakeFailed(jid, "The farm machine ended the take without a result.")
        land_files(result.files, run.out_dir)
        event = result.event
        if isinstance(event, TakeFinished):
            if run.decode_from is not None:  # the clip exists: its latents are done with
                from sora_desktop.studio.decode import discard_latents

                discard_latents(run.decode_from)
            return TakeFinished(jid, str(run.out_dir / Path(event.path).name))
        kept = [n for n in result.files if n.endswith(".npz")]
        if isinstance(event, TakeFailed) and kept:  # decode failed: denoising kept here
            self._emit(TakeLatents(jid, str(run.out_dir / kept[0])))
        return event


def make_farm_runner(address: str, emit: Emit, workers: int | None = None) -> EventRunner:
    """A runner on the Ray cluster at ``address`` (``local``: start one here; ``host:port``;
    ``ray://host:port``). ``FarmError`` in the user's words when Ray is missing, the address
    is malformed or nothing answers there."""
    try:
        parsed = parse_ray_address(address, "ray")
    except ValueError as exc:
        raise FarmError(str(exc)) from exc
    return FarmRunner(emit, parsed, workers).start()


class LazyFarmRunner:
    """A farm runner that connects on first use, on its own thread, so the caller (the GUI
    thread) never waits for Ray. Takes submitted meanwhile wait; if the connection fails,
    each gets a ``TakeFailed`` with the plain reason (and so does every later one)."""

    def __init__(
        self, address: str, emit: Emit, workers: int | None = None, factory: Any = None
    ) -> None:
        self.address = address
        self._emit = emit
        self._workers = workers
        self._factory = factory or make_farm_runner
        self._lock = threading.Lock()
        self._pending: list[TakeRun] = []
        self._runner: EventRunner | None = None
        self._error: str | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._done = threading.Event()

    def submit(self, run: TakeRun) -> None:
        with self._lock:
            if self._runner is not None:
                runner = self._runner
            elif self._error is not None or self._closed:
                self._fail(run)
                return
            else:
                self._pending.append(run)
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._connect, name="farm-connect", daemon=True
                    )
                    self._thread.start()
                return
        runner.submit(run)

    def _fail(self, run: TakeRun) -> None:
        if self._closed:
            self._emit(TakeCancelled(run.job_id))
        else:
            self._emit(TakeFailed(run.job_id, self._error or "The render farm is not connected."))

    def _connect(self) -> None:
        try:
            runner = self._factory(self.address, self._emit, self._workers)
        except Exception as exc:  # noqa: BLE001 - FarmError, or Ray's own surprise
            message = str(exc) if isinstance(exc, FarmError) else friendly_error(exc)
            with self._lock:
                self._error = (
                    f"{message}\nTry: Settings → Render on: this computer, or check the cluster."
                )
                pending, self._pending = self._pending, []
                for run in pending:
                    self._fail(run)
            return
        with self._lock:
            if self._closed:
                pending, self._pending = self._pending, []
                for run in pending:
                    self._emit(TakeCancelled(run.job_id))
            else:
                self._runner = runner
                pending, self._pending = self._pending, []
                for run in pending:
                    runner.submit(run)
        if self._runner is runner:
            # Stay alive until close: Ray ties a local cluster's processes to the thread that
            # started them (they are killed when it ends).
            self._done.wait()
            return
        runner.close()

    def cancel(self, job_id: str) -> None:
        with self._lock:
            runner = self._runner
            waiting = [r for r in self._pending if r.job_id == job_id]
            for run in waiting:
                self._pending.remove(run)
                self._emit(TakeCancelled(job_id))
        if runner is not None and not waiting:
            runner.cancel(job_id)

    def close(self, timeout: float = 60.0) -> None:
        with self._lock:
            self._closed = True
            runner = self._runner
            pending, self._pending = self._pending, []
            thread = self._thread
        for run in pending:
            self._emit(TakeCancelled(run.job_id))
        if runner is not None:
            runner.close(timeout)
        self._done.set()
        if thread is not None:
            thread.join(timeout)
