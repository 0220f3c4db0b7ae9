"""`wschats xmpp-auth`: the program ejabberd runs as `extauth_program`.

Requests are read from stdin and answered on stdout (framing in `protocol`). Several requests
may be in flight at once (ejabberd sends without waiting); they are decided concurrently and
answered in the order they came, as ejabberd expects. Each decision has a time limit: a
database or identity service that does not answer in time, or fails, means "no" and one line
on stderr (ejabberd's own log), so ejabberd never waits on us and the loop never stops for a
bad request. It ends when ejabberd closes stdin.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO, Protocol

from wschats.adapters.extauth.protocol import HEADER, MalformedRequest, answer, parse

MAX_IN_FLIGHT = 64  # requests read ahead of their answers; then reading waits


class SignIn(Protocol):
    async def authenticate(self, user: str, server: str, password: str) -> bool: ...
    async def exists(self, user: str, server: str) -> bool: ...


def read_frame(stream: BinaryIO) -> bytes | None:
    """The next request's bytes; None once the stream has ended (also within a request)."""
    header = _read_exactly(stream, HEADER.size)
    if header is None:
        return None
    (length,) = HEADER.unpack(header)
    return _read_exactly(stream, length)


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


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
        account = f"{request.user}@{request.server}"
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
                f"wschats xmpp-auth: refused {request.operation} for {account}: "
                f"no decision within {self._timeout:g}s"
            )
        except Exception as exc:  # a dependency failed: refuse, say why, keep serving
            self._log(
                f"wschats xmpp-auth: refused {request.operation} for {account}: "
                f"{type(exc).__name__}: {exc}"
            )
        return False

    async def serve(self, stdin: BinaryIO, stdout: BinaryIO) -> None:
        loop = asyncio.get_running_loop()
        frames: asyncio.Queue[bytes | None] = asyncio.Queue(MAX_IN_FLIGHT)

        def read_requests() -> None:
            # A daemon thread blocks on stdin, so the event loop stays free for decisions and
            # nothing waits for this thread if the answers' side fails first.
            try:
                while True:
                    frame = read_frame(stdin)
                    asyncio.run_coroutine_threadsafe(frames.put(frame), loop).result()
                    if frame is None:
                        return
            except RuntimeError:  # the loop has ended: nobody is listening any more
                return

        threading.Thread(target=read_requests, name="extauth-stdin", daemon=True).start()
        decisions: asyncio.Queue[asyncio.Task[bool] | None] = asyncio.Queue(MAX_IN_FLIGHT)

        async def start_decisions() -> None:
            while (frame := await frames.get()) is not None:
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
