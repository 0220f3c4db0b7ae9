"""Room and user pictures (behaviour.md#set-room-picture, ...; DECISIONS.md#files).

The settings of this folder cap room pictures at 64 KiB and user pictures at 32 KiB.
"""

from __future__ import annotations

import io
import uuid
from typing import Any

from PIL import Image

from tests.conftest import Api, EventCapture, User, Users
from tests.files.support import Stored, decoded, image_bytes, upload_headers
from tests.support.rooms import new_group, new_room


async def put_room_picture(
    api: Api, user: User | None, room_id: str, data: bytes, **headers: Any
) -> Any:
    return await api.put(
        f"/rooms/{room_id}/picture",
        user,
        content=data,
        headers=upload_headers(**({"name": "room.png", "mime_type": "image/png"} | headers)),
    )


async def put_user_picture(
    api: Api, user: User | None, user_id: uuid.UUID | str, data: bytes, **headers: Any
) -> Any:
    return await api.put(
        f"/users/{user_id}/picture",
        user,
        content=data,
        headers=upload_headers(**({"name": "me.png", "mime_type": "image/png"} | headers)),
    )


# ------------------------------------------------------------------------ room pictures


async def test_room_picture_set_read_replace_delete(
    api: Api, users: Users, events: EventCapture, stored: Stored
) -> None:
    owner, member, other = await users.many(3)
    room = await new_group(api, owner, member, other)
    await events.watch(owner, member)
    png = image_bytes("PNG", (50, 40))

    assert (await put_room_picture(api, owner, room["id"], png, name="ròom.png")).status_code == 204
    fetched = await api.get(f"/rooms/{room['id']}", member)
    picture_at = fetched.json()["pictureUpdatedAt"]
    assert fetched.json()["updatedAt"] == picture_at
    for person in (owner, member):
        got = [e for e in await events.received(person) if e["type"] == "ROOM_PICTURE_CHANGED"]
        assert got == [
            {
                "type": "ROOM_PICTURE_CHANGED",
                "sentDate": got[0]["sentDate"],
                "roomId": room["id"],
                "updatedAt": picture_at,
            }
        ]

    response = await api.get(f"/rooms/{room['id']}/picture?{picture_at}", member)
    assert response.status_code == 200
    # Stored re-encoded (test_picture_normalisation.py): the same picture, wschats's bytes.
    assert decoded(response.content) == ("PNG", (50, 40))
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-length"] == str(len(response.content))
    assert response.headers["cache-control"].startswith("private, max-age=")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "sandbox"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("inline; ") and "filename*=UTF-8''r%C3%B2om.png" in disposition
    first_etag = response.headers["etag"]
    keys = await stored.keys()
    assert len(keys) == 1 and await stored.read(keys[0]) == response.content

    # A new picture replaces the old one, bytes included, under a new id (a new ETag).
    jpeg = image_bytes("JPEG", (30, 30), (10, 200, 10))
    assert (
        await put_room_picture(api, owner, room["id"], jpeg, mime_type="image/jpeg")
    ).status_code == 204
    response = await api.get(f"/rooms/{room['id']}/picture", member)
    assert decoded(response.content) == ("JPEG", (30, 30))
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["etag"] != first_etag
    keys = await stored.keys()
    assert len(keys) == 1 and await stored.read(keys[0]) == response.content
    assert (
        await api.get(
            f"/rooms/{room['id']}/picture",
            member,
            headers={"If-None-Match": response.headers["etag"]},
        )
    ).status_code == 304

    assert (await api.delete(f"/rooms/{room['id']}/picture", owner)).status_code == 204
    assert "pictureUpdatedAt" not in (await api.get(f"/rooms/{room['id']}", member)).json()
    assert (await api.get(f"/rooms/{room['id']}/picture", member)).status_code == 404
    assert await stored.keys() == []
    deleted = [e for e in await events.received(member) if e["type"] == "ROOM_PICTURE_DELETED"]
    assert [e["roomId"] for e in deleted] == [room["id"]]
    assert (await api.delete(f"/rooms/{room['id']}/picture", owner)).status_code == 404


