"""Runners: what runs the studio queue's takes. Each one reports through ``emit`` (called from
any thread; the owner hands the events to ``take_runner.apply_event`` on its own thread).

- ``LocalRunner``: one background thread in this process, takes in submission order (the batch
  command without a farm, tests).
- the worker process (``studio.worker_process``): the same, in a spawned child process that
  holds the model, so a crash in the model never takes the caller down (the GUI).
- the render farm (``studio.farm``): Ray tasks/actors on a cluster, independent shots in
  parallel, a continuing shot after its predecessor (``TakeRun.after_job``).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Protocol

from sora_desktop.engine.backend import CancelToken
from sora_desktop.studio.queue import TakeRun
from sora_desktop.studio.take_runner import (
    DecodeFn,
    GenerateFn,
    TakeEvent,
    run_take,
)

log = logging.getLogger(__name__)

Emit = Callable[[TakeEvent], None]


class EventRunner(Protocol):
    """A ``studio.queue.Runner`` that reports through an ``emit`` callback given when it is
    made. Every submitted take gets exactly one terminal event, also after ``close``."""

    def submit(self, run: TakeRun) -> None: ...

    def cancel(self, job_id: str) -> None: ...

    def close(self) -> None: ...


class LocalRunner:
    """Runs takes one at a time, in order, on a background thread of this process."""

    def __init__(
        self,
        emit: Emit,
        generate: GenerateFn | None = None,
        decode: DecodeFn | None = None,
        host: str = "",
    ) -> None:
        self._emit = emit
        self._generate = generate
        self._decode = decode
        self._host = host
        self._tokens: dict[str, CancelToken] = {}
        self._lock = threading.Lock()
        self._todo: queue.Queue[TakeRun | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="take-runner", daemon=True)
        self._thread.start()

    def submit(self, run: TakeRun) -> None:
        with self._lock:
            self._tokens[run.job_id] = CancelToken()
        self._todo.put(run)

    def cancel(self, job_id: str) -> None:
        with self._lock:
            token = self._tokens.get(job_id)
        if token is not None:
            token.cancel()

    def close(self, timeout: float = 60.0) -> None:
        """Cancel what is left and wait for the thread (each take ends with one event)."""
        with self._lock:
            tokens = list(self._tokens.values())
        for token in tokens:
            token.cancel()
        self._todo.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            run = self._todo.get()
            if run is None:
                return
            with self._lock:
                token = self._tokens[run.job_id]
            try:
                run_take(run, token, self._emit, self._generate, self._decode, self._host)
            finally:
                with self._lock:
                    self._tokens.pop(run.job_id, None)
