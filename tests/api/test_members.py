"""Room members over HTTP: list, add, remove (kick or leave) (behaviour.md#add-member, ...)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.conftest import Api, EventCapture, User, Users
from tests.support.errors import assert_error
from tests.support.rooms import new_room

# --------------------------------------------------------------------------------- helpers

# DECISIONS.md#serving: date-times are UTC with a Z suffix and milliseconds.
ISO_UTC = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\Z")


async def member_list(api: Api, room_id: str, caller: User) -> list[dict[str, Any]]:
    response = await api.get(f"/rooms/{room_id}/members", caller)
    assert response.status_code == 200, response.text
    members: list[dict[str, Any]] = response.json()
    return members


def entry(user: User, owner: bool) -> dict[str, Any]:
    return {"userId": str(user.id), "owner": owner}


async def add(api: Api, room_id: str, caller: User, user_id: uuid.UUID | str, **fields: Any) -> Any:
    return await api.post(
        f"/rooms/{room_id}/members", caller, json_body={"userId": str(user_id), **fields}
    )


# --------------------------------------------------------------------------------- list


async def test_members_are_listed_in_join_order_with_the_creator_last(
    api: Api, users: Users
) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])

    for caller in (alice, bob, carol):
        assert await member_list(api, room, caller) == [
            entry(bob, False),
            entry(carol, False),
            entry(alice, True),
        ]


async def test_members_of_a_channel_are_the_members_of_its_workspace(
    api: Api, users: Users
) -> None:
    alice, bob, carol = await users.many(3)
    workspace = await new_room(api, alice, "workspace", [bob, carol])
    channel = await new_room(api, alice, "channel", parent=workspace)

    assert await member_list(api, channel, bob) == await member_list(api, workspace, bob)
    assert await member_list(api, channel, carol) == [
        entry(bob, False),
        entry(carol, False),
        entry(alice, True),
    ]


async def test_listing_members_needs_membership_of_an_existing_room(api: Api, users: Users) -> None:
    alice, bob, carol, outsider = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])
    workspace = await new_room(api, alice, "workspace", [bob, carol])
    channel = await new_room(api, alice, "channel", parent=workspace)

    assert_error(await api.get(f"/rooms/{room}/members", outsider), 403)
    assert_error(await api.get(f"/rooms/{channel}/members", outsider), 403)
    assert_error(await api.get(f"/rooms/{uuid.uuid4()}/members", alice), 404)
    assert_error(await api.get("/rooms/not-a-uuid/members", alice), 404)
    assert_error(await api.get(f"/rooms/{room}/members"), 401)


# --------------------------------------------------------------------------------- add


async def test_an_owner_adds_a_member_who_is_then_listed_last(api: Api, users: Users) -> None:
    alice, bob, carol, dave = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])

    response = await add(api, room, alice, dave.id)

    assert response.status_code == 201, response.text
    # DECISIONS.md#rooms: without historyCleared nothing was cleared, so clearedAt is absent.
    assert response.json() == {"userId": str(dave.id), "owner": False}
    assert await member_list(api, room, dave) == [
        entry(bob, False),
        entry(carol, False),
        entry(alice, True),
        entry(dave, False),
    ]
    assert (await api.get(f"/rooms/{room}", dave)).status_code == 200


async def test_a_member_can_be_added_as_an_owner(api: Api, users: Users) -> None:
    alice, bob, carol, dave = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])

    response = await add(api, room, alice, dave.id, owner=True, historyCleared=False)

    assert response.status_code == 201, response.text
    assert response.json() == {"userId": str(dave.id), "owner": True}
    assert entry(dave, True) in await member_list(api, room, alice)
    # As an owner, the new member may now add others.
    erin = await users.new("erin")
    assert (await add(api, room, dave, erin.id)).status_code == 201


async def test_history_cleared_sets_cleared_at_for_the_new_member_only(
    api: Api, users: Users
) -> None:
    alice, bob, carol, dave = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])

    response = await add(api, room, alice, dave.id, historyCleared=True)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"userId", "owner", "clearedAt"}
    dave_view = (await api.get(f"/rooms/{room}", dave)).json()
    assert dave_view["userSettings"] == {"muted": False, "clearedAt": body["clearedAt"]}
    alice_view = (await api.get(f"/rooms/{room}", alice)).json()
    assert alice_view["userSettings"] == {"muted": False}


async def test_history_cleared_false_leaves_no_cleared_at(api: Api, users: Users) -> None:
    alice, bob, carol, dave = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])

    response = await add(api, room, alice, dave.id, historyCleared=False)

    assert response.status_code == 201, response.text
    assert "clearedAt" not in response.json()
    assert (await api.get(f"/rooms/{room}", dave)).json()["userSettings"] == {"muted": False}


async def test_an_unknown_user_is_404_before_any_room_check(api: Api, users: Users) -> None:
    alice, bob, carol, outsider = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])
    nobody = uuid.uuid4()

    # The outsider would get 403 and the missing room 404 if the user existed.
    assert_error(await add(api, room, outsider, nobody), 404, str(nobody))
    assert_error(await add(api, room, bob, nobody), 404, str(nobody))
    assert_error(await add(api, str(uuid.uuid4()), alice, nobody), 404, str(nobody))
    assert await member_list(api, room, alice) == [
        entry(bob, False),
        entry(carol, False),
        entry(alice, True),
    ]


async def test_adding_needs_an_owner_of_an_existing_room(api: Api, users: Users) -> None:
    alice, bob, carol, dave, outsider = await users.many(5)
    room = await new_room(api, alice, "group", [bob, carol])

    assert_error(await add(api, room, bob, dave.id), 403)
    assert_error(await add(api, room, outsider, dave.id), 403)
    assert_error(await add(api, str(uuid.uuid4()), alice, dave.id), 404)
    assert_error(
        await api.post("/rooms/nope/members", alice, json_body={"userId": str(dave.id)}), 404
    )
    assert_error(await add(api, room, outsider, outsider.id), 403)
    assert len(await member_list(api, room, alice)) == 3


@pytest.mark.parametrize("room_type", ["one_to_one", "channel"])
async def test_rooms_without_members_of_their_own_refuse_additions(
    api: Api, users: Users, room_type: str
) -> None:
    alice, bob, carol, dave = await users.many(4)
    if room_type == "one_to_one":
        room = await new_room(api, alice, "one_to_one", [bob])
    else:
        workspace = await new_room(api, alice, "workspace", [bob, carol])
        room = await new_room(api, alice, "channel", parent=workspace)

    assert_error(await add(api, room, alice, dave.id), 400, room_type)
    assert_error(await api.get(f"/rooms/{room}", dave), 403)


async def test_a_non_owner_adding_to_a_channel_is_403_not_400(api: Api, users: Users) -> None:
    alice, bob, carol, dave = await users.many(4)
    workspace = await new_room(api, alice, "workspace", [bob, carol])
    channel = await new_room(api, alice, "channel", parent=workspace)

    assert_error(await add(api, channel, bob, dave.id), 403)


async def test_a_full_group_refuses_a_new_member(api: Api, users: Users) -> None:
    # max_group_members is 6 in the tests, counting everyone, the creator too (DECISIONS.md#rooms).
    alice, *invited = await users.many(6)
    room = await new_room(api, alice, "group", invited)
    extra = await users.new("extra")

    assert_error(await add(api, room, alice, extra.id), 400, "6")
    assert len(await member_list(api, room, alice)) == 6
    assert_error(await api.get(f"/rooms/{room}", extra), 403)


async def test_a_full_group_refuses_for_its_size_before_checking_membership(
    api: Api, users: Users
) -> None:
    alice, *invited = await users.many(6)
    room = await new_room(api, alice, "group", invited)

    # Full AND already a member: the size rule comes first (behaviour.md#add-member order).
    response = await add(api, room, alice, invited[0].id)

    assert_error(response, 400, "more members")
    assert "already" not in response.json()["message"]


async def test_a_group_one_below_the_limit_takes_one_more_then_is_full(
    api: Api, users: Users
) -> None:
    alice, *invited = await users.many(5)
    room = await new_room(api, alice, "group", invited)
    sixth, seventh = await users.many(2)

    assert (await add(api, room, alice, sixth.id)).status_code == 201
    assert_error(await add(api, room, alice, seventh.id), 400)
    assert len(await member_list(api, room, alice)) == 6


async def test_a_group_emptied_below_the_limit_accepts_members_again(
    api: Api, users: Users
) -> None:
    alice, *invited = await users.many(6)
    room = await new_room(api, alice, "group", invited)
    extra = await users.new("extra")

    assert (await api.delete(f"/rooms/{room}/members/{invited[0].id}", alice)).status_code == 204
    assert (await add(api, room, alice, extra.id)).status_code == 201


@pytest.mark.parametrize("room_type", ["workspace", "temporary"])
async def test_the_member_limit_applies_to_groups_only(
    api: Api, users: Users, room_type: str
) -> None:
    alice, *invited = await users.many(6)
    room = await new_room(api, alice, room_type, invited)
    extra = await users.new("extra")

    assert (await add(api, room, alice, extra.id)).status_code == 201
    assert len(await member_list(api, room, alice)) == 7


async def test_adding_an_existing_member_is_400(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])

    assert_error(await add(api, room, alice, bob.id), 400, "already")
    assert_error(await add(api, room, alice, alice.id), 400, "already")
    assert await member_list(api, room, alice) == [
        entry(bob, False),
        entry(carol, False),
        entry(alice, True),
    ]


async def test_a_non_owner_adding_an_existing_member_is_403_not_400(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])

    assert_error(await add(api, room, bob, carol.id), 403)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"userId": "{id}", "admin": True}, ["admin"]),
        ({"owner": True}, ["userId"]),
        ({"userId": "not-a-uuid"}, ["userId"]),
        ({"userId": "{id}", "historyCleared": "sometimes"}, ["historyCleared"]),
    ],
)
async def test_a_malformed_body_is_400_naming_the_field(
    api: Api, users: Users, body: dict[str, Any], words: list[str]
) -> None:
    alice, bob, carol, dave = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])
    filled = {k: str(dave.id) if v == "{id}" else v for k, v in body.items()}

    response = await api.post(f"/rooms/{room}/members", alice, json_body=filled)

    assert_error(response, 400, *words)
    assert len(await member_list(api, room, alice)) == 3


async def test_a_new_workspace_member_gets_the_next_rank_and_its_channels(
    api: Api, users: Users
) -> None:
    alice, bob, carol, dave = await users.many(4)
    # dave already has two workspaces, ranked 1 and 2.
    for _ in range(2):
        await new_room(api, dave, "workspace", [bob, carol])
    workspace = await new_room(api, alice, "workspace", [bob, carol])
    channel = await new_room(api, alice, "channel", parent=workspace)
    assert_error(await api.get(f"/rooms/{channel}", dave), 403)

    response = await add(api, workspace, alice, dave.id)

    assert response.status_code == 201, response.text
    assert (await api.get(f"/rooms/{workspace}", dave)).json()["rank"] == 3
    # alice's own rank is untouched by dave's arrival.
    assert (await api.get(f"/rooms/{workspace}", alice)).json()["rank"] == 1
    # Channel access follows workspace membership.
    seen = await api.get(f"/rooms/{channel}", dave)
    assert seen.status_code == 200, seen.text
    assert entry(dave, False) in seen.json()["members"]
    assert entry(dave, False) in await member_list(api, channel, dave)
    listed = (await api.get("/rooms", dave)).json()
    mine = next(r for r in listed if r["id"] == workspace)
    assert [c["id"] for c in mine["children"]] == [channel]


async def test_a_first_workspace_gives_rank_one(api: Api, users: Users) -> None:
    alice, bob, carol, dave = await users.many(4)
    workspace = await new_room(api, alice, "workspace", [bob, carol])

    assert (await add(api, workspace, alice, dave.id)).status_code == 201

    assert (await api.get(f"/rooms/{workspace}", dave)).json()["rank"] == 1


async def test_member_added_reaches_every_member_and_the_new_one(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol, dave, outsider = await users.many(5)
    room = await new_room(api, alice, "group", [bob, carol])
    await events.watch(alice, bob, carol, dave, outsider)

    assert (await add(api, room, alice, dave.id, owner=True)).status_code == 201

    for person in (alice, bob, carol, dave):
        received = await events.received(person)
        assert [e["type"] for e in received] == ["ROOM_MEMBER_ADDED"]
        event = received[0]
        assert set(event) == {"type", "sentDate", "roomId", "userId", "isOwner"}
        assert ISO_UTC.match(event["sentDate"]), event
        assert (event["roomId"], event["userId"], event["isOwner"]) == (room, str(dave.id), True)
    assert await events.received(outsider) == []


async def test_member_added_to_a_workspace_reaches_its_members(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol, dave, outsider = await users.many(5)
    workspace = await new_room(api, alice, "workspace", [bob, carol])
    await new_room(api, alice, "channel", parent=workspace)
    await events.watch(alice, bob, dave, outsider)

    assert (await add(api, workspace, alice, dave.id)).status_code == 201

    for person in (alice, bob, dave):
        assert await events.types(person) == ["ROOM_MEMBER_ADDED"]
    assert await events.received(outsider) == []


async def test_a_refused_addition_sends_no_event(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol, dave = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])
    await events.watch(alice, bob, dave)

    assert (await add(api, room, bob, dave.id)).status_code == 403
    assert (await add(api, room, alice, bob.id)).status_code == 400

    for person in (alice, bob, dave):
        assert await events.received(person) == []


# --------------------------------------------------------------------------------- remove


async def remove(api: Api, room_id: str, caller: User, target: User | uuid.UUID) -> Any:
    target_id = target.id if isinstance(target, User) else target
    return await api.delete(f"/rooms/{room_id}/members/{target_id}", caller)


async def test_an_owner_kicks_a_member(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])

    response = await remove(api, room, alice, bob)

    assert response.status_code == 204
    assert response.content == b""
    assert await member_list(api, room, alice) == [entry(carol, False), entry(alice, True)]
    assert_error(await api.get(f"/rooms/{room}", bob), 403)
    assert room not in [r["id"] for r in (await api.get("/rooms", bob)).json()]


async def test_kicking_needs_an_owner(api: Api, users: Users) -> None:
    alice, bob, carol, outsider = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])

    assert_error(await remove(api, room, bob, carol), 403)
    assert_error(await remove(api, room, bob, alice), 403)
    assert_error(await remove(api, room, outsider, carol), 403)
    assert len(await member_list(api, room, alice)) == 3


async def test_a_member_leaves_without_being_an_owner(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])

    assert (await remove(api, room, bob, bob)).status_code == 204

    assert await member_list(api, room, alice) == [entry(carol, False), entry(alice, True)]
    assert_error(await api.get(f"/rooms/{room}", bob), 403)


async def test_a_non_member_cannot_leave(api: Api, users: Users) -> None:
    alice, bob, carol, outsider = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])

    assert_error(await remove(api, room, outsider, outsider), 403)
    assert_error(await remove(api, str(uuid.uuid4()), alice, alice), 404)
    assert_error(await api.delete(f"/rooms/{room}/members/not-a-uuid", alice), 404)
    assert_error(await api.delete(f"/rooms/{room}/members/{bob.id}"), 401)


async def test_kicking_a_non_member_is_404(api: Api, users: Users) -> None:
    alice, bob, carol, outsider = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])

    assert_error(await remove(api, room, alice, outsider), 404)
    assert_error(await remove(api, room, alice, uuid.uuid4()), 404)
    # A non-owner asking the same is refused first.
    assert_error(await remove(api, room, bob, outsider), 403)


@pytest.mark.parametrize("kick", [True, False])
async def test_one_to_one_members_cannot_be_removed(api: Api, users: Users, kick: bool) -> None:
    alice, bob = await users.many(2)
    room = await new_room(api, alice, "one_to_one", [bob])

    assert_error(await remove(api, room, alice, bob if kick else alice), 400, "one_to_one")
    assert await member_list(api, room, bob) == [entry(bob, True), entry(alice, True)]


@pytest.mark.parametrize("kick", [True, False])
async def test_channel_members_cannot_be_removed(api: Api, users: Users, kick: bool) -> None:
    alice, bob, carol = await users.many(3)
    workspace = await new_room(api, alice, "workspace", [bob, carol])
    channel = await new_room(api, alice, "channel", parent=workspace)

    assert_error(await remove(api, channel, alice, bob if kick else alice), 400, "channel")
    # A member leaving a channel is refused the same way (not a kick, so no owner needed).
    assert_error(await remove(api, channel, bob, bob), 400)
    # A non-owner kicking in a channel is refused for the permission first.
    assert_error(await remove(api, channel, bob, carol), 403)
    assert len(await member_list(api, channel, alice)) == 3


async def test_the_last_owner_cannot_leave_while_others_remain(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])

    assert_error(await remove(api, room, alice, alice), 400, "owner")
    assert len(await member_list(api, room, alice)) == 3

    assert (await api.put(f"/rooms/{room}/members/{bob.id}/owner", alice)).status_code == 204
    assert (await remove(api, room, alice, alice)).status_code == 204
    assert await member_list(api, room, bob) == [entry(bob, True), entry(carol, False)]
    # bob is now the last owner.
    assert_error(await remove(api, room, bob, bob), 400, "owner")


async def test_the_last_member_leaving_deletes_the_room(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])
    for person in (bob, carol):
        assert (await remove(api, room, alice, person)).status_code == 204
    await events.watch(alice, bob)

    assert (await remove(api, room, alice, alice)).status_code == 204

    assert_error(await api.get(f"/rooms/{room}", alice), 404)
    assert (await api.get("/rooms", alice)).json() == []
    received = await events.received(alice)
    assert [e["type"] for e in received] == ["ROOM_MEMBER_REMOVED", "ROOM_DELETED"]
    assert received[1]["roomId"] == room
    assert await events.received(bob) == []


async def test_the_only_member_of_a_temporary_room_leaving_deletes_it(
    api: Api, users: Users
) -> None:
    alice = await users.new("alice")
    room = await new_room(api, alice, "temporary")

    assert (await remove(api, room, alice, alice)).status_code == 204

    assert_error(await api.get(f"/rooms/{room}", alice), 404)


async def test_the_last_member_leaving_a_workspace_deletes_its_channels(
    api: Api, users: Users
) -> None:
    alice, bob, carol = await users.many(3)
    workspace = await new_room(api, alice, "workspace", [bob, carol])
    channel = await new_room(api, alice, "channel", parent=workspace)
    for person in (bob, carol):
        assert (await remove(api, workspace, alice, person)).status_code == 204

    assert (await remove(api, workspace, alice, alice)).status_code == 204

    assert_error(await api.get(f"/rooms/{workspace}", alice), 404)
    assert_error(await api.get(f"/rooms/{channel}", alice), 404)


async def test_member_removed_reaches_every_member_including_the_removed_one(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol, outsider = await users.many(4)
    room = await new_room(api, alice, "group", [bob, carol])
    await events.watch(alice, bob, carol, outsider)

    assert (await remove(api, room, alice, bob)).status_code == 204

    for person in (alice, bob, carol):
        received = await events.received(person)
        assert [e["type"] for e in received] == ["ROOM_MEMBER_REMOVED"]
        event = received[0]
        assert set(event) == {"type", "sentDate", "roomId", "userId"}
        assert ISO_UTC.match(event["sentDate"]), event
        assert (event["roomId"], event["userId"]) == (room, str(bob.id))
    assert await events.received(outsider) == []


async def test_a_leave_is_announced_to_everyone_too(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])
    await events.watch(alice, bob, carol)

    assert (await remove(api, room, carol, carol)).status_code == 204

    for person in (alice, bob, carol):
        received = await events.received(person)
        assert [(e["type"], e["userId"]) for e in received] == [
            ("ROOM_MEMBER_REMOVED", str(carol.id))
        ]


async def test_a_refused_removal_sends_no_event(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])
    await events.watch(alice, bob, carol)

    assert (await remove(api, room, bob, carol)).status_code == 403
    assert (await remove(api, room, alice, alice)).status_code == 400

    for person in (alice, bob, carol):
        assert await events.received(person) == []


async def test_leaving_a_workspace_drops_its_rank_and_its_channels(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    first = await new_room(api, alice, "workspace", [bob, carol])
    second = await new_room(api, alice, "workspace", [bob, carol])
    channel = await new_room(api, alice, "channel", parent=first)
    assert (await api.get(f"/rooms/{second}", bob)).json()["rank"] == 2

    assert (await remove(api, first, bob, bob)).status_code == 204

    assert_error(await api.get(f"/rooms/{channel}", bob), 403)
    # Ranks are not renumbered, and bob now has exactly one ranked workspace.
    assert (await api.get(f"/rooms/{second}", bob)).json()["rank"] == 2
    ranked = await api.put("/rooms/workspaces/rank", bob, json_body=[{"roomId": second, "rank": 1}])
    assert ranked.status_code == 204, ranked.text
    # Back in the workspace, bob gets a fresh rank after his current ones.
    assert (await add(api, first, alice, bob.id)).status_code == 201
    assert (await api.get(f"/rooms/{first}", bob)).json()["rank"] == 2


async def test_a_kick_from_a_workspace_drops_the_rank_too(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    first = await new_room(api, alice, "workspace", [bob, carol])
    second = await new_room(api, alice, "workspace", [bob, carol])

    assert (await remove(api, first, alice, bob)).status_code == 204

    ranked = await api.put("/rooms/workspaces/rank", bob, json_body=[{"roomId": second, "rank": 1}])
    assert ranked.status_code == 204, ranked.text


async def test_leaving_a_group_keeps_mute_and_cleared_at_for_a_re_add(
    api: Api, users: Users
) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])
    assert (await api.put(f"/rooms/{room}/mute", bob)).status_code == 204
    cleared = await api.put(f"/rooms/{room}/clear", bob)
    assert cleared.status_code == 200, cleared.text
    cleared_at = cleared.json()["clearedAt"]

    assert (await remove(api, room, bob, bob)).status_code == 204
    readded = await add(api, room, alice, bob.id)

    assert readded.status_code == 201, readded.text
    assert (await api.get(f"/rooms/{room}", bob)).json()["userSettings"] == {
        "muted": True,
        "clearedAt": cleared_at,
    }


async def test_a_re_add_with_history_cleared_moves_cleared_at_forward(
    api: Api, users: Users
) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_room(api, alice, "group", [bob, carol])
    first = (await api.put(f"/rooms/{room}/clear", bob)).json()["clearedAt"]
    assert (await remove(api, room, alice, bob)).status_code == 204

    readded = await add(api, room, alice, bob.id, historyCleared=True)

    assert readded.status_code == 201, readded.text
    second = readded.json()["clearedAt"]
    assert second >= first
    assert (await api.get(f"/rooms/{room}", bob)).json()["userSettings"]["clearedAt"] == second
