"""Upload bodies that do not match their headers, and size limits (DECISIONS.md#files).

These go through the ASGI transport, which hands the application the body exactly as the test
wrote it, whatever `Content-Length` says: so the application's own check of the declared
length is what is tested here. What an HTTP server does with a lying length on the wire is in
test_real_server.py. The limits of this folder: attachments 2 MiB, room pictures 64 KiB.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from tests.conftest import Api, Users
from tests.files.support import Stored, image_bytes, upload_headers
from tests.support.rooms import new_group
from wschats.container import Container
from wschats.domain.model import Principal

MIB = 1024 * 1024


async def test_body_shorter_or_longer_than_declared(api: Api, users: Users, stored: Stored) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    data = b"x" * 5000
    for declared in (10_000, 4999, 0, 1):
        for path in (f"/rooms/{room['id']}/attachments", f"/rooms/{room['id']}/picture"):
            method = api.post if path.endswith("attachments") else api.put
            response = await method(
                path, owner, content=data, headers=upload_headers(length=declared)
            )
            assert response.status_code == 400, (path, declared)
            assert "than its Content-Length" in response.json()["message"]
    assert await stored.keys() == []
    attachments = await api.get(f"/rooms/{room['id']}/attachments", owner)
    assert attachments.json()["attachments"] == []


async def test_content_length_must_be_a_number(api: Api, users: Users, stored: Stored) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    for value in ("abc", "-5", "1e3", "", "99999999999999999999"):
        headers = upload_headers() | {"Content-Length": value}
        response = await api.post(
            f"/rooms/{room['id']}/attachments", owner, content=b"x", headers=headers
        )
        assert response.status_code == 400, value
    assert await stored.keys() == []


async def chunks(total: int, pulled: list[int], size: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        part = min(size, total - sent)
        pulled.append(part)
        sent += part
        yield b"z" * part


async def test_missing_content_length_is_400(api: Api, users: Users, stored: Stored) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    pulled: list[int] = []
    # A streamed body with no length is sent chunked: no Content-Length header at all.
    response = await api.post(
        f"/rooms/{room['id']}/attachments",
        owner,
        content=chunks(1000, pulled),
        headers=upload_headers(),
    )
    assert response.request.headers.get("content-length") is None
    assert response.status_code == 400
    assert "Content-Length" in response.json()["message"]
    assert await stored.keys() == []


async def test_attachment_over_the_limit_is_413_before_reading(
    api: Api, users: Users, stored: Stored
) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    pulled: list[int] = []
    size = 2 * MIB + 1
    response = await api.post(
        f"/rooms/{room['id']}/attachments",
        owner,
        content=chunks(size, pulled),
        headers=upload_headers(length=size),
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    # Refused from the header: at most the first chunk was pulled from the client.
    assert sum(pulled) <= 64 * 1024
    assert await stored.keys() == []

    # Exactly the limit is fine, and arrives whole.
    pulled.clear()
    response = await api.post(
        f"/rooms/{room['id']}/attachments",
        owner,
        content=chunks(2 * MIB, pulled),
        headers=upload_headers(length=2 * MIB),
    )
    assert response.status_code == 201
    assert await stored.file(response.json()["id"]) == b"z" * (2 * MIB)


async def test_an_oversized_body_under_a_small_declared_length_is_refused(
    api: Api, users: Users, stored: Stored
) -> None:
    """Declared under the limit, sent over it: refused while streaming, nothing kept."""
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    pulled: list[int] = []
    response = await api.post(
        f"/rooms/{room['id']}/attachments",
        owner,
        content=chunks(3 * MIB, pulled),
        headers=upload_headers(length=1000),
    )
    assert response.status_code == 400
    assert sum(pulled) < 3 * MIB  # it stopped reading
    assert await stored.keys() == []


async def test_picture_body_over_the_limit_is_400(api: Api, users: Users, stored: Stored) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    png = image_bytes()
    padded = png + b"\x00" * (64 * 1024)
    # Declared small, sent large: refused (400, as every picture size error), nothing stored.
    response = await api.put(
        f"/rooms/{room['id']}/picture",
        owner,
        content=padded,
        headers=upload_headers(length=len(png)),
    )
    assert response.status_code == 400
    assert await stored.keys() == []


async def test_failure_after_the_bytes_are_stored_removes_them(
    api: Api, users: Users, stored: Stored, container: Container
) -> None:
    """The room is deleted while its upload streams: the row cannot be recorded, so the bytes
    already stored are removed again."""
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())

    async def body_then_delete_room() -> AsyncIterator[bytes]:
        yield b"a" * 100_000
        await container.rooms.delete_room(
            Principal(user_id=owner.id, token=owner.token), uuid.UUID(room["id"])
        )
        yield b"b" * 100_000

    response = await api.post(
        f"/rooms/{room['id']}/attachments",
        member,
        content=body_then_delete_room(),
        headers=upload_headers(length=200_000),
    )
    assert response.status_code == 404
    assert await stored.keys() == []
