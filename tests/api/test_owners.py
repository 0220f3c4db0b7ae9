"""Promote and demote room owners over HTTP (behaviour.md#owners)."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Api, EventCapture, User, Users
from tests.support.errors import assert_error
from tests.support.rooms import new_room


async def owners(api: Api, room_id: str, caller: User) -> list[str]:
    response = await api.get(f"/rooms/{room_id}/members", caller)
    assert response.status_code == 200, response.text
    return [m["userId"] for m in response.json() if m["owner"]]


def owner_path(room_id: str, target: User | uuid.UUID | str) -> str:
    target_id = target.id if isinstance(target, User) else target
    return f"/rooms/{room_id}/members/{target_id}/owner"


async def test_promote_then_demote(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])

    promoted = await api.put(owner_path(room, bob), alice)

    assert promoted.status_code == 204
    assert promoted.content == b""
    assert await owners(api, room, carol) == [str(bob.id), str(alice.id)]
    # The new owner can now do what owners do.
    assert (await api.put(f"/rooms/{room}", bob, json_body={"name": "renamed"})).status_code == 200

    demoted = await api.delete(owner_path(room, bob), alice)

    assert demoted.status_code == 204
    assert demoted.content == b""
    assert await owners(api, room, carol) == [str(alice.id)]
    assert_error(await api.put(f"/rooms/{room}", bob, json_body={"name": "again"}), 403)


async def test_an_owner_may_demote_another_owner_who_may_then_leave(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])
    assert (await api.put(owner_path(room, bob), alice)).status_code == 204

    assert (await api.delete(owner_path(room, alice), bob)).status_code == 204

    assert await owners(api, room, bob) == [str(bob.id)]


async def test_promoting_an_owner_or_demoting_a_member_is_accepted_unchanged(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])
    assert (await api.put(owner_path(room, bob), alice)).status_code == 204
    await events.watch(alice, bob)

    assert (await api.put(owner_path(room, bob), alice)).status_code == 204
    assert (await api.delete(owner_path(room, carol), alice)).status_code == 204

    assert await owners(api, room, alice) == [str(bob.id), str(alice.id)]
    # The flag is set whatever it was, and the change is announced each time.
    assert await events.types(bob) == ["ROOM_OWNER_PROMOTED", "ROOM_OWNER_DEMOTED"]


@pytest.mark.parametrize("method", ["put", "delete"])
async def test_changing_ones_own_ownership_is_400_before_the_room_is_looked_up(
    api: Api, users: Users, method: str
) -> None:
    alice, bob, carol, outsider = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])
    call = api.put if method == "put" else api.delete

    assert_error(await call(owner_path(room, alice), alice), 400)
    # The room does not exist, the caller is no member: still 400 first.
    assert_error(await call(owner_path(str(uuid.uuid4()), alice), alice), 400)
    assert_error(await call(owner_path(room, outsider), outsider), 400)
    assert await owners(api, room, alice) == [str(alice.id)]


@pytest.mark.parametrize("method", ["put", "delete"])
async def test_only_an_owner_of_an_existing_room_may_change_owners(
    api: Api, users: Users, method: str
) -> None:
    alice, bob, carol, outsider = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])
    call = api.put if method == "put" else api.delete

    assert_error(await call(owner_path(room, carol), bob), 403)
    assert_error(await call(owner_path(room, alice), bob), 403)
    assert_error(await call(owner_path(room, carol), outsider), 403)
    assert_error(await call(owner_path(str(uuid.uuid4()), carol), alice), 404)
    assert_error(await call(owner_path("not-a-uuid", carol), alice), 404)
    assert_error(await call(owner_path(room, "not-a-uuid"), alice), 404)
    assert_error(await call(owner_path(room, carol)), 401)
    assert await owners(api, room, alice) == [str(alice.id)]


@pytest.mark.parametrize("method", ["put", "delete"])
async def test_a_target_who_is_not_a_member_is_403(api: Api, users: Users, method: str) -> None:
    alice, bob, carol, outsider = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])
    call = api.put if method == "put" else api.delete

    assert_error(await call(owner_path(room, outsider), alice), 403)
    assert_error(await call(owner_path(room, uuid.uuid4()), alice), 403)


@pytest.mark.parametrize("method", ["put", "delete"])
async def test_one_to_one_owners_cannot_change(api: Api, users: Users, method: str) -> None:
    alice, bob = await users.many(2)
    room = await new_room(api, alice, "one_to_one", [bob])
    call = api.put if method == "put" else api.delete

    assert_error(await call(owner_path(room, bob), alice), 400, "one_to_one")
    assert await owners(api, room, alice) == [str(bob.id), str(alice.id)]


@pytest.mark.parametrize("method", ["put", "delete"])
async def test_channel_owners_cannot_change(api: Api, users: Users, method: str) -> None:
    alice, bob, carol, outsider = await users.many(4)
    workspace = await new_room(api, alice, "workspace", [bob, carol])
    channel = await new_room(api, alice, "channel", parent=workspace)
    call = api.put if method == "put" else api.delete

    assert_error(await call(owner_path(channel, bob), alice), 400, "channel")
    # Type 400 comes before the target check, and after the permission check.
    assert_error(await call(owner_path(channel, outsider), alice), 400)
    assert_error(await call(owner_path(channel, carol), bob), 403)
    assert await owners(api, workspace, alice) == [str(alice.id)]


@pytest.mark.parametrize("room_type", ["temporary", "workspace"])
async def test_owners_change_in_temporary_rooms_and_workspaces(
    api: Api, users: Users, room_type: str
) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, room_type, [bob, carol])

    assert (await api.put(owner_path(room, carol), alice)).status_code == 204
    assert await owners(api, room, bob) == [str(carol.id), str(alice.id)]
    assert (await api.delete(owner_path(room, carol), alice)).status_code == 204
    assert await owners(api, room, bob) == [str(alice.id)]


async def test_a_workspace_owner_is_an_owner_of_its_channels(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    workspace = await new_room(api, alice, "workspace", [bob, carol])
    channel = await new_room(api, alice, "channel", parent=workspace)

    assert (await api.put(owner_path(workspace, bob), alice)).status_code == 204

    assert await owners(api, channel, carol) == [str(bob.id), str(alice.id)]
    renamed = await api.put(f"/rooms/{channel}", bob, json_body={"name": "by bob"})
    assert renamed.status_code == 200, renamed.text


@pytest.mark.parametrize(
    ("method", "event_type"),
    [("put", "ROOM_OWNER_PROMOTED"), ("delete", "ROOM_OWNER_DEMOTED")],
)
async def test_ownership_changes_reach_every_member(
    api: Api, users: Users, events: EventCapture, method: str, event_type: str
) -> None:
    alice, bob, carol, outsider = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])
    if method == "delete":
        assert (await api.put(owner_path(room, bob), alice)).status_code == 204
    await events.watch(alice, bob, carol, outsider)
    call = api.put if method == "put" else api.delete

    assert (await call(owner_path(room, bob), alice)).status_code == 204

    for person in (alice, bob, carol):
        received = await events.received(person)
        assert [e["type"] for e in received] == [event_type]
        event = received[0]
        assert set(event) == {"type", "sentDate", "roomId", "userId"}
        assert (event["roomId"], event["userId"]) == (room, str(bob.id))
    assert await events.received(outsider) == []


async def test_a_refused_ownership_change_sends_no_event(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])
    await events.watch(alice, bob, carol)

    assert (await api.put(owner_path(room, carol), bob)).status_code == 403
    assert (await api.put(owner_path(room, alice), alice)).status_code == 400

    for person in (alice, bob, carol):
        assert await events.received(person) == []
