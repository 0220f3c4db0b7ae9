"""uvicorn's httptools protocol with a bound on the request head.

httptools (llhttp) is uvicorn's fast parser: it ingests upload bodies about 1.5 times as fast
as h11 here. But it gathers a header of any size in memory (a 50 MB header was accepted).
This protocol answers 431, JSON like every other error, to a head over the limit, two ways:
- a complete head is measured by what the parser hands over (URL, names and values), before
  any application code runs;
- a head still incomplete is measured by the bytes read while it lasts, so memory stays
  bounded however long a client keeps sending one. A read that ends a head or a body resets
  that count, so a pipelined head sharing a read with the end of the previous request is
  never refused early: what is held is the limit plus at most one read (256 KiB).

It also keeps HTTP/1.1's order of answers when a refused or unparsable request follows a
valid one (see `_answer_last`), offers a large body to be taken straight off the socket
(`direct_body`), and answers a request that was already on its way at shutdown (`shutdown`).

Reading is bounded in time as nginx bounds it, so a slow or stalled client cannot hold a
connection (and its descriptor) for ever:
- a request head must arrive whole within `head_timeout` seconds of its first byte (of the
  connection, for the first request): else 408 and the connection closes (a connection that
  sent nothing is just closed). uvicorn's keep-alive timeout covers the idle time between
  requests;
- a body may take any time, but no `body_timeout` seconds may pass without a byte of it while
  the server is ready to read it (time the server itself holds reading back, or waits to send
  `100 Continue`, does not count): else 408 if nothing was answered yet, and the connection
  closes. A body taken straight off the socket follows the same rule (`body_idle_timeout`);
- at most `max_connections` connections are open at once in the process (websockets
  included): one more is answered 503 with `Retry-After` and closed at once, before its
  descriptors can run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import socket
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from wschats.api.server.direct_body import EXTENSION, MIN_DIRECT_BYTES, BodyHandover


class HeldFlowControl(FlowControl):
    """uvicorn's flow control, but reading stays paused while a body is taken directly from
    the socket, whatever else asks to resume it."""

    def __init__(self, transport: asyncio.Transport) -> None:
        super().__init__(transport)
        self.held = False

    def resume_reading(self) -> None:
        if not self.held:
            super().resume_reading()


# How long an idle connection stays open once shutdown begins, for a request already sent.
IDLE_SHUTDOWN_GRACE_S = 0.25


class HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a refused request."""


# The defaults of `wschats serve` (see config.py); tests pass small ones.
HEAD_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 30.0
_REFUSAL_LOG_EVERY_S = 10.0
_LINGER_S = 1.0  # a flood of refused connections logs one line this often


# Descriptors kept for what is not a connection: database pool, files being read or written,
# pipes of direct bodies and previews, logs.
RESERVED_DESCRIPTORS = 128


