"""The authorization matrix, generated from the route table.

Every route of the app has an entry in MATRIX (a route without one fails
`test_every_route_has_an_entry`, so no route can be added without its rule). An entry holds
one or more probes; each probe is sent as every role of `Role` (no credentials, an invalid
token, a disabled user, a non-member, a member, an owner, and an id that names nothing) in
every room type where it applies, and must get the documented status: 401 for missing or bad
credentials (DECISIONS.md#identity), 404/403 from the access check (behaviour.md#room-access), the
member/owner rules of behaviour.md#room-types and each endpoint. A refusal changes nothing: the
database rows, the stored files and what the owner reads about the room are compared before
and after it.

Every case runs on SQLite and on PostgreSQL (the `api` fixture).
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Api, Users
from tests.security.routes import route_keys
from tests.security.world import (
    CHANNEL,
    CREDENTIAL_FAILURES,
    FILE_ROOM_TYPES,
    GROUP,
    ONE_TO_ONE,
    PASSWORD,
    ROOM_TYPES,
    TEMPORARY,
    WORKSPACE,
    Needs,
    Role,
    World,
    WorldBuilder,
    differences,
    png,
    snapshot,
    upload_headers,
)
from wschats.app import create_app
from wschats.config import Settings
from wschats.devtools.app import Running

# The room type a probe is sent in, or None when room types do not apply.
RoomType = str | None
# The status a role gets in a room type; None when the role does not exist there (a
# one-to-one has no plain member) or the probe does not apply to it.
Expect = Callable[[RoomType, Role], int | None]
PerType = int | dict[str, int]
Ids = dict[str, str]

UNTYPED: tuple[RoomType, ...] = (None,)

# Routes outside the matrix, with the reason.
EXEMPT_PATHS = {
    "/events": "the websocket: its handshake is tested in tests/realtime",
    "/metrics": "not a user route: off by default, else behind its own bearer token",
    "/": "the web client's page: the same public file for everyone (tests/web)",
    "/assets/{name}": "the web client's built files: public, like the page (tests/web)",
}


# ------------------------------------------------------------------------------------------
# Expectations


def _pick(value: PerType, room_type: RoomType) -> int:
    if isinstance(value, int):
        return value
    assert room_type is not None, "a per-type status needs a room type"
    return value[room_type]


def except_(status: int, **others: int) -> dict[str, int]:
    """`status` in every room type except the ones named."""
    return {t: others.get(t, status) for t in ROOM_TYPES}


def room_access(
    member: PerType, owner: PerType | None = None, *, non_member: int = 403, unknown: int = 404
) -> Expect:
    """A room-scoped rule: 401 without credentials, `non_member` (403, behaviour.md#room-access)
    for a user outside the room, `unknown` (404, its first step) for an id that names nothing."""
    owner_status = member if owner is None else owner

    def expect(room_type: RoomType, role: Role) -> int | None:
        if role in CREDENTIAL_FAILURES:
            return 401
        if role is Role.NON_MEMBER:
            return non_member
        if role is Role.UNKNOWN_ID:
            return unknown
        if role is Role.MEMBER:
            return None if room_type == ONE_TO_ONE else _pick(member, room_type)
        return _pick(owner_status, room_type)

    return expect


def authenticated(status: int) -> Expect:
    """Any valid user gets `status`; no ids are involved."""

    def expect(room_type: RoomType, role: Role) -> int | None:
        if role in CREDENTIAL_FAILURES:
            return 401
        return None if role is Role.UNKNOWN_ID else status

    return expect


def public(status: int) -> Expect:
    """No credentials needed, and none are checked (DECISIONS.md#identity: health endpoints)."""

    def expect(room_type: RoomType, role: Role) -> int | None:
        return None if role is Role.UNKNOWN_ID else status

    return expect


def user_access(*, others: int, self_: int, unknown: int) -> Expect:
    """A user-scoped rule: OWNER is the user the path names, MEMBER shares a room with them,
    NON_MEMBER is a stranger."""

    def expect(room_type: RoomType, role: Role) -> int | None:
        if role in CREDENTIAL_FAILURES:
            return 401
        if role is Role.UNKNOWN_ID:
            return unknown
        return self_ if role is Role.OWNER else others

    return expect


# ------------------------------------------------------------------------------------------
# The matrix

NOTHING = Needs()


@dataclass(frozen=True)
class Probe:
    name: str
    path: str  # `{room}`, `{victim}`, ... name the world's ids (World.ids)
    expect: Expect
    types: tuple[RoomType, ...] = ROOM_TYPES
    primary: str = "room"  # the id replaced for Role.UNKNOWN_ID
    json: Callable[[Ids, RoomType], Any] | None = None
    upload: tuple[str, str, bytes] | None = None  # file name, mime type, bytes
    needs: Needs = NOTHING
    mutates: bool = True  # an allowed call changes the world: the next one gets a new world
    subject_is_self: bool = False  # OWNER acts as the user the path names


@dataclass(frozen=True)
class Entry:
    probes: tuple[Probe, ...]
    # The route is not registered yet: its probes are ready and run once it is.
    pending: bool = False


def entry(*probes: Probe, pending: bool = False) -> Entry:
    return Entry(probes=probes, pending=pending)


TEXT_MESSAGE = (
    "<message xmlns='jabber:client' from='u@carbonio' to='r@muclight.carbonio' "
    "type='groupchat'><body>hello</body></message>"
)


def attachment_message(attachment_id: str) -> str:
    return (
        "<message xmlns='jabber:client' from='u@carbonio' id='m1' "
        "to='r@muclight.carbonio' type='groupchat'>"
        "<x xmlns='urn:xmpp:muclight:0#configuration'><operation>attachmentAdded</operation>"
        f"<attachment-id>{attachment_id}</attachment-id>"
        "<filename encoded='UTF-8'>\\u0061</filename><mime-type>image/png</mime-type>"
        "<size>3</size></x><body/></message>"
    )


FILES = Needs(files=True)
PNG_UPLOAD = ("picture.png", "image/png", png())
TEXT_UPLOAD = ("notes.txt", "text/plain", b"some notes")
PREVIEW_AREA = "40x30"

MATRIX: dict[tuple[str, str], Entry] = {
    # --------------------------------------------------------------- public
    ("GET", "/health"): entry(Probe("health", "/health", public(200), UNTYPED, mutates=False)),
    ("GET", "/health/live"): entry(
        Probe("liveness", "/health/live", public(204), UNTYPED, mutates=False)
    ),
    ("GET", "/health/ready"): entry(
        Probe("readiness", "/health/ready", public(204), UNTYPED, mutates=False)
    ),
    ("GET", "/openapi.json"): entry(
        Probe("document", "/openapi.json", public(200), UNTYPED, mutates=False)
    ),
    ("GET", "/docs"): entry(Probe("docs", "/docs", public(200), UNTYPED, mutates=False)),
    ("GET", "/docs/assets/{name}"): entry(
        Probe(
            "docs asset",
            "/docs/assets/swagger-ui-bundle.js",
            public(200),
            UNTYPED,
            mutates=False,
        )
    ),
    ("POST", "/auth/login"): entry(
        Probe(
            "login with a password",
            "/auth/login",
            public(200),
            UNTYPED,
            json=lambda ids, _: {"email": ids["login_email"], "password": PASSWORD},
            needs=Needs(login=True),
        )
    ),
    # --------------------------------------------------------------- authenticated, no ids
    ("GET", "/auth/token"): entry(
        Probe("token", "/auth/token", authenticated(200), UNTYPED, mutates=False)
    ),
    ("DELETE", "/auth/token"): entry(Probe("logout", "/auth/token", authenticated(204), UNTYPED)),
    ("GET", "/rooms"): entry(Probe("list", "/rooms", authenticated(200), UNTYPED, mutates=False)),
    ("GET", "/users"): entry(
        Probe("lookup", "/users?userIds={victim}", authenticated(200), UNTYPED, mutates=False)
    ),
    ("GET", "/users/capabilities"): entry(
        Probe("capabilities", "/users/capabilities", authenticated(200), UNTYPED, mutates=False)
    ),
    ("GET", "/meetings"): entry(
        Probe("list", "/meetings", authenticated(200), UNTYPED, mutates=False)
    ),
    # --------------------------------------------------------------- web client extensions
    ("GET", "/ext/users"): entry(
        Probe("people", "/ext/users?query=a", authenticated(200), UNTYPED, mutates=False)
    ),
    ("GET", "/ext/client-config"): entry(
        Probe("client", "/ext/client-config", authenticated(200), UNTYPED, mutates=False)
    ),
    # --------------------------------------------------------------- rooms
    ("POST", "/rooms"): entry(
        Probe(
            "a temporary room",
            "/rooms",
            authenticated(201),
            UNTYPED,
            json=lambda ids, _: {"type": TEMPORARY, "name": "mine"},
        ),
        # behaviour.md#create-room: a channel needs the owner of its parent, itself a workspace.
        Probe(
            "a channel under the room",
            "/rooms",
            room_access(403, except_(400, workspace=201)),
            json=lambda ids, _: {"type": CHANNEL, "name": "new", "parentId": ids["room"]},
        ),
    ),
    ("GET", "/rooms/{roomId}"): entry(
        Probe("read", "/rooms/{room}", room_access(200), mutates=False)
    ),
    ("PUT", "/rooms/{roomId}"): entry(
        Probe(
            "rename",
            "/rooms/{room}",
            room_access(403, except_(200, one_to_one=400)),
            json=lambda ids, _: {"name": "renamed", "description": "changed"},
        )
    ),
    ("DELETE", "/rooms/{roomId}"): entry(
        Probe("delete", "/rooms/{room}", room_access(403, except_(204, one_to_one=403)))
    ),
    ("GET", "/rooms/{roomId}/picture"): entry(
        Probe(
            "read the picture (only groups have one)",
            "/rooms/{room}/picture",
            room_access(except_(404, group=200)),
            needs=Needs(room_picture=True),
            mutates=False,
        )
    ),
    ("PUT", "/rooms/{roomId}/picture"): entry(
        Probe(
            "set the picture",
            "/rooms/{room}/picture",
            room_access(403, except_(400, group=204)),
            upload=PNG_UPLOAD,
        )
    ),
    ("DELETE", "/rooms/{roomId}/picture"): entry(
        Probe(
            "delete the picture",
            "/rooms/{room}/picture",
            room_access(403, except_(404, group=204)),
            needs=Needs(room_picture=True),
        )
    ),
    ("PUT", "/rooms/{roomId}/mute"): entry(
        Probe("mute", "/rooms/{room}/mute", room_access(except_(204, workspace=400)))
    ),
    ("DELETE", "/rooms/{roomId}/mute"): entry(
        Probe("unmute", "/rooms/{room}/mute", room_access(except_(204, workspace=400)))
    ),
    ("PUT", "/rooms/{roomId}/clear"): entry(
        Probe("clear the history", "/rooms/{room}/clear", room_access(200))
    ),
    # behaviour.md#workspace-ranks: only the caller's own workspaces can be ranked.
    ("PUT", "/rooms/workspaces/rank"): entry(
        Probe(
            "rank the workspace",
            "/rooms/workspaces/rank",
            room_access(204, non_member=400, unknown=400),
            (WORKSPACE,),
            json=lambda ids, _: [{"roomId": ids["room"], "rank": 1}],
        )
    ),
    # behaviour.md#channel-ranks: a room that is no workspace has no channels; [] is fine.
    ("PUT", "/rooms/workspaces/{workspaceId}/channels/rank"): entry(
        Probe(
            "rank the channels",
            "/rooms/workspaces/{room}/channels/rank",
            room_access(403, 204),
            json=lambda ids, room_type: (
                [{"roomId": ids["channel"], "rank": 1}] if room_type == WORKSPACE else []
            ),
        )
    ),
    # --------------------------------------------------------------- members
    ("GET", "/rooms/{roomId}/members"): entry(
        Probe("list", "/rooms/{room}/members", room_access(200), mutates=False)
    ),
    ("POST", "/rooms/{roomId}/members"): entry(
        Probe(
            "add the newcomer",
            "/rooms/{room}/members",
            room_access(403, except_(201, one_to_one=400, channel=400)),
            json=lambda ids, _: {
                "userId": ids["newcomer"],
                "owner": False,
                "historyCleared": False,
            },
        )
    ),
    ("DELETE", "/rooms/{roomId}/members/{userId}"): entry(
        Probe(
            "kick the victim",
            "/rooms/{room}/members/{victim}",
            room_access(403, except_(204, one_to_one=400, channel=400)),
        ),
        Probe(
            "leave",
            "/rooms/{room}/members/{self}",
            room_access(except_(204, channel=400), except_(204, one_to_one=400, channel=400)),
        ),
    ),
    ("PUT", "/rooms/{roomId}/members/{userId}/owner"): entry(
        Probe(
            "promote the victim",
            "/rooms/{room}/members/{victim}/owner",
            room_access(403, except_(204, one_to_one=400, channel=400)),
        )
    ),
    ("DELETE", "/rooms/{roomId}/members/{userId}/owner"): entry(
        Probe(
            "demote the victim",
            "/rooms/{room}/members/{victim}/owner",
            room_access(403, except_(204, one_to_one=400, channel=400)),
        )
    ),
    # --------------------------------------------------------------- meetings
    ("GET", "/rooms/{roomId}/meeting"): entry(
        Probe(
            "the room's meeting",
            "/rooms/{room}/meeting",
            room_access(200),
            needs=Needs(meeting=True),
            mutates=False,
        )
    ),
    ("POST", "/meetings"): entry(
        Probe(
            "a meeting for the room",
            "/meetings",
            room_access(201),
            json=lambda ids, _: {"roomId": ids["room"], "name": "weekly"},
        )
    ),
    ("GET", "/meetings/{meetingId}"): entry(
        Probe(
            "read",
            "/meetings/{meeting}",
            room_access(200),
            primary="meeting",
            needs=Needs(meeting=True),
            mutates=False,
        )
    ),
    # Any member may delete the meeting of their room (docs/DECISIONS.md).
    ("DELETE", "/meetings/{meetingId}"): entry(
        Probe(
            "delete",
            "/meetings/{meeting}",
            room_access(204),
            primary="meeting",
            needs=Needs(meeting=True),
        )
    ),
    # --------------------------------------------------------------- attachments
    ("GET", "/rooms/{roomId}/attachments"): entry(
        Probe("list", "/rooms/{room}/attachments", room_access(200), needs=FILES, mutates=False)
    ),
    ("POST", "/rooms/{roomId}/attachments"): entry(
        Probe(
            "upload",
            "/rooms/{room}/attachments",
            room_access(except_(201, workspace=400, channel=400)),
            upload=TEXT_UPLOAD,
        )
    ),
    ("GET", "/attachments/{fileId}"): entry(
        Probe(
            "read",
            "/attachments/{image}",
            room_access(200),
            FILE_ROOM_TYPES,
            primary="image",
            needs=FILES,
            mutates=False,
        )
    ),
    ("GET", "/attachments/{fileId}/download"): entry(
        Probe(
            "download",
            "/attachments/{image}/download",
            room_access(200),
            FILE_ROOM_TYPES,
            primary="image",
            needs=FILES,
            mutates=False,
        )
    ),
    # behaviour.md#delete-attachment: the uploader or an owner.
    ("DELETE", "/attachments/{fileId}"): entry(
        Probe(
            "delete the victim's file",
            "/attachments/{image}",
            room_access(403, 204),
            FILE_ROOM_TYPES,
            primary="image",
            needs=FILES,
        ),
        Probe(
            "delete the member's own file",
            "/attachments/{member_file}",
            room_access(204),
            FILE_ROOM_TYPES,
            primary="member_file",
            needs=FILES,
        ),
    ),
    ("POST", "/rooms/{roomId}/forward"): entry(
        Probe(
            "forward a text message to the room",
            "/rooms/{room}/forward",
            room_access(204),
            json=lambda ids, _: [{"originalMessage": TEXT_MESSAGE}],
        ),
        # behaviour.md#forward: copying a file needs membership of the room it comes from.
        Probe(
            "forward the room's attachment to a room of one's own",
            "/rooms/{elsewhere}/forward",
            room_access(204),
            FILE_ROOM_TYPES,
            primary="image",
            json=lambda ids, _: [{"originalMessage": attachment_message(ids["image"])}],
            needs=Needs(files=True, elsewhere=True),
        ),
    ),
    # ------------------------------------------------------------ previews (behaviour.md#previews)
    ("GET", "/preview/image/{fileId}/{area}"): entry(
        Probe(
            "image preview",
            f"/preview/image/{{image}}/{PREVIEW_AREA}/",
            room_access(200),
            FILE_ROOM_TYPES,
            primary="image",
            needs=FILES,
            mutates=False,
        )
    ),
    ("GET", "/preview/image/{fileId}/{area}/thumbnail"): entry(
        Probe(
            "image thumbnail",
            f"/preview/image/{{image}}/{PREVIEW_AREA}/thumbnail",
            room_access(200),
            FILE_ROOM_TYPES,
            primary="image",
            needs=FILES,
            mutates=False,
        )
    ),
    ("GET", "/preview/pdf/{fileId}"): entry(
        Probe(
            "pdf preview",
            "/preview/pdf/{pdf}/",
            room_access(200),
            FILE_ROOM_TYPES,
            primary="pdf",
            needs=FILES,
            mutates=False,
        )
    ),
    ("GET", "/preview/pdf/{fileId}/{area}/thumbnail"): entry(
        Probe(
            "pdf thumbnail",
            f"/preview/pdf/{{pdf}}/{PREVIEW_AREA}/thumbnail",
            room_access(200),
            FILE_ROOM_TYPES,
            primary="pdf",
            needs=FILES,
            mutates=False,
        )
    ),
    # --------------------------------------------------------------- users (behaviour.md, Users)
    ("GET", "/users/{userId}"): entry(
        Probe(
            "read a user",
            "/users/{victim}",
            user_access(others=200, self_=200, unknown=404),
            UNTYPED,
            primary="victim",
            mutates=False,
            subject_is_self=True,
        )
    ),
    ("GET", "/users/{userId}/picture"): entry(
        Probe(
            "read a user's picture",
            "/users/{victim}/picture",
            user_access(others=200, self_=200, unknown=404),
            UNTYPED,
            primary="victim",
            needs=Needs(user_picture=True),
            mutates=False,
            subject_is_self=True,
        )
    ),
    ("PUT", "/users/{userId}/picture"): entry(
        Probe(
            "set a user's picture",
            "/users/{victim}/picture",
            user_access(others=403, self_=204, unknown=403),
            UNTYPED,
            primary="victim",
            upload=PNG_UPLOAD,
            subject_is_self=True,
        )
    ),
    ("DELETE", "/users/{userId}/picture"): entry(
        Probe(
            "delete a user's picture",
            "/users/{victim}/picture",
            user_access(others=403, self_=204, unknown=403),
            UNTYPED,
            primary="victim",
            needs=Needs(user_picture=True),
            subject_is_self=True,
        )
    ),
}


# ------------------------------------------------------------------------------------------
# The route table


def _exempt(key: tuple[str, str]) -> bool:
    return key[1] in EXEMPT_PATHS


def _collection_routes() -> set[tuple[str, str]]:
    # The route table of a freshly created app decides which cases exist; no I/O happens.
    return route_keys(create_app(Settings(data_dir=Path(tempfile.gettempdir()) / "unused")))


@dataclass(frozen=True)
class Case:
    method: str
    route: str
    probe: Probe
    room_type: RoomType

    @property
    def id(self) -> str:
        where = f" in a {self.room_type}" if self.room_type else ""
        return f"{self.method} {self.route}: {self.probe.name}{where}"


def _cases() -> list[Case]:
    served = _collection_routes()
    return [
        Case(method, route, probe, room_type)
        for (method, route), rule in MATRIX.items()
        if (method, route) in served
        for probe in rule.probes
        for room_type in probe.types
    ]


CASES = _cases()


# ------------------------------------------------------------------------------------------
# Tests


def test_every_route_has_an_entry(app: FastAPI) -> None:
    served = {key for key in route_keys(app) if not _exempt(key)}
    missing = sorted(served - set(MATRIX))
    assert not missing, (
        "routes without an authorization matrix entry (add one to MATRIX in "
        f"{__name__}): {', '.join(f'{m} {p}' for m, p in missing)}"
    )
    stale_pending = sorted(k for k, e in MATRIX.items() if e.pending and k in served)
    assert not stale_pending, (
        "these routes are registered now: drop `pending` from their entries "
        f"so their probes run: {stale_pending}"
    )
    unknown = sorted(k for k, e in MATRIX.items() if not e.pending and k not in served)
    assert not unknown, f"entries for routes the app does not serve (mark them pending): {unknown}"


def test_matrix_entries_are_complete() -> None:
    """Every probe states a status for every role in every room type it applies to."""
    for (method, route), rule in MATRIX.items():
        assert rule.probes, f"{method} {route} has no probe"
        for probe in rule.probes:
            for room_type in probe.types:
                for role in Role:
                    status = probe.expect(room_type, role)
                    assert status is None or 200 <= status < 600, (method, route, role)
                assert probe.expect(room_type, Role.OWNER) is not None, (method, route)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_authorization(case: Case, api: Api, users: Users, running: Running) -> None:
    probe, room_type = case.probe, case.room_type
    builder = WorldBuilder(api, users, running)
    expectations = {role: probe.expect(room_type, role) for role in Role}
    refused = [r for r, s in expectations.items() if s is not None and s >= 400]
    allowed = [r for r, s in expectations.items() if s is not None and s < 400]
    failures: list[str] = []

    world = await builder.build(room_type or GROUP, probe.needs)
    for role in refused:
        before = await snapshot(api, running, world)
        response = await _send(api, case, world, role)
        failures += _status_failures(role, response, expectations[role])
        changed = differences(before, await snapshot(api, running, world))
        failures += [f"{role.value}: refused with {response.status_code}, yet {c}" for c in changed]

    used = False
    for role in allowed:
        if used and probe.mutates:
            world = await builder.build(room_type or GROUP, probe.needs)
        response = await _send(api, case, world, role)
        failures += _status_failures(role, response, expectations[role])
        used = True

    assert not failures, f"{case.id}:\n  " + "\n  ".join(failures)


async def _send(api: Api, case: Case, world: World, role: Role) -> httpx.Response:
    probe = case.probe
    ids = world.ids(role, probe.primary)
    caller = world.caller(role, subject_is_self=probe.subject_is_self)
    headers: dict[str, str] = {}
    user = None
    if role is Role.INVALID_TOKEN:
        headers["Cookie"] = f"ZM_AUTH_TOKEN={secrets.token_urlsafe(24)}"
    elif role in (Role.OWNER, Role.DISABLED_USER):
        assert caller is not None
        headers["Authorization"] = f"Bearer {caller.token}"  # DECISIONS.md#identity: the header too
    elif role is not Role.NO_CREDENTIALS:
        user = caller
    kwargs: dict[str, Any] = {}
    if probe.json is not None:
        kwargs["json_body"] = probe.json(ids, case.room_type)
    if probe.upload is not None:
        name, mime_type, data = probe.upload
        headers.update(upload_headers(name, mime_type))
        kwargs["content"] = data
    path = probe.path.format(**ids)
    return await api.request(case.method, path, user, headers=headers, **kwargs)


def _status_failures(role: Role, response: httpx.Response, expected: int | None) -> list[str]:
    if response.status_code == expected:
        return []
    return [f"{role.value}: expected {expected}, got {response.status_code} {response.text[:200]}"]
