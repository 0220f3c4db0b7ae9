"""GET /rooms and GET /rooms/{roomId} (behaviour.md#list-rooms, #get-room; DECISIONS.md#rooms)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, User, Users
from tests.support.errors import assert_error
from tests.support.rooms import (
    Json,
    assert_json,
    members_of,
    new_channel,
    new_group,
    new_one_to_one,
    new_temporary,
    new_workspace,
    revoke,
    unknown_id,
)
from wschats.bootstrap import Adapters


async def list_rooms(api: Api, user: User, query: str = "") -> list[Json]:
    rooms: list[Json] = assert_json(await api.get(f"/rooms{query}", user), 200)
    return rooms


async def mixed_rooms(api: Api, users: Users) -> tuple[list[User], dict[str, Json]]:
    """alice owns one room of each type; bob and carol are in all of them."""
    alice, bob, carol = people = await users.many(3)
    rooms = {
        "group": await new_group(api, alice, bob, carol),
        "one_to_one": await new_one_to_one(api, alice, bob),
        "temporary": await new_temporary(api, alice, bob, carol),
        "workspace": await new_workspace(api, alice, bob, carol),
    }
    rooms["channel"] = await new_channel(api, alice, rooms["workspace"]["id"])
    rooms["channel2"] = await new_channel(api, alice, rooms["workspace"]["id"], name="second")
    return people, rooms


# ------------------------------------------------------------------------------ GET /rooms


async def test_no_rooms_is_an_empty_json_list(api: Api, users: Users) -> None:
    alice = await users.new("alice")
    response = await api.get("/rooms", alice)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == []


async def test_list_holds_the_callers_rooms_in_creation_order(api: Api, users: Users) -> None:
    alice, bob, carol, dave = await users.many(4)
    first = await new_group(api, alice, bob, carol, name="first")
    not_bobs = await new_one_to_one(api, carol, alice)
    second = await new_temporary(api, dave, bob)
    third = await new_workspace(api, carol, bob, dave)
    assert [r["id"] for r in await list_rooms(api, bob)] == [
        first["id"],
        second["id"],
        third["id"],
    ]
    assert [r["id"] for r in await list_rooms(api, alice)] == [first["id"], not_bobs["id"]]


async def test_list_without_extra_fields(api: Api, users: Users) -> None:
    (_, bob, _), rooms = await mixed_rooms(api, users)
    listed = {r["type"]: r for r in await list_rooms(api, bob)}
    # Channels are only children of their workspace.
    assert set(listed) == {"group", "one_to_one", "temporary", "workspace"}
    for room in listed.values():
        assert "members" not in room
        assert "userSettings" not in room
        assert "membersIds" not in room
    for kind in ("group", "one_to_one", "temporary"):
        assert "rank" not in listed[kind]
        assert "children" not in listed[kind]
    workspace = listed["workspace"]
    assert workspace["rank"] == 1  # bob's rank, shown without extraFields
    children = workspace["children"]
    assert [c["id"] for c in children] == [rooms["channel"]["id"], rooms["channel2"]["id"]]
    assert [c["rank"] for c in children] == [1, 2]
    for child in children:
        assert child["parentId"] == workspace["id"]
        assert child["type"] == "channel"
        for absent in ("members", "userSettings", "children"):
            assert absent not in child


@pytest.mark.parametrize("query", ["members", "MEMBERS", "Members"])
async def test_list_with_members(api: Api, users: Users, query: str) -> None:
    (alice, bob, carol), rooms = await mixed_rooms(api, users)
    listed = {r["type"]: r for r in await list_rooms(api, carol, f"?extraFields={query}")}
    assert listed["group"]["members"] == rooms["group"]["members"]
    assert listed["temporary"]["members"] == members_of((bob, False), (carol, False), (alice, True))
    assert listed["workspace"]["members"] == rooms["workspace"]["members"]
    for room in listed.values():
        assert "userSettings" not in room
    for child in listed["workspace"]["children"]:
        assert "members" not in child
        assert "userSettings" not in child
    assert "one_to_one" not in listed  # carol is not in alice and bob's one-to-one


@pytest.mark.parametrize("query", ["settings", "SETTINGS", "sEtTiNgS"])
async def test_list_with_settings(api: Api, users: Users, query: str) -> None:
    (_, bob, _), _ = await mixed_rooms(api, users)
    listed = {r["type"]: r for r in await list_rooms(api, bob, f"?extraFields={query}")}
    for kind in ("group", "one_to_one", "temporary"):
        assert listed[kind]["userSettings"] == {"muted": False}
        assert "members" not in listed[kind]
    workspace = listed["workspace"]
    assert "userSettings" not in workspace  # never on a workspace
    assert "members" not in workspace
    assert workspace["rank"] == 1
    for child in workspace["children"]:
        assert child["userSettings"] == {"muted": False}
        assert "members" not in child


@pytest.mark.parametrize(
    "query",
    [
        "?extraFields=members&extraFields=settings",
        "?extraFields=settings&extraFields=members",
        "?extraFields=Settings&extraFields=MEMBERS",
        "?extraFields=members&extraFields=members&extraFields=settings",
    ],
)
async def test_list_with_members_and_settings(api: Api, users: Users, query: str) -> None:
    (alice, bob, _), rooms = await mixed_rooms(api, users)
    listed = {r["type"]: r for r in await list_rooms(api, bob, query)}
    assert listed["one_to_one"]["members"] == members_of((bob, True), (alice, True))
    assert listed["one_to_one"]["userSettings"] == {"muted": False}
    assert listed["workspace"]["members"] == rooms["workspace"]["members"]
    assert "userSettings" not in listed["workspace"]
    assert [c["userSettings"] for c in listed["workspace"]["children"]] == [{"muted": False}] * 2
    assert len(listed) == 4


@pytest.mark.parametrize(
    "query",
    [
        "?extraFields=member",
        "?extraFields=children",
        "?extraFields=",
        "?extraFields=members,settings",
        "?extraFields=members&extraFields=picture",
    ],
)
async def test_unknown_extra_field_is_400(api: Api, users: Users, query: str) -> None:
    alice, bob, carol = await users.many(3)
    await new_group(api, alice, bob, carol)
    assert_error(await api.get(f"/rooms{query}", alice), 400)


async def test_list_settings_are_the_callers_own(api: Api, users: Users) -> None:
    (alice, bob, _), rooms = await mixed_rooms(api, users)
    assert (await api.put(f"/rooms/{rooms['group']['id']}/mute", alice)).status_code == 204
    cleared = assert_json(await api.put(f"/rooms/{rooms['channel']['id']}/clear", alice), 200)
    assert (await api.put(f"/rooms/{rooms['channel2']['id']}/mute", alice)).status_code == 204

    mine = {r["type"]: r for r in await list_rooms(api, alice, "?extraFields=settings")}
    assert mine["group"]["userSettings"] == {"muted": True}
    assert mine["temporary"]["userSettings"] == {"muted": False}
    first, second = mine["workspace"]["children"]
    assert first["userSettings"] == {"muted": False, "clearedAt": cleared["clearedAt"]}
    assert second["userSettings"] == {"muted": True}

    theirs = {r["type"]: r for r in await list_rooms(api, bob, "?extraFields=settings")}
    assert theirs["group"]["userSettings"] == {"muted": False}
    assert [c["userSettings"] for c in theirs["workspace"]["children"]] == [{"muted": False}] * 2


async def test_workspace_children_are_always_present(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    workspace = await new_workspace(api, alice, bob, carol)
    for query in ("", "?extraFields=members", "?extraFields=settings"):
        (listed,) = await list_rooms(api, bob, query)
        assert listed["id"] == workspace["id"]
        assert listed["children"] == []
    assert assert_json(await api.get(f"/rooms/{workspace['id']}", bob), 200)["children"] == []


async def test_workspace_rank_is_per_caller(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    first = await new_workspace(api, bob, alice, carol, name="first")
    second = await new_workspace(api, alice, bob, carol, name="second")
    third = await new_workspace(api, carol, alice, bob, name="third")

    async def ranks(person: User) -> dict[str, int]:
        return {r["name"]: r["rank"] for r in await list_rooms(api, person)}

    assert await ranks(alice) == {"first": 1, "second": 2, "third": 3}
    # bob reorders his own workspaces: the others' ranks stay as they were.
    response = await api.put(
        "/rooms/workspaces/rank",
        bob,
        json_body=[
            {"roomId": third["id"], "rank": 1},
            {"roomId": first["id"], "rank": 2},
            {"roomId": second["id"], "rank": 3},
        ],
    )
    assert response.status_code == 204, response.text
    assert await ranks(bob) == {"first": 2, "second": 3, "third": 1}
    assert await ranks(alice) == {"first": 1, "second": 2, "third": 3}
    assert await ranks(carol) == {"first": 1, "second": 2, "third": 3}
    assert assert_json(await api.get(f"/rooms/{second['id']}", bob), 200)["rank"] == 3
    assert assert_json(await api.get(f"/rooms/{second['id']}", alice), 200)["rank"] == 2


# ------------------------------------------------------------------------------ GET /rooms/{id}


@pytest.mark.parametrize("kind", ["group", "one_to_one", "temporary"])
async def test_get_room_always_has_members_and_settings(api: Api, users: Users, kind: str) -> None:
    (alice, bob, _), rooms = await mixed_rooms(api, users)
    room = assert_json(await api.get(f"/rooms/{rooms[kind]['id']}", bob), 200)
    assert room["members"] == rooms[kind]["members"]
    assert room["members"][-1] == {"userId": str(alice.id), "owner": True}
    assert room["userSettings"] == {"muted": False}
    assert room["type"] == kind
    assert room["createdAt"] == rooms[kind]["createdAt"]
    for absent in ("rank", "children", "parentId", "membersIds"):
        assert absent not in room


async def test_get_workspace(api: Api, users: Users) -> None:
    (alice, bob, carol), rooms = await mixed_rooms(api, users)
    assert (await api.put(f"/rooms/{rooms['channel2']['id']}/mute", bob)).status_code == 204
    room = assert_json(await api.get(f"/rooms/{rooms['workspace']['id']}", bob), 200)
    assert room["members"] == members_of((bob, False), (carol, False), (alice, True))
    assert room["rank"] == 1
    assert "userSettings" not in room
    first, second = room["children"]
    assert (first["id"], first["rank"]) == (rooms["channel"]["id"], 1)
    assert (second["id"], second["rank"]) == (rooms["channel2"]["id"], 2)
    assert first["userSettings"] == {"muted": False}
    assert second["userSettings"] == {"muted": True}
    for child in (first, second):
        assert "members" not in child and "children" not in child


async def test_get_channel_shows_workspace_members(api: Api, users: Users) -> None:
    (alice, bob, carol), rooms = await mixed_rooms(api, users)
    room = assert_json(await api.get(f"/rooms/{rooms['channel2']['id']}", carol), 200)
    assert room["type"] == "channel"
    assert room["name"] == "second"
    assert room["parentId"] == rooms["workspace"]["id"]
    assert room["rank"] == 2
    assert room["members"] == members_of((bob, False), (carol, False), (alice, True))
    assert room["userSettings"] == {"muted": False}
    assert "children" not in room


async def test_get_room_access(api: Api, users: Users) -> None:
    (_, _, _), rooms = await mixed_rooms(api, users)
    outsider = await users.new("dave")
    for kind in ("group", "one_to_one", "temporary", "workspace", "channel"):
        assert_error(await api.get(f"/rooms/{rooms[kind]['id']}", outsider), 403)
    assert_error(await api.get(f"/rooms/{unknown_id()}", outsider), 404)
    assert_error(await api.get("/rooms/not-a-uuid", outsider), 404)
    assert_error(await api.get("/rooms/1234", outsider), 404)


async def test_channel_readable_by_new_workspace_member(api: Api, users: Users) -> None:
    alice, bob, carol, dave = await users.many(4)
    workspace = await new_workspace(api, alice, bob, carol)
    channel = await new_channel(api, alice, workspace["id"])
    assert_error(await api.get(f"/rooms/{channel['id']}", dave), 403)
    response = await api.post(
        f"/rooms/{workspace['id']}/members",
        alice,
        json_body={"userId": str(dave.id), "owner": False, "historyCleared": False},
    )
    assert response.status_code == 201, response.text
    room = assert_json(await api.get(f"/rooms/{channel['id']}", dave), 200)
    assert room["members"][-1] == {"userId": str(dave.id), "owner": False}


# ------------------------------------------------------------------------------ serving, auth


async def test_base_path_and_trailing_slash_serve_the_same(api: Api, users: Users) -> None:
    (_, bob, _), rooms = await mixed_rooms(api, users)
    query = "?extraFields=members&extraFields=settings"
    expected = await list_rooms(api, bob, query)
    for path in ("/rooms/", "/services/chats/rooms", "/services/chats/rooms/"):
        assert assert_json(await api.get(f"{path}{query}", bob), 200) == expected
    one = rooms["workspace"]["id"]
    single = assert_json(await api.get(f"/rooms/{one}", bob), 200)
    for path in (f"/rooms/{one}/", f"/services/chats/rooms/{one}", f"/services/chats/rooms/{one}/"):
        assert assert_json(await api.get(path, bob), 200) == single


async def test_reading_needs_a_valid_token(api: Api, users: Users, adapters: Adapters) -> None:
    alice, bob, carol = await users.many(3)
    group = await new_group(api, alice, bob, carol)
    for path in ("/rooms", f"/rooms/{group['id']}"):
        assert_error(await api.get(path), 401)
        assert_error(await api.get(path, headers={"Cookie": "ZM_AUTH_TOKEN=forged"}), 401)
        assert_error(await api.get(path, headers={"Authorization": "Bearer forged"}), 401)
    bearer = {"Authorization": f"Bearer {bob.token}"}
    assert [r["id"] for r in assert_json(await api.get("/rooms", headers=bearer), 200)] == [
        group["id"]
    ]
    await revoke(adapters, bob)
    assert_error(await api.get("/rooms", bob), 401)
    assert_error(await api.get(f"/rooms/{group['id']}", bob), 401)


async def test_list_keeps_member_order_past_ten_members_and_after_a_rejoin(
    api_with: Any, users: Users
) -> None:
    # Listings read members folded into one text value per room and restore their order from
    # it: ordinals of two digits and a member who left and came back must keep their place.
    api = await api_with(max_group_members=20)
    alice, *others = await users.many(13)
    room = await new_group(api, alice, *others[:11])
    leaver = others[2]
    assert (await api.delete(f"/rooms/{room['id']}/members/{leaver.id}", alice)).status_code == 204
    late = others[11]
    for user in (late, leaver):
        response = await api.post(
            f"/rooms/{room['id']}/members", alice, json_body={"userId": str(user.id)}
        )
        assert response.status_code == 201, response.text

    expected = [m for m in room["members"] if m["userId"] != str(leaver.id)] + members_of(
        (late, False), (leaver, False)
    )
    listed = await list_rooms(api, alice, "?extraFields=members")
    assert listed[0]["members"] == expected
    members = assert_json(await api.get(f"/rooms/{room['id']}/members", alice), 200)
    assert members == expected
    # The same room seen by a member reads the same list.
    assert (await list_rooms(api, late, "?extraFields=members"))[0]["members"] == expected


async def test_a_listing_shows_member_changes_made_since_the_previous_listing(
    api: Api, users: Users
) -> None:
    # Listings reuse the member lists (and their JSON) they built for the same stored members:
    # an owner made, a member gone or added must still show at once.
    alice, bob, carol, dave = await users.many(4)
    room = await new_group(api, alice, bob, carol)
    before = (await list_rooms(api, alice, "?extraFields=members"))[0]["members"]
    assert before == room["members"]

    def changed(members: list[Json], bob_owns: bool) -> list[Json]:
        kept = [dict(m) for m in members if m["userId"] != str(carol.id)]
        for m in kept:
            if m["userId"] == str(bob.id):
                m["owner"] = bob_owns
        return kept + members_of((dave, False))

    owner_url = f"/rooms/{room['id']}/members/{bob.id}/owner"
    assert (await api.put(owner_url, alice)).status_code == 204
    assert (await api.delete(f"/rooms/{room['id']}/members/{carol.id}", alice)).status_code == 204
    added = await api.post(
        f"/rooms/{room['id']}/members", alice, json_body={"userId": str(dave.id)}
    )
    assert added.status_code == 201, added.text

    after = (await list_rooms(api, alice, "?extraFields=members"))[0]["members"]
    assert after == changed(before, bob_owns=True)
    # And back: the earlier lists are not served again for a different room state.
    assert (await api.delete(owner_url, alice)).status_code == 204
    again = (await list_rooms(api, bob, "?extraFields=members"))[0]["members"]
    assert again == changed(before, bob_owns=False)