async def test_stored_type_is_the_one_the_bytes_show(api: Api, users: Users) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    jpeg = image_bytes("JPEG", (20, 20))
    assert (
        await put_room_picture(api, owner, room["id"], jpeg, mime_type="image/png")
    ).status_code == 204
    response = await api.get(f"/rooms/{room['id']}/picture", owner)
    assert response.headers["content-type"] == "image/jpeg"
    assert decoded(response.content) == ("JPEG", (20, 20))
    # A GIF is stored as PNG (test_picture_normalisation.py).
    gif = image_bytes("GIF", (20, 20))
    assert (
        await put_room_picture(api, owner, room["id"], gif, mime_type="image/gif")
    ).status_code == 204
    response = await api.get(f"/rooms/{room['id']}/picture", owner)
    assert response.headers["content-type"] == "image/png"
    assert decoded(response.content) == ("PNG", (20, 20))
    webp = image_bytes("WEBP", (16, 12))
    assert (
        await put_room_picture(api, owner, room["id"], webp, mime_type="image/x-anything")
    ).status_code == 204
    response = await api.get(f"/rooms/{room['id']}/picture", owner)
    assert response.headers["content-type"] == "image/webp"


async def test_room_picture_rules(api: Api, users: Users, stored: Stored) -> None:
    owner, member, stranger = await users.many(3)
    room = await new_group(api, owner, member, await users.new())
    png = image_bytes()
    assert (await put_room_picture(api, member, room["id"], png)).status_code == 403
    assert (await put_room_picture(api, stranger, room["id"], png)).status_code == 403
    assert (await put_room_picture(api, owner, str(uuid.uuid4()), png)).status_code == 404
    assert (await put_room_picture(api, None, room["id"], png)).status_code == 401
    for room_type, members in (
        ("one_to_one", (member,)),
        ("temporary", ()),
        ("workspace", (member, stranger)),
    ):
        other = await new_room(api, owner, room_type, members)
        assert (await put_room_picture(api, owner, other, png)).status_code == 400, room_type
    # Declared size over the capability (64 KiB here): 400 whatever the bytes.
    too_big = image_bytes("BMP", (200, 200))
    assert len(too_big) > 64 * 1024
    assert (
        await put_room_picture(api, owner, room["id"], too_big, mime_type="image/bmp")
    ).status_code == 400
    # Not image/*, or bytes that are not a decodable image.
    assert (
        await put_room_picture(api, owner, room["id"], png, mime_type="text/plain")
    ).status_code == 400
    assert (await put_room_picture(api, owner, room["id"], png, mime_type="")).status_code == 400
    assert (
        await put_room_picture(api, owner, room["id"], b"not an image at all")
    ).status_code == 400
    assert (await put_room_picture(api, owner, room["id"], png[: len(png) // 2])).status_code == 400
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert (
        await put_room_picture(api, owner, room["id"], svg, mime_type="image/svg+xml")
    ).status_code == 400
    bmp = image_bytes("BMP", (10, 10))  # decodable, but not an allowed picture format
    assert (
        await put_room_picture(api, owner, room["id"], bmp, mime_type="image/bmp")
    ).status_code == 400
    assert (
        await put_room_picture(api, owner, room["id"], png, name="\\u12", encode=False)
    ).status_code == 400
    # Missing headers: 400 before authentication.
    for missing in ("fileName", "mimeType"):
        headers = upload_headers("room.png", "image/png")
        del headers[missing]
        response = await api.put(f"/rooms/{room['id']}/picture", None, content=png, headers=headers)
        assert response.status_code == 400
    assert await stored.keys() == []
    assert "pictureUpdatedAt" not in (await api.get(f"/rooms/{room['id']}", owner)).json()
    assert (await api.get(f"/rooms/{room['id']}/picture", stranger)).status_code == 403
    assert (await api.get(f"/rooms/{room['id']}/picture", owner)).status_code == 404
    assert (await api.delete(f"/rooms/{room['id']}/picture", member)).status_code == 403


async def test_decompression_bomb_is_refused(api: Api, users: Users, stored: Stored) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    buffer = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buffer, format="PNG", optimize=True)  # 400 megapixels
    bomb = buffer.getvalue()
    assert len(bomb) < 64 * 1024
    assert (await put_room_picture(api, owner, room["id"], bomb)).status_code == 400
    assert await stored.keys() == []


async def test_room_deletion_removes_its_picture(api: Api, users: Users, stored: Stored) -> None:
    owner, member = await users.many(2)
    room = await new_group(api, owner, member, await users.new())
    assert (await put_room_picture(api, owner, room["id"], image_bytes())).status_code == 204
    assert len(await stored.keys()) == 1
    assert (await api.delete(f"/rooms/{room['id']}", owner)).status_code == 204
    assert await stored.keys() == []


# ------------------------------------------------------------------------ user pictures


async def test_user_picture_set_read_replace_delete(
    api: Api, users: Users, events: EventCapture, stored: Stored
) -> None:
    me, contact, stranger = await users.many(3)
    await new_group(api, me, contact, await users.new())
    await events.watch(me, contact, stranger)
    png = image_bytes("PNG", (24, 24))

    assert (await put_user_picture(api, me, me.id, png)).status_code == 204
    profile = (await api.get(f"/users/{me.id}", stranger)).json()
    updated_at = profile["pictureUpdatedAt"]
    assert profile["statusMessage"] == ""
    changed = [e for e in await events.received(contact) if e["type"] == "USER_PICTURE_CHANGED"]
    assert len(changed) == 1
    assert changed[0]["userId"] == str(me.id) and changed[0]["updatedAt"] == updated_at
    image_id = changed[0]["imageId"]
    assert [e["type"] for e in await events.received(me)].count("USER_PICTURE_CHANGED") == 1
    assert await events.received(stranger) == []  # not a contact

    response = await api.get(f"/users/{me.id}/picture?{updated_at}", stranger)
    assert response.status_code == 200
    assert decoded(response.content) == ("PNG", (24, 24))
    assert response.headers["content-type"] == "image/png"
    assert response.headers["etag"] == f'"{image_id}"'
    assert response.headers["cache-control"].startswith("private, max-age=")
    assert await stored.keys() == [f"files/{image_id}"]
    # A picture is not an attachment: the attachment endpoints do not know it.
    assert (await api.get(f"/attachments/{image_id}", me)).status_code == 404
    assert (await api.get(f"/attachments/{image_id}/download", me)).status_code == 404
    assert (await api.delete(f"/attachments/{image_id}", me)).status_code == 404

    jpeg = image_bytes("JPEG", (24, 24))
    assert (await put_user_picture(api, me, me.id, jpeg, mime_type="image/jpeg")).status_code == 204
    second = [e for e in await events.received(contact) if e["type"] == "USER_PICTURE_CHANGED"]
    assert len(second) == 1 and second[0]["imageId"] != image_id
    assert decoded((await api.get(f"/users/{me.id}/picture", stranger)).content) == (
        "JPEG",
        (24, 24),
    )
    assert await stored.keys() == [f"files/{second[0]['imageId']}"]

    assert (await api.delete(f"/users/{me.id}/picture", me)).status_code == 204
    assert (await api.get(f"/users/{me.id}/picture", stranger)).status_code == 404
    profile = (await api.get(f"/users/{me.id}", stranger)).json()
    assert "pictureUpdatedAt" not in profile and profile["statusMessage"] == ""
    deleted = [e for e in await events.received(contact) if e["type"] == "USER_PICTURE_DELETED"]
    assert [e["userId"] for e in deleted] == [str(me.id)]
    assert await stored.keys() == []
    assert (await api.delete(f"/users/{me.id}/picture", me)).status_code == 404


async def test_user_without_rooms_notifies_nobody(
    api: Api, users: Users, events: EventCapture
) -> None:
    loner = await users.new()
    await events.watch(loner)
    assert (await put_user_picture(api, loner, loner.id, image_bytes())).status_code == 204
    assert await events.received(loner) == []


async def test_user_picture_rules(api: Api, users: Users, stored: Stored) -> None:
    me, other = await users.many(2)
    png = image_bytes()
    assert (await put_user_picture(api, other, me.id, png)).status_code == 403
    assert (await api.delete(f"/users/{me.id}/picture", other)).status_code == 403
    assert (await put_user_picture(api, None, me.id, png)).status_code == 401
    big = image_bytes("PNG", (300, 300))
    big = big + b"\x00" * (33 * 1024 - len(big)) if len(big) < 33 * 1024 else big
    assert (await put_user_picture(api, me, me.id, big)).status_code == 400  # over 32 KiB
    assert (
        await put_user_picture(api, me, me.id, png, mime_type="application/pdf")
    ).status_code == 400
    assert (await put_user_picture(api, me, me.id, b"GIF89a garbage")).status_code == 400
    assert (
        await put_user_picture(api, me, me.id, png, name="\\uZZZZ", encode=False)
    ).status_code == 400
    assert (await api.get(f"/users/{me.id}/picture", other)).status_code == 404
    assert (await api.get(f"/users/{me.id}/picture", None)).status_code == 401
    assert (await api.get("/users/not-a-uuid/picture", me)).status_code == 404
    assert await stored.keys() == []
