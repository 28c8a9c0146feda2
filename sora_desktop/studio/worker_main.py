"""The worker process's main loop (the child side of ``studio.worker_process``).

It is started with the ``spawn`` method, so it begins as a fresh interpreter: torch, diffusers
and the model are imported here, never in the GUI. Messages from the parent arrive on one pipe:

- ``("run", TakeRun)``: run the take with ``studio.take_runner.run_take`` (unchanged); each
  ``TakeEvent`` goes back as ``("event", event)``;
- ``("cancel", job_id)``: the reader thread sets that take's ``CancelToken`` (the take stops
  at its next step; a cancel that arrives before its take is remembered);
- ``("warm", model_id, device)``: load the model; answered ``("model", model_id, error|None)``;
- ``("unload",)``: free the loaded model (registry + garbage collector + the C allocator);
  answered ``("unloaded", rss_before, rss_after)`` in bytes;
- ``("quit",)``: return.

Log records go back as ``("log", dict)`` so the app's one log file has them. When the parent
is gone (the pipe closes) the child exits at once: nobody is left to report to.
"""

from __future__ import annotations

import gc
import logging
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from sora_desktop.engine.backend import CancelToken

log = logging.getLogger(__name__)


def rss_bytes() -> int:
    """This process's resident memory (0 where it cannot be read)."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:  # noqa: BLE001 - a figure for the log, never an error
        return 0


def release_memory() -> None:
    """Hand freed memory back to the system: Python's collector, then glibc's allocator (which
    otherwise keeps freed heap pages), then the GPU's cache when torch is loaded."""
    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except Exception:  # noqa: BLE001 - not glibc: nothing to trim
            pass
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except Exception:  # noqa: BLE001
            pass


class _PipeLogHandler(logging.Handler):
    """Sends each record to the parent, formatted here (its args may not pickle)."""

    def __init__(self, send: Callable[[Any], None]) -> None:
        super().__init__(logging.INFO)
        self._send = send
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = dict(record.__dict__)
            data["msg"] = record.getMessage()
            data["args"] = None
            if record.exc_info:
                data["exc_text"] = self._formatter.formatException(record.exc_info)
            data["exc_info"] = None
            data["stack_info"] = None
            data["processName"] = "generation worker"
            self._send(("log", data))
        except Exception:  # noqa: BLE001 - a lost log line must not stop a take
            pass


def _switch_model(model_id: str, device: str) -> None:
    """Before another model loads, free the one loaded now, so switching models never holds
    both (the registry would also unload it, but without giving the memory back)."""
    from sora_desktop.engine import registry

    loaded = registry.loaded_models()
    if loaded and (model_id, device) not in loaded:
        registry.unload_all()
        release_memory()


def _yield_to_the_window() -> None:
    """Run below normal CPU priority: on a machine with few cores the model's threads would
    otherwise take the time the window needs to repaint and answer clicks."""
    try:
        import psutil

        me = psutil.Process()
        me.nice(psutil.BELOW_NORMAL_PRIORITY_CLASS if os.name == "nt" else 10)
    except Exception:  # noqa: BLE001 - a priority we may not change is only slower to yield
        log.debug("could not lower the worker process's priority", exc_info=True)


def main(conn: Any, generate: Any = None, decode: Any = None) -> None:
    """The child's entry point (``multiprocessing`` target). ``generate`` / ``decode``: picklable
    replacements for the registry's backend (tests); None runs the real models."""
    from sora_desktop.studio.music import MusicRun, run_music
    from sora_desktop.studio.take_runner import run_take

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal is the parent's to handle
    _yield_to_the_window()
    send_lock = threading.Lock()

    def send(message: Any) -> None:
        try:
            with send_lock:
                conn.send(message)
        except (OSError, EOFError, ValueError):  # the parent is gone
            os._exit(0)

    try:  # progress bars (weights loading) use a thread lock, not a semaphore that the
        # quick exit below would leave behind (multiprocessing warns about it)
        import tqdm

        tqdm.tqdm.set_lock(threading.RLock())
    except Exception:  # noqa: BLE001 - no tqdm: nothing to set
        pass
    root = logging.getLogger()
    root.handlers[:] = [_PipeLogHandler(send)]
    root.setLevel(logging.WARNING)
    logging.getLogger("sora_desktop").setLevel(logging.INFO)

    work: queue.Queue[tuple] = queue.Queue()
    tokens: dict[str, CancelToken] = {}
    early: set[str] = set()  # cancels that came before their take
    lock = threading.Lock()

    def read() -> None:
        while True:
            try:
                message = conn.recv()
            except (OSError, EOFError):  # the parent closed the pipe or died
                with lock:
                    for token in tokens.values():
                        token.cancel()
                os._exit(0)
            kind = message[0]
            if kind == "cancel":
                with lock:
                    token = tokens.get(message[1])
                    if token is None:
                        early.add(message[1])
                if token is not None:
                    token.cancel()
                continue
            if kind == "run":
                token = CancelToken()
                with lock:
                    if message[1].job_id in early:
                        early.discard(message[1].job_id)
                        token.cancel()
                    tokens[message[1].job_id] = token
            work.put(message)

    threading.Thread(target=read, name="worker-pipe-reader", daemon=True).start()
    log.info("generation worker process %d ready", os.getpid())
    while True:
        message = work.get()
        kind = message[0]
        if kind == "quit":
            break
        if kind == "run":
            run = message[1]
            with lock:
                token = tokens[run.job_id]
            try:
                if isinstance(run, MusicRun):  # "Make music for this film": same events
                    run_music(run, token, lambda event: send(("event", event)))
                    continue
                if generate is None and run.decode_from is None:
                    _switch_model(run.request.model_id, run.device)
                run_take(run, token, lambda event: send(("event", event)), generate, decode)
            finally:
                with lock:
                    tokens.pop(run.job_id, None)
        elif kind == "warm":
            _, model_id, device = message
            send(("model", model_id, _warm(model_id, device)))
        elif kind == "unload":
            before = rss_bytes()
            from sora_desktop.engine import registry

            registry.unload_all()
            release_memory()
            after = rss_bytes()
            log.info("models unloaded: %.0f MB -> %.0f MB resident", before / 1e6, after / 1e6)
            send(("unloaded", before, after))
    try:
        conn.close()
    except OSError:
        pass
    # everything was reported; skip the interpreter's slow clean-up of torch and the model
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(0)


def _warm(model_id: str, device: str) -> str | None:
    """Load the model; None when it is ready, else the message for the user."""
    from sora_desktop.engine import registry
    from sora_desktop.studio.messages import friendly_error

    try:
        _switch_model(model_id, device)
        registry.load_backend(model_id, device)
    except Exception as exc:  # noqa: BLE001 - reported to the user, the app keeps running
        log.info("loading model %s failed", model_id, exc_info=True)
        return friendly_error(exc)
    return None
