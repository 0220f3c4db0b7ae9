"""Large bodies taken straight off the socket (api/server/direct_body.py) by the local blob store.

A real uvicorn server runs our protocol in this process, in front of a small ASGI app that
stores the body with `LocalBlobStore` as the upload route does and says which path it took.
Clients speak raw HTTP/1.1 over TCP, so what is on the wire is exactly what a browser sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from wschats.adapters.blobs import LocalBlobStore
from wschats.adapters.blobs.keys import InvalidKeyError
from wschats.api.server import direct_body
from wschats.api.server.bounded_httptools import BODY_TIMEOUT_S, head_limit_protocol
from wschats.api.uploads import RequestBody
from wschats.devtools.servers import free_port
from wschats.domain.errors import BadRequest, RequestTimeout
from wschats.ports import DirectSource

pytestmark = pytest.mark.skipif(not direct_body.AVAILABLE, reason="os.splice is Linux-only")

MIB = 1024 * 1024
Answer = tuple[int, dict[str, Any]]  # status, JSON body
READ_TIMEOUT_S = 15.0


@dataclass
class Served:
    port: int
    store: LocalBlobStore
    root: Path
    paths: list[str]  # "direct" or "stream", per stored body


@pytest_asyncio.fixture
async def served(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Served]:
    """The server; `parametrize("served", [seconds], indirect=True)` sets its body timeout."""
    store = LocalBlobStore(tmp_path / "blobs")
    await store.start()
    served = Served(free_port(), store, store.root, [])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        answer: dict[str, Any]
        if scope["method"] == "GET":
            status, answer = 200, {"ok": True}
        else:
            body = RequestBody(request, int(request.headers["content-length"]))
            probe = _Recording(body)
            try:
                size = await store.put(scope["path"].strip("/"), probe)
                status, answer = 201, {"size": size, "path": probe.path}
                served.paths.append(probe.path)
            except (BadRequest, InvalidKeyError) as error:
                status, answer = 400, {"message": str(error)}
            except RequestTimeout as error:
                status, answer = 408, {"message": str(error)}
        data = json.dumps(answer).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=served.port,
        http=head_limit_protocol(64 * 1024, body_timeout=getattr(request, "param", BODY_TIMEOUT_S)),
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
        await asyncio.sleep(0.01)
    try:
        yield served
    finally:
        server.should_exit = True
        await task
        await store.close()


class _Recording:
    """The body as the store sees it, noting whether the direct path was claimed."""

    def __init__(self, body: RequestBody) -> None:
        self._body = body
        self.path = "stream"

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._body.__aiter__()

    def direct_source(self) -> DirectSource | None:
        source = self._body.direct_source()
        if source is not None:
            self.path = "direct"
        return source


def head(path: str, length: int, *extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {length}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def payload(size: int) -> bytes:
    return os.urandom(size)


async def read_answers(reader: asyncio.StreamReader, count: int) -> list[Answer]:
    answers = []
    async with asyncio.timeout(READ_TIMEOUT_S):
        for _ in range(count):
            status_line = await reader.readuntil(b"\r\n\r\n")
            status = int(status_line.split()[1])
            length = int(re.search(rb"content-length: (\d+)", status_line, re.I)[1])  # type: ignore[index]
            answers.append((status, json.loads(await reader.readexactly(length))))
    return answers


async def send_slowly(writer: asyncio.StreamWriter, data: bytes, piece: int = MIB) -> None:
    """In pieces with pauses, so most of the body is still to come when the app claims it."""
    for start in range(0, len(data), piece):
        writer.write(data[start : start + piece])
        await writer.drain()
        await asyncio.sleep(0.01)


def temp_files(root: Path) -> list[str]:
    return [name for _, _, names in os.walk(root) for name in names if name.startswith(".tmp-")]


async def test_large_body_is_moved_by_the_kernel_and_the_connection_is_reused(
    served: Served,
) -> None:
    data = payload(12 * MIB + 123)
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        writer.write(head("/big", len(data)))
        await send_slowly(writer, data)
        # The same connection then carries two more requests, pipelined.
        writer.write(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n" + head("/small", 5) + b"hello")
        answers = await read_answers(reader, 3)
    finally:
        writer.close()
    assert answers == [
        (201, {"size": len(data), "path": "direct"}),
        (200, {"ok": True}),
        (201, {"size": 5, "path": "stream"}),  # below the direct path's size
    ]
    assert (served.root / "big").read_bytes() == data
    assert (served.root / "small").read_bytes() == b"hello"
    assert temp_files(served.root) == []


async def test_expect_100_continue_is_answered_before_the_body_is_taken(
    served: Served,
) -> None:
    data = payload(3 * MIB)
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        writer.write(head("/expecting", len(data), "Expect: 100-continue"))
        async with asyncio.timeout(READ_TIMEOUT_S):
            interim = await reader.readuntil(b"\r\n\r\n")
        assert interim.startswith(b"HTTP/1.1 100 ")
        await send_slowly(writer, data)
        answers = await read_answers(reader, 1)
    finally:
        writer.close()
    assert answers == [(201, {"size": len(data), "path": "direct"})]
    assert (served.root / "expecting").read_bytes() == data


async def test_a_client_gone_mid_body_leaves_nothing_stored(served: Served) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        writer.write(head("/cut", 8 * MIB))
        await send_slowly(writer, payload(3 * MIB))
        writer.write_eof()
        async with asyncio.timeout(READ_TIMEOUT_S):
            answer = await reader.read()
    finally:
        writer.close()
    assert b" 201 " not in answer
    for _ in range(100):  # the server finishes its clean-up after answering
        if not temp_files(served.root):
            break
        await asyncio.sleep(0.05)
    assert not (served.root / "cut").exists()
    assert temp_files(served.root) == []


@pytest.mark.parametrize("served", [0.5], indirect=True)
async def test_a_stalled_client_is_refused_after_the_idle_timeout(served: Served) -> None:
    # The body timeout of the protocol is the rule of the direct path too.
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        writer.write(head("/stalled", 8 * MIB))
        await send_slowly(writer, payload(2 * MIB))
        answers = await read_answers(reader, 1)  # nothing more is sent
        async with asyncio.timeout(READ_TIMEOUT_S):
            rest = await reader.read()  # the connection, mid-body, is closed
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    assert answers[0][0] == 408
    assert "No body bytes arrived for 0.5 s" in answers[0][1]["message"]
    assert rest == b""
    assert not (served.root / "stalled").exists()
    assert temp_files(served.root) == []


async def test_more_uploads_than_direct_threads_all_arrive_whole(served: Served) -> None:
    count = 7  # above DIRECT_UPLOADS: the rest take the usual path
    bodies = [payload(2 * MIB + index) for index in range(count)]

    async def one(index: int) -> Answer:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        try:
            writer.write(head(f"/many-{index}", len(bodies[index])))
            await send_slowly(writer, bodies[index], piece=256 * 1024)
            return (await read_answers(reader, 1))[0]
        finally:
            writer.close()

    answers = await asyncio.gather(*(one(index) for index in range(count)))
    assert [status for status, _ in answers] == [201] * count
    for index, body in enumerate(bodies):
        assert (served.root / f"many-{index}").read_bytes() == body
    assert "direct" in served.paths
    assert temp_files(served.root) == []


class _Handover(direct_body.BodyHandover):
    """Records how the body handed the connection back."""

    def __init__(self) -> None:
        self.completions: list[bool] = []

    def hand_back(self, complete: bool) -> None:
        self.completions.append(complete)


def _tcp_pair() -> tuple[socket.socket, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    server.setblocking(False)  # as the event loop keeps it
    return client, server


async def test_released_while_a_thread_waits_the_thread_stops_and_closes(
    tmp_path: Path,
) -> None:
    client, server = _tcp_pair()
    handover = _Handover()
    own = os.dup(server.fileno())
    body = direct_body.SplicedBody(handover, own, b"", 4 * MIB, 30.0)
    target = os.open(tmp_path / "target", os.O_WRONLY | os.O_CREAT)
    try:
        client.sendall(b"x" * 1000)
        waiting = asyncio.create_task(asyncio.to_thread(body.move_into, target, 4 * MIB))
        await asyncio.sleep(0.3)  # the thread has moved the 1000 bytes and waits for more
        assert not waiting.done()
        body.release()  # e.g. the request was cancelled twice: the thread is still inside
        with pytest.raises(BadRequest):
            async with asyncio.timeout(5):
                await waiting
        assert handover.completions == [False]  # the connection cannot carry more requests
        with pytest.raises(OSError):
            os.fstat(own)  # closed by the thread as it left
        with pytest.raises(BadRequest):
            body.move_into(target, MIB)  # released: nothing more is read
        assert os.fstat(target).st_size == 1000
    finally:
        os.close(target)
        client.close()
        server.close()


async def test_a_refused_key_leaves_the_body_to_the_usual_path(served: Served) -> None:
    """The store refuses a bad key before it claims the body: the connection reads on."""
    data = payload(3 * MIB)
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        writer.write(head("/.not-a-key", len(data)))
        await send_slowly(writer, data)
        writer.write(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        answers = await read_answers(reader, 2)
    finally:
        writer.close()
    assert [status for status, _ in answers] == [400, 200]
    assert served.paths == []
