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
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from wschats.api.direct_body import EXTENSION, MIN_DIRECT_BYTES, BodyHandover


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


def head_limit_protocol(max_head_bytes: int) -> type[HttpToolsProtocol]:
    """The protocol class for uvicorn's `http=` with heads bounded to `max_head_bytes`."""

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

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.flow = HeldFlowControl(transport)

        def data_received(self, data: bytes) -> None:
            self._boundary_seen = False
            super().data_received(data)
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
            if self._head_size > max_head_bytes:
                self._refuse_head()
                # Stops the parser; uvicorn then calls send_400_response, which is skipped.
                raise HeadTooLarge
            super().on_headers_complete()
            if self._shutting_down and self.cycle is not None:
                self.cycle.keep_alive = False  # answered, then the connection closes
            self._offer_direct_body()

        def on_body(self, body: bytes) -> None:
            self._body_seen += len(body)
            super().on_body(body)

        def on_message_complete(self) -> None:
            self._in_head = True
            self._boundary_seen = True
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

        # ------------------------------------------------ direct bodies (HandoverHost)

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
            body = json.dumps(
                {
                    "message": f"The request head is larger than {max_head_bytes // 1024} KiB",
                    "traceId": uuid.uuid4().hex,
                }
            ).encode()
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                b"content-type: application/json\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\n"
                b"connection: close\r\n\r\n" + body
            )
            self.transport.close()

    return BoundedHttpToolsProtocol
