"""Streams one file from the hub (or a mirror) into its part file, cancellable at any moment.

Why not ``huggingface_hub.file_download.http_get``: it reads the body in
``DOWNLOAD_CHUNK_SIZE`` (10 MB) pieces and only reports progress or lets a cancel through between
them, which is 80 s at 1 Mbit/s; a stalled read blocks for its whole timeout and then retries; and
it trusts the server on how many bytes (or, gzip-encoded, how many inflated bytes) to write.

Here a reader thread does nothing but read the socket (whatever has arrived, at most 64 KiB at a
time) into a small bounded queue; the calling thread writes, counts and checks. So:
- progress and cancel react within ``POLL_S`` whatever the link speed, and a cancel during a
  stalled read returns at once (the socket is shut down so the reader ends too);
- a body longer than the size the listing declared, or a gzip/deflate body inflating past it, is
  stopped at the declared size (inflated in bounded pieces, so memory stays small) and fails;
- a dropped connection resumes with a ``Range`` request, a few times in a row without progress at
  most; a server that ignores the range gets a clean restart from byte 0.
"""

from __future__ import annotations

import errno
import logging
import queue
import socket
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from sora_desktop.engine.download_errors import DownloadCancelled, DownloadError, NotEnoughSpace

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 10.0  # a stalled server is dropped (and the read resumed) after this long
POLL_S = 0.1  # how often the writer checks cancel and reports a stall
PIECE_BYTES = 64 * 1024  # the most one inflated piece holds
QUEUE_PIECES = 16  # at most ~1 MiB of received data waits in memory
MAX_RETRIES = 5  # attempts in a row that bring no new byte
RETRY_WAIT_S = 1.0


class _Restart(Exception):
    """The server ignored or mangled the Range request: start the file over from byte 0."""


def _write(fh: BinaryIO, data: bytes) -> None:
    """One write into the part file (a seam for the disk-full test)."""
    fh.write(data)


