"""Attachments: upload, info, download, delete, listing (behaviour.md#upload-attachment)."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid

from tests.conftest import Api, EventCapture, Users
from tests.files.support import (
    Stored,
    broken_storage,
    image_bytes,
    upload_attachment,
    upload_headers,
)
from tests.support.rooms import new_group, new_room, new_workspace
from wschats.bootstrap import Adapters
from wschats.domain.escapes import encode_text


async def test_upload_then_read_download_and_delete(api: Api, users: Users, stored: Stored) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    data = b"hello attachments\n" * 100

    response = await upload_attachment(
        api, member, room["id"], data, name="caffè ☕.txt", description=encode_text("a note")
    )
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    file_id = response.json()["id"]
    assert uuid.UUID(file_id)
    assert await stored.file(file_id) == data

    info = await api.get(f"/attachments/{file_id}", owner)
    assert info.status_code == 200
    body = info.json()
    assert body["name"] == "caffè ☕.txt"
    assert body["size"] == len(data)
    assert body["mimeType"] == "text/plain"
    assert body["userId"] == str(member.id)
    assert body["roomId"] == room["id"]
    assert body["createdAt"].endswith("Z")
    assert "area" not in body

    download = await api.get(f"/attachments/{file_id}/download", owner)
    assert download.status_code == 200
    assert download.content == data
    assert download.headers["content-type"] == "text/plain"
    assert download.headers["content-length"] == str(len(data))
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-security-policy"] == "sandbox"
    assert download.headers["etag"] == f'"{file_id}"'
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("inline; ")
    assert "filename*=UTF-8''caff%C3%A8%20%E2%98%95.txt" in disposition
    assert 'filename="caff_ _.txt"' in disposition

    deleted = await api.delete(f"/attachments/{file_id}", member)
    assert deleted.status_code == 204
    assert (await api.get(f"/attachments/{file_id}", owner)).status_code == 404
    assert (await api.get(f"/attachments/{file_id}/download", owner)).status_code == 404
    assert await stored.file(file_id) is None
    assert await stored.keys() == []


async def test_upload_sends_no_event(api: Api, users: Users, events: EventCapture) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    await events.watch(owner, member)
    response = await upload_attachment(api, member, room["id"], b"x")
    assert response.status_code == 201
    assert await events.received(owner) == []
    assert await events.received(member) == []


async def test_area_is_stored_and_returned(api: Api, users: Users) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    response = await upload_attachment(api, owner, room["id"], b"img", area="15x20")
    assert response.status_code == 201
    info = (await api.get(f"/attachments/{response.json()['id']}", member)).json()
    assert info["area"] == "15x20"
    # An empty area means no area.
    response = await upload_attachment(api, owner, room["id"], b"img", area="")
    assert response.status_code == 201
    assert "area" not in (await api.get(f"/attachments/{response.json()['id']}", member)).json()


async def test_bad_area_is_400(api: Api, users: Users, stored: Stored) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    for area in ("15X20", "ab", "12", "x", "100x", "1xx2", " ", "15x20 ", "-1x5", "1234567x1"):
        response = await upload_attachment(api, owner, room["id"], b"data", area=area)
        assert response.status_code == 400, area
    assert await stored.keys() == []


async def test_empty_mime_type_is_stored_as_octet_stream(api: Api, users: Users) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    response = await upload_attachment(api, owner, room["id"], b"\x00\x01", mime_type="")
    assert response.status_code == 201
    file_id = response.json()["id"]
    info = (await api.get(f"/attachments/{file_id}", owner)).json()
    assert info["mimeType"] == "application/octet-stream"
    download = await api.get(f"/attachments/{file_id}/download", owner)
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith("attachment; ")


async def test_declared_mime_type_is_kept_and_unsafe_types_are_not_inline(
    api: Api, users: Users
) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    page = b"<html><script>alert(1)</script></html>"
    for mime_type, inline in (
        ("text/html", False),
        ("image/svg+xml", False),
        ("application/pdf", True),
        ("video/mp4", True),
        ("image/png", True),
        ("text/plain; charset=utf-8", True),
    ):
        response = await upload_attachment(
            api, owner, room["id"], page, name="page.bin", mime_type=mime_type
        )
        assert response.status_code == 201
        download = await api.get(f"/attachments/{response.json()['id']}/download", member)
        assert download.headers["content-type"] == mime_type
        assert download.headers["content-security-policy"] == "sandbox"
        assert download.headers["content-disposition"].startswith(
            "inline; " if inline else "attachment; "
        ), mime_type
        assert download.content == page


async def test_malformed_mime_type_is_400(api: Api, users: Users) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    for mime_type in ("text", "text/", "a b/c", "text/plain;", "x" * 300 + "/y"):
        response = await upload_attachment(api, owner, room["id"], b"x", mime_type=mime_type)
        assert response.status_code == 400, mime_type


async def test_file_name_and_description_escapes(api: Api, users: Users, stored: Stored) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    path = f"/rooms/{room['id']}/attachments"
    # Plain names without escapes are taken as they are (DECISIONS.md#files).
    plain = await api.post(path, owner, content=b"x", headers=upload_headers("a.txt", encode=False))
    assert plain.status_code == 201
    info = (await api.get(f"/attachments/{plain.json()['id']}", owner)).json()
    assert info["name"] == "a.txt"
    # Emoji travel as surrogate pairs and come back whole.
    emoji = await api.post(path, owner, content=b"x", headers=upload_headers("🎉.txt"))
    assert emoji.status_code == 201
    assert (await api.get(f"/attachments/{emoji.json()['id']}", owner)).json()["name"] == "🎉.txt"
    before = await stored.keys()
    for headers in (
        upload_headers("\\u12", encode=False),
        upload_headers("\\uZZZZ.txt", encode=False),
        upload_headers("\\ud83d.txt", encode=False),  # an unpaired surrogate
        upload_headers("a.txt", description="\\u00"),
        upload_headers("x" * 257),
    ):
        response = await api.post(path, owner, content=b"x", headers=headers)
        assert response.status_code == 400, headers
    assert await stored.keys() == before


async def test_missing_headers_are_400_even_without_credentials(api: Api, users: Users) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    path = f"/rooms/{room['id']}/attachments"
    for missing in ("fileName", "mimeType"):
        headers = upload_headers("a.txt", "text/plain")
        del headers[missing]
        assert (await api.post(path, owner, content=b"x", headers=headers)).status_code == 400
        assert (await api.post(path, None, content=b"x", headers=headers)).status_code == 400
    # With every header but no credentials: 401.
    assert (await api.post(path, None, content=b"x", headers=upload_headers())).status_code == 401


async def test_access_rules(api: Api, users: Users, stored: Stored) -> None:
    owner, member, stranger = await users.many(3)
    room = await new_group(api, owner, member, await users.new())
    assert (await upload_attachment(api, stranger, room["id"], b"x")).status_code == 403
    missing_room = str(uuid.uuid4())
    assert (await upload_attachment(api, owner, missing_room, b"x")).status_code == 404
    assert (await api.post("/rooms/not-a-uuid/attachments", owner, content=b"x")).status_code in (
        400,
        404,
    )
    assert await stored.keys() == []

    file_id = (await upload_attachment(api, owner, room["id"], b"x")).json()["id"]
    assert (await api.get(f"/attachments/{file_id}", stranger)).status_code == 403
    assert (await api.get(f"/attachments/{file_id}/download", stranger)).status_code == 403
    assert (await api.delete(f"/attachments/{file_id}", stranger)).status_code == 403
    assert (await api.get(f"/attachments/{uuid.uuid4()}", owner)).status_code == 404
    assert (await api.get("/attachments/not_a_uuid", owner)).status_code == 404
    assert (await api.get(f"/attachments/{file_id}", None)).status_code == 401


async def test_delete_needs_uploader_or_owner(api: Api, users: Users, stored: Stored) -> None:
    owner, uploader, other = await users.many(3)
    room = await new_group(api, owner, uploader, other)
    file_id = (await upload_attachment(api, uploader, room["id"], b"mine")).json()["id"]
    assert (await api.delete(f"/attachments/{file_id}", other)).status_code == 403
    assert await stored.file(file_id) == b"mine"
    assert (await api.delete(f"/attachments/{file_id}", owner)).status_code == 204
    assert await stored.file(file_id) is None
    assert (await api.delete(f"/attachments/{file_id}", owner)).status_code == 404


async def test_workspaces_and_channels_have_no_attachments(
    api: Api, users: Users, stored: Stored
) -> None:
    owner, a, b = await users.many(3)
    workspace = await new_workspace(api, owner, a, b)
    assert (await upload_attachment(api, owner, workspace["id"], b"x")).status_code == 400
    channel = await api.post(
        "/rooms", owner, json_body={"type": "channel", "name": "c", "parentId": workspace["id"]}
    )
    assert channel.status_code == 201
    assert (await upload_attachment(api, owner, channel.json()["id"], b"x")).status_code == 400
    for room_type, members in (("one_to_one", (a,)), ("temporary", ())):
        room_id = await new_room(api, owner, room_type, members)
        assert (await upload_attachment(api, owner, room_id, b"x")).status_code == 201
    assert len(await stored.keys()) == 2


async def test_empty_file(api: Api, users: Users, stored: Stored) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    response = await upload_attachment(api, owner, room["id"], b"")
    assert response.status_code == 201
    file_id = response.json()["id"]
    assert await stored.file(file_id) == b""
    download = await api.get(f"/attachments/{file_id}/download", member)
    assert download.status_code == 200
    assert download.content == b""
    assert download.headers["content-length"] == "0"


async def test_attachments_of_a_deleted_room_are_removed(
    api: Api, users: Users, stored: Stored
) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    ids = [
        (await upload_attachment(api, member, room["id"], bytes([i]) * 10)).json()["id"]
        for i in range(3)
    ]
    assert len(await stored.keys()) == 3
    assert (await api.delete(f"/rooms/{room['id']}", owner)).status_code == 204
    for file_id in ids:
        assert (await api.get(f"/attachments/{file_id}", owner)).status_code == 404
    assert await stored.keys() == []


# ------------------------------------------------------------------------ listing


async def test_listing_pages_by_newest_first(api: Api, users: Users) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    uploaded = []
    for i in range(7):
        response = await upload_attachment(api, owner, room["id"], bytes([i]), name=f"f{i}")
        uploaded.append(response.json()["id"])
    path = f"/rooms/{room['id']}/attachments"

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"itemsNumber": "3", **({"filter": cursor} if cursor else {})}
        response = await api.get(path, member, params=params)
        assert response.status_code == 200
        body = response.json()
        seen += [a["id"] for a in body["attachments"]]
        pages += 1
        cursor = body.get("filter")
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == 7 and set(seen) == set(uploaded)
    listed = (await api.get(path, member, params={"itemsNumber": "100"})).json()["attachments"]
    keys = [(a["createdAt"], a["id"]) for a in listed]
    assert keys == sorted(keys, reverse=True)
    assert [a["id"] for a in listed] == seen

    default = (await api.get(path, member)).json()
    assert len(default["attachments"]) == 7 and "filter" not in default


async def test_listing_does_not_skip_items_sharing_a_timestamp(
    api: Api, users: Users, adapters: Adapters
) -> None:
    """The original's predicate skipped these (behaviour.md#list-attachments); ours must not."""
    from wschats.domain.model import FileMetadata, FileType
    from wschats.domain.time import utc_now

    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    now = utc_now()
    ids = sorted(uuid.uuid4() for _ in range(5))
    async with adapters.database.unit_of_work(write=True) as uow:
        for file_id in ids:
            await uow.files.add(
                FileMetadata(
                    id=file_id,
                    type=FileType.ATTACHMENT,
                    name="same-time",
                    size=1,
                    mime_type="text/plain",
                    user_id=owner.id,
                    room_id=uuid.UUID(room["id"]),
                    created_at=now,
                    updated_at=now,
                )
            )
        await uow.commit()
    seen: list[str] = []
    cursor = None
    while True:
        params = {"itemsNumber": "2", **({"filter": cursor} if cursor else {})}
        body = (await api.get(f"/rooms/{room['id']}/attachments", member, params=params)).json()
        seen += [a["id"] for a in body["attachments"]]
        cursor = body.get("filter")
        if cursor is None:
            break
    assert len(seen) == 5 and set(seen) == {str(i) for i in ids}


