"""`wschats xmpp-auth`: the program ejabberd runs as `extauth_program`.

Requests are read from stdin and answered on stdout (framing in `protocol`). ejabberd 23.01
sends a program one request and waits for its answer, so a sign-in costs one round trip
through this loop and the rate is `extauth_pool_size` programs over that round trip: stdin is
read on the event loop itself (no reader thread, whose hand-offs cost more than the decision).
Requests that do arrive together are decided concurrently and answered in the order they
came. Each decision has a time limit: a database or identity service that does not answer in
time, or fails, means "no" and one line on stderr (ejabberd's own log), so ejabberd never
waits on us and the loop never stops for a bad request. It ends when ejabberd closes stdin.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import BinaryIO, Protocol

from wschats.adapters.extauth.protocol import HEADER, MalformedRequest, Request, answer, parse

MAX_IN_FLIGHT = 64  # requests read ahead of their answers; then reading waits


class SignIn(Protocol):
    async def authenticate(self, user: str, server: str, password: str) -> bool: ...
    async def exists(self, user: str, server: str) -> bool: ...


async def read_frame(stream: asyncio.StreamReader) -> bytes | None:
    """The next request's bytes; None once the stream has ended (also within a request)."""
    try:
        (length,) = HEADER.unpack(await stream.readexactly(HEADER.size))
        return await stream.readexactly(length)
    except asyncio.IncompleteReadError:
        return None


class ExternalAuthProgram:
    def __init__(
        self,
        sign_in: SignIn,
        *,
        timeout_seconds: float,
        log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
    ) -> None:
        self._sign_in = sign_in
        self._timeout = timeout_seconds
        self._log = log

    async def decide(self, payload: bytes) -> bool:
        """The answer to one request; never raises."""
        try:
            request = parse(payload)
        except MalformedRequest as exc:
            self._log(f"wschats xmpp-auth: refused a malformed request ({exc})")
            return False
        try:
            async with asyncio.timeout(self._timeout):
                match request.operation:
                    case "auth":
                        return await self._sign_in.authenticate(
                            request.user, request.server, request.password
                        )
                    case "isuser":
                        return await self._sign_in.exists(request.user, request.server)
                    case _:  # accounts are managed in wschats, not through XMPP
                        return False
        except TimeoutError:
            self._log(
                f"wschats xmpp-auth: refused {request.operation} for {_account(request)}: "
                f"no decision within {self._timeout:g}s"
            )
        except Exception as exc:  # a dependency failed: refuse, say why, keep serving
            self._log(
                f"wschats xmpp-auth: refused {request.operation} for {_account(request)}: "
                f"{type(exc).__name__}: {_first_line(exc)}"
            )
        return False

    async def serve(self, stdin: BinaryIO, stdout: BinaryIO) -> None:
        """Answers the requests on `stdin` (a pipe, as ejabberd starts us) until it ends."""
        loop = asyncio.get_running_loop()
        requests = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(requests), stdin
        )
        decisions: asyncio.Queue[asyncio.Task[bool] | None] = asyncio.Queue(MAX_IN_FLIGHT)

        async def start_decisions() -> None:
            while (frame := await read_frame(requests)) is not None:
                await decisions.put(asyncio.create_task(self.decide(frame)))
            await decisions.put(None)

        starting = asyncio.create_task(start_decisions())
        try:
            while (decision := await decisions.get()) is not None:
                stdout.write(answer(await decision))
                stdout.flush()
        finally:
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            transport.close()


def _account(request: Request) -> str:
    return _printable(f"{request.user}@{request.server}")


def _printable(text: str, limit: int = 200) -> str:
    """Text from the request as one safe log line."""
    return (text if text.isprintable() else repr(text))[:limit]


def _first_line(error: Exception, limit: int = 300) -> str:
    """The gist of an error: drivers append the statement and its parameters on later lines."""
    lines = str(error).strip().splitlines()
    return lines[0][:limit] if lines else ""
