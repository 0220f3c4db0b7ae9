"""Users and capabilities over HTTP (behaviour.md#list-users, #get-user, #capabilities)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import Api, User, Users
from tests.support.errors import assert_error
from wschats.bootstrap import Adapters
from wschats.config import Settings
from wschats.domain.model import ChatsUser, UserType
from wschats.ports import NewUser


def as_user(user: User) -> dict[str, Any]:
    """How a user without anything chats keeps about them is rendered."""
    return {"id": str(user.id), "email": user.email, "name": user.name, "type": "internal"}


def query(*ids: object) -> str:
    return "/users?" + "&".join(f"userIds={i}" for i in ids)


async def save_chats_user(adapters: Adapters, chats_user: ChatsUser) -> None:
    async with adapters.database.unit_of_work(write=True) as uow:
        await uow.chats_users.save(chats_user)
        await uow.commit()


# --------------------------------------------------------------------------------- GET /users


async def test_users_are_returned_in_the_order_asked(api: Api, users: Users) -> None:
    alice, bob, carol = await users.many(3)

    response = await api.get(query(carol.id, alice.id, bob.id), alice)

    assert response.status_code == 200, response.text
    assert response.json() == [as_user(carol), as_user(alice), as_user(bob)]


async def test_any_user_may_look_up_any_other(api: Api, users: Users) -> None:
    alice, stranger = await users.many(2)

    response = await api.get(query(stranger.id), alice)

    assert response.json() == [as_user(stranger)]


async def test_unknown_and_non_uuid_ids_are_left_out(api: Api, users: Users) -> None:
    alice, bob = await users.many(2)

    response = await api.get(query(uuid.uuid4(), bob.id, "not-a-uuid", alice.id, "42"), alice)

    assert response.status_code == 200, response.text
    assert response.json() == [as_user(bob), as_user(alice)]
    only_unknown = await api.get(query(uuid.uuid4(), "nobody"), alice)
    assert only_unknown.status_code == 200
    assert only_unknown.json() == []


async def test_user_ids_are_required(api: Api, users: Users) -> None:
    alice = await users.new("alice")

    assert_error(await api.get("/users", alice), 400, "userIds")


async def test_at_most_ten_ids_per_request(api: Api, users: Users) -> None:
    people = await users.many(11)

    ten = await api.get(query(*(p.id for p in people[:10])), people[0])
    assert ten.status_code == 200, ten.text
    assert ten.json() == [as_user(p) for p in people[:10]]

    assert_error(await api.get(query(*(p.id for p in people)), people[0]), 400, "10")
    # Unknown ids count towards the limit too: the request is refused as asked.
    padded = [people[0].id, *(uuid.uuid4() for _ in range(10))]
    assert_error(await api.get(query(*padded), people[0]), 400)


async def test_a_comma_separated_list_is_one_unknown_id(api: Api, users: Users) -> None:
    alice, bob = await users.many(2)

    response = await api.get(f"/users?userIds={alice.id},{bob.id}", alice)

    assert response.status_code == 200, response.text
    assert response.json() == []


async def test_status_message_and_picture_date_appear_only_with_a_chats_record(
    api: Api, users: Users, adapters: Adapters
) -> None:
    alice, bob, carol = await users.many(3)
    await save_chats_user(adapters, ChatsUser(id=bob.id))
    pictured = datetime(2024, 9, 10, 10, 0, 0, 123000, tzinfo=UTC)
    await save_chats_user(
        adapters, ChatsUser(id=carol.id, picture_updated_at=pictured, status_message="busy")
    )

    response = await api.get(query(alice.id, bob.id, carol.id), alice)

    assert response.json() == [
        as_user(alice),
        {**as_user(bob), "statusMessage": ""},
        {**as_user(carol), "statusMessage": "busy", "pictureUpdatedAt": "2024-09-10T10:00:00.123Z"},
    ]
    single = await api.get(f"/users/{carol.id}", alice)
    assert single.json() == response.json()[2]


async def test_guests_are_typed_guest(api: Api, users: Users, adapters: Adapters) -> None:
    alice = await users.new("alice")
    assert adapters.directory is not None
    (guest_id,) = await adapters.directory.add_users(
        [NewUser(email="visitor@example.com", name="Visitor", type=UserType.GUEST)]
    )

    listed = await api.get(query(guest_id), alice)
    single = await api.get(f"/users/{guest_id}", alice)

    expected = {
        "id": str(guest_id),
        "email": "visitor@example.com",
        "name": "Visitor",
        "type": "guest",
    }
    assert listed.json() == [expected]
    assert single.json() == expected


async def test_users_need_a_valid_token(api: Api, users: Users) -> None:
    alice = await users.new("alice")

    assert_error(await api.get(query(alice.id)), 401)
    assert_error(await api.get(query(alice.id), headers={"Cookie": "ZM_AUTH_TOKEN=forged"}), 401)


# --------------------------------------------------------------------------------- GET /users/{id}


async def test_a_user_is_found_by_id(api: Api, users: Users) -> None:
    alice, bob = await users.many(2)

    response = await api.get(f"/users/{bob.id}", alice)

    assert response.status_code == 200, response.text
    assert response.json() == as_user(bob)


async def test_an_unknown_or_malformed_user_id_is_404(api: Api, users: Users) -> None:
    alice = await users.new("alice")
    nobody = uuid.uuid4()

    assert_error(await api.get(f"/users/{nobody}", alice), 404, str(nobody))
    assert_error(await api.get("/users/not-a-uuid", alice), 404)
    assert_error(await api.get(f"/users/{alice.id}"), 401)


async def test_a_disabled_user_is_still_known_to_others(
    api: Api, users: Users, adapters: Adapters
) -> None:
    alice, bob = await users.many(2)
    assert adapters.directory is not None
    await adapters.directory.disable(bob.id)

    assert (await api.get(f"/users/{bob.id}", alice)).json() == as_user(bob)


# --------------------------------------------------------------------------------- capabilities

DEFAULT_CAPABILITIES = {
    "canSeeMessageReads": True,
    "canSeeUsersPresence": True,
    "canVideoCall": True,
    "canVideoCallRecord": True,
    "canUseVirtualBackground": True,
    "editMessageTimeLimitInMinutes": 10,
    "deleteMessageTimeLimitInMinutes": 10,
    "maxGroupMembers": 128,
    "maxRoomImageSizeInKb": 512,
    "maxUserImageSizeInKb": 512,
}


async def test_capabilities_default_to_the_originals(
    api_with: Any, users: Users, settings: Settings
) -> None:
    alice = await users.new("alice")
    defaults = Settings(data_dir=settings.data_dir, database_url=settings.database_url)
    own = await api_with(**{name: getattr(defaults, name) for name in _CAPABILITY_SETTINGS})

    response = await own.get("/users/capabilities", alice)

    assert response.status_code == 200, response.text
    assert response.json() == DEFAULT_CAPABILITIES


_CAPABILITY_SETTINGS = (
    "can_see_message_reads",
    "can_see_users_presence",
    "can_video_call",
    "can_video_call_record",
    "can_use_virtual_background",
    "edit_message_time_limit_in_minutes",
    "delete_message_time_limit_in_minutes",
    "max_group_members",
    "max_room_image_size_in_kb",
    "max_user_image_size_in_kb",
)


async def test_capabilities_follow_the_settings(api: Api, users: Users) -> None:
    alice = await users.new("alice")

    response = await api.get("/users/capabilities", alice)

    # The test settings lower max_group_members to 6; everything else is the default.
    assert response.json() == {**DEFAULT_CAPABILITIES, "maxGroupMembers": 6}


async def test_every_capability_can_be_configured(api_with: Any, users: Users) -> None:
    alice, bob, carol, dave = await users.many(4)
    own = await api_with(
        can_see_message_reads=False,
        can_see_users_presence=False,
        can_video_call=False,
        can_video_call_record=False,
        can_use_virtual_background=False,
        edit_message_time_limit_in_minutes=0,
        delete_message_time_limit_in_minutes=30,
        max_group_members=3,
        max_room_image_size_in_kb=64,
        max_user_image_size_in_kb=2048,
    )

    response = await own.get("/users/capabilities", alice)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "canSeeMessageReads": False,
        "canSeeUsersPresence": False,
        "canVideoCall": False,
        "canVideoCallRecord": False,
        "canUseVirtualBackground": False,
        "editMessageTimeLimitInMinutes": 0,
        "deleteMessageTimeLimitInMinutes": 30,
        "maxGroupMembers": 3,
        "maxRoomImageSizeInKb": 64,
        "maxUserImageSizeInKb": 2048,
    }
    # The reported limit is the enforced one.
    created = await own.post(
        "/rooms",
        alice,
        json_body={"type": "group", "name": "g", "membersIds": [str(bob.id), str(carol.id)]},
    )
    assert created.status_code == 201, created.text
    added = await own.post(
        f"/rooms/{created.json()['id']}/members", alice, json_body={"userId": str(dave.id)}
    )
    assert_error(added, 400)


async def test_capabilities_are_the_same_for_everyone(
    api: Api, users: Users, adapters: Adapters
) -> None:
    alice = await users.new("alice")
    assert adapters.directory is not None
    (guest_id,) = await adapters.directory.add_users(
        [NewUser(email="guest@example.com", name="Guest", type=UserType.GUEST)]
    )
    guest_token = await adapters.directory.issue_token(guest_id, 60)

    mine = await api.get("/users/capabilities", alice)
    theirs = await api.get(
        "/users/capabilities", headers={"Authorization": f"Bearer {guest_token}"}
    )

    assert mine.json() == theirs.json()


@pytest.mark.parametrize(
    "path",
    ["/users/capabilities", "/users/capabilities/", "/services/chats/users/capabilities"],
)
async def test_capabilities_win_over_a_user_id(api: Api, users: Users, path: str) -> None:
    alice = await users.new("alice")

    response = await api.get(path, alice)

    assert response.status_code == 200, response.text
    assert response.json()["maxGroupMembers"] == 6


async def test_capabilities_need_a_valid_token(api: Api) -> None:
    assert_error(await api.get("/users/capabilities"), 401)
    assert_error(
        await api.get("/users/capabilities", headers={"Authorization": "Bearer forged"}), 401
    )
