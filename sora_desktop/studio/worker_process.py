"""Generation in a worker process: an ``EventRunner`` whose takes run in a spawned child.

The child (``studio.worker_main``) holds torch, diffusers and the loaded model, and runs the
studio use case ``take_runner.run_take`` unchanged; its ``TakeEvent``s come back over a pipe.
So the caller (the GUI) never imports torch, a crash in the model (a segfault, an
out-of-memory kill) never takes the caller down, and the model stays loaded between takes.

One thread here ("driver") runs the takes in submission order: it starts the child when
needed, sends it a take, and reads the pipe until that take's terminal event, calling ``emit``
for each event. Then:

- cancel is cooperative first (the child's reader thread sets the take's token); a take that
  has not stopped ``cancel_grace_s`` later is ended by killing the child (``TakeCancelled``);
- a child that dies while a take runs (crash, SIGKILL, SIGSEGV, the out-of-memory killer)
  ends that take with ``TakeFailed`` and ``CRASH_MESSAGE``; the next take gets a new child.

Qt-free and torch-free (the child imports the engine, never this process).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import wait
from typing import Any

from sora_desktop.studio.queue import TakeRun
from sora_desktop.studio.take_runner import (
    TakeCancelled,
    TakeEvent,
    TakeFailed,
    is_terminal,
)

log = logging.getLogger(__name__)

Emit = Callable[[TakeEvent], None]
ModelReport = Callable[[str, "str | None"], None]  # (model id, None = ready | the message)

CANCEL_GRACE_S = 5.0  # a take that ignores its cancel this long is stopped by killing the child
QUIT_GRACE_S = 5.0  # how long a closing child may take to exit before it is killed
POLL_S = 0.1

CRASH_MESSAGE = (
    "The generation stopped unexpectedly: the program that runs the model quit "
    "(this happens when the computer runs out of memory). Your project and your other takes "
    "are safe.\nTry: generate the shot again; if it happens again, choose “Low memory” in "
    "Settings, or make the shot shorter or smaller."
)
START_MESSAGE = (
    "The generation could not start: the program that runs the model did not start.\n"
    "Try: generate the shot again; if it happens again, restart Sora Desktop."
)


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


class _ChildGone(Exception):
    def __init__(self, exitcode: int | None) -> None:
        super().__init__(_exit_text(exitcode))
        self.exitcode = exitcode


class WorkerProcessRunner:
    """Runs takes one at a time, in order, in a spawned worker process (see the module doc).

    ``on_model(model_id, message)`` hears how ``warm_up`` went (message None: ready);
    ``generate`` / ``decode``: picklable replacements for the child's backend (tests).
    """

    def __init__(
        self,
        emit: Emit,
        device: str = "auto",
        *,
        on_model: ModelReport | None = None,
        generate: Any = None,
        decode: Any = None,
        cancel_grace_s: float = CANCEL_GRACE_S,
    ) -> None:
        self._emit = emit
        self.device = device
        self._on_model = on_model
        self._child_args = (generate, decode)
        self.cancel_grace_s = cancel_grace_s
        self._ctx = multiprocessing.get_context("spawn")  # never fork a process with threads
        self._proc: Any = None
        self._conn: Any = None
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._cancelled: set[str] = set()
        self._current: str | None = None
        self._deadline: float | None = None
        self._closed = False
        self.last_unload: tuple[int, int] | None = None  # child's RSS before/after, bytes
        self._unloaded = threading.Event()
        self._todo: queue.Queue[tuple | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="worker-process", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ any thread
    @property
    def pid(self) -> int | None:
        """The worker process's id (None while none runs)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.is_alive() else None

    def submit(self, run: TakeRun) -> None:
        with self._lock:
            closed = self._closed
        if closed:  # still exactly one terminal event
            self._emit(TakeCancelled(run.job_id))
            return
        self._todo.put(("run", run))

    def cancel(self, job_id: str) -> None:
        with self._lock:
            self._cancelled.add(job_id)
            running = self._current == job_id and self._deadline is None
            if running:
                self._deadline = time.monotonic() + self.cancel_grace_s
        if running:
            self._send(("cancel", job_id))

    def warm_up(self, model_id: str, device: str | None = None) -> None:
        """Load the model in the worker process (after the takes already queued);
        ``on_model`` hears the outcome."""
        self._todo.put(("warm", model_id, device or self.device))

    def unload(self, wait_s: float = 0.0) -> tuple[int, int] | None:
        """Free the loaded model in the worker process after the takes already queued (the
        device or memory settings changed, or the model was deleted). ``wait_s`` > 0 waits
        that long for the child's resident memory before/after (bytes), else returns None."""
        self._unloaded.clear()
        self._todo.put(("unload",))
        if wait_s > 0 and self._unloaded.wait(wait_s):
            return self.last_unload
        return None

    def close(self, timeout: float = 60.0) -> None:
        """Cancel what is left (each take still ends with one event), stop the worker process
        and wait for the driver thread."""
        with self._lock:
            self._closed = True
            current = self._current
        if current is not None:
            self.cancel(current)
        self._todo.put(None)
        self._thread.join(timeout)

    # ------------------------------------------------------------------ driver thread
    def _loop(self) -> None:
        try:
            while True:
                item = self._todo.get()
                if item is None:
                    return
                kind = item[0]
                if kind != "run" and self._closed:
                    continue  # no warm-up or unload while closing: the child stops anyway
                if kind == "run":
                    self._run(item[1])
                elif kind == "warm":
                    self._warm(item[1], item[2])
                elif kind == "unload":
                    self._unload()
        finally:
            self._stop_child()

    def _run(self, run: TakeRun) -> None:
        jid = run.job_id
        with self._lock:
            if self._closed or jid in self._cancelled:
                self._cancelled.discard(jid)
                skip = True
            else:
                skip = False
                self._current, self._deadline = jid, None
        if skip:
            self._emit(TakeCancelled(jid))
            return
        try:
            self._ensure_child()
            self._send(("run", run))
            self._pump(lambda m: m[0] == "event" and is_terminal(m[1]) and m[1].job_id == jid)
        except _ChildGone as gone:
            with self._lock:
                cancelled = jid in self._cancelled
            if cancelled:
                log.info("generation job %s cancelled (worker process ended: %s)", jid, gone)
                self._emit(TakeCancelled(jid))
            else:
                log.warning("generation job %s failed: the worker process ended (%s)", jid, gone)
                self._emit(TakeFailed(jid, CRASH_MESSAGE))
        except _StartFailed:
            self._emit(TakeFailed(jid, START_MESSAGE))
        finally:
            with self._lock:
                self._current, self._deadline = None, None
                self._cancelled.discard(jid)

    def _warm(self, model_id: str, device: str) -> None:
        try:
            self._ensure_child()
            self._send(("warm", model_id, device))
            self._pump(lambda m: m[0] == "model" and m[1] == model_id)
        except _ChildGone as gone:
            if self._closed:
                return  # the app is closing: nobody waits for the model
            log.warning("loading model %s: the worker process ended (%s)", model_id, gone)
            self._report_model(model_id, CRASH_MESSAGE)
        except _StartFailed:
            self._report_model(model_id, START_MESSAGE)

    def _unload(self) -> None:
        if self._proc is None:  # nothing loaded anywhere
            self.last_unload = None
            self._unloaded.set()
            return
        try:
            self._send(("unload",))
            self._pump(lambda m: m[0] == "unloaded")
        except _ChildGone:
            pass  # a dead child holds no memory; the next take starts a new one
        self._unloaded.set()

    def _report_model(self, model_id: str, message: str | None) -> None:
        if self._on_model is not None:
            self._on_model(model_id, message)

    def _pump(self, done: Callable[[tuple], bool]) -> None:
        """Read the child's messages until ``done(message)``; ``_ChildGone`` when it died (or
        was killed because a cancelled take outlived its grace)."""
        conn, proc = self._conn, self._proc
        while True:
            ready = wait([conn, proc.sentinel], POLL_S)
            if conn in ready or conn.poll():  # read what it sent before it ended
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    self._drop_child()
                    raise _ChildGone(proc.exitcode) from None
                self._handle(message)
                if done(message):
                    return
                continue
            if proc.sentinel in ready:
                self._drop_child()
                raise _ChildGone(proc.exitcode)
            with self._lock:
                overdue = self._deadline is not None and time.monotonic() > self._deadline
                # closing during a warm-up or an unload: nothing to wait for
                abandoned = self._closed and self._current is None
            if abandoned:
                self._kill_child()
                raise _ChildGone(proc.exitcode)
            if overdue:
                log.warning(
                    "a cancelled take did not stop in %.0f s: stopping the worker process",
                    self.cancel_grace_s,
                )
                self._kill_child()
                raise _ChildGone(proc.exitcode)

    def _handle(self, message: tuple) -> None:
        kind = message[0]
        if kind == "event":
            self._emit(message[1])
        elif kind == "log":
            record = logging.makeLogRecord(message[1])
            logging.getLogger(record.name).handle(record)
        elif kind == "model":
            self._report_model(message[1], message[2])
        elif kind == "unloaded":
            self.last_unload = (message[1], message[2])

    # ------------------------------------------------------------------ the child
    def _ensure_child(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            return
        self._drop_child()
        from sora_desktop.studio import worker_main

        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(
            target=worker_main.main,
            args=(child, *self._child_args),
            name="sora-desktop-generation",
            daemon=True,
        )
        try:
            with _child_skips_main():
                proc.start()
        except Exception as exc:  # noqa: BLE001 - e.g. no memory for a new process
            log.warning("the worker process could not start", exc_info=True)
            parent.close()
            child.close()
            raise _StartFailed() from exc
        child.close()  # the child holds its end: its death closes the pipe for us
        self._proc, self._conn = proc, parent
        log.info("generation worker process %s started", proc.pid)

    def _send(self, message: tuple) -> None:
        with self._send_lock:
            conn = self._conn
            if conn is None:
                return
            try:
                conn.send(message)
            except (OSError, ValueError):  # the child died: _pump sees it
                pass

    def _kill_child(self) -> None:
        proc = self._proc
        if proc is not None and proc.is_alive():
            proc.kill()
            proc.join(QUIT_GRACE_S)
        self._drop_child()

    def _drop_child(self) -> None:
        with self._send_lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.join(0.5)

    def _stop_child(self) -> None:
        proc = self._proc
        if proc is None:
            return
        self._send(("quit",))
        proc.join(QUIT_GRACE_S)
        if proc.is_alive():
            proc.kill()
            proc.join(QUIT_GRACE_S)
        self._drop_child()


class _StartFailed(Exception):
    pass


_main_lock = threading.Lock()


@contextlib.contextmanager
def _child_skips_main() -> Iterator[None]:
    """A spawned child normally re-runs the parent's main script (as ``__mp_main__``); a
    script without an ``if __name__ == "__main__"`` guard would then open a second app in
    the child. The child needs nothing from it (its target is ``worker_main.main``), so hide
    the script while the child is started."""
    main = sys.modules.get("__main__")
    with _main_lock:
        if main is None:
            yield
            return
        saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
        main.__dict__.pop("__file__", None)
        main.__dict__["__spec__"] = None
        try:
            yield
        finally:
            main.__dict__.pop("__spec__", None)
            main.__dict__.update(saved)
