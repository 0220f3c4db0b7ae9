"""Uploads as a newcomer sends them: a raw UTF-8 `fileName`, a multipart form, a missing header.

The web client `\\uXXXX`-escapes the name; curl users type it as it is, and HTTP servers hand
header bytes over as Latin-1 (DECISIONS.md#files). A mistaken upload is told how to upload, and
the request log still names the caller.
"""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.conftest import Api, User, Users
from tests.contract import validate_http_response
from tests.files.support import Stored, upload_headers
from tests.support.rooms import new_group
from wschats.api.server.observability import REQUEST_LOGGER


async def post_raw(api: Api, user: User, path: str, headers: dict[str, bytes]) -> httpx.Response:
    """A POST whose header values are sent as the exact bytes given."""
    api.client.cookies.clear()
    response = await api.client.post(
        path,
        content=b"some text",
        headers={
            b"Cookie": f"ZM_AUTH_TOKEN={user.token}".encode(),
            **{name.encode(): value for name, value in headers.items()},
        },
    )
    validate_http_response(response)
    return response


async def test_a_raw_utf8_file_name_and_description_are_read_as_utf8(
    api: Api, users: Users
) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    path = f"/rooms/{room['id']}/attachments"

    response = await post_raw(
        api,
        owner,
        path,
        {
            "fileName": "résumé ☕.txt".encode(),
            "mimeType": b"text/plain",
            "description": "voilà".encode(),
        },
    )

    assert response.status_code == 201
    info = (await api.get(f"/attachments/{response.json()['id']}", owner)).json()
    assert info["name"] == "résumé ☕.txt"
    download = await api.get(f"/attachments/{response.json()['id']}/download", owner)
    assert (
        "filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%98%95.txt"
        in (download.headers["content-disposition"])
    )


async def test_a_latin1_file_name_that_is_not_utf8_is_kept_as_sent(api: Api, users: Users) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    path = f"/rooms/{room['id']}/attachments"

    response = await post_raw(
        api, owner, path, {"fileName": "café.txt".encode("latin-1"), "mimeType": b"text/plain"}
    )

    assert response.status_code == 201
    info = (await api.get(f"/attachments/{response.json()['id']}", owner)).json()
    assert info["name"] == "café.txt"


async def test_missing_headers_say_how_to_upload(api: Api, users: Users, stored: Stored) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    headers = upload_headers("a.txt", "text/plain")
    del headers["fileName"]

    response = await api.post(
        f"/rooms/{room['id']}/attachments", owner, content=b"x", headers=headers
    )

    assert response.status_code == 400
    message = response.json()["message"]
    assert "Missing header(s): fileName" in message
    assert "request body" in message and "mimeType" in message
    assert await stored.keys() == []


async def test_a_multipart_upload_is_told_to_send_the_raw_body(
    api: Api, users: Users, stored: Stored
) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    path = f"/rooms/{room['id']}/attachments"

    # As `curl -F file=@notes.txt` sends it, with and without the headers.
    for headers in ({}, upload_headers("notes.txt", "text/plain")):
        response = await api.post(
            path, owner, files={"file": ("notes.txt", b"hello")}, headers=headers
        )
        assert response.status_code == 400
        message = response.json()["message"]
        assert "multipart/form-data" in message
        assert "request body" in message
    assert await stored.keys() == []
    listing = await api.get(f"/rooms/{room['id']}/attachments", owner)
    assert listing.json()["attachments"] == []


async def test_a_refused_upload_is_logged_with_its_caller(
    api: Api, users: Users, caplog: pytest.LogCaptureFixture
) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())

    with caplog.at_level(logging.INFO, logger=REQUEST_LOGGER):
        response = await api.post(
            f"/rooms/{room['id']}/attachments", owner, files={"file": ("a.txt", b"hello")}
        )

    assert response.status_code == 400
    (line,) = [r for r in caplog.records if r.name == REQUEST_LOGGER]
    fields = line.__dict__["fields"]  # set through `extra`: unknown to the type checker
    assert (fields["status"], fields["user"]) == (400, str(owner.id))


async def test_a_refused_upload_with_a_bad_token_is_401(api: Api, users: Users) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    headers = upload_headers("a.txt", "text/plain")
    del headers["mimeType"]
    headers["Cookie"] = "ZM_AUTH_TOKEN=not-a-token"

    response = await api.post(
        f"/rooms/{room['id']}/attachments", None, content=b"x", headers=headers
    )

    # The original's credential filter ran before any header was read.
    assert response.status_code == 401