class _Reader(threading.Thread):
    """Reads one response into a queue: ("head", status, headers), ("data", bytes)...,
    ("end",) or ("error", exc). Never touches a file."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        super().__init__(name="sora-download-reader", daemon=True)
        self.url = url
        self.headers = headers
        self.items: queue.Queue[tuple[Any, ...]] = queue.Queue(QUEUE_PIECES)
        self.stop = threading.Event()
        self._response: Any = None  # set only while this thread reads it (see abort)
        self._lock = threading.Lock()

    def run(self) -> None:
        import httpx2
        from huggingface_hub.utils import get_session

        timeout = httpx2.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        try:
            with get_session().stream(
                "GET", self.url, headers=self.headers, timeout=timeout
            ) as response:
                with self._lock:
                    if self.stop.is_set():
                        return
                    self._response = response
                try:
                    self._read(response)
                finally:
                    # before the connection goes back to the pool: abort() must never shut
                    # down a socket that another request may be using by then
                    with self._lock:
                        self._response = None
        except BaseException as exc:  # noqa: BLE001 - handed to the writer thread
            if not self.stop.is_set():
                self._put(("error", exc))

    def _read(self, response: Any) -> None:
        from huggingface_hub.utils import hf_raise_for_status

        if response.status_code >= 400:
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) < 1_000_000:
                response.read()  # the hub's error text, for a readable message
            hf_raise_for_status(response)
        self._put(("head", response.status_code, response.headers))
        for raw in response.iter_raw():
            if self.stop.is_set():
                return
            if raw:
                self._put(("data", raw))
        self._put(("end",))

    def _put(self, item: tuple[Any, ...]) -> None:
        while not self.stop.is_set():
            try:
                self.items.put(item, timeout=POLL_S)
                return
            except queue.Full:
                continue

    def abort(self, shutdown: bool = True) -> None:
        """Stop; with ``shutdown`` a read blocked on a stalled socket returns at once (the
        connection is then discarded, never reused)."""
        with self._lock:
            self.stop.set()
            response = self._response
            if not shutdown or response is None:
                return
            stream = response.extensions.get("network_stream")
            try:
                stream.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
            except (OSError, AttributeError):
                pass


class FileTransfer:
    """Appends to ``part`` until it holds exactly ``size`` bytes (or raises).

    ``on_bytes(n)`` is called for every piece written (negative when bytes are thrown away on a
    restart); ``on_tick()`` at least every ``POLL_S`` while nothing arrives, so a stalled link
    shows as such. Raises DownloadCancelled (the bytes received stay in ``part``),
    NotEnoughSpace, DownloadError, or the transport / hub exception after the retries.
    """

    def __init__(
        self,
        url: str,
        part: Path,
        size: int,
        name: str,
        headers: dict[str, str],
        cancel: threading.Event,
        on_bytes: Callable[[int], None],
        on_tick: Callable[[], None] = lambda: None,
    ) -> None:
        self.url = url
        self.part = part
        self.size = size
        self.name = name
        self.headers = headers
        self.cancel = cancel
        self.on_bytes = on_bytes
        self.on_tick = on_tick
        self.requests = 0

    def run(self) -> None:
        import httpx2

        retries = MAX_RETRIES
        use_range = True
        while True:
            have = self.part.stat().st_size if self.part.is_file() else 0
            if have > self.size:  # more bytes than the file has: not ours
                self._truncate(self.size)  # (only the declared size was counted as done)
                have = 0
            if have == self.size:
                return
            if have and not use_range:
                self._truncate(have)
                have = 0
            headers = dict(self.headers)
            headers["Accept-Encoding"] = "identity"
            if have:
                headers["Range"] = f"bytes={have}-"
            reader = _Reader(self.url, headers)
            self.requests += 1
            reader.start()
            before = have
            completed = False
            try:
                self._receive(reader, have)
                completed = True
                return
            except _Restart:
                use_range = False
                continue
            except httpx2.TransportError as exc:
                got = self.part.stat().st_size if self.part.is_file() else 0
                retries = MAX_RETRIES if got > before else retries - 1
                if retries <= 0:
                    raise
                log.info("download of %s interrupted (%s); resuming", self.name, exc)
            finally:
                reader.abort(shutdown=not completed)
            if self.cancel.wait(RETRY_WAIT_S):
                raise DownloadCancelled("download cancelled")

    # ------------------------------------------------------------------ one response
    def _next(self, reader: _Reader) -> tuple[Any, ...]:
        while True:
            if self.cancel.is_set():
                raise DownloadCancelled("download cancelled")
            try:
                item = reader.items.get(timeout=POLL_S)
            except queue.Empty:
                self.on_tick()
                continue
            if item[0] == "error":
                raise item[1]
            return item

    def _receive(self, reader: _Reader, have: int) -> None:
        import httpx2

        _, status, headers = self._next(reader)
        decoder = self._decoder(headers.get("content-encoding", ""))
        if have:
            if status == 200 and decoder is None:
                self._truncate(have)  # the server ignored the range: this is the whole file
                have = 0
            elif status != 206 or decoder is not None or not _range_starts_at(headers, have):
                raise _Restart
        written = have
        with open(self.part, "ab") as fh:
            while True:
                item = self._next(reader)
                if item[0] == "end":
                    pieces: Iterator[bytes] = iter([decoder.flush()] if decoder else [])
                else:
                    pieces = _inflate(decoder, item[1]) if decoder else iter([item[1]])
                try:
                    for piece in pieces:
                        if not piece:
                            continue
                        if written + len(piece) > self.size:
                            fh.close()
                            self.part.unlink(missing_ok=True)
                            self.on_bytes(-written)
                            raise DownloadError(
                                f"The server sent more than the {self.size:,} bytes it declared "
                                f"for {self.name}; the download was stopped and that file "
                                "deleted. The mirror may be broken or hostile."
                            )
                        self._write(fh, piece)
                        written += len(piece)
                        self.on_bytes(len(piece))
                except zlib.error as exc:
                    raise DownloadError(
                        f"{self.name} arrived as damaged compressed data ({exc})."
                    ) from exc
                if item[0] == "end":
                    break
        if written < self.size:  # the server ended early: resume like a dropped connection
            raise httpx2.RemoteProtocolError(
                f"the body of {self.name} ended after {written} of {self.size} bytes"
            )

    def _write(self, fh: BinaryIO, data: bytes) -> None:
        try:
            _write(fh, data)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise NotEnoughSpace(
                    f"The disk filled up while downloading {self.name}; free some space and "
                    "press Download again to resume."
                ) from exc
            raise DownloadError(f"Could not write {self.part}: {exc}") from exc

    def _decoder(self, encoding: str) -> Any:
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            return None
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if encoding == "deflate":
            return zlib.decompressobj()
        raise DownloadError(
            f"The server sent {self.name} in an encoding Sora Desktop does not read "
            f"({encoding[:40]!r})."
        )

    def _truncate(self, have: int) -> None:
        with open(self.part, "r+b") as fh:
            fh.truncate(0)
        self.on_bytes(-have)


def _inflate(decoder: Any, data: bytes) -> Iterator[bytes]:
    """Inflate ``data`` in pieces of at most PIECE_BYTES, so a bomb never sits in memory."""
    while data:
        yield decoder.decompress(data, PIECE_BYTES)
        data = decoder.unconsumed_tail


def _range_starts_at(headers: Any, start: int) -> bool:
    value = headers.get("content-range", "")
    unit, _, rest = value.partition(" ")
    first = rest.split("-", 1)[0]
    return unit.strip().lower() == "bytes" and first.isdigit() and int(first) == start
