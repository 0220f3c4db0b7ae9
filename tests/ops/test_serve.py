"""`wschats serve` as operators run it: JSON logs, metrics, and a bounded request head."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.ops.conftest import sample
from wschats.devtools.servers import ServerProcess, create_user, server_env

DEADLINE_S = 20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("serve")
    process = ServerProcess(
        env={
            "WSC_DATA_DIR": str(data),
            "WSC_DATABASE_URL": f"sqlite:///{data / 'wschats.db'}",
            "WSC_BASE_PATH": "/services/chats",
            "WSC_METRICS": "true",
            "WSC_LOG_FORMAT": "json",
            "WSC_LOG_LEVEL": "info",
            "WSC_MAX_HEADER_KB": "16",
        },
        log_path=data / "server.log",
    )
    process.start()
    yield process
    process.stop()


def log_entries(path: Path) -> list[dict[str, Any]]:
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"a log line is not JSON: {line!r}")
    return entries


def raw_request(port: int, head: bytes, pieces: int = 1) -> bytes:
    """Send a request head as is (in `pieces` writes, a moment apart) and return the start of
    the answer ("" if the server just closed the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S) as sock:
        try:
            size = -(-len(head) // pieces)
            for start in range(0, len(head), size):
                sock.sendall(head[start : start + size])
                if pieces > 1:
                    time.sleep(0.002)  # separate reads on the server's side
            return sock.recv(4096)
        except (ConnectionResetError, BrokenPipeError):
            return b""


def head_with(header: bytes, end: bool = True) -> bytes:
    """A request head for /health/live carrying `header` (one line, without its CRLF)."""
    head = b"GET /health/live HTTP/1.1\r\nHost: x\r\n" + header
    return head + b"\r\n\r\n" if end else head


def answers(port: int, data: bytes, expected: int) -> list[bytes]:
    """Send `data` at once and read until `expected` status lines came (or the server closed)."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S) as sock:
        sock.sendall(data)
        while received.count(b"HTTP/1.1 ") < expected:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    return [line for line in received.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]


def test_an_oversized_request_head_is_refused_and_the_server_keeps_serving(
    server: ServerProcess,
) -> None:
    answer = raw_request(server.port, head_with(b"X-Big: " + b"a" * 1_000_000))
    assert answer.startswith(b"HTTP/1.1 431 "), answer
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert "16 KiB" in body["message"]

    # A large but reasonable head (a few cookies) is fine.
    normal = head_with(b"Cookie: " + b"c" * 8000)
    assert raw_request(server.port, normal).startswith(b"HTTP/1.1 204")
    assert httpx.get(server.url + "/health/live", timeout=DEADLINE_S).status_code == 204


def test_a_head_over_the_limit_is_refused_even_when_it_arrives_in_one_read(
    server: ServerProcess,
) -> None:
    # 20 KB over a 16 KiB limit: small enough to be read at once, parsed whole.
    answer = raw_request(server.port, head_with(b"X-Big: " + b"a" * 20_000))
    assert answer.startswith(b"HTTP/1.1 431 "), answer
    assert answer.count(b"HTTP/1.1 ") == 1  # no second answer from uvicorn
    # Many headers, each small, add up the same way.
    many = b"\r\n".join(b"X-H%d: %s" % (i, b"v" * 100) for i in range(200))
    assert raw_request(server.port, head_with(many)).startswith(b"HTTP/1.1 431 ")
    assert httpx.get(server.url + "/health/live", timeout=DEADLINE_S).status_code == 204


def test_a_head_sent_in_small_pieces_is_bounded_by_its_whole_size(server: ServerProcess) -> None:
    # 33 writes of 500 bytes, each read apart: only their sum passes the 16 KiB limit, and
    # the last write does, so nothing is sent after the server closes.
    head = head_with(b"X-Big: ", end=False)
    head += b"a" * (16_500 - len(head))
    assert raw_request(server.port, head, pieces=33).startswith(b"HTTP/1.1 431 ")


def test_a_pipelined_head_behind_a_body_is_not_counted_with_it(server: ServerProcess) -> None:
    # A 300 KB body and, in the same writes, a second request whose head is just under the
    # limit: the reads that carry both must not count the body as head.
    body = b"b" * 300_000
    first = head_with(b"Content-Length: %d" % len(body))
    second = head_with(b"Cookie: " + b"c" * 15_000)
    statuses = answers(server.port, first + body + second, expected=2)
    assert [status[:12] for status in statuses] == [b"HTTP/1.1 204", b"HTTP/1.1 204"]


def test_the_h11_parser_bounds_the_head_too(tmp_path: Path) -> None:
    extra = {"WSC_HTTP_PARSER": "h11", "WSC_MAX_HEADER_KB": "16"}
    env = server_env(tmp_path, f"sqlite:///{tmp_path / 'wschats.db'}", extra)
    process = ServerProcess(env=env, log_path=tmp_path / "server.log")
    process.start()
    try:
        # h11 bounds only what stays incomplete across reads: the head must span several.
        big = head_with(b"X-Big: " + b"a" * 1_000_000)
        assert raw_request(process.port, big).startswith(b"HTTP/1.1 400 ")
        normal = head_with(b"Cookie: " + b"c" * 8000)
        assert raw_request(process.port, normal).startswith(b"HTTP/1.1 204")
    finally:
        process.stop()


def test_the_server_writes_one_json_line_per_request_and_no_access_log_of_its_own(
    server: ServerProcess,
) -> None:
    response = httpx.get(
        server.url + "/services/chats/rooms/5b7d3c58-0000-4000-8000-000000000000",
        timeout=DEADLINE_S,
    )
    assert response.status_code == 401
    trace = response.json()["traceId"]
    lines: list[dict[str, Any]] = []
    with httpx.Client() as client:
        for _ in range(DEADLINE_S * 10):  # the line is written as the response completes
            lines = [e for e in log_entries(server.log_path) if e.get("traceId") == trace]
            if lines:
                break
            client.get(server.url + "/health/live")
    (line,) = lines
    assert line["logger"] == "wschats.requests"
    assert (line["method"], line["route"], line["status"]) == ("GET", "/rooms/{roomId}", 401)
    assert line["user"] is None
    assert not any(e["logger"] == "uvicorn.access" for e in log_entries(server.log_path))
    assert any(e["logger"] == "uvicorn.error" for e in log_entries(server.log_path))


async def test_open_websockets_are_counted(server: ServerProcess) -> None:
    _, token = await create_user(f"sqlite:///{server.env['WSC_DATA_DIR']}/wschats.db", "ws")

    async def connections() -> float | None:
        async with httpx.AsyncClient() as client:
            return sample(
                (await client.get(server.url + "/metrics")).text, "wschats_websocket_connections"
            )

    async def until(expected: float) -> None:
        for _ in range(DEADLINE_S * 20):  # a closed socket is counted once the server sees it
            if await connections() == expected:
                return
            await asyncio.sleep(0.05)
        pytest.fail(f"websocket connections never became {expected}")

    assert await connections() == 0
    url = server.ws_url + "/services/chats/events"
    async with connect(url, additional_headers={"Cookie": f"ZM_AUTH_TOKEN={token}"}) as ws:
        assert json.loads(await ws.recv())["type"] == "websocketConnected"
        await until(1)
        async with connect(url, additional_headers={"Cookie": f"ZM_AUTH_TOKEN={token}"}):
            await until(2)
        await until(1)
    await until(0)


def test_a_refused_pipelined_head_is_answered_after_the_request_before_it(
    server: ServerProcess,
) -> None:
    # The 431 belongs to the second request: the first one's answer must come first.
    body = b"b" * 100_000
    first = head_with(b"Content-Length: %d" % len(body))
    second = head_with(b"X-Big: " + b"a" * 20_000)
    statuses = answers(server.port, first + body + second, expected=2)
    assert [status[:12] for status in statuses] == [b"HTTP/1.1 204", b"HTTP/1.1 431"]
