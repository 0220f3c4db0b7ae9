"""Meetings over HTTP: the meeting API subset (DECISIONS.md#meetings), GET /rooms/{id}/meeting."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import Api, EventCapture, User, Users
from tests.contract import validate_schema
from tests.support.errors import assert_error
from tests.support.rooms import new_room


async def create_meeting(api: Api, caller: User, room_id: str, **fields: Any) -> dict[str, Any]:
    response = await api.post("/meetings", caller, json_body={"roomId": room_id, **fields})
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    validate_schema("Meeting", body)
    return body


async def get_json(api: Api, path: str, caller: User) -> Any:
    response = await api.get(path, caller)
    assert response.status_code == 200, response.text
    return response.json()


# --------------------------------------------------------------------------------- create, read


async def test_a_member_creates_a_meeting_for_a_room(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])

    meeting = await create_meeting(api, bob, room, meetingType="permanent", name="Daily standup")

    assert set(meeting) == {
        "id", "name", "roomId", "meetingType", "active", "createdAt", "participants"
    }  # fmt: skip
    assert meeting["roomId"] == room
    assert meeting["name"] == "Daily standup"
    assert meeting["meetingType"] == "permanent"
    assert meeting["active"] is False
    assert meeting["participants"] == []


async def test_the_meeting_is_found_by_id_by_room_and_in_the_list(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])
    meeting = await create_meeting(api, alice, room, name="m")

    for person in (alice, bob, carol):
        by_id = await get_json(api, f"/meetings/{meeting['id']}", person)
        by_room = await get_json(api, f"/rooms/{room}/meeting", person)
        listed = await get_json(api, "/meetings", person)
        validate_schema("Meeting", by_id)
        assert by_id == meeting
        assert by_room == meeting
        assert listed == [meeting]


async def test_a_room_shows_its_meeting_id(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])
    assert "meetingId" not in await get_json(api, f"/rooms/{room}", alice)

    meeting = await create_meeting(api, alice, room)

    assert (await get_json(api, f"/rooms/{room}", bob))["meetingId"] == meeting["id"]
    listed = await get_json(api, "/rooms", carol)
    assert [r.get("meetingId") for r in listed] == [meeting["id"]]


@pytest.mark.parametrize(
    ("given", "stored"), [("SCHEDULED", "scheduled"), ("Permanent", "permanent")]
)
async def test_the_meeting_type_ignores_case(
    api: Api, users: Users, given: str, stored: str
) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])

    meeting = await create_meeting(api, alice, room, meetingType=given)

    assert meeting["meetingType"] == stored


async def test_the_meeting_list_holds_only_the_callers_rooms(api: Api, users: Users) -> None:
    alice, bob, carol, dave = await users.many(4)
    shared = await new_room(api, alice, "group", [bob, carol])
    alices = await new_room(api, alice, "one_to_one", [dave])
    first = await create_meeting(api, alice, shared)
    second = await create_meeting(api, dave, alices)

    assert await get_json(api, "/meetings", alice) == [first, second]
    assert await get_json(api, "/meetings", bob) == [first]
    assert await get_json(api, "/meetings", dave) == [second]
    outsider = await users.new("outsider")
    assert await get_json(api, "/meetings", outsider) == []


async def test_a_channel_meeting_belongs_to_the_workspace_members(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol, outsider = await users.many(4)
    workspace = await new_room(api, alice, "workspace", [bob, carol])
    channel = await new_room(api, alice, "channel", parent=workspace)
    await events.watch(alice, bob, carol, outsider)

    meeting = await create_meeting(api, bob, channel)

    for person in (alice, bob, carol):
        assert await events.types(person) == ["MEETING_CREATED"]
        assert await get_json(api, f"/meetings/{meeting['id']}", person) == meeting
        assert await get_json(api, "/meetings", person) == [meeting]
    assert await events.received(outsider) == []
    assert_error(await api.get(f"/meetings/{meeting['id']}", outsider), 403)


async def test_a_second_meeting_for_a_room_is_409(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])
    first = await create_meeting(api, alice, room)

    second = await api.post("/meetings", bob, json_body={"roomId": room, "name": "again"})

    assert_error(second, 409)
    assert await get_json(api, "/meetings", alice) == [first]
    assert (await get_json(api, f"/rooms/{room}", alice))["meetingId"] == first["id"]


async def test_creating_needs_membership_of_an_existing_room(api: Api, users: Users) -> None:
    alice, bob, carol, outsider = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])

    assert_error(await api.post("/meetings", outsider, json_body={"roomId": room}), 403)
    missing = str(uuid.uuid4())
    assert_error(await api.post("/meetings", alice, json_body={"roomId": missing}), 404)
    assert await get_json(api, "/meetings", alice) == []
    assert "meetingId" not in await get_json(api, f"/rooms/{room}", alice)


async def test_a_non_member_gets_403_even_when_the_room_has_a_meeting(
    api: Api, users: Users
) -> None:
    alice, bob, carol, outsider = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])
    await create_meeting(api, alice, room)

    # Not a member AND a meeting already exists: the permission is checked first.
    assert_error(await api.post("/meetings", outsider, json_body={"roomId": room}), 403)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, ["roomId"]),
        ({"roomId": "not-a-uuid"}, ["roomId"]),
        ({"roomId": "{room}", "meetingType": "weekly"}, ["meetingType"]),
        ({"roomId": "{room}", "colour": "red"}, ["colour"]),
        ({"roomId": "{room}", "name": "x" * 129}, ["name"]),
    ],
)
async def test_a_malformed_creation_is_400_naming_the_field(
    api: Api, users: Users, body: dict[str, Any], words: list[str]
) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])
    filled = {k: room if v == "{room}" else v for k, v in body.items()}

    assert_error(await api.post("/meetings", alice, json_body=filled), 400, *words)
    assert await get_json(api, "/meetings", alice) == []


async def test_reading_a_meeting_needs_membership(api: Api, users: Users) -> None:
    alice, bob, carol, outsider = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])
    meeting = await create_meeting(api, alice, room)

    assert_error(await api.get(f"/meetings/{meeting['id']}", outsider), 403)
    assert_error(await api.get(f"/rooms/{room}/meeting", outsider), 403)


async def test_unknown_meetings_and_rooms_are_404(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])

    assert_error(await api.get(f"/meetings/{uuid.uuid4()}", alice), 404)
    assert_error(await api.get("/meetings/not-a-uuid", alice), 404)
    assert_error(await api.delete(f"/meetings/{uuid.uuid4()}", alice), 404)
    assert_error(await api.delete("/meetings/not-a-uuid", alice), 404)
    # A room without a meeting, a missing room, a malformed room id.
    assert_error(await api.get(f"/rooms/{room}/meeting", alice), 404)
    assert_error(await api.get(f"/rooms/{uuid.uuid4()}/meeting", alice), 404)
    assert_error(await api.get("/rooms/not-a-uuid/meeting", alice), 404)


async def test_meeting_created_reaches_the_room_members(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol, outsider = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])
    await events.watch(alice, bob, carol, outsider)

    meeting = await create_meeting(api, carol, room)

    for person in (alice, bob, carol):
        received = await events.received(person)
        assert [e["type"] for e in received] == ["MEETING_CREATED"]
        event = received[0]
        assert set(event) == {"type", "sentDate", "meetingId", "roomId"}
        assert (event["meetingId"], event["roomId"]) == (meeting["id"], room)
    assert await events.received(outsider) == []


# --------------------------------------------------------------------------------- delete


async def test_a_member_deletes_the_meeting(api: Api, users: Users, events: EventCapture) -> None:
    alice, bob, carol, outsider = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])
    meeting = await create_meeting(api, alice, room)
    await events.watch(alice, bob, carol, outsider)

    # Any member may delete it, as in the original meeting API.
    response = await api.delete(f"/meetings/{meeting['id']}", bob)

    assert response.status_code == 204
    assert response.content == b""
    assert_error(await api.get(f"/meetings/{meeting['id']}", alice), 404)
    assert_error(await api.get(f"/rooms/{room}/meeting", alice), 404)
    assert await get_json(api, "/meetings", alice) == []
    assert "meetingId" not in await get_json(api, f"/rooms/{room}", alice)
    for person in (alice, bob, carol):
        received = await events.received(person)
        assert [e["type"] for e in received] == ["MEETING_DELETED"]
        assert set(received[0]) == {"type", "sentDate", "meetingId"}
        assert received[0]["meetingId"] == meeting["id"]
    assert await events.received(outsider) == []


async def test_after_a_delete_the_room_can_have_a_new_meeting(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])
    first = await create_meeting(api, alice, room)
    assert (await api.delete(f"/meetings/{first['id']}", alice)).status_code == 204

    second = await create_meeting(api, alice, room)

    assert second["id"] != first["id"]
    assert (await get_json(api, f"/rooms/{room}", alice))["meetingId"] == second["id"]


async def test_a_non_member_cannot_delete_a_meeting(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol, outsider = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])
    meeting = await create_meeting(api, alice, room)
    await events.watch(alice)

    assert_error(await api.delete(f"/meetings/{meeting['id']}", outsider), 403)

    assert await get_json(api, f"/meetings/{meeting['id']}", alice) == meeting
    assert await events.received(alice) == []


async def test_deleting_the_room_deletes_its_meeting(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])
    meeting = await create_meeting(api, alice, room)
    await events.watch(alice, bob)

    assert (await api.delete(f"/rooms/{room}", alice)).status_code == 204

    assert_error(await api.get(f"/meetings/{meeting['id']}", alice), 404)
    assert await get_json(api, "/meetings", bob) == []
    for person in (alice, bob):
        received = await events.received(person)
        deleted = [e for e in received if e["type"] == "MEETING_DELETED"]
        assert [e["meetingId"] for e in deleted] == [meeting["id"]]
        assert "ROOM_DELETED" in [e["type"] for e in received]


async def test_deleting_a_workspace_deletes_its_channels_meetings(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    workspace = await new_room(api, alice, "workspace", [bob, carol])
    channel = await new_room(api, alice, "channel", parent=workspace)
    meeting = await create_meeting(api, bob, channel)

    assert (await api.delete(f"/rooms/{workspace}", alice)).status_code == 204

    assert_error(await api.get(f"/meetings/{meeting['id']}", bob), 404)
    assert await get_json(api, "/meetings", bob) == []


async def test_the_last_member_leaving_deletes_the_meeting_with_the_room(
    api: Api, users: Users
) -> None:
    alice = await users.new("alice")
    room = await new_room(api, alice, "temporary")
    meeting = await create_meeting(api, alice, room)

    assert (await api.delete(f"/rooms/{room}/members/{alice.id}", alice)).status_code == 204

    assert_error(await api.get(f"/meetings/{meeting['id']}", alice), 404)
    assert await get_json(api, "/meetings", alice) == []


async def test_a_member_who_left_no_longer_sees_the_meeting(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])
    meeting = await create_meeting(api, alice, room)

    assert (await api.delete(f"/rooms/{room}/members/{bob.id}", bob)).status_code == 204

    assert await get_json(api, "/meetings", bob) == []
    assert_error(await api.get(f"/meetings/{meeting['id']}", bob), 403)
    assert_error(await api.get(f"/rooms/{room}/meeting", bob), 403)