def raise_descriptor_limit() -> int:
    """Raise this process's soft descriptor limit to its hard limit (as nginx's
    worker_rlimit_nofile or Go's runtime do), and return the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def default_max_connections(descriptor_limit: int) -> int:
    """Connections a process may hold without running out of descriptors: a download or an
    upload holds a file besides its socket, so each connection counts twice."""
    return max(16, (descriptor_limit - RESERVED_DESCRIPTORS) // 2)


def head_limit_protocol(
    max_head_bytes: int,
    *,
    head_timeout: float = HEAD_TIMEOUT_S,
    body_timeout: float = BODY_TIMEOUT_S,
    max_connections: int | None = None,
) -> type[HttpToolsProtocol]:
    """The protocol class for uvicorn's `http=` with heads bounded to `max_head_bytes`, the
    reading of heads and bodies bounded in time, and connections bounded in number."""
    last_refusal_logged = [float("-inf")]

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._in_head = True  # a connection starts waiting for a head
            self._head_bytes = 0
            self._boundary_seen = False
            self._last_answer: Callable[[], None] | None = None  # deferred, see _answer_last
            self._head_size = 0  # of the current head: URL, header names and values
            self._refused = False
            self._body_seen = 0  # of the current request
            self._shutting_down = False
            self._head_timer: asyncio.TimerHandle | None = None
            self._body_timer: asyncio.TimerHandle | None = None
            self._awaiting_body = False  # between a head and the end of its body
            self._last_read = 0.0  # loop time of the last read

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.flow = HeldFlowControl(transport)
            self._refusing = False
            if max_connections is not None and len(self.connections) > max_connections:
                self._refuse_connection()
                return
            self._head_timer = self.loop.call_later(head_timeout, self._head_timed_out)

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_timers()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._refusing:
                return  # read and dropped, so that closing does not reset the refusal
            self._boundary_seen = False
            self._last_read = self.loop.time()
            super().data_received(data)
            if self._awaiting_body and self._body_timer is None and not self.transport.is_closing():
                self._body_timer = self.loop.call_later(body_timeout, self._check_body_idle)
            if self._refused or self.transport.is_closing() or not self._in_head:
                return
            if self._boundary_seen:
                # This read also held the end of a head or body: count from the next read.
                self._head_bytes = 0
                return
            self._head_bytes += len(data)
            if self._head_bytes > max_head_bytes:
                self._refuse_head()

        def on_message_begin(self) -> None:
            self._head_size = 0
            self._body_seen = 0
            if self._head_timer is None:  # the first request's runs from the connection
                self._head_timer = self.loop.call_later(head_timeout, self._head_timed_out)
            super().on_message_begin()

        def on_url(self, url: bytes) -> None:
            self._head_size += len(url)
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._head_size += len(name) + len(value) + 4  # ": " and CRLF
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._boundary_seen = True
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
            if self._head_size > max_head_bytes:
                self._refuse_head()
                # Stops the parser; uvicorn then calls send_400_response, which is skipped.
                raise HeadTooLarge
            super().on_headers_complete()
            if self._shutting_down and self.cycle is not None:
                self.cycle.keep_alive = False  # answered, then the connection closes
            if self.cycle is not None and self.cycle.scope is self.scope:  # not an upgrade
                self._awaiting_body = True
            self._offer_direct_body()

        def on_body(self, body: bytes) -> None:
            self._body_seen += len(body)
            super().on_body(body)

        def on_message_complete(self) -> None:
            self._in_head = True
            self._boundary_seen = True
            self._awaiting_body = False
            if self._body_timer is not None:
                self._body_timer.cancel()
                self._body_timer = None
            super().on_message_complete()

        def send_400_response(self, msg: str) -> None:
            if self._refused:
                return  # answered 431 already
            self._answer_last(partial(super().send_400_response, msg))

        def _refuse_head(self) -> None:
            self._refused = True
            self.logger.warning("Request head over %d bytes refused.", max_head_bytes)
            self._answer_last(self._write_431)

        def _answer_last(self, answer: Callable[[], None]) -> None:
            """Give an answer that ends the connection (uvicorn's 400, our 431) now, or, while
            the request before it, whole and valid (an upload, say), is still being answered,
            just after that answer, reading nothing more meanwhile. uvicorn wrote its 400 at
            once, so it read as the upload's answer. A request cut off mid-body gets it at
            once, as before."""
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete and not cycle.more_body:
                self._last_answer = answer
                self.transport.pause_reading()
                return
            answer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            answer = self._last_answer
            if answer is not None and self.cycle.response_complete:
                self._last_answer = None
                if not self.transport.is_closing():
                    answer()

        def shutdown(self) -> None:
            """uvicorn closes an idle connection at once. That drops, unanswered, a request
            its client sent just before: on a connection accepted as the signal came, or on
            a kept-alive one reused. The client saw neither an answer nor a refusal. An idle
            connection gets a short grace instead: a request that arrives is answered, then
            the connection closes."""
            self._shutting_down = True
            if self.cycle is not None and not self.cycle.response_complete:
                super().shutdown()  # busy: closes after its answer
            elif not self.transport.is_closing():
                self.loop.call_later(IDLE_SHUTDOWN_GRACE_S, self._close_if_idle)

        def _close_if_idle(self) -> None:
            if self.transport.is_closing():
                return
            if self.cycle is None or self.cycle.response_complete:
                self.transport.close()
            else:
                self.cycle.keep_alive = False

        # ------------------------------------------------ time and number limits

        def _handles_connection(self) -> bool:
            """Still this connection's protocol: not closing, not upgraded to a websocket."""
            return not self.transport.is_closing() and self.transport.get_protocol() is self

        def _cancel_timers(self) -> None:
            for timer in (self._head_timer, self._body_timer):
                if timer is not None:
                    timer.cancel()
            self._head_timer = self._body_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if not self._in_head or self._refused or not self._handles_connection():
                return
            if self.cycle is None and self._head_bytes == 0:
                self.transport.close()  # never sent a byte: nothing to answer
                return
            self.logger.info("Request head not received within %g s: closed.", head_timeout)
            self._refused = True
            message = f"The request head did not arrive within {head_timeout:g} s"
            self._answer_last(partial(self._write_error, b"408 Request Timeout", message))

        def _check_body_idle(self) -> None:
            self._body_timer = None
            if not self._awaiting_body or not self._handles_connection():
                return
            now = self.loop.time()
            cycle = self.cycle
            assert isinstance(self.flow, HeldFlowControl)
            if self.flow.read_paused or self.flow.held or cycle.waiting_for_100_continue:
                self._last_read = now  # the server holds reading back: the client waits
            idle = now - self._last_read
            if idle < body_timeout:
                self._body_timer = self.loop.call_later(body_timeout - idle, self._check_body_idle)
                return
            self.logger.info("No request body bytes for %g s: closed.", body_timeout)
            if not cycle.response_started:
                message = f"No body bytes arrived for {body_timeout:g} s"
                cycle.disconnected = True  # the application's answer, if any, is not sent
                cycle.message_event.set()
                self._write_error(b"408 Request Timeout", message)
            else:
                self.transport.close()

        def _refuse_connection(self) -> None:
            now = self.loop.time()
            if now - last_refusal_logged[0] >= _REFUSAL_LOG_EVERY_S:
                last_refusal_logged[0] = now
                self.logger.warning(
                    "Connection refused: %d connections are open (WSC_MAX_CONNECTIONS).",
                    max_connections,
                )
            message = "The server has too many connections open: try again shortly"
            self._refusing = True
            self._write_error(
                b"503 Service Unavailable", message, b"retry-after: 1\r\n", linger=True
            )

        # ------------------------------------------------ direct bodies (HandoverHost)

        def body_idle_timeout(self) -> float:
            return body_timeout

        def _offer_direct_body(self) -> None:
            if self.cycle is None or self.cycle.scope is not self.scope:
                return  # no cycle of this request (an upgrade)
            lengths = [value for name, value in self.headers if name == b"content-length"]
            chunked = any(name == b"transfer-encoding" for name, _ in self.headers)
            if chunked or len(lengths) != 1 or not lengths[0].strip().isdigit():
                return
            declared = int(lengths[0])
            if declared >= MIN_DIRECT_BYTES:
                extensions: dict[str, Any] = self.scope.setdefault("extensions", {})
                extensions[EXTENSION] = BodyHandover(self, self.cycle, declared)

        def body_bytes_seen(self) -> int:
            return self._body_seen

        def connection_fd(self) -> int | None:
            sock = self.transport.get_extra_info("socket")
            if sock is None or self.transport.is_closing() or self.scheme != "http":
                return None
            if sock.family not in (socket.AF_INET, socket.AF_INET6):
                return None  # splice is for TCP here
            return int(sock.fileno())

        def hold_reading(self) -> None:
            assert isinstance(self.flow, HeldFlowControl)
            self.flow.held = True
            self.flow.pause_reading()

        def body_taken(self) -> None:
            """The rest of the body went past the parser: start the next request afresh."""
            assert isinstance(self.flow, HeldFlowControl)
            self.flow.held = False
            if self.parser is None or self.transport.is_closing():
                return  # the connection is gone
            # The old parser still counts the moved bytes as due; a new one reads the next
            # request, set up as uvicorn sets up a connection's.
            self.parser = type(self.parser)(self)
            self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
            self.on_message_complete()

        def _write_431(self) -> None:
            message = f"The request head is larger than {max_head_bytes // 1024} KiB"
            self._write_error(b"431 Request Header Fields Too Large", message)

        def _write_error(
            self, status: bytes, message: str, headers: bytes = b"", *, linger: bool = False
        ) -> None:
            """A JSON error like the application's, then the connection closes (`linger`: a
            moment later, after a half-close, so that a request the client already sent
            does not turn the close into a reset that would discard the answer)."""
            body = json.dumps({"message": message, "traceId": uuid.uuid4().hex}).encode()
            self.transport.write(
                b"HTTP/1.1 " + status + b"\r\n"
                b"content-type: application/json\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\n" + headers + b""
                b"connection: close\r\n\r\n" + body
            )
            if linger and self.transport.can_write_eof():
                self.transport.write_eof()
                self.loop.call_later(_LINGER_S, self.transport.close)
            else:
                self.transport.close()

    return BoundedHttpToolsProtocol