async def test_listing_bad_parameters(api: Api, users: Users) -> None:
    owner, member, stranger = await users.many(3)
    room = await new_group(api, owner, member, await users.new())
    path = f"/rooms/{room['id']}/attachments"
    for items in ("0", "-1", "101", "abc"):
        response = await api.get(path, owner, params={"itemsNumber": items})
        assert response.status_code == 400, items
    assert (await api.get(path, owner, params={"itemsNumber": "100"})).status_code == 200
    not_json = base64.b64encode(b"not json").decode()
    wrong_shape = base64.b64encode(json.dumps({"id": "x", "createdAt": "y"}).encode()).decode()
    list_json = base64.b64encode(b"[]").decode()
    for bad in ("%%%", "abc", not_json, wrong_shape, list_json):
        response = await api.get(path, owner, params={"filter": bad})
        assert response.status_code == 400, bad
    # Dates that leave the calendar once in UTC, and numbers past the conversion limit: 400.
    for items in ("9" * 5000, "1" + "0" * 30):
        response = await api.get(path, owner, params={"itemsNumber": items})
        assert response.status_code == 400, items
    for created_at in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"):
        cursor = {"id": str(uuid.uuid4()), "createdAt": created_at}
        out_of_range = base64.b64encode(json.dumps(cursor).encode()).decode()
        response = await api.get(path, owner, params={"filter": out_of_range})
        assert response.status_code == 400, created_at
    assert (await api.get(path, stranger)).status_code == 403
    assert (await api.get(f"/rooms/{uuid.uuid4()}/attachments", owner)).status_code == 404


