"""Reads bounded in time, and connections in number (api/server/bounded_httptools.py).

A real uvicorn server runs our protocol in this process with small limits, in front of a small
ASGI app; clients speak raw HTTP/1.1 over TCP. Waits on the client side are guards against a
hang, never what is asserted: each test asserts what the server sent and that it closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest_asyncio
import uvicorn
from starlette.types import Receive, Scope, Send

from wschats.api.server.bounded_httptools import default_max_connections, head_limit_protocol
from wschats.devtools.servers import ServerProcess, free_port, server_env

GUARD_S = 30.0  # how long a client waits before calling the server hung
TIMEOUT_S = 0.5  # the server's small timeouts in these tests


@dataclass
class Served:
    port: int
    gate: asyncio.Event = field(default_factory=asyncio.Event)  # POST bodies wait for it
    outcomes: list[str] = field(default_factory=list)  # per POST: "read N" or "disconnect"


Factory = Callable[..., Any]


@pytest_asyncio.fixture
async def serve() -> AsyncIterator[Factory]:
    """`served = await serve(head_timeout=..., ...)`: a server with these limits."""
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(**limits: Any) -> Served:
        served = Served(free_port())
        served.gate.set()

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                return
            body: dict[str, Any] = {"ok": True}
            if scope["method"] == "POST":
                await served.gate.wait()
                size = 0
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        served.outcomes.append("disconnect")
                        return
                    size += len(message.get("body", b""))
                    if not message.get("more_body"):
                        break
                served.outcomes.append(f"read {size}")
                body["size"] = size
            data = json.dumps(body).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(data)),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": data})

        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=served.port,
            http=head_limit_protocol(16 * 1024, **limits),
            lifespan="off",
            log_level="warning",
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        servers.append((server, task))
        while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
            await asyncio.sleep(0.01)
        return served

    yield start
    for server, task in servers:
        server.should_exit = True
        await task


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@contextlib.asynccontextmanager
async def connect(served: Served) -> AsyncIterator[Connection]:
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    async with asyncio.timeout(GUARD_S):
        return await reader.read()


def answer(raw: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


def post_head(length: int, *extra: str) -> bytes:
    lines = ["POST /upload HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {length}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def test_a_half_sent_head_is_answered_408_and_closed(serve: Factory) -> None:
    served = await serve(head_timeout=TIMEOUT_S)
    async with connect(served) as (reader, writer):
        writer.write(b"GET /rooms HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        raw = await until_closed(reader)
    status, headers, body = answer(raw)
    assert status == 408
    assert headers["connection"] == "close"
    assert body["message"] == "The request head did not arrive within 0.5 s"


async def test_a_head_trickled_a_byte_at_a_time_is_bounded_by_its_whole_time(
    serve: Factory,
) -> None:
    # Unlike a body, a head earns no more time by progressing (slowloris): a byte every
    # 0.05 s would take minutes to send this head.
    served = await serve(head_timeout=TIMEOUT_S)
    head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Pad: y\r\n" * 500

    async def trickle(writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            for byte in head:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.05)

    async with connect(served) as (reader, writer):
        trickling = asyncio.create_task(trickle(writer))
        try:
            raw = await until_closed(reader)
        finally:
            trickling.cancel()
    assert answer(raw)[0] == 408


async def test_a_connection_that_sends_nothing_is_closed_without_an_answer(
    serve: Factory,
) -> None:
    served = await serve(head_timeout=TIMEOUT_S)
    async with connect(served) as (reader, _):
        assert await until_closed(reader) == b""


async def test_a_kept_alive_connection_times_out_its_next_half_head(serve: Factory) -> None:
    served = await serve(head_timeout=TIMEOUT_S)
    async with connect(served) as (reader, writer):
        writer.write(b"GET /a HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        async with asyncio.timeout(GUARD_S):
            first = await reader.readuntil(b'{"ok": true}')
        assert first.startswith(b"HTTP/1.1 200 ")
        writer.write(b"GET /b HTTP/1.1\r\nHost")
        assert answer(await until_closed(reader))[0] == 408


async def test_a_body_that_stops_arriving_is_answered_408_and_the_app_sees_a_disconnect(
    serve: Factory,
) -> None:
    served = await serve(body_timeout=TIMEOUT_S)
    async with connect(served) as (reader, writer):
        writer.write(post_head(1000) + b"x" * 400)  # 600 bytes never come
        raw = await until_closed(reader)
    status, _, body = answer(raw)
    assert status == 408
    assert body["message"] == "No body bytes arrived for 0.5 s"
    assert served.outcomes == ["disconnect"]


async def test_a_body_that_keeps_arriving_may_take_longer_than_the_timeout(
    serve: Factory,
) -> None:
    served = await serve(body_timeout=2.0)
    async with connect(served) as (reader, writer):
        pieces = 60  # 60 pauses of 0.05 s: longer in all than the timeout, never idle that long
        writer.write(post_head(pieces * 10))
        for _ in range(pieces):
            writer.write(b"y" * 10)
            await writer.drain()
            await asyncio.sleep(0.05)
        async with asyncio.timeout(GUARD_S):
            raw = await reader.readuntil(b"}")
    assert answer(raw)[2] == {"ok": True, "size": 600}
    assert served.outcomes == ["read 600"]


async def test_time_the_server_holds_reading_back_is_not_the_clients(serve: Factory) -> None:
    # The app does not read for a while: once the server's buffer is full it stops reading
    # the socket, and the client, blocked, sends nothing. That is not the client's idleness.
    served = await serve(body_timeout=TIMEOUT_S)
    served.gate.clear()
    size = 4 * 1024 * 1024
    async with connect(served) as (reader, writer):
        writer.write(post_head(size))
        sending = asyncio.create_task(_send(writer, b"z" * size))
        await asyncio.sleep(TIMEOUT_S * 4)  # the app keeps the body waiting this long
        served.gate.set()
        async with asyncio.timeout(GUARD_S):
            await sending
            raw = await reader.readuntil(b"}")
    assert answer(raw)[2] == {"ok": True, "size": size}


async def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


async def test_connections_over_the_bound_are_refused_with_503(serve: Factory) -> None:
    served = await serve(max_connections=2, head_timeout=GUARD_S * 2)
    async with connect(served) as first, connect(served) as second:
        del first, second  # open and idle: they hold the two places
        async with connect(served) as (reader, writer):
            writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            raw = await until_closed(reader)
        status, headers, body = answer(raw)
        assert status == 503
        assert headers["retry-after"] == "1"
        assert "too many connections" in body["message"]
    # Closed ones free their places.
    async with connect(served) as (reader, writer):
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert answer(await until_closed(reader))[0] == 200


def test_the_default_bound_leaves_descriptors_for_files_and_the_rest() -> None:
    assert default_max_connections(1024) == 448
    assert default_max_connections(100) == 16


def test_serve_applies_the_head_timeout_setting(tmp_path: Path) -> None:
    env = server_env(
        tmp_path,
        f"sqlite:///{tmp_path / 'wschats.db'}",
        {"WSC_REQUEST_HEAD_TIMEOUT_SECONDS": "0.5"},
    )
    server = ServerProcess(env, tmp_path / "server.log")
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=GUARD_S) as sock:
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            raw = b""
            while chunk := sock.recv(65536):
                raw += chunk
        assert answer(raw)[0] == 408
        # serve raised its soft descriptor limit to the hard one.
        assert server.proc is not None
        limits = Path(f"/proc/{server.proc.pid}/limits").read_text()
        line = next(x for x in limits.splitlines() if x.startswith("Max open files"))
        soft, hard = line.split()[3:5]
        assert soft == hard
    finally:
        server.stop()
