"""PUT and DELETE /rooms/{roomId} (behaviour.md#update-room, #delete-room; DECISIONS.md#rooms)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import Api, EventCapture, User, Users
from tests.support.errors import assert_error
from tests.support.rooms import (
    Json,
    assert_json,
    create_room,
    new_channel,
    new_group,
    new_one_to_one,
    new_temporary,
    new_workspace,
    only_event,
    revoke,
    room_ids_of,
    unknown_id,
)
from wschats.bootstrap import Adapters


async def read(api: Api, room: Json, user: User) -> Json:
    shown: Json = assert_json(await api.get(f"/rooms/{room['id']}", user), 200)
    return shown


async def tick() -> None:
    """Let the millisecond clock move on, so a changed `updatedAt` is visible."""
    await asyncio.sleep(0.005)


# ------------------------------------------------------------------------------ PUT


async def test_owner_renames_a_group(api: Api, users: Users, events: EventCapture) -> None:
    alice, bob, carol, dave = await users.many(4)
    group = await create_room(
        api,
        alice,
        {
            "type": "group",
            "name": "Old",
            "description": "old",
            "membersIds": [str(bob.id), str(carol.id)],
        },
    )
    await events.watch(alice, bob, carol, dave)
    await tick()
    response = await api.put(
        f"/rooms/{group['id']}", alice, json_body={"name": "New", "description": "new"}
    )
    updated = assert_json(response, 200)
    assert updated["id"] == group["id"]
    assert (updated["name"], updated["description"]) == ("New", "new")
    assert updated["createdAt"] == group["createdAt"]
    assert updated["updatedAt"] > group["updatedAt"]
    # The update answer carries neither members nor settings.
    for absent in ("members", "userSettings", "rank", "children", "membersIds"):
        assert absent not in updated

    shown = await read(api, group, bob)
    assert (shown["name"], shown["description"]) == ("New", "new")
    assert shown["updatedAt"] == updated["updatedAt"]

    for person in (alice, bob, carol):
        event = await only_event(events, person, "ROOM_UPDATED")
        assert event["roomId"] == group["id"]
        assert (event["name"], event["description"]) == ("New", "new")
    assert await events.received(dave) == []


async def test_partial_update_keeps_the_other_field(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol = await users.many(3)
    group = await create_room(
        api,
        alice,
        {
            "type": "group",
            "name": "Name",
            "description": "Desc",
            "membersIds": [str(bob.id), str(carol.id)],
        },
    )
    await events.watch(bob)
    updated = assert_json(
        await api.put(f"/rooms/{group['id']}", alice, json_body={"description": "Other"}), 200
    )
    assert (updated["name"], updated["description"]) == ("Name", "Other")
    event = await only_event(events, bob, "ROOM_UPDATED")
    assert (event["name"], event["description"]) == ("Name", "Other")
    updated = assert_json(
        await api.put(f"/rooms/{group['id']}", alice, json_body={"name": "Renamed"}), 200
    )
    assert (updated["name"], updated["description"]) == ("Renamed", "Other")


async def test_update_event_omits_a_null_description(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol = await users.many(3)
    group = await new_group(api, alice, bob, carol, name="Before")
    await events.watch(carol)
    assert (await api.put(f"/rooms/{group['id']}", alice, json_body={"name": "After"})).is_success
    event = await only_event(events, carol, "ROOM_UPDATED")
    assert set(event) == {"type", "sentDate", "roomId", "name"}
    assert event["name"] == "After"


async def test_same_values_change_nothing(api: Api, users: Users, events: EventCapture) -> None:
    alice, bob, carol = await users.many(3)
    group = await new_group(api, alice, bob, carol, name="Same")
    await events.watch(alice, bob)
    await tick()
    updated = assert_json(
        await api.put(f"/rooms/{group['id']}", alice, json_body={"name": "Same"}), 200
    )
    assert updated["updatedAt"] == group["updatedAt"]
    assert (await read(api, group, alice))["updatedAt"] == group["updatedAt"]
    assert await events.received(alice) == []
    assert await events.received(bob) == []


@pytest.mark.parametrize("kind", ["group", "workspace", "channel"])
async def test_null_stored_name_or_description_can_be_set(
    api: Api, users: Users, events: EventCapture, kind: str
) -> None:
    # DECISIONS.md#rooms: the original answered 500 when the stored value was null.
    alice, bob, carol = await users.many(3)
    if kind == "group":
        room = await new_group(api, alice, bob, carol)  # no description
    else:
        workspace = await new_workspace(api, alice, bob, carol, name=None)
        room = (
            workspace
            if kind == "workspace"
            else await new_channel(api, alice, workspace["id"], name=None)
        )
    await events.watch(bob)
    updated = assert_json(
        await api.put(f"/rooms/{room['id']}", alice, json_body={"name": "N", "description": "D"}),
        200,
    )
    assert (updated["name"], updated["description"]) == ("N", "D")
    shown = await read(api, room, bob)
    assert (shown["name"], shown["description"]) == ("N", "D")
    event = await only_event(events, bob, "ROOM_UPDATED")
    assert (event["roomId"], event["name"], event["description"]) == (room["id"], "N", "D")


async def test_one_to_one_cannot_be_updated(api: Api, users: Users, events: EventCapture) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_one_to_one(api, alice, bob)
    await events.watch(alice, bob)
    for person in (alice, bob):
        assert_error(await api.put(f"/rooms/{room['id']}", person, json_body={"name": "x"}), 400)
    # Membership is checked first.
    assert_error(await api.put(f"/rooms/{room['id']}", carol, json_body={"name": "x"}), 403)
    assert "name" not in await read(api, room, alice)
    assert await events.received(alice) == []


async def test_group_update_needs_a_field(api: Api, users: Users) -> None:
    alice, bob, carol, dave = await users.many(4)
    group = await new_group(api, alice, bob, carol)
    for body in ({}, {"name": None}, {"name": None, "description": None}):
        assert_error(await api.put(f"/rooms/{group['id']}", alice, json_body=body), 400)
    # Order: membership (403), then the empty body (400), then ownership (403).
    assert_error(await api.put(f"/rooms/{group['id']}", dave, json_body={}), 403)
    assert_error(await api.put(f"/rooms/{group['id']}", bob, json_body={}), 400)
    assert_error(await api.put(f"/rooms/{group['id']}", bob, json_body={"name": "x"}), 403)


@pytest.mark.parametrize("kind", ["temporary", "workspace", "channel"])
async def test_empty_update_of_other_types_answers_the_room_unchanged(
    api: Api, users: Users, events: EventCapture, kind: str
) -> None:
    alice, bob, carol = await users.many(3)
    workspace = await new_workspace(api, alice, bob, carol)
    channel = await new_channel(api, alice, workspace["id"])
    room = {
        "temporary": await new_temporary(api, alice, bob),
        "workspace": workspace,
        "channel": channel,
    }[kind]
    await events.watch(alice, bob)
    await tick()
    updated = assert_json(await api.put(f"/rooms/{room['id']}", alice, json_body={}), 200)
    assert updated["updatedAt"] == room["updatedAt"]
    assert updated["name"] == room["name"]
    assert await events.received(alice) == []
    assert await events.received(bob) == []


async def test_workspace_update_answer_has_rank_and_children_without_settings(
    api: Api, users: Users
) -> None:
    alice, bob, carol = await users.many(3)
    workspace = await new_workspace(api, alice, bob, carol)
    channel = await new_channel(api, alice, workspace["id"])
    updated = assert_json(
        await api.put(f"/rooms/{workspace['id']}", alice, json_body={"name": "W2"}), 200
    )
    assert updated["name"] == "W2"
    assert updated["rank"] == 1
    assert "members" not in updated and "userSettings" not in updated
    (child,) = updated["children"]
    assert child["id"] == channel["id"]
    assert child["rank"] == 1
    assert "userSettings" not in child and "members" not in child


async def test_channel_update_by_workspace_owner_notifies_workspace_members(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol, dave = await users.many(4)
    workspace = await new_workspace(api, alice, bob, carol)
    channel = await new_channel(api, alice, workspace["id"])
    await events.watch(alice, bob, carol, dave)
    # Workspace members who are not owners may not; outsiders neither.
    assert_error(await api.put(f"/rooms/{channel['id']}", bob, json_body={"name": "x"}), 403)
    assert_error(await api.put(f"/rooms/{channel['id']}", dave, json_body={"name": "x"}), 403)

    updated = assert_json(
        await api.put(f"/rooms/{channel['id']}", alice, json_body={"name": "news"}), 200
    )
    assert updated["name"] == "news"
    assert updated["parentId"] == workspace["id"]
    assert updated["rank"] == 1
    assert "members" not in updated and "userSettings" not in updated
    # DECISIONS.md#rooms: the original sent channel updates to nobody.
    for person in (alice, bob, carol):
        event = await only_event(events, person, "ROOM_UPDATED")
        assert (event["roomId"], event["name"]) == (channel["id"], "news")
    assert await events.received(dave) == []


async def test_non_owner_cannot_update(api: Api, users: Users, events: EventCapture) -> None:
    alice, bob, carol = await users.many(3)
    rooms = [await new_group(api, alice, bob, carol), await new_workspace(api, alice, bob, carol)]
    await events.watch(alice, bob)
    for room in rooms:
        assert_error(await api.put(f"/rooms/{room['id']}", bob, json_body={"name": "mine"}), 403)
        assert (await read(api, room, alice))["name"] == room["name"]
        assert await events.received(alice) == []


async def test_update_of_missing_room(api: Api, users: Users) -> None:
    alice = await users.new("alice")
    assert_error(await api.put(f"/rooms/{unknown_id()}", alice, json_body={"name": "x"}), 404)
    assert_error(await api.put("/rooms/nope", alice, json_body={"name": "x"}), 404)


@pytest.mark.parametrize(
    ("body", "word"),
    [
        pytest.param({"name": ""}, "name", id="empty-name"),
        pytest.param({"name": "n" * 129}, "name", id="long-name"),
        pytest.param({"description": "d" * 257}, "description", id="long-description"),
        pytest.param({"name": "x", "type": "workspace"}, "type", id="unknown-type-field"),
        pytest.param({"name": "x", "membersIds": []}, "membersIds", id="unknown-members-field"),
        pytest.param({"name": 3}, "name", id="name-not-string"),
        pytest.param(["x"], "", id="not-an-object"),
    ],
)
async def test_update_body_validation(api: Api, users: Users, body: Any, word: str) -> None:
    alice, bob, carol = await users.many(3)
    group = await new_group(api, alice, bob, carol, name="kept")
    assert_error(await api.put(f"/rooms/{group['id']}", alice, json_body=body), 400, word)
    assert (await read(api, group, alice))["name"] == "kept"


async def test_update_needs_a_json_body(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    workspace = await new_workspace(api, alice, bob, carol, name="kept")
    assert_error(await api.put(f"/rooms/{workspace['id']}", alice), 400)
    response = await api.put(
        f"/rooms/{workspace['id']}",
        alice,
        content=b"{oops",
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400)
    assert (await read(api, workspace, alice))["name"] == "kept"


async def test_update_limits_are_inclusive(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    group = await new_group(api, alice, bob, carol)
    body = {"name": "n" * 128, "description": "d" * 256}
    updated = assert_json(await api.put(f"/rooms/{group['id']}", alice, json_body=body), 200)
    assert (updated["name"], updated["description"]) == (body["name"], body["description"])


# ------------------------------------------------------------------------------ DELETE


async def test_owner_deletes_a_group(api: Api, users: Users, events: EventCapture) -> None:
    alice, bob, carol, dave = await users.many(4)
    group = await new_group(api, alice, bob, carol)
    kept = await new_temporary(api, alice, bob)
    await events.watch(alice, bob, carol, dave)
    response = await api.delete(f"/rooms/{group['id']}", alice)
    assert response.status_code == 204
    assert response.content == b""
    for person in (alice, bob):
        assert_error(await api.get(f"/rooms/{group['id']}", person), 404)
        assert await room_ids_of(api, person) == [kept["id"]]
    assert await room_ids_of(api, carol) == []
    for person in (alice, bob, carol):
        assert (await only_event(events, person, "ROOM_DELETED"))["roomId"] == group["id"]
    assert await events.received(dave) == []
    # Deleting it again: it is gone.
    assert_error(await api.delete(f"/rooms/{group['id']}", alice), 404)


async def test_one_to_one_cannot_be_deleted(api: Api, users: Users, events: EventCapture) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_one_to_one(api, alice, bob)
    await events.watch(alice, bob)
    for person in (alice, bob, carol):
        assert_error(await api.delete(f"/rooms/{room['id']}", person), 403)
    assert (await read(api, room, bob))["id"] == room["id"]
    assert await events.received(alice) == []


async def test_only_an_owner_deletes(api: Api, users: Users, events: EventCapture) -> None:
    alice, bob, carol, dave = await users.many(4)
    group = await new_group(api, alice, bob, carol)
    workspace = await new_workspace(api, alice, bob, carol)
    channel = await new_channel(api, alice, workspace["id"])
    await events.watch(alice, bob)
    for room in (group, workspace, channel):
        assert_error(await api.delete(f"/rooms/{room['id']}", bob), 403)
        assert_error(await api.delete(f"/rooms/{room['id']}", dave), 403)
        assert (await read(api, room, alice))["id"] == room["id"]
    assert await events.received(alice) == []
    assert await events.received(bob) == []


async def test_promoted_owner_deletes(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    group = await new_group(api, alice, bob, carol)
    assert (await api.put(f"/rooms/{group['id']}/members/{bob.id}/owner", alice)).status_code == 204
    assert (await api.delete(f"/rooms/{group['id']}", bob)).status_code == 204
    assert_error(await api.get(f"/rooms/{group['id']}", alice), 404)


async def test_delete_of_missing_room(api: Api, users: Users) -> None:
    alice = await users.new("alice")
    assert_error(await api.delete(f"/rooms/{unknown_id()}", alice), 404)
    assert_error(await api.delete("/rooms/not-a-uuid", alice), 404)


async def test_deleting_a_workspace_deletes_its_channels(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol, dave = await users.many(4)
    workspace = await new_workspace(api, alice, bob, carol)
    other = await new_workspace(api, alice, bob, carol, name="Other")
    channels = [await new_channel(api, alice, workspace["id"], name=f"c{i}") for i in range(2)]
    survivor = await new_channel(api, alice, other["id"])
    await events.watch(alice, bob, carol, dave)

    assert (await api.delete(f"/rooms/{workspace['id']}", alice)).status_code == 204
    for room in (workspace, *channels):
        assert_error(await api.get(f"/rooms/{room['id']}", bob), 404)
    assert await room_ids_of(api, bob) == [other["id"]]
    shown = await read(api, other, bob)
    assert [c["id"] for c in shown["children"]] == [survivor["id"]]
    # One event for the workspace, none per channel.
    for person in (alice, bob, carol):
        assert (await only_event(events, person, "ROOM_DELETED"))["roomId"] == workspace["id"]
    assert await events.received(dave) == []
    # bob's remaining workspace keeps its rank; a full permutation of what is left is accepted.
    assert shown["rank"] == 2
    response = await api.put(
        "/rooms/workspaces/rank", bob, json_body=[{"roomId": other["id"], "rank": 1}]
    )
    assert response.status_code == 204, response.text


async def test_deleting_a_channel_notifies_workspace_members(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol, dave = await users.many(4)
    workspace = await new_workspace(api, alice, bob, carol)
    first = await new_channel(api, alice, workspace["id"], name="first")
    second = await new_channel(api, alice, workspace["id"], name="second")
    await events.watch(alice, bob, carol, dave)
    assert (await api.delete(f"/rooms/{first['id']}", alice)).status_code == 204
    assert_error(await api.get(f"/rooms/{first['id']}", alice), 404)
    shown = await read(api, workspace, carol)
    assert [c["id"] for c in shown["children"]] == [second["id"]]
    # DECISIONS.md#rooms: the original sent channel deletions to nobody.
    for person in (alice, bob, carol):
        assert (await only_event(events, person, "ROOM_DELETED"))["roomId"] == first["id"]
    assert await events.received(dave) == []


@pytest.mark.parametrize("kind", ["temporary", "workspace"])
async def test_owner_deletes_other_types(api: Api, users: Users, kind: str) -> None:
    alice, bob, carol = await users.many(3)
    room = (
        await new_temporary(api, alice, bob)
        if kind == "temporary"
        else await new_workspace(api, alice, bob, carol)
    )
    assert (await api.delete(f"/rooms/{room['id']}", alice)).status_code == 204
    assert await room_ids_of(api, bob) == []


# ------------------------------------------------------------------------------ serving, auth


async def test_update_and_delete_under_base_path_and_trailing_slash(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    group = await new_group(api, alice, bob, carol)
    for index, path in enumerate(
        (f"/rooms/{group['id']}/", f"/services/chats/rooms/{group['id']}")
    ):
        updated = assert_json(await api.put(path, alice, json_body={"name": f"n{index}"}), 200)
        assert updated["name"] == f"n{index}"
    response = await api.delete(f"/services/chats/rooms/{group['id']}/", alice)
    assert response.status_code == 204
    assert await room_ids_of(api, bob) == []


async def test_update_and_delete_need_a_valid_token(
    api: Api, users: Users, adapters: Adapters
) -> None:
    alice, bob, carol = await users.many(3)
    group = await new_group(api, alice, bob, carol, name="kept")
    path = f"/rooms/{group['id']}"
    forged = {"Cookie": "ZM_AUTH_TOKEN=forged"}
    assert_error(await api.put(path, json_body={"name": "x"}), 401)
    assert_error(await api.put(path, json_body={"name": "x"}, headers=forged), 401)
    assert_error(await api.delete(path), 401)
    assert_error(await api.delete(path, headers=forged), 401)
    await revoke(adapters, alice)
    assert_error(await api.put(path, alice, json_body={"name": "x"}), 401)
    assert_error(await api.delete(path, alice), 401)
    assert (await read(api, group, bob))["name"] == "kept"
