"""Rooms built through the in-process API (`tests.conftest.Api`), and the checks the rooms
tests share. Every builder asserts the room was created (201); `new_group_on` builds one on a
real server over the network."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import httpx

from tests.conftest import Api, EventCapture, User
from wschats.bootstrap import Adapters
from wschats.devtools.servers import ServerProcess

Json = dict[str, Any]


def ids(*people: User) -> list[str]:
    return [str(p.id) for p in people]


def unknown_id() -> str:
    return str(uuid.uuid4())


def assert_json(response: httpx.Response, status: int) -> Any:
    """The body of a successful JSON answer with `status`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


async def create_room(api: Api, creator: User, body: Json) -> Json:
    room: Json = assert_json(await api.post("/rooms", creator, json_body=body), 201)
    return room


async def new_room(
    api: Api,
    creator: User,
    room_type: str,
    members: Sequence[User] = (),
    *,
    parent: str | None = None,
) -> str:
    """A room of any type named after it; returns only its id."""
    body: Json = {"type": room_type, "membersIds": ids(*members)}
    if room_type != "one_to_one":
        body["name"] = f"a {room_type}"
    if parent is not None:
        body["parentId"] = parent
    return str((await create_room(api, creator, body))["id"])


async def new_group(api: Api, creator: User, *members: User, name: str = "Group") -> Json:
    return await create_room(
        api, creator, {"type": "group", "name": name, "membersIds": ids(*members)}
    )


async def new_workspace(
    api: Api, creator: User, *members: User, name: str | None = "Workspace"
) -> Json:
    body: Json = {"type": "workspace", "membersIds": ids(*members)}
    if name is not None:
        body["name"] = name
    return await create_room(api, creator, body)


async def new_channel(
    api: Api, owner: User, workspace_id: str, name: str | None = "Channel"
) -> Json:
    body: Json = {"type": "channel", "parentId": workspace_id}
    if name is not None:
        body["name"] = name
    return await create_room(api, owner, body)


async def new_one_to_one(api: Api, creator: User, other: User) -> Json:
    return await create_room(api, creator, {"type": "one_to_one", "membersIds": ids(other)})


async def new_temporary(api: Api, creator: User, *members: User) -> Json:
    return await create_room(
        api, creator, {"type": "temporary", "name": "Temp", "membersIds": ids(*members)}
    )


def members_of(*entries: tuple[User, bool]) -> list[Json]:
    """A room's `members` as rendered: (user, owner) pairs in order."""
    return [{"userId": str(user.id), "owner": owner} for user, owner in entries]


async def room_ids_of(api: Api, user: User) -> list[str]:
    rooms = assert_json(await api.get("/rooms", user), 200)
    return [r["id"] for r in rooms]


async def revoke(adapters: Adapters, user: User) -> None:
    """Ends `user`'s session, as a logout would."""
    directory = adapters.directory
    assert directory is not None
    assert await directory.revoke_token(user.token)


async def only_event(events: EventCapture, person: User, type_: str) -> Json:
    """The one event `person` received, of type `type_`, dated in UTC."""
    received = await events.received(person)
    assert [e["type"] for e in received] == [type_], received
    event: Json = received[0]
    assert isinstance(event["sentDate"], str) and event["sentDate"].endswith("Z")
    return event


async def new_group_on(server: ServerProcess, token: str, *member_ids: uuid.UUID) -> str:
    """A group created over HTTP on a real server by the holder of `token`; returns its id."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        created = await client.post(
            "/rooms",
            json={"type": "group", "name": "g", "membersIds": [str(m) for m in member_ids]},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])
