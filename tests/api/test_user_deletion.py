"""Deleting a user (`wschats user delete`): what becomes of their rooms, files and tokens, and
the events the other members get (DECISIONS.md#deleting-a-user), on both databases."""

from __future__ import annotations

import io

from PIL import Image

from tests.conftest import Api, EventCapture, User, Users
from tests.support.rooms import new_room
from wschats.bootstrap import Adapters, SystemClock
from wschats.domain.escapes import encode_text
from wschats.services.accounts import AccountService


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    return buffer.getvalue()


async def members(api: Api, reader: User, room_id: str) -> dict[str, bool]:
    response = await api.get(f"/rooms/{room_id}/members", reader)
    assert response.status_code == 200, response.text
    return {m["userId"]: m["owner"] for m in response.json()}


async def test_deleting_a_user_leaves_their_rooms_in_good_hands(
    api: Api, users: Users, events: EventCapture, adapters: Adapters
) -> None:
    alice, bob, carol, dave = await users.many(4)
    led = await new_room(api, alice, "group", [bob, carol])  # alice the only owner
    joined = await new_room(api, bob, "group", [alice, carol])  # bob owns it
    pair = await new_room(api, alice, "one_to_one", [dave])
    alone = await new_room(api, alice, "temporary")  # alice its only member
    workspace = await new_room(api, alice, "workspace", [bob, carol])
    channel = await new_room(api, alice, "channel", parent=workspace)
    sent = await api.post(
        f"/rooms/{led}/attachments",
        alice,
        content=b"minutes",
        headers={"fileName": encode_text("minutes.txt"), "mimeType": "text/plain"},
    )
    assert sent.status_code == 201
    picture = await api.put(
        f"/users/{alice.id}/picture",
        alice,
        content=png(),
        headers={"fileName": "me.png", "mimeType": "image/png"},
    )
    assert picture.status_code == 204
    await events.watch(bob, carol, dave)

    accounts = AccountService(adapters.database, adapters.events, adapters.blobs, SystemClock())
    removal = await accounts.remove_user(alice.id)
    assert adapters.directory is not None
    await adapters.directory.delete_user(alice.id)

    assert (removal.rooms_left, removal.rooms_deleted) == (4, 1)
    assert (removal.owners_promoted, removal.picture_removed) == (2, True)
    # Her token is gone with her account.
    assert (await api.get("/rooms", alice)).status_code == 401
    # A room she led: the earliest member took over; her attachment stayed.
    assert await members(api, bob, led) == {str(bob.id): True, str(carol.id): False}
    listing = (await api.get(f"/rooms/{led}/attachments", carol)).json()["attachments"]
    assert [(a["name"], a["userId"]) for a in listing] == [("minutes.txt", str(alice.id))]
    download = await api.get(f"/attachments/{listing[0]['id']}/download", carol)
    assert download.content == b"minutes"
    # A room she had joined: just one member fewer.
    assert await members(api, carol, joined) == {str(bob.id): True, str(carol.id): False}
    # The one-to-one stays for Dave, with its history.
    assert await members(api, dave, pair) == {str(dave.id): True}
    # The room she was alone in is gone; the workspace and its channel have a new owner.
    assert (await api.get(f"/rooms/{alone}", bob)).status_code == 404
    assert await members(api, carol, workspace) == {str(bob.id): True, str(carol.id): False}
    assert (await api.get(f"/rooms/{channel}", carol)).status_code == 200
    # Her picture is gone.
    assert (await api.get(f"/users/{alice.id}/picture", bob)).status_code == 404

    bob_saw = await events.received(bob)
    removed = {e["roomId"] for e in bob_saw if e["type"] == "ROOM_MEMBER_REMOVED"}
    assert removed == {led, joined, workspace}
    promoted = {e["roomId"] for e in bob_saw if e["type"] == "ROOM_OWNER_PROMOTED"}
    assert promoted == {led, workspace}
    assert all(e["userId"] == str(bob.id) for e in bob_saw if e["type"] == "ROOM_OWNER_PROMOTED")
    assert "USER_PICTURE_DELETED" in [e["type"] for e in bob_saw]
    dave_saw = await events.received(dave)
    assert [(e["type"], e["roomId"]) for e in dave_saw if "roomId" in e] == [
        ("ROOM_MEMBER_REMOVED", pair)
    ]


async def test_deleting_a_user_without_rooms_or_picture_changes_nothing_else(
    api: Api, users: Users, adapters: Adapters
) -> None:
    alice, bob, carol = await users.many(3)
    kept = await new_room(api, bob, "group", [carol, await users.new()])

    accounts = AccountService(adapters.database, adapters.events, adapters.blobs, SystemClock())
    removal = await accounts.remove_user(alice.id)

    assert removal.rooms_left == removal.rooms_deleted == removal.owners_promoted == 0
    assert not removal.picture_removed
    assert len(await members(api, bob, kept)) == 3