async def test_cursor_with_plus_sent_unencoded_still_works(api: Api, users: Users) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    for i in range(3):
        await upload_attachment(api, owner, room["id"], bytes([i]))
    path = f"/rooms/{room['id']}/attachments"
    first = (await api.get(path, owner, params={"itemsNumber": "1"})).json()
    cursor = first["filter"]
    # A client that forgot to URL-encode the cursor: any `+` arrives as a space.
    raw = f"{path}?itemsNumber=5&filter={cursor.replace('+', '%20')}"
    second = await api.get(raw, owner)
    assert second.status_code == 200
    assert len(second.json()["attachments"]) == 2


# ------------------------------------------------------------------------ ranges, caching


async def test_range_requests(api: Api, users: Users) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    data = bytes(range(256)) * 40  # 10240 bytes
    file_id = (await upload_attachment(api, owner, room["id"], data)).json()["id"]
    path = f"/attachments/{file_id}/download"

    for header, first, last in (
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, len(data) - 1),
        ("bytes=-10", len(data) - 10, len(data) - 1),
        ("bytes=10000-99999", 10000, len(data) - 1),
    ):
        response = await api.get(path, member, headers={"Range": header})
        assert response.status_code == 206, header
        assert response.content == data[first : last + 1]
        assert response.headers["content-range"] == f"bytes {first}-{last}/{len(data)}"
        assert response.headers["content-length"] == str(last - first + 1)
        assert response.headers["content-type"] == "text/plain"

    unsatisfiable = await api.get(path, member, headers={"Range": "bytes=10240-"})
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["content-range"] == f"bytes */{len(data)}"

    # Malformed or multiple ranges: the whole file (RFC 9110 lets a server ignore Range).
    for header in ("bytes=5-1", "lines=1-2", "bytes=0-1,5-6"):
        response = await api.get(path, member, headers={"Range": header})
        assert response.status_code == 200, header
        assert response.content == data

    # If-Range with another validator: the whole file.
    stale = await api.get(path, member, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale.status_code == 200 and stale.content == data
    fresh = await api.get(path, member, headers={"Range": "bytes=0-9", "If-Range": f'"{file_id}"'})
    assert fresh.status_code == 206 and fresh.content == data[:10]


async def test_range_positions_of_any_length_keep_their_meaning(api: Api, users: Users) -> None:
    # 5,000 digits exceed Python's integer conversion limit: this was a 500.
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    data = b"0123456789" * 10
    file_id = (await upload_attachment(api, owner, room["id"], data)).json()["id"]
    path = f"/attachments/{file_id}/download"
    huge = "9" * 5000

    for header in (f"bytes=-{huge}", f"bytes=0-{huge}", f"bytes=-000{huge}"):
        whole = await api.get(path, member, headers={"Range": header})
        assert whole.status_code == 206, header  # a suffix or end past the file: all of it
        assert whole.content == data
        assert whole.headers["content-range"] == f"bytes 0-99/{len(data)}"
    for header in (f"bytes={huge}-", f"bytes={huge}-{huge}"):
        past = await api.get(path, member, headers={"Range": header})
        assert past.status_code == 416, header
        assert past.headers["content-range"] == f"bytes */{len(data)}"
    padded = await api.get(path, member, headers={"Range": f"bytes={'0' * 5000}90-"})
    assert padded.status_code == 206 and padded.content == data[90:]


async def test_etag_revalidation(api: Api, users: Users) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    file_id = (await upload_attachment(api, owner, room["id"], b"cached")).json()["id"]
    path = f"/attachments/{file_id}/download"
    first = await api.get(path, member)
    etag = first.headers["etag"]
    again = await api.get(path, member, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = await api.get(path, member, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == b"cached"


async def test_missing_bytes_are_a_storage_failure(api: Api, users: Users, stored: Stored) -> None:
    """A row whose bytes are gone from storage: 424 (a failed dependency), not a broken 200."""
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    file_id = (await upload_attachment(api, owner, room["id"], b"soon gone")).json()["id"]
    await stored.clear()
    response = await api.get(f"/attachments/{file_id}/download", member)
    assert response.status_code == 424
    assert response.headers["content-type"] == "application/json"


async def test_concurrent_uploads_each_land_whole(api: Api, users: Users, stored: Stored) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    payloads = [bytes([i]) * (1000 + i * 517) for i in range(8)]
    responses = await asyncio.gather(
        *(upload_attachment(api, owner, room["id"], data) for data in payloads)
    )
    assert [r.status_code for r in responses] == [201] * 8
    for response, data in zip(responses, payloads, strict=True):
        assert await stored.file(response.json()["id"]) == data
    assert len(await stored.keys()) == 8


async def test_storage_failures_are_424_and_leave_nothing(
    api: Api, users: Users, stored: Stored
) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    kept = (await upload_attachment(api, owner, room["id"], b"kept")).json()["id"]
    async with broken_storage(stored):
        upload = await upload_attachment(api, owner, room["id"], b"lost")
        assert upload.status_code == 424
        assert upload.headers["content-type"] == "application/json"
        assert (await api.get(f"/attachments/{kept}/download", member)).status_code == 424
        picture = await api.put(
            f"/rooms/{room['id']}/picture",
            owner,
            content=image_bytes(),
            headers=upload_headers("p.png", "image/png"),
        )
        assert picture.status_code == 424
    listed = (await api.get(f"/rooms/{room['id']}/attachments", owner)).json()["attachments"]
    assert [a["id"] for a in listed] == [kept]
    assert "pictureUpdatedAt" not in (await api.get(f"/rooms/{room['id']}", owner)).json()
    assert await stored.keys() == [f"files/{kept}"]
    assert (await api.get(f"/attachments/{kept}/download", member)).content == b"kept"
