"""Bugs the fuzzing found, each kept as a regular test (on SQLite and on PostgreSQL).

U+0000 (NUL): PostgreSQL cannot store it in a text column, so text carrying it failed with 500
on PostgreSQL only (found by test_schemathesis with `{"email": "\\u0000"}` on POST /auth/login).
Text with NUL is now refused with 400 on every database.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, Users
from tests.security.world import png, upload_headers
from wschats.domain.escapes import encode_text

NUL = "\x00"


def _room(name: str = "room", **extra: Any) -> dict[str, Any]:
    return {"type": "temporary", "name": name, **extra}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/rooms", _room(f"a{NUL}b")),
        ("POST", "/rooms", _room(description=f"line{NUL}")),
        ("PUT", "/rooms/{room}", {"name": f"{NUL}"}),
        ("PUT", "/rooms/{room}", {"description": f"x{NUL}y"}),
        ("POST", "/meetings", {"roomId": "{room}", "name": NUL}),
        ("POST", "/auth/login", {"email": NUL, "password": "secret"}),
        (
            "POST",
            "/rooms/{room}/forward",
            [{"originalMessage": "<message><body>hi</body></message>", "description": NUL}],
        ),
    ],
    ids=[
        "room name",
        "room description",
        "new room name",
        "new room description",
        "meeting name",
        "login email",
        "forward description",
    ],
)
async def test_nul_in_json_text_is_refused(
    api: Api, users: Users, method: str, path: str, body: Any
) -> None:
    owner = await users.new("owner")
    created = await api.post("/rooms", owner, json_body=_room())
    assert created.status_code == 201
    room_id = created.json()["id"]
    filled = _filled(body, room_id)
    response = await api.request(method, path.format(room=room_id), owner, json_body=filled)
    assert response.status_code == 400, response.text
    assert "NUL" in response.json()["message"]
    rooms = (await api.get("/rooms", owner)).json()
    assert [(r["id"], r["name"], r.get("description")) for r in rooms] == [(room_id, "room", None)]
    meeting = await api.get(f"/rooms/{room_id}/meeting", owner)
    assert meeting.status_code == 404


def _filled(body: Any, room_id: str) -> Any:
    if isinstance(body, dict):
        return {k: _filled(v, room_id) for k, v in body.items()}
    if isinstance(body, list):
        return [_filled(v, room_id) for v in body]
    return body.replace("{room}", room_id) if isinstance(body, str) else body


# The `fileName` header is decoded from \uXXXX escapes; a decoded NUL was stored as it was
# (500 on PostgreSQL, a name with NUL on SQLite) until decode_header refused it.
@pytest.mark.parametrize("target", ["attachment", "room picture", "user picture"])
async def test_nul_in_an_upload_file_name_is_refused(api: Api, users: Users, target: str) -> None:
    owner, alice, bob = await users.many(3)
    room = await api.post(
        "/rooms",
        owner,
        json_body={"type": "group", "name": "g", "membersIds": [str(alice.id), str(bob.id)]},
    )
    room_id = room.json()["id"]
    headers = {**upload_headers("x", "image/png"), "fileName": encode_text(f"a{NUL}b.png")}
    paths = {
        "attachment": ("POST", f"/rooms/{room_id}/attachments"),
        "room picture": ("PUT", f"/rooms/{room_id}/picture"),
        "user picture": ("PUT", f"/users/{owner.id}/picture"),
    }
    method, path = paths[target]
    response = await api.request(method, path, owner, content=png(), headers=headers)
    assert response.status_code == 400, response.text
    listed = await api.get(f"/rooms/{room_id}/attachments", owner)
    assert listed.json()["attachments"] == []
    assert (await api.get(f"/rooms/{room_id}/picture", owner)).status_code == 404
    assert (await api.get(f"/users/{owner.id}/picture", owner)).status_code == 404
