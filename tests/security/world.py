"""A small world of users, rooms and files for the authorization matrix, built over the API,
and a snapshot of everything a refused request must leave alone.

Every world has: an `owner` of the room under test (for a channel: of its workspace), a plain
`member`, a `victim` (another plain member: the target of kicks and promotions, the uploader
of the attachments, the user whose picture the user routes read), an `outsider` who is
authenticated but no member, a `newcomer` to be added, and a `disabled` user, an owner of the
room where the room type allows (disabled once the world is built). One-to-one rooms have
only two members, both owners: the owner and the victim.
"""

from __future__ import annotations

import enum
import io
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from sqlalchemy import select

from tests.conftest import Api, User, Users
from wschats.adapters.db.tables import metadata
from wschats.devtools.app import Running
from wschats.domain.escapes import encode_text
from wschats.ports import NewUser

GROUP = "group"
ONE_TO_ONE = "one_to_one"
TEMPORARY = "temporary"
WORKSPACE = "workspace"
CHANNEL = "channel"
ROOM_TYPES = (GROUP, ONE_TO_ONE, TEMPORARY, WORKSPACE, CHANNEL)
# The room types that hold attachments (behaviour.md#room-types: not workspaces and channels).
FILE_ROOM_TYPES = (GROUP, ONE_TO_ONE, TEMPORARY)

PASSWORD = "correct horse battery staple"


class Role(enum.Enum):
    """Who calls. UNKNOWN is the owner asking about an unknown id (behaviour.md#room-access)."""

    NO_CREDENTIALS = "no credentials"
    INVALID_TOKEN = "invalid token"
    DISABLED_USER = "disabled user"
    NON_MEMBER = "non-member"
    MEMBER = "member"
    OWNER = "owner"
    UNKNOWN_ID = "unknown id"


CREDENTIAL_FAILURES = (Role.NO_CREDENTIALS, Role.INVALID_TOKEN, Role.DISABLED_USER)


def png(size: tuple[int, int] = (24, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def pdf() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 80), (40, 40, 200)).save(buffer, "PDF", resolution=72.0)
    return buffer.getvalue()


def upload_headers(name: str, mime_type: str) -> dict[str, str]:
    return {"fileName": encode_text(name), "mimeType": mime_type}


@dataclass
class World:
    room_type: str
    owner: User
    member: User | None  # None in a one-to-one
    victim: User
    outsider: User
    newcomer: User
    disabled: User
    room: dict[str, Any] = field(default_factory=dict)  # the room under test
    workspace: dict[str, Any] | None = None  # a channel's workspace
    channel: dict[str, Any] | None = None  # a workspace's channel
    image_id: str | None = None  # uploaded by the victim
    pdf_id: str | None = None  # uploaded by the victim
    member_file_id: str | None = None  # uploaded by the member (the owner in a one-to-one)
    meeting_id: str | None = None
    elsewhere: dict[Role, str] = field(default_factory=dict)  # a room of the caller's own
    login_email: str | None = None  # a user whose password is PASSWORD

    def caller(self, role: Role, *, subject_is_self: bool = False) -> User | None:
        """The user acting as `role` (None: no such user, or no credentials)."""
        if role in (Role.OWNER, Role.UNKNOWN_ID):
            return self.victim if subject_is_self else self.owner
        return {
            Role.DISABLED_USER: self.disabled,
            Role.NON_MEMBER: self.outsider,
            Role.MEMBER: self.member,
        }.get(role)

    def ids(self, role: Role, primary: str) -> dict[str, str]:
        """The ids a request may use; for UNKNOWN_ID the `primary` one is replaced by an id
        that names nothing."""
        ids = {
            "room": str(self.room["id"]),
            "victim": str(self.victim.id),
            "newcomer": str(self.newcomer.id),
        }
        optional = {
            "workspace": self.workspace["id"] if self.workspace else None,
            "channel": self.channel["id"] if self.channel else None,
            "image": self.image_id,
            "pdf": self.pdf_id,
            "member_file": self.member_file_id,
            "meeting": self.meeting_id,
            "member": str(self.member.id) if self.member else None,
            # Callers without credentials have no room of their own: any id does.
            "elsewhere": self.elsewhere.get(role, self.room["id"]),
            "login_email": self.login_email,
        }
        ids.update({k: str(v) for k, v in optional.items() if v is not None})
        caller = self.caller(role)
        ids["self"] = str(caller.id) if caller else str(self.victim.id)
        if role is Role.UNKNOWN_ID:
            ids[primary] = str(uuid.uuid4())
        return ids


