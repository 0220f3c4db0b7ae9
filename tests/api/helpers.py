"""Helpers shared by the API tests."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, User


async def new_room(
    api: Api,
    creator: User,
    room_type: str,
    members: list[User] | tuple[User, ...] = (),
    *,
    parent: str | None = None,
) -> str:
    body: dict[str, Any] = {"type": room_type, "membersIds": [str(m.id) for m in members]}
    if room_type != "one_to_one":
        body["name"] = f"a {room_type}"
    if parent is not None:
        body["parentId"] = parent
    response = await api.post("/rooms", creator, json_body=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])
