"""The room listing reuses what it built for a row it has seen (the room's objects, their JSON):
every change to a listed room must still show in the next listing, and one user's settings
must never show in another's (adapters/db/repositories/room_listing.py, api/rendering.py)."""

from __future__ import annotations

from tests.conftest import Api, User, Users
from tests.support.rooms import Json, assert_json, members_of, new_group, new_workspace

LISTING = "/rooms?extraFields=members&extraFields=settings"


def by_user(members: list[Json]) -> list[Json]:
    return sorted(members, key=lambda member: str(member["userId"]))


async def listed(api: Api, user: User, room_id: str, query: str = LISTING) -> Json:
    rooms = assert_json(await api.get(query, user), 200)
    (room,) = [room for room in rooms if room["id"] == room_id]
    assert isinstance(room, dict)
    return room


async def test_every_change_shows_in_the_next_listing(api: Api, users: Users) -> None:
    alice, bob, carol, dave = await users.many(4)
    room = await new_group(api, alice, bob, carol, name="before")
    room_id = room["id"]
    for _ in range(2):  # the second listing is served from what the first built
        first = await listed(api, alice, room_id)
    assert first["name"] == "before"
    assert by_user(first["members"]) == by_user(
        members_of((alice, True), (bob, False), (carol, False))
    )
    assert first["userSettings"] == {"muted": False}

    renamed = await api.put(
        f"/rooms/{room_id}", alice, json_body={"name": "after", "description": "now described"}
    )
    assert renamed.status_code == 200
    now = await listed(api, alice, room_id)
    assert (now["name"], now["description"]) == ("after", "now described")
    assert now["updatedAt"] >= first["updatedAt"]

    added = await api.post(f"/rooms/{room_id}/members", alice, json_body={"userId": str(dave.id)})
    assert added.status_code == 201, added.text
    now = await listed(api, alice, room_id)
    assert by_user(now["members"]) == by_user(
        members_of((alice, True), (bob, False), (carol, False), (dave, False))
    )

    assert (await api.put(f"/rooms/{room_id}/members/{bob.id}/owner", alice)).status_code == 204
    now = await listed(api, alice, room_id)
    assert by_user(now["members"]) == by_user(
        members_of((alice, True), (bob, True), (carol, False), (dave, False))
    )

    assert (await api.put(f"/rooms/{room_id}/mute", alice)).status_code == 204
    now = await listed(api, alice, room_id)
    assert now["userSettings"] == {"muted": True}
    cleared = assert_json(await api.put(f"/rooms/{room_id}/clear", alice), 200)
    now = await listed(api, alice, room_id)
    assert now["userSettings"] == {"muted": True, "clearedAt": cleared["clearedAt"]}

    assert (await api.delete(f"/rooms/{room_id}/mute", alice)).status_code == 204
    assert (await api.delete(f"/rooms/{room_id}/members/{dave.id}", alice)).status_code == 204
    now = await listed(api, alice, room_id)
    assert by_user(now["members"]) == by_user(
        members_of((alice, True), (bob, True), (carol, False))
    )
    assert now["userSettings"] == {"muted": False, "clearedAt": cleared["clearedAt"]}


async def test_each_user_sees_only_their_own_settings(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_group(api, alice, bob, carol)
    room_id = room["id"]
    assert (await api.put(f"/rooms/{room_id}/mute", alice)).status_code == 204
    cleared = assert_json(await api.put(f"/rooms/{room_id}/clear", bob), 200)
    for _ in range(2):  # in turns, twice: each listing after the others' were built
        assert (await listed(api, alice, room_id))["userSettings"] == {"muted": True}
        assert (await listed(api, bob, room_id))["userSettings"] == {
            "muted": False,
            "clearedAt": cleared["clearedAt"],
        }
        assert (await listed(api, carol, room_id))["userSettings"] == {"muted": False}


async def test_with_and_without_extra_fields_in_turns(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    room = await new_group(api, alice, bob, carol)
    plain = "/rooms"
    for _ in range(2):
        bare = await listed(api, alice, room["id"], plain)
        assert "members" not in bare and "userSettings" not in bare
        full = await listed(api, alice, room["id"])
        assert by_user(full["members"]) == by_user(
            members_of((alice, True), (bob, False), (carol, False))
        )
        assert full["userSettings"] == {"muted": False}
        members_only = await listed(api, alice, room["id"], "/rooms?extraFields=members")
        assert "userSettings" not in members_only
        assert members_only["members"] == full["members"]


async def test_a_workspaces_new_channel_shows_in_the_next_listing(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)
    workspace = await new_workspace(api, alice, bob, carol)
    before = await listed(api, bob, workspace["id"])
    assert before["children"] == []
    created = await api.post(
        "/rooms",
        alice,
        json_body={"type": "channel", "name": "news", "parentId": workspace["id"]},
    )
    assert created.status_code == 201, created.text
    after = await listed(api, bob, workspace["id"])
    assert [child["name"] for child in after["children"]] == ["news"]