@dataclass(frozen=True)
class Needs:
    """What a world must hold besides its users and room."""

    files: bool = False
    room_picture: bool = False
    user_picture: bool = False
    meeting: bool = False
    elsewhere: bool = False  # a room of each caller's own (forwarding destinations)
    login: bool = False  # a user with a password


class WorldBuilder:
    def __init__(self, api: Api, users: Users, running: Running) -> None:
        self.api = api
        self.users = users
        self.running = running

    async def build(self, room_type: str, needs: Needs) -> World:
        owner, member, victim, outsider, newcomer, disabled = [
            await self.users.new(name)
            for name in ("owner", "member", "victim", "outsider", "newcomer", "disabled")
        ]
        world = World(room_type, owner, member, victim, outsider, newcomer, disabled)
        if room_type == ONE_TO_ONE:
            world.member = None
            world.room = await self._room(owner, ONE_TO_ONE, [victim])
        elif room_type == CHANNEL:
            world.workspace = await self._room(owner, WORKSPACE, [member, victim, disabled])
            await self._promote(owner, world.workspace["id"], disabled)
            world.room = await self._channel(owner, world.workspace["id"])
        else:
            world.room = await self._room(owner, room_type, [member, victim, disabled])
            await self._promote(owner, world.room["id"], disabled)
            if room_type == WORKSPACE:
                world.channel = await self._channel(owner, world.room["id"])
        room_id = world.room["id"]
        if needs.files and room_type in FILE_ROOM_TYPES:
            world.image_id = await self._attach(victim, room_id, "photo.png", "image/png", png())
            world.pdf_id = await self._attach(victim, room_id, "doc.pdf", "application/pdf", pdf())
            world.member_file_id = await self._attach(
                world.member or owner, room_id, "notes.txt", "text/plain", b"member notes"
            )
        if needs.room_picture and room_type == GROUP:  # only groups (behaviour.md#room-types)
            await self._expect(
                self.api.put(
                    f"/rooms/{room_id}/picture",
                    owner,
                    content=png(),
                    headers=upload_headers("room.png", "image/png"),
                ),
                204,
            )
        if needs.user_picture:
            await self._expect(
                self.api.put(
                    f"/users/{victim.id}/picture",
                    victim,
                    content=png(),
                    headers=upload_headers("me.png", "image/png"),
                ),
                204,
            )
        if needs.meeting:
            response = await self._expect(
                self.api.post("/meetings", owner, json_body={"roomId": room_id, "name": "standup"}),
                201,
            )
            world.meeting_id = response.json()["id"]
        if needs.elsewhere:
            for role in Role:
                caller = world.caller(role)
                if caller is not None:
                    own = await self._room(caller, TEMPORARY, [])
                    world.elsewhere[role] = own["id"]
        if needs.login:
            world.login_email = await self._user_with_password()
        directory = self.running.adapters.directory
        assert directory is not None
        await directory.disable(disabled.id)
        return world

    async def _user_with_password(self) -> str:
        directory = self.running.adapters.directory
        assert directory is not None
        email = f"login-{uuid.uuid4().hex[:8]}@example.com"
        await directory.add_users([NewUser(email=email, name="Login", password=PASSWORD)])
        return email

    async def _room(self, owner: User, room_type: str, members: list[User]) -> dict[str, Any]:
        body: dict[str, Any] = {"type": room_type, "membersIds": [str(m.id) for m in members]}
        if room_type != ONE_TO_ONE:
            body["name"] = f"{room_type} room"
        response = await self._expect(self.api.post("/rooms", owner, json_body=body), 201)
        room: dict[str, Any] = response.json()
        return room

    async def _channel(self, owner: User, workspace_id: str) -> dict[str, Any]:
        body = {"type": CHANNEL, "name": "channel", "parentId": workspace_id}
        response = await self._expect(self.api.post("/rooms", owner, json_body=body), 201)
        room: dict[str, Any] = response.json()
        return room

    async def _promote(self, owner: User, room_id: str, user: User) -> None:
        await self._expect(self.api.put(f"/rooms/{room_id}/members/{user.id}/owner", owner), 204)

    async def _attach(
        self, user: User, room_id: str, name: str, mime_type: str, data: bytes
    ) -> str:
        response = await self._expect(
            self.api.post(
                f"/rooms/{room_id}/attachments",
                user,
                content=data,
                headers=upload_headers(name, mime_type),
            ),
            201,
        )
        return str(response.json()["id"])

    @staticmethod
    async def _expect(request: Any, status: int) -> httpx.Response:
        response: httpx.Response = await request
        assert response.status_code == status, (
            f"building the world: {response.request.method} {response.request.url.path} "
            f"-> {response.status_code} {response.text}"
        )
        return response


