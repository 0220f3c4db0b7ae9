"""Uploads over a real socket to a real `wschats serve`: what HTTP/1.1 framing does with a
`Content-Length` that lies (the ASGI transport of the other tests cannot send one).

- Fewer bytes than declared and the client goes away: the server sees the disconnect and
  nothing is stored (no file, no temp file, no pending multipart upload, no row).
- More bytes than declared: on the wire the body ends where `Content-Length` says, so the
  declared bytes are the file (201) and the rest is read as the next request, which the HTTP
  server refuses (400) before closing the connection.
- No `Content-Length` (a chunked body): 400, nothing stored.
- A large body, which local storage takes straight off the socket (api/server/direct_body.py), is
  stored whole and the connection then carries the next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import User, Users
from tests.files.support import Stored, server_env_for
from wschats.config import Settings
from wschats.devtools.servers import ServerProcess
from wschats.domain.escapes import encode_text

READ_TIMEOUT_S = 15.0
SETTLE_TIMEOUT_S = 15.0


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(env=server_env_for(settings), log_path=tmp_path / "server.log")
    process.start(timeout=60)
    try:
        yield process
    finally:
        process.stop()


def request_head(user: User, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Cookie: ZM_AUTH_TOKEN={user.token}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def exchange(port: int, data: bytes, *, half_close: bool = False) -> bytes:
    """Send raw bytes, then read everything the server answers until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        if half_close:
            writer.write_eof()
        received = bytearray()
        async with asyncio.timeout(READ_TIMEOUT_S):
            while chunk := await reader.read(65536):
                received += chunk
        return bytes(received)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


def statuses(raw: bytes) -> list[int]:
    """The status of every response in `raw` (a body need not end with a line break)."""
    return [int(code) for code in re.findall(rb"HTTP/1\.1 ([0-9]{3}) ", raw)]


async def leftovers(settings: Settings, stored: Stored) -> list[str]:
    """Temp files of unfinished writes (local) or pending multipart uploads (S3)."""
    if stored.root is not None:
        return [
            name
            for _, _, names in os.walk(stored.root)
            for name in names
            if name.startswith(".tmp-")
        ]
    assert stored.client is not None and stored.bucket is not None
    listing = await stored.client.list_multipart_uploads(Bucket=stored.bucket)
    return [u["Key"] for u in listing.get("Uploads", [])]


async def settled_empty(settings: Settings, stored: Stored) -> tuple[list[str], list[str]]:
    """Wait (bounded) for the server to finish cleaning up; what is stored, what is left."""
    for _ in range(int(SETTLE_TIMEOUT_S / 0.1)):
        if not await stored.keys() and not await leftovers(settings, stored):
            break
        await asyncio.sleep(0.1)
    return await stored.keys(), await leftovers(settings, stored)


async def group_for(users: Users, server: ServerProcess) -> tuple[User, str]:
    owner, a, b = await users.many(3)
    cookies = {"ZM_AUTH_TOKEN": owner.token}
    async with httpx.AsyncClient(base_url=server.url, timeout=10, cookies=cookies) as client:
        response = await client.post(
            "/rooms",
            json={"name": "g", "type": "group", "membersIds": [str(a.id), str(b.id)]},
        )
    assert response.status_code == 201, response.text
    return owner, response.json()["id"]


def upload(declared: int | None, **extra: str) -> dict[str, str]:
    headers = {"fileName": encode_text("wire.bin"), "mimeType": "application/octet-stream"}
    if declared is not None:
        headers["Content-Length"] = str(declared)
    return headers | extra


async def test_short_body_then_disconnect_stores_nothing(
    server: ServerProcess, users: Users, settings: Settings, stored: Stored
) -> None:
    owner, room_id = await group_for(users, server)
    head = request_head(owner, f"/rooms/{room_id}/attachments", upload(1_500_000))
    answer = await exchange(server.port, head + b"a" * 1_000_000, half_close=True)
    assert 201 not in statuses(answer)
    assert await settled_empty(settings, stored) == ([], [])
    cookies = {"ZM_AUTH_TOKEN": owner.token}
    async with httpx.AsyncClient(base_url=server.url, timeout=10, cookies=cookies) as client:
        listing = await client.get(f"/rooms/{room_id}/attachments")
    assert listing.json()["attachments"] == []


async def test_long_body_is_cut_at_the_declared_length(
    server: ServerProcess, users: Users, stored: Stored
) -> None:
    owner, room_id = await group_for(users, server)
    head = request_head(owner, f"/rooms/{room_id}/attachments", upload(10))
    answer = await exchange(
        server.port, head + b"0123456789" + b"EXTRA BYTES NOT A REQUEST\r\n\r\n"
    )
    assert statuses(answer) == [201, 400]
    keys = await stored.keys()
    assert len(keys) == 1
    assert await stored.read(keys[0]) == b"0123456789"


async def test_chunked_body_without_length_is_400(
    server: ServerProcess, users: Users, settings: Settings, stored: Stored
) -> None:
    owner, room_id = await group_for(users, server)
    head = request_head(
        owner, f"/rooms/{room_id}/attachments", upload(None, **{"Transfer-Encoding": "chunked"})
    )
    body = b"5\r\nhello\r\n0\r\n\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(head + body)
        await writer.drain()
        async with asyncio.timeout(READ_TIMEOUT_S):
            status_line = await reader.readline()
    finally:
        writer.close()
    assert status_line.split()[1] == b"400"
    assert await settled_empty(settings, stored) == ([], [])


async def test_large_upload_then_a_request_on_the_same_connection(
    server: ServerProcess, users: Users, settings: Settings, stored: Stored
) -> None:
    owner, room_id = await group_for(users, server)
    data = os.urandom(1_900_000)  # under the tests' 2 MB limit, over the direct path's 1 MiB
    head = request_head(owner, f"/rooms/{room_id}/attachments", upload(len(data)))
    listing = (
        f"GET /rooms/{room_id}/attachments HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Cookie: ZM_AUTH_TOKEN={owner.token}\r\nConnection: close\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(head)
        for start in range(0, len(data), 128 * 1024):  # paced: most of it comes later
            writer.write(data[start : start + 128 * 1024])
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(listing)
        await writer.drain()
        async with asyncio.timeout(READ_TIMEOUT_S):
            answer = await reader.read()
    finally:
        writer.close()
    assert statuses(answer) == [201, 200]
    file_id = re.search(rb'"id": ?"([0-9a-f-]{36})"', answer)
    assert file_id is not None
    assert file_id.group(1) in answer.split(b"HTTP/1.1 200 ", 1)[1]  # listed
    (key,) = await stored.keys()
    assert await stored.read(key) == data
    assert await leftovers(settings, stored) == []
