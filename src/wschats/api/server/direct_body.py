"""Request bodies moved from the connection straight into a file (Linux `splice`).

uvicorn hands a body to the application as Python bytes, a read at a time, on the event loop:
on this machine that path tops out near 600 MiB/s, under half of what the disk writes. A
store on local disk may instead take the rest of a large body directly: the protocol stops
reading the socket, and a worker thread splices the bytes socket -> pipe -> file, so they
never enter Python. The connection is handed back once the body is whole.

`BodyHandover` is the protocol's side (one per request with a large `Content-Length`, put in
the ASGI scope under `EXTENSION`); `SplicedBody` is what the store's thread drives.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import threading
import time
from typing import TYPE_CHECKING, Protocol

from wschats.domain.errors import BadRequest, RequestTimeout

if TYPE_CHECKING:
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

EXTENSION = "wschats.direct_body"
# Below this a body arrives in a read or two: not worth a thread.
MIN_DIRECT_BYTES = 1024 * 1024
_POLL_SLICE_MS = 250  # how soon a stopped transfer notices
_PIPE_BYTES = 1024 * 1024
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_GONE = "The client went away before the end of the body"

AVAILABLE = hasattr(os, "splice")


class HandoverHost(Protocol):
    """What the HTTP protocol offers a handover (see bounded_httptools)."""

    cycle: RequestResponseCycle

    def body_bytes_seen(self) -> int: ...
    def body_idle_timeout(self) -> float:
        """A client that sends no byte of the body for this long loses its request."""

    def connection_fd(self) -> int | None: ...
    def hold_reading(self) -> None: ...
    def body_taken(self) -> None: ...


class BodyHandover:
    """Lets the application take the rest of one request's body off the connection, once,
    before it has read any of it through ASGI."""

    def __init__(self, host: HandoverHost, cycle: RequestResponseCycle, declared: int) -> None:
        self._host = host
        self._cycle = cycle
        self._declared = declared
        self._claimed = False

    def claim(self) -> SplicedBody | None:
        """The rest of the body as a `SplicedBody`, reading stopped meanwhile; or None when
        the direct path does not apply (then read the body through ASGI as usual)."""
        cycle = self._cycle
        if (
            self._claimed
            or not AVAILABLE
            or self._host.cycle is not cycle  # the parser has moved on: the body is whole
            or not cycle.more_body
            or cycle.disconnected
            or cycle.response_complete
        ):
            return None
        remaining = self._declared - self._host.body_bytes_seen()
        fd = self._host.connection_fd()
        if remaining < MIN_DIRECT_BYTES // 2 or fd is None:
            return None
        self._claimed = True
        self._host.hold_reading()
        if cycle.waiting_for_100_continue:
            cycle.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            cycle.waiting_for_100_continue = False
        buffered = bytes(cycle.body)
        cycle.body = bytearray()
        idle_timeout = self._host.body_idle_timeout()
        return SplicedBody(self, os.dup(fd), buffered, remaining, idle_timeout)

    def hand_back(self, complete: bool) -> None:
        """From the body, once done: the connection carries the next request, or none."""
        if complete:
            self._host.body_taken()
        else:
            # The connection is left mid-body: it cannot carry another request.
            self._cycle.keep_alive = False


class SplicedBody:
    """The rest of a body, read from its own duplicate of the connection's descriptor (so
    the event loop closing the connection cannot hand the number to another file)."""

    def __init__(
        self,
        handover: BodyHandover,
        fd: int,
        buffered: bytes,
        remaining: int,
        idle_timeout: float,
    ) -> None:
        self._handover = handover
        self._fd = fd
        self._buffered = buffered
        self._remaining = remaining
        self._idle_timeout = idle_timeout
        self._stopped = threading.Event()
        self._pipe: tuple[int, int] | None = None
        # Whoever comes last, the thread leaving move_into or release, closes the
        # descriptors: never while the other may still use them.
        self._state = threading.Lock()
        self._in_use = False
        self._released = False
        self._closed = False

    def move_into(self, target: int, limit: int) -> int:
        """Blocking, in a worker thread: append up to `limit` more bytes of the body to the
        file `target`; 0 once the body is whole. `BadRequest` if the client goes away,
        `RequestTimeout` if it sends nothing for the idle timeout."""
        with self._state:
            if self._released:
                raise BadRequest(_GONE)
            self._in_use = True
        try:
            return self._move_into(target, limit)
        finally:
            with self._state:
                self._in_use = False
                close = self._released
            if close:
                self._close()

    def _move_into(self, target: int, limit: int) -> int:
        if self._buffered:
            buffered, self._buffered = self._buffered, b""
            view = memoryview(buffered)
            while view:
                view = view[os.write(target, view) :]
            return len(buffered)
        want = min(limit, self._remaining)
        moved = 0
        read_end, write_end = self._pipe or self._open_pipe()
        while moved < want:
            count = self._splice_in(write_end, min(want - moved, _PIPE_BYTES))
            left = count
            while left:
                left -= os.splice(read_end, target, left)
            moved += count
        self._remaining -= moved
        return moved

    def stop(self) -> None:
        """Any thread: a `move_into` waiting for the client gives up within a quarter second."""
        self._stopped.set()

    def release(self) -> None:
        """On the event loop, after the last `move_into`: hand the connection back, ready
        for the next request if the body was read whole. (Should a thread still be inside
        `move_into`, it is stopped and closes the descriptors as it leaves.)"""
        with self._state:
            if self._released:
                return
            self._released = True
            close = not self._in_use
            complete = close and self._remaining == 0 and not self._buffered
        self._stopped.set()
        if close:
            self._close()
        self._handover.hand_back(complete)

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            for fd in (self._fd, *(self._pipe or ())):
                os.close(fd)

    def _open_pipe(self) -> tuple[int, int]:
        read_end, write_end = os.pipe()
        # Above the system's pipe-max-size this fails: the default (64 KiB) still works.
        with contextlib.suppress(OSError):
            fcntl.fcntl(write_end, _F_SETPIPE_SZ, _PIPE_BYTES)
        self._pipe = (read_end, write_end)
        return self._pipe

    def _splice_in(self, pipe: int, count: int) -> int:
        """Up to `count` bytes from the socket into the (empty) pipe, waiting for some."""
        idle_since = time.monotonic()
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        while True:
            if self._stopped.is_set():
                raise BadRequest(_GONE)
            try:
                moved = os.splice(self._fd, pipe, count, flags=os.SPLICE_F_MOVE)
            except BlockingIOError:
                if time.monotonic() - idle_since > self._idle_timeout:
                    raise RequestTimeout(
                        f"No body bytes arrived for {self._idle_timeout:g} s"
                    ) from None
                poller.poll(_POLL_SLICE_MS)
                continue
            except OSError as error:  # reset, timed out: the socket's errors are the client's
                reason = errno.errorcode.get(error.errno or 0, str(error))
                raise BadRequest(f"{_GONE} ({reason})") from None
            if moved == 0:
                raise BadRequest(_GONE)
            return moved