# ------------------------------------------------------------------------------------------
# What a refused request must not change


async def snapshot(api: Api, running: Running, world: World) -> dict[str, Any]:
    """Everything a refused request could have changed: every row of every table, the stored
    files, and what the owner reads about the room, its members, settings and attachments."""
    owner = world.owner
    room_id = world.room["id"]
    reads: dict[str, Any] = {
        "rooms": await _read(api, "/rooms?extraFields=members&extraFields=settings", owner),
        "room": await _read(api, f"/rooms/{room_id}", owner),
        "members": await _read(api, f"/rooms/{room_id}/members", owner),
        "attachments": await _read(api, f"/rooms/{room_id}/attachments?itemsNumber=100", owner),
        "victim": await _read(api, f"/users/{world.victim.id}", owner),
    }
    if world.workspace is not None:
        reads["workspace"] = await _read(api, f"/rooms/{world.workspace['id']}", owner)
    if world.meeting_id is not None:
        reads["meeting"] = await _read(api, f"/meetings/{world.meeting_id}", owner)
    return {"api": reads, "database": await _rows(running), "files": _files(running)}


async def _read(api: Api, path: str, user: User) -> tuple[int, Any]:
    response = await api.get(path, user)
    body = response.json() if response.content else None
    if isinstance(body, dict):
        body.pop("traceId", None)
    return response.status_code, body


async def _rows(running: Running) -> dict[str, list[tuple[str, ...]]]:
    engine = running.adapters.database.engine
    rows: dict[str, list[tuple[str, ...]]] = {}
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            result = await conn.execute(select(table))
            rows[table.name] = sorted(tuple(str(v) for v in row) for row in result)
    return rows


def _files(running: Running) -> list[tuple[str, int]]:
    root = Path(running.settings.data_dir) / "files"
    return sorted(
        (str(Path(directory, name).relative_to(root)), Path(directory, name).stat().st_size)
        for directory, _, names in os.walk(root)
        for name in names
    )


def _orphans(snapshot: dict[str, Any]) -> set[str]:
    """Stored bytes (`files/<id>`, `previews/<id>...`) whose file has no row: earlier tests'
    files once `clean` emptied the tables. The start-up storage sweep of an app another test
    starts removes them in the background, at any moment: their going is not the request's doing.
    """
    ids = {row[0] for row in snapshot["database"]["file_metadata"]}
    orphans = set()
    for name, _ in snapshot["files"]:
        prefix, _, rest = name.partition("/")
        if prefix in ("files", "previews") and rest.split("/")[0].split(".")[0] not in ids:
            orphans.add(name)
    return orphans


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What changed, named by where it is (for the failure message)."""
    found: list[str] = []
    orphans = _orphans(before)
    for part, old_part in before.items():
        new_part = after[part]
        if part == "files":
            old_files, new_files = set(old_part), set(new_part)
            gone = sorted(f for f in old_files - new_files if f[0] not in orphans)
            added = sorted(new_files - old_files)
            if gone or added:
                found.append(f"files: gone {gone[:10]}, added {added[:10]}")
            continue
        if not isinstance(old_part, dict):
            if old_part != new_part:
                found.append(f"{part}: {str(old_part)[:300]} -> {str(new_part)[:300]}")
            continue
        for key in sorted(set(old_part) | set(new_part)):
            old, new = old_part.get(key), new_part.get(key)
            if old != new:
                found.append(f"{part}.{key}: {str(old)[:300]} -> {str(new)[:300]}")
    return found
