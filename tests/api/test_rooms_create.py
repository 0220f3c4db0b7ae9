"""POST /rooms (behaviour.md#create-room as amended by DECISIONS.md#serving, #errors and #rooms)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import Api, EventCapture, User, Users
from tests.support.errors import assert_error
from tests.support.rooms import (
    Json,
    assert_json,
    create_room,
    ids,
    members_of,
    new_channel,
    new_group,
    new_one_to_one,
    new_workspace,
    only_event,
    revoke,
    room_ids_of,
    unknown_id,
)
from wschats.bootstrap import Adapters

# Fields a Room response must never carry whatever its type (DECISIONS.md#rooms: `membersIds`).
NEVER_RENDERED = {"membersIds", "pictureUpdatedAt", "meetingId"}


# ------------------------------------------------------------------------------ group


async def test_group_lists_invitees_then_creator_who_alone_owns_it(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    response = await api.post(
        "/rooms",
        alice,
        json_body={
            "type": "group",
            "name": "Team",
            "description": "Our team",
            "membersIds": ids(bob, carol),
        },
    )
    room = assert_json(response, 201)
    assert room["type"] == "group"
    assert room["name"] == "Team"
    assert room["description"] == "Our team"
    assert room["members"] == members_of((bob, False), (carol, False), (alice, True))
    assert room["userSettings"] == {"muted": False}
    assert room["createdAt"] == room["updatedAt"]
    for absent in {"rank", "children", "parentId", *NEVER_RENDERED}:
        assert absent not in room, absent

    # Every member sees the same room.
    seen = assert_json(await api.get(f"/rooms/{room['id']}", carol), 200)
    assert seen["members"] == room["members"]
    assert seen["name"] == "Team"


@pytest.mark.parametrize("spelling", ["GROUP", "Group", "gRoUp"])
async def test_room_type_is_case_insensitive(api: Api, users: Users, spelling: str) -> None:
    alice, bob, carol = await users.many(3)
    room = await create_room(
        api, alice, {"type": spelling, "name": "g", "membersIds": ids(bob, carol)}
    )
    assert room["type"] == "group"


async def test_room_created_event_reaches_every_member_and_nobody_else(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol, dave = await users.many(4)
    await events.watch(alice, bob, carol, dave)
    room = await new_group(api, alice, bob, carol)
    for person in (alice, bob, carol):
        event = await only_event(events, person, "ROOM_CREATED")
        assert event["roomId"] == room["id"]
    assert await events.received(dave) == []


@pytest.mark.parametrize("room_type", ["group", "temporary"])
async def test_group_and_temporary_need_a_name(api: Api, users: Users, room_type: str) -> None:
    alice, bob, carol = await users.many(3)
    response = await api.post(
        "/rooms", alice, json_body={"type": room_type, "membersIds": ids(bob, carol)}
    )
    assert_error(response, 400, "name")
    assert await room_ids_of(api, alice) == []


async def test_name_and_description_lengths(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    members = ids(bob, carol)
    ok = await create_room(
        api,
        alice,
        {"type": "group", "name": "n" * 128, "description": "d" * 256, "membersIds": members},
    )
    assert ok["name"] == "n" * 128
    assert ok["description"] == "d" * 256
    for body in (
        {"type": "group", "name": "", "membersIds": members},
        {"type": "group", "name": "n" * 129, "membersIds": members},
        {"type": "group", "name": "n", "description": "d" * 257, "membersIds": members},
    ):
        assert_error(await api.post("/rooms", alice, json_body=body), 400)
    assert await room_ids_of(api, alice) == [ok["id"]]


@pytest.mark.parametrize("count", [0, 1])
@pytest.mark.parametrize("room_type", ["group", "workspace"])
async def test_group_and_workspace_need_two_invitees(
    api: Api, users: Users, room_type: str, count: int
) -> None:
    alice, *others = await users.many(1 + count)
    response = await api.post(
        "/rooms", alice, json_body={"type": room_type, "name": "x", "membersIds": ids(*others)}
    )
    assert_error(response, 400, "at least")


@pytest.mark.parametrize("room_type", ["group", "workspace"])
async def test_size_limit_counts_the_creator(api: Api, users: Users, room_type: str) -> None:
    # max_group_members is 6 in tests: the creator and 5 invitees fill it (DECISIONS.md#rooms).
    alice, *others = await users.many(7)
    full = await create_room(
        api, alice, {"type": room_type, "name": "x", "membersIds": ids(*others[:5])}
    )
    assert len(full["members"]) == 6
    response = await api.post(
        "/rooms", alice, json_body={"type": room_type, "name": "y", "membersIds": ids(*others)}
    )
    assert_error(response, 400, "at most")
    assert await room_ids_of(api, alice) == [full["id"]]


async def test_temporary_has_no_member_count_rules(api: Api, users: Users) -> None:
    alice, *others = await users.many(8)
    alone = await create_room(api, alice, {"type": "temporary", "name": "solo"})
    assert alone["members"] == members_of((alice, True))
    assert alone["userSettings"] == {"muted": False}
    crowd = await create_room(
        api, alice, {"type": "temporary", "name": "crowd", "membersIds": ids(*others)}
    )
    assert len(crowd["members"]) == 8
    assert crowd["members"][-1] == {"userId": str(alice.id), "owner": True}


async def test_duplicate_invitees_are_refused(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    response = await api.post(
        "/rooms", alice, json_body={"type": "group", "name": "g", "membersIds": ids(bob, bob)}
    )
    assert_error(response, 400, "duplicate")
    response = await api.post(
        "/rooms",
        alice,
        json_body={"type": "temporary", "name": "t", "membersIds": ids(bob, carol, bob)},
    )
    assert_error(response, 400, "duplicate")


@pytest.mark.parametrize("room_type", ["group", "temporary", "workspace", "one_to_one"])
async def test_creator_cannot_invite_themself(api: Api, users: Users, room_type: str) -> None:
    alice, bob = await users.many(2)
    members = ids(alice) if room_type == "one_to_one" else ids(bob, alice)
    response = await api.post(
        "/rooms", alice, json_body={"type": room_type, "name": "x", "membersIds": members}
    )
    assert_error(response, 400, "requester")


@pytest.mark.parametrize("room_type", ["group", "temporary", "workspace", "one_to_one"])
async def test_only_a_channel_has_a_parent(api: Api, users: Users, room_type: str) -> None:
    alice, bob, carol = await users.many(3)
    workspace = await new_workspace(api, alice, bob, carol)
    members = ids(bob) if room_type == "one_to_one" else ids(bob, carol)
    response = await api.post(
        "/rooms",
        alice,
        json_body={
            "type": room_type,
            "name": "x",
            "parentId": workspace["id"],
            "membersIds": members,
        },
    )
    assert_error(response, 400, "parent")


# Two broken rules at once: the first in behaviour.md#create-room's order decides (web layer, then
# service steps 1-5). Each case names a word of the rule expected to fire.
ORDERING_CASES = [
    pytest.param("group-no-name+dup", "name", id="name-before-duplicates"),
    pytest.param("dup+self", "duplicate", id="duplicates-before-self"),
    pytest.param("self+parent", "requester", id="self-before-parent"),
    pytest.param("parent+count", "parent", id="parent-before-count"),
]


@pytest.mark.parametrize(("case", "word"), ORDERING_CASES)
async def test_creation_rules_apply_in_order(api: Api, users: Users, case: str, word: str) -> None:
    alice, bob, carol = await users.many(3)
    workspace = await new_workspace(api, alice, bob, carol)
    bodies: dict[str, Json] = {
        "group-no-name+dup": {"type": "group", "membersIds": ids(bob, bob)},
        "dup+self": {"type": "group", "name": "g", "membersIds": ids(bob, bob, alice)},
        "self+parent": {
            "type": "group",
            "name": "g",
            "membersIds": ids(alice, bob),
            "parentId": workspace["id"],
        },
        "parent+count": {
            "type": "group",
            "name": "g",
            "membersIds": ids(bob),
            "parentId": workspace["id"],
        },
    }
    assert_error(await api.post("/rooms", alice, json_body=bodies[case]), 400, word)


# ------------------------------------------------------------------------------ invitee existence


async def test_first_unknown_invitee_in_list_order_gives_404(api: Api, users: Users) -> None:
    alice, bob = await users.many(2)
    first, second = unknown_id(), unknown_id()
    response = await api.post(
        "/rooms",
        alice,
        json_body={"type": "group", "name": "g", "membersIds": [str(bob.id), first, second]},
    )
    message = assert_error(response, 404, first)
    assert second not in message
    assert await room_ids_of(api, alice) == []
    assert await room_ids_of(api, bob) == []


async def test_unknown_one_to_one_invitee_gives_404(api: Api, users: Users) -> None:
    alice = await users.new("alice")
    missing = unknown_id()
    response = await api.post(
        "/rooms", alice, json_body={"type": "one_to_one", "membersIds": [missing]}
    )
    assert_error(response, 404, missing)
    assert await room_ids_of(api, alice) == []


@pytest.mark.parametrize(
    ("room_type", "members"),
    [
        pytest.param("group", "unknown", id="group-count-before-existence"),
        pytest.param("group", "unknown,unknown", id="group-duplicates-before-existence"),
        pytest.param("one_to_one", "unknown,bob", id="one_to_one-count-before-existence"),
        pytest.param("workspace", "unknown", id="workspace-count-before-existence"),
    ],
)
async def test_request_rules_come_before_invitee_existence(
    api: Api, users: Users, room_type: str, members: str
) -> None:
    alice, bob = await users.many(2)
    missing = unknown_id()
    names = {"unknown": missing, "bob": str(bob.id)}
    body = {"type": room_type, "membersIds": [names[m] for m in members.split(",")]}
    if room_type != "one_to_one":
        body["name"] = "x"
    assert_error(await api.post("/rooms", alice, json_body=body), 400)


# ------------------------------------------------------------------------------ one_to_one


async def test_one_to_one_makes_both_owners_and_stores_no_name(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol = await users.many(3)
    await events.watch(alice, bob, carol)
    # DECISIONS.md#rooms: name and description are accepted, not stored (the original answered 400).
    room = await create_room(
        api,
        alice,
        {
            "type": "one_to_one",
            "name": "ignored",
            "description": "also ignored",
            "membersIds": ids(bob),
        },
    )
    assert room["type"] == "one_to_one"
    assert "name" not in room and "description" not in room
    assert room["members"] == members_of((bob, True), (alice, True))
    assert room["userSettings"] == {"muted": False}
    for absent in {"rank", "children", "parentId", *NEVER_RENDERED}:
        assert absent not in room, absent

    seen = assert_json(await api.get(f"/rooms/{room['id']}", bob), 200)
    assert "name" not in seen and "description" not in seen
    assert seen["members"] == room["members"]

    for person in (alice, bob):
        assert (await only_event(events, person, "ROOM_CREATED"))["roomId"] == room["id"]
    assert await events.received(carol) == []


@pytest.mark.parametrize("count", [0, 2])
async def test_one_to_one_needs_exactly_one_invitee(api: Api, users: Users, count: int) -> None:
    alice, *others = await users.many(1 + count)
    response = await api.post(
        "/rooms", alice, json_body={"type": "one_to_one", "membersIds": ids(*others)}
    )
    assert_error(response, 400)


async def test_second_one_to_one_for_the_same_pair_conflicts_in_either_direction(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol = await users.many(3)
    first = await new_one_to_one(api, alice, bob)
    await events.watch(alice, bob)
    for creator, other in ((alice, bob), (bob, alice)):
        response = await api.post(
            "/rooms", creator, json_body={"type": "one_to_one", "membersIds": ids(other)}
        )
        assert_error(response, 409)
    assert await events.received(alice) == []
    assert await events.received(bob) == []
    assert await room_ids_of(api, alice) == [first["id"]]
    assert await room_ids_of(api, bob) == [first["id"]]
    # Another pair is another room.
    second = await new_one_to_one(api, carol, alice)
    assert await room_ids_of(api, alice) == [first["id"], second["id"]]


async def test_a_group_of_the_same_two_people_does_not_block_a_one_to_one(
    api: Api, users: Users
) -> None:
    alice, bob = await users.many(2)
    await create_room(api, alice, {"type": "temporary", "name": "t", "membersIds": ids(bob)})
    await new_one_to_one(api, alice, bob)


# ------------------------------------------------------------------------------ workspace


async def test_workspace_has_caller_rank_and_empty_children_but_no_settings(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol = await users.many(3)
    await events.watch(alice, bob, carol)
    room = await new_workspace(api, alice, bob, carol, name=None)
    assert room["type"] == "workspace"
    assert "name" not in room  # a workspace may have no name
    assert room["rank"] == 1
    assert room["children"] == []
    assert "userSettings" not in room
    assert room["members"] == members_of((bob, False), (carol, False), (alice, True))
    for person in (alice, bob, carol):
        assert (await only_event(events, person, "ROOM_CREATED"))["roomId"] == room["id"]


async def test_each_workspace_member_gets_their_own_next_rank(api: Api, users: Users) -> None:
    alice, bob, carol, dave = await users.many(4)
    # bob has two workspaces (ranks 1, 2), carol one; alice had one and left it.
    await new_workspace(api, bob, carol, dave, name="B1")
    left = await new_workspace(api, bob, dave, alice, name="B2")
    assert left["rank"] == 2
    response = await api.delete(f"/rooms/{left['id']}/members/{alice.id}", alice)
    assert response.status_code == 204, response.text

    created = await new_workspace(api, alice, bob, carol, name="A1")
    assert created["rank"] == 1  # alice's own rank: her only workspace now

    async def rank_of(person: User) -> int:
        room = assert_json(await api.get(f"/rooms/{created['id']}", person), 200)
        rank: int = room["rank"]
        return rank

    assert await rank_of(alice) == 1
    assert await rank_of(bob) == 3
    assert await rank_of(carol) == 2


# ------------------------------------------------------------------------------ channel


async def test_channel_takes_workspace_members_and_next_channel_rank(
    api: Api, users: Users, events: EventCapture
) -> None:
    alice, bob, carol, dave = await users.many(4)
    workspace = await new_workspace(api, alice, bob, carol)
    other = await new_workspace(api, alice, bob, carol, name="Other")
    await events.watch(alice, bob, carol, dave)

    first = await new_channel(api, alice, workspace["id"], name="general")
    assert first["type"] == "channel"
    assert first["parentId"] == workspace["id"]
    assert first["rank"] == 1
    assert first["members"] == workspace["members"]
    assert first["userSettings"] == {"muted": False}
    assert "children" not in first
    for absent in NEVER_RENDERED:
        assert absent not in first
    for person in (alice, bob, carol):
        assert (await only_event(events, person, "ROOM_CREATED"))["roomId"] == first["id"]
    assert await events.received(dave) == []

    second = await new_channel(api, alice, workspace["id"], name=None)
    assert second["rank"] == 2
    assert "name" not in second
    elsewhere = await new_channel(api, alice, other["id"])
    assert elsewhere["rank"] == 1

    # Channels are not rooms of their own at the top level: they are workspace children.
    assert await room_ids_of(api, bob) == [workspace["id"], other["id"]]
    seen = assert_json(await api.get(f"/rooms/{workspace['id']}", bob), 200)
    assert [c["id"] for c in seen["children"]] == [first["id"], second["id"]]


async def test_channel_by_promoted_workspace_owner(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    workspace = await new_workspace(api, alice, bob, carol)
    response = await api.put(f"/rooms/{workspace['id']}/members/{bob.id}/owner", alice)
    assert response.status_code == 204, response.text
    channel = await new_channel(api, bob, workspace["id"])
    assert channel["members"] == members_of((bob, True), (carol, False), (alice, True))


async def test_channel_rules(api: Api, users: Users) -> None:
    alice, bob, carol, dave = await users.many(4)
    workspace = await new_workspace(api, alice, bob, carol)
    group = await new_group(api, alice, bob, carol)
    channel = await new_channel(api, alice, workspace["id"])

    async def create(user: User, body: Json) -> httpx.Response:
        return await api.post("/rooms", user, json_body={"type": "channel", **body})

    # Members of its own -> 400; no parent -> 400.
    assert_error(
        await create(alice, {"parentId": workspace["id"], "membersIds": ids(bob)}), 400, "member"
    )
    assert_error(await create(alice, {"name": "c"}), 400, "parent")
    # The parent: missing -> 404, not a member -> 403, not an owner -> 403.
    assert_error(await create(alice, {"parentId": unknown_id()}), 404)
    assert_error(await create(dave, {"parentId": workspace["id"]}), 403)
    assert_error(await create(bob, {"parentId": workspace["id"]}), 403)
    # A parent that is not a workspace -> 400 (for its owner).
    assert_error(await create(alice, {"parentId": group["id"]}), 400, "workspace")
    assert_error(await create(alice, {"parentId": channel["id"]}), 400, "workspace")
    # A malformed parent id is a bad body, not a missing room.
    assert_error(await create(alice, {"parentId": "not-a-uuid"}), 400)

    shown = assert_json(await api.get(f"/rooms/{workspace['id']}", alice), 200)
    assert [c["id"] for c in shown["children"]] == [channel["id"]]


@pytest.mark.parametrize(
    ("case", "status"),
    [
        pytest.param("members+unknown-parent", 400, id="members-before-parent-lookup"),
        pytest.param("members+no-parent", 400, id="members-before-missing-parent"),
        pytest.param("non-member+group-parent", 403, id="access-before-parent-type"),
        pytest.param("non-owner+group-parent", 403, id="ownership-before-parent-type"),
        pytest.param("non-member+unknown-invitee", 400, id="members-before-access"),
    ],
)
async def test_channel_rules_apply_in_order(api: Api, users: Users, case: str, status: int) -> None:
    alice, bob, carol, dave = await users.many(4)
    group = await new_group(api, alice, bob, carol)
    workspace = await new_workspace(api, alice, bob, carol)
    cases: dict[str, tuple[User, Json]] = {
        "members+unknown-parent": (
            alice,
            {"parentId": unknown_id(), "membersIds": ids(bob)},
        ),
        "members+no-parent": (alice, {"membersIds": ids(bob)}),
        "non-member+group-parent": (dave, {"parentId": group["id"]}),
        "non-owner+group-parent": (bob, {"parentId": group["id"]}),
        "non-member+unknown-invitee": (
            dave,
            {"parentId": workspace["id"], "membersIds": [unknown_id()]},
        ),
    }
    caller, body = cases[case]
    response = await api.post("/rooms", caller, json_body={"type": "channel", **body})
    assert_error(response, status)


# ------------------------------------------------------------------------------ request body


@pytest.mark.parametrize("field", ["id", "rank", "members", "children", "membersIDs"])
async def test_unknown_body_field_is_400_naming_it(api: Api, users: Users, field: str) -> None:
    alice, bob, carol = await users.many(3)
    body = {"type": "group", "name": "g", "membersIds": ids(bob, carol), field: 1}
    assert_error(await api.post("/rooms", alice, json_body=body), 400, field)
    assert await room_ids_of(api, alice) == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"name": "g"}, id="missing-type"),
        pytest.param({"type": "room", "name": "g"}, id="unknown-type"),
        pytest.param({"type": None, "name": "g"}, id="null-type"),
        pytest.param({"type": "group", "name": "g", "membersIds": ["nope", "nada"]}, id="bad-id"),
        pytest.param({"type": "group", "name": "g", "membersIds": "x"}, id="ids-not-list"),
        pytest.param({"type": "group", "name": 5}, id="name-not-string"),
        pytest.param([], id="not-an-object"),
    ],
)
async def test_malformed_body_is_400(api: Api, users: Users, body: Any) -> None:
    alice = await users.new("alice")
    assert_error(await api.post("/rooms", alice, json_body=body), 400)


async def test_body_that_is_not_json_is_400(api: Api, users: Users) -> None:
    alice = await users.new("alice")
    response = await api.post(
        "/rooms", alice, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400)


async def test_missing_body_is_400(api: Api, users: Users) -> None:
    alice = await users.new("alice")
    assert_error(await api.post("/rooms", alice), 400)


# ------------------------------------------------------------------------------ serving, auth


@pytest.mark.parametrize("path", ["/rooms/", "/services/chats/rooms", "/services/chats/rooms/"])
async def test_creation_under_base_path_and_trailing_slash(
    api: Api, users: Users, path: str
) -> None:
    alice, bob, carol = await users.many(3)
    response = await api.post(
        path, alice, json_body={"type": "group", "name": "g", "membersIds": ids(bob, carol)}
    )
    room = assert_json(response, 201)
    assert await room_ids_of(api, bob) == [room["id"]]


async def test_creation_needs_a_valid_token(api: Api, users: Users, adapters: Adapters) -> None:
    alice, bob, carol = await users.many(3)
    body = {"type": "group", "name": "g", "membersIds": ids(bob, carol)}
    assert_error(await api.post("/rooms", json_body=body), 401)
    assert_error(
        await api.post("/rooms", json_body=body, headers={"Cookie": "ZM_AUTH_TOKEN=forged"}), 401
    )
    # A bad token wins over a bad body.
    assert_error(
        await api.post("/rooms", json_body={}, headers={"Cookie": "ZM_AUTH_TOKEN=forged"}), 401
    )
    await revoke(adapters, alice)
    assert_error(await api.post("/rooms", alice, json_body=body), 401)
    assert await room_ids_of(api, bob) == []


# ------------------------------------------------------------------------------ concurrency


async def test_concurrent_one_to_ones_for_one_pair_give_one_room(api: Api, users: Users) -> None:
    alice, bob = await users.many(2)
    responses = await asyncio.gather(
        *(
            api.post("/rooms", creator, json_body={"type": "one_to_one", "membersIds": ids(other)})
            for creator, other in ((alice, bob), (bob, alice), (alice, bob))
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409], [r.text for r in responses]
    (created,) = [r.json() for r in responses if r.status_code == 201]
    assert await room_ids_of(api, alice) == [created["id"]]
    assert await room_ids_of(api, bob) == [created["id"]]


async def test_concurrent_workspaces_give_each_member_distinct_ranks(
    api: Api, users: Users
) -> None:
    alice, bob, carol, dave = await users.many(4)
    bodies = [
        (creator, {"type": "workspace", "name": f"w{i}", "membersIds": ids(*others)})
        for i, (creator, *others) in enumerate(
            [(alice, bob, carol), (carol, bob, dave), (dave, bob, alice), (bob, carol, alice)]
        )
    ]
    responses = await asyncio.gather(
        *(api.post("/rooms", creator, json_body=body) for creator, body in bodies)
    )
    assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
    for person, count in ((alice, 3), (bob, 4), (carol, 3), (dave, 2)):
        rooms = assert_json(await api.get("/rooms", person), 200)
        assert sorted(r["rank"] for r in rooms) == list(range(1, count + 1)), person.name


async def test_concurrent_channels_get_distinct_ranks(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    workspace = await new_workspace(api, alice, bob, carol)
    responses = await asyncio.gather(
        *(
            api.post(
                "/rooms",
                alice,
                json_body={"type": "channel", "name": f"c{i}", "parentId": workspace["id"]},
            )
            for i in range(4)
        )
    )
    assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
    assert sorted(r.json()["rank"] for r in responses) == [1, 2, 3, 4]
