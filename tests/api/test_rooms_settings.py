"""PUT/DELETE /rooms/{roomId}/mute, PUT /rooms/{roomId}/clear (behaviour.md#mute, #clear-history).

Settings are per user per room: every event goes to the caller only.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

import pytest

from tests.conftest import Api, EventCapture, User, Users
from tests.support.errors import assert_error
from tests.support.rooms import (
    Json,
    assert_json,
    new_channel,
    new_group,
    new_one_to_one,
    new_temporary,
    new_workspace,
    only_event,
    revoke,
    unknown_id,
)
from wschats.bootstrap import Adapters
from wschats.domain.model import RoomUserSettings


async def settings_of(api: Api, room: Json, user: User) -> Json:
    shown = assert_json(await api.get(f"/rooms/{room['id']}", user), 200)
    settings: Json = shown["userSettings"]
    return settings


async def stored_settings(adapters: Adapters, room: Json, user: User) -> RoomUserSettings | None:
    """The settings row itself: "no row" and "an unmuted row" look the same over HTTP."""
    async with adapters.database.unit_of_work() as uow:
        return await uow.settings.get(user.id, UUID(room["id"]))


async def mute(api: Api, room: Json, user: User) -> None:
    response = await api.put(f"/rooms/{room['id']}/mute", user)
    assert response.status_code == 204, response.text
    assert response.content == b""


async def unmute(api: Api, room: Json, user: User) -> None:
    response = await api.delete(f"/rooms/{room['id']}/mute", user)
    assert response.status_code == 204, response.text
    assert response.content == b""


async def clear(api: Api, room: Json, user: User) -> str:
    body = assert_json(await api.put(f"/rooms/{room['id']}/clear", user), 200)
    assert set(body) == {"clearedAt"}
    cleared_at: str = body["clearedAt"]
    return cleared_at


async def rooms_of_every_kind(api: Api, users: Users) -> tuple[list[User], dict[str, Json]]:
    alice, bob, carol, _outsider = people = await users.many(4)
    workspace = await new_workspace(api, alice, bob, carol)
    return people, {
        "group": await new_group(api, alice, bob, carol),
        "one_to_one": await new_one_to_one(api, bob, alice),
        "temporary": await new_temporary(api, alice, bob),
        "workspace": workspace,
        "channel": await new_channel(api, alice, workspace["id"]),
    }


MUTABLE = ["group", "one_to_one", "temporary", "channel"]


# ------------------------------------------------------------------------------ mute / unmute


@pytest.mark.parametrize("kind", MUTABLE)
async def test_mute_and_unmute_are_the_callers_own(
    api: Api, users: Users, events: EventCapture, kind: str
) -> None:
    (alice, bob, carol, _), rooms = await rooms_of_every_kind(api, users)
    room = rooms[kind]
    await events.watch(alice, bob, carol)

    await mute(api, room, bob)  # bob is a plain member (of the workspace, for a channel)
    assert await settings_of(api, room, bob) == {"muted": True}
    assert await settings_of(api, room, alice) == {"muted": False}
    assert (await only_event(events, bob, "ROOM_MUTED"))["roomId"] == room["id"]
    assert await events.received(alice) == []
    assert await events.received(carol) == []

    await unmute(api, room, bob)
    assert await settings_of(api, room, bob) == {"muted": False}
    event = await only_event(events, bob, "ROOM_UNMUTED")
    assert set(event) == {"type", "sentDate", "roomId"}
    assert event["roomId"] == room["id"]
    assert await events.received(alice) == []


async def test_muting_twice_sends_one_event(
    api: Api, users: Users, events: EventCapture, adapters: Adapters
) -> None:
    alice, bob, carol = await users.many(3)
    group = await new_group(api, alice, bob, carol)
    await events.watch(alice)
    await mute(api, group, alice)
    first = await stored_settings(adapters, group, alice)
    await mute(api, group, alice)
    assert await events.types(alice) == ["ROOM_MUTED"]
    assert await settings_of(api, group, alice) == {"muted": True}
    assert await stored_settings(adapters, group, alice) == first


async def test_unmute_without_settings_does_nothing(
    api: Api, users: Users, events: EventCapture, adapters: Adapters
) -> None:
    alice, bob, carol = await users.many(3)
    group = await new_group(api, alice, bob, carol)
    await events.watch(alice)
    await unmute(api, group, alice)
    assert await events.received(alice) == []
    assert await stored_settings(adapters, group, alice) is None
    assert await settings_of(api, group, alice) == {"muted": False}


async def test_unmute_of_an_unmuted_room_sends_nothing(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol = await users.many(3)
    group = await new_group(api, alice, bob, carol)
    cleared_at = await clear(api, group, alice)  # a settings row that is not muted
    await events.watch(alice)
    await unmute(api, group, alice)
    assert await events.received(alice) == []
    await mute(api, group, alice)
    await unmute(api, group, alice)
    await unmute(api, group, alice)
    assert await events.types(alice) == ["ROOM_MUTED", "ROOM_UNMUTED"]
    assert await settings_of(api, group, alice) == {"muted": False, "clearedAt": cleared_at}


async def test_workspace_cannot_be_muted(
    api: Api, users: Users, events: EventCapture, adapters: Adapters
) -> None:
    (alice, bob, _, dave), rooms = await rooms_of_every_kind(api, users)
    workspace = rooms["workspace"]
    await events.watch(alice, bob)
    for person in (alice, bob):
        assert_error(await api.put(f"/rooms/{workspace['id']}/mute", person), 400, "workspace")
        assert_error(await api.delete(f"/rooms/{workspace['id']}/mute", person), 400, "workspace")
    # Membership is checked before the room type.
    assert_error(await api.put(f"/rooms/{workspace['id']}/mute", dave), 403)
    assert_error(await api.delete(f"/rooms/{workspace['id']}/mute", dave), 403)
    assert await events.received(alice) == []
    stored = await stored_settings(adapters, workspace, alice)
    assert stored is not None and stored.muted_until is None


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_mute_access(api: Api, users: Users, method: str) -> None:
    (_, _, _, dave), rooms = await rooms_of_every_kind(api, users)
    for kind in MUTABLE:
        assert_error(await api.request(method, f"/rooms/{rooms[kind]['id']}/mute", dave), 403)
    assert_error(await api.request(method, f"/rooms/{unknown_id()}/mute", dave), 404)
    assert_error(await api.request(method, "/rooms/not-a-uuid/mute", dave), 404)


async def test_muted_channel_shows_in_its_workspace(api: Api, users: Users) -> None:
    (_, bob, _, _), rooms = await rooms_of_every_kind(api, users)
    await mute(api, rooms["channel"], bob)
    workspace = assert_json(await api.get(f"/rooms/{rooms['workspace']['id']}", bob), 200)
    assert [c["userSettings"] for c in workspace["children"]] == [{"muted": True}]
    listed = assert_json(await api.get("/rooms?extraFields=settings", bob), 200)
    (listed_workspace,) = [r for r in listed if r["type"] == "workspace"]
    assert [c["userSettings"] for c in listed_workspace["children"]] == [{"muted": True}]


# ------------------------------------------------------------------------------ clear


@pytest.mark.parametrize("kind", [*MUTABLE, "workspace"])
async def test_clear_returns_the_date_rooms_show(
    api: Api, users: Users, events: EventCapture, kind: str
) -> None:
    (alice, bob, carol, _), rooms = await rooms_of_every_kind(api, users)
    room = rooms[kind]
    await events.watch(alice, bob, carol)
    cleared_at = await clear(api, room, bob)
    assert cleared_at.endswith("Z")

    event = await only_event(events, bob, "ROOM_HISTORY_CLEARED")
    assert event["roomId"] == room["id"]
    assert event["clearedAt"] == cleared_at
    assert await events.received(alice) == []
    assert await events.received(carol) == []

    if kind == "workspace":
        # Workspaces never show settings, so the date is not visible there.
        assert "userSettings" not in assert_json(await api.get(f"/rooms/{room['id']}", bob), 200)
    else:
        assert await settings_of(api, room, bob) == {"muted": False, "clearedAt": cleared_at}
        assert await settings_of(api, room, alice) == {"muted": False}


async def test_clearing_again_moves_the_date_and_keeps_mute(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol = await users.many(3)
    group = await new_group(api, alice, bob, carol)
    await mute(api, group, alice)
    first = await clear(api, group, alice)
    assert await settings_of(api, group, alice) == {"muted": True, "clearedAt": first}
    await asyncio.sleep(0.005)  # the clock has millisecond precision
    await events.watch(alice)
    second = await clear(api, group, alice)
    assert second > first
    assert (await only_event(events, alice, "ROOM_HISTORY_CLEARED"))["clearedAt"] == second
    assert await settings_of(api, group, alice) == {"muted": True, "clearedAt": second}
    await unmute(api, group, alice)
    assert await settings_of(api, group, alice) == {"muted": False, "clearedAt": second}


async def test_clear_access(api: Api, users: Users) -> None:
    (_, _, _, dave), rooms = await rooms_of_every_kind(api, users)
    for room in rooms.values():
        assert_error(await api.put(f"/rooms/{room['id']}/clear", dave), 403)
    assert_error(await api.put(f"/rooms/{unknown_id()}/clear", dave), 404)
    assert_error(await api.put("/rooms/not-a-uuid/clear", dave), 404)


async def test_cleared_date_shows_in_room_lists(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    group = await new_group(api, alice, bob, carol)
    cleared_at = await clear(api, group, carol)
    (listed,) = assert_json(await api.get("/rooms?extraFields=settings", carol), 200)
    assert listed["userSettings"] == {"muted": False, "clearedAt": cleared_at}
    (theirs,) = assert_json(await api.get("/rooms?extraFields=settings", alice), 200)
    assert theirs["userSettings"] == {"muted": False}


# ------------------------------------------------------------------------------ serving, auth


async def test_settings_under_base_path_and_trailing_slash(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    group = await new_group(api, alice, bob, carol)
    base = f"/services/chats/rooms/{group['id']}"
    assert (await api.put(f"{base}/mute/", alice)).status_code == 204
    assert await settings_of(api, group, alice) == {"muted": True}
    assert (await api.delete(f"{base}/mute", alice)).status_code == 204
    assert await settings_of(api, group, alice) == {"muted": False}
    body = assert_json(await api.put(f"/rooms/{group['id']}/clear/", alice), 200)
    assert await settings_of(api, group, alice) == {"muted": False, "clearedAt": body["clearedAt"]}


async def test_settings_need_a_valid_token(api: Api, users: Users, adapters: Adapters) -> None:
    alice, bob, carol = await users.many(3)
    group = await new_group(api, alice, bob, carol)
    forged = {"Cookie": "ZM_AUTH_TOKEN=forged"}
    for method, suffix in (("PUT", "mute"), ("DELETE", "mute"), ("PUT", "clear")):
        path = f"/rooms/{group['id']}/{suffix}"
        assert_error(await api.request(method, path), 401)
        assert_error(await api.request(method, path, headers=forged), 401)
    await revoke(adapters, alice)
    assert_error(await api.put(f"/rooms/{group['id']}/mute", alice), 401)
    assert await stored_settings(adapters, group, alice) is None
