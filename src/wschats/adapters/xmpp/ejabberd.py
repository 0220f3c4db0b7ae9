"""MessageDispatcher and ChatRooms for ejabberd through its HTTP admin API (mod_http_api).

Facts relied on are in docs/ejabberd.md; what wschats makes of rooms in docs/xmpp-rooms.md.
In short:
- a room is a persistent, members-only, MAM-enabled MUC room `<roomId>@<muc_service>`; its
  members get an owner/member affiliation and a MUC/Sub subscription (nick = the member's bare
  JID, so live copies come `from='<room>/<userId>@<host>'` as they did with MUC Light);
- removing a member needs both `unsubscribe_room` and affiliation `none`;
- `send_stanza` answers 0 even when it drops the message, and it drops it unless the sender is
  subscribed: senders are members by construction (the services resolve them);
- system messages carry a storage hint, since `<body/>`-only messages are not archived;
- affiliations and subscriptions need registered users: members are registered on demand with a
  random password (users log in by other means, e.g. JWT or external auth);
- system messages carry a readable plain-text body for standard clients (the configuration
  element stays as the original wrote it); rooms have a title and a description; bookmarks
  (XEP-0048, private storage, which ejabberd mirrors to PEP) list each member's rooms.

Delivering a command again (the outbox may, after a crash) is harmless: existing rooms,
registrations and missing rooms on delete are accepted, and members who are already subscribed
are neither re-announced nor re-subscribed.
"""

from __future__ import annotations

import json
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from uuid import UUID

import httpx

from wschats.adapters.xmpp import stanzas
from wschats.adapters.xmpp.forward import forward_stanza
from wschats.adapters.xmpp.stanzas import Jids, escape_attribute, escape_text
from wschats.domain import system_texts as texts
from wschats.domain.errors import Dependency, DependencyFailed
from wschats.domain.messaging import (
    AddContacts,
    AddRoomMember,
    AttachmentAdded,
    CreateRoom,
    DeleteRoom,
    ForwardMessage,
    MessagingCommand,
    RemoveRoomMember,
    RoomDescriptionChanged,
    RoomNameChanged,
    RoomPictureDeleted,
    RoomPictureUpdated,
    RoomRetitled,
)
from wschats.ports import Bookmark, ChatRoomState

SUBSCRIPTION_NODES = ",".join(
    f"urn:xmpp:mucsub:nodes:{node}" for node in ("messages", "affiliations", "subject", "config")
)
ROOM_OPTIONS = {
    "members_only": "true",
    "persistent": "true",
    "mam": "true",
    "allow_subscription": "true",
    "public": "false",  # not listed in the service's room directory
}
ROSTER_GROUP = "Contacts"  # add_rosteritem takes exactly one group (ejabberd 23.01)

_ROOM_EXISTS = "Room already exists"
_ROOM_MISSING = ("Room doesn't exists", "The room does not exist")
_ALREADY_REGISTERED = "already registered"
_BOOKMARKS_NS = "storage:bookmarks"
_AFFILIATIONS = ("owner", "admin", "member")


class EjabberdMessageDispatcher:
    """`api_url` is the mod_http_api root, e.g. `http://127.0.0.1:15280/api`.

    `credentials` (a JID and its password) are sent as HTTP Basic auth when the server's
    `api_permissions` require them; without them the server must trust the caller's address.
    """

    def __init__(
        self,
        api_url: str,
        *,
        host: str = "carbonio",
        muc_service: str | None = None,
        credentials: tuple[str, str] | None = None,
        timeout: float = 5.0,
    ) -> None:
        self._api_url = api_url.rstrip("/")
        self._host = host
        self._muc_service = muc_service or f"muclight.{host}"
        self._jids = Jids(domain=host, muc_domain=self._muc_service)
        self._client = httpx.AsyncClient(
            auth=httpx.BasicAuth(*credentials) if credentials else None, timeout=timeout
        )
        self._registered: set[UUID] = set()

    async def deliver(
        self,
        command: MessagingCommand,
        *,
        names: Mapping[UUID, str] | None = None,
        announce: bool = False,
    ) -> None:
        """`names`: users' display names for the readable bodies (ids when missing);
        `announce`: send a member's system message even when they are subscribed already
        (the room was just re-created with its current members)."""
        jids = self._jids
        known = names or {}
        hint = True
        match command:
            case CreateRoom():
                await self._create_room(command, known)
            case DeleteRoom():
                await self._call(
                    "destroy_room", self._room(command.room_id), tolerate=_ROOM_MISSING
                )
            case AddRoomMember():
                await self._add_member(command, known, announce)
            case RemoveRoomMember():
                await self._remove_member(command, known, announce)
            case AddContacts():
                await self._add_contacts(command.user_a, command.user_b, known)
            case RoomRetitled():
                pass  # the title is the reconciling service's business (set_appearance)
            case RoomNameChanged():
                text = texts.room_renamed(known, command.sender_id, command.name)
                stanza = stanzas.room_name_changed(jids, command, store_hint=hint, text=text)
                await self._send(command.room_id, command.sender_id, stanza)
            case RoomDescriptionChanged():
                text = texts.description_changed(known, command.sender_id, command.description)
                stanza = stanzas.room_description_changed(jids, command, store_hint=hint, text=text)
                await self._send(command.room_id, command.sender_id, stanza)
            case RoomPictureUpdated():
                text = texts.picture_updated(known, command.sender_id)
                stanza = stanzas.room_picture_updated(jids, command, store_hint=hint, text=text)
                await self._send(command.room_id, command.sender_id, stanza)
            case RoomPictureDeleted():
                text = texts.picture_deleted(known, command.sender_id)
                stanza = stanzas.room_picture_deleted(jids, command, store_hint=hint, text=text)
                await self._send(command.room_id, command.sender_id, stanza)
            case AttachmentAdded():
                text = texts.file_shared(
                    known, command.sender_id, command.file_name, command.size, command.description
                )
                stanza = stanzas.attachment_added(jids, command, store_hint=hint, text=text)
                await self._send(command.room_id, command.sender_id, stanza)
            case ForwardMessage():
                stanza = forward_stanza(jids, command, store_hint=hint, plain_body=True)
                await self._send(command.room_id, command.sender_id, stanza)
            case _:
                raise TypeError(f"unknown messaging command {type(command).__name__}")

    async def health(self) -> bool:
        try:
            response = await self._client.post(f"{self._api_url}/status", json={})
        except httpx.HTTPError:
            return False
        return response.status_code == httpx.codes.OK

    async def close(self) -> None:
        await self._client.aclose()

    # ------------------------------------------------------------------ commands

    async def _create_room(self, command: CreateRoom, names: Mapping[UUID, str]) -> None:
        await self._create(command.room_id, {})
        subscribers = await self._subscribers(command.room_id)
        if self._jids.user(command.owner_id) not in subscribers:
            await self._join(command.room_id, command.owner_id, "owner")
        for member_id in command.member_ids:
            if self._jids.user(member_id) in subscribers:
                continue
            await self._join(command.room_id, member_id, "member")
            await self._send(
                command.room_id,
                command.owner_id,
                stanzas.member_added(
                    self._jids,
                    command.room_id,
                    command.owner_id,
                    member_id,
                    store_hint=True,
                    text=texts.member_added(names, command.owner_id, member_id),
                ),
            )

    async def _add_member(
        self, command: AddRoomMember, names: Mapping[UUID, str], announce: bool
    ) -> None:
        subscribers = await self._subscribers(command.room_id)
        if self._jids.user(command.user_id) in subscribers and not announce:
            return  # delivered before
        await self._join(command.room_id, command.user_id, "member")
        await self._send(
            command.room_id,
            command.sender_id,
            stanzas.member_added(
                self._jids,
                command.room_id,
                command.sender_id,
                command.user_id,
                store_hint=True,
                text=texts.member_added(names, command.sender_id, command.user_id),
            ),
        )

    async def _remove_member(
        self, command: RemoveRoomMember, names: Mapping[UUID, str], announce: bool
    ) -> None:
        subscribers = await self._subscribers_if_room(command.room_id)
        if subscribers is None:
            return  # no such room: nobody to remove
        if self._jids.user(command.user_id) in subscribers or announce:
            # Announced before the removal so the removed member learns of it too, and so
            # that it is delivered even when the sender is the member leaving.
            await self._send(
                command.room_id,
                command.sender_id,
                stanzas.member_removed(
                    self._jids,
                    command.room_id,
                    command.sender_id,
                    command.user_id,
                    store_hint=True,
                    text=texts.member_removed(
                        names, command.actor_id or command.sender_id, command.user_id
                    ),
                ),
            )
        # Unsubscribing first: a redelivery after a crash between the two calls then finds the
        # member gone and does not announce the removal twice.
        await self._call(
            "unsubscribe_room",
            {"user": self._jids.user(command.user_id), "room": self._jids.room(command.room_id)},
        )
        await self._call(
            "set_room_affiliation",
            {
                **self._room(command.room_id),
                "jid": self._jids.user(command.user_id),
                "affiliation": "none",
            },
            tolerate=_ROOM_MISSING,
        )

    async def _add_contacts(self, user_a: UUID, user_b: UUID, names: Mapping[UUID, str]) -> None:
        for local, other in ((user_a, user_b), (user_b, user_a)):
            await self.set_contact(local, other, names.get(other, ""))

    # ------------------------------------------------------------------ ChatRooms

    async def subscribers(self, room_id: UUID) -> frozenset[UUID] | None:
        jids = await self._subscribers_if_room(room_id)
        return None if jids is None else frozenset(self._user_ids(jids))

    async def state(self, room_id: UUID) -> ChatRoomState | None:
        subscribers = await self.subscribers(room_id)
        if subscribers is None:
            return None
        options = await self._call("get_room_options", self._room(room_id), tolerate=_ROOM_MISSING)
        affiliations = await self._call(
            "get_room_affiliations", self._room(room_id), tolerate=_ROOM_MISSING
        )
        if options is None or affiliations is None:
            return None  # destroyed meanwhile
        values = _options(options)
        affiliated: dict[UUID, str] = {}
        for item in affiliations if isinstance(affiliations, list) else []:
            if item.get("domain") != self._host or item.get("affiliation") not in _AFFILIATIONS:
                continue
            user_id = _uuid(str(item.get("username", "")))
            if user_id is not None:
                affiliated[user_id] = str(item["affiliation"])
        return ChatRoomState(
            title=values.get("title", ""),
            description=values.get("description", ""),
            affiliations=affiliated,
            subscribers=subscribers,
        )

    async def room_ids(self) -> list[UUID]:
        rooms = await self._call("muc_online_rooms", {"service": self._muc_service})
        suffix = f"@{self._muc_service}"
        found = (_uuid(str(r).removesuffix(suffix)) for r in rooms or [] if str(r).endswith(suffix))
        return sorted(r for r in found if r is not None)

    async def create(self, room_id: UUID, title: str, description: str) -> None:
        await self._create(room_id, {"title": title, "description": description})

    async def set_appearance(
        self, room_id: UUID, *, title: str | None = None, description: str | None = None
    ) -> None:
        for option, value in (("title", title), ("description", description)):
            if value is None:
                continue
            await self._call(
                "change_room_option", {**self._room(room_id), "option": option, "value": value}
            )

    async def set_affiliation(self, room_id: UUID, user_id: UUID, affiliation: str) -> None:
        if affiliation != "none":
            await self._ensure_registered(user_id)
        await self._call(
            "set_room_affiliation",
            {**self._room(room_id), "jid": self._jids.user(user_id), "affiliation": affiliation},
        )

    async def subscribe(self, room_id: UUID, user_id: UUID) -> None:
        user = self._jids.user(user_id)
        await self._ensure_registered(user_id)
        await self._call(
            "subscribe_room",
            {
                "user": user,
                "nick": user,
                "room": self._jids.room(room_id),
                "nodes": SUBSCRIPTION_NODES,
            },
        )

    async def unsubscribe(self, room_id: UUID, user_id: UUID) -> None:
        await self._call(
            "unsubscribe_room",
            {"user": self._jids.user(user_id), "room": self._jids.room(room_id)},
        )

    async def bookmarks(self, user_id: UUID) -> list[Bookmark]:
        return [
            Bookmark(room_id, name)
            for room_id, name in _bookmarked_rooms(
                await self._bookmark_storage(user_id), self._muc_service
            )
        ]

    async def set_bookmarks(self, user_id: UUID, bookmarks: Sequence[Bookmark]) -> None:
        """Replaces the bookmarks of wschats' rooms; the user's other bookmarks are kept."""
        storage = await self._bookmark_storage(user_id)
        suffix = f"@{self._muc_service}"
        kept = [
            ET.tostring(c, encoding="unicode")
            for c in (storage if storage is not None else [])
            if not (c.tag == f"{{{_BOOKMARKS_NS}}}conference" and c.get("jid", "").endswith(suffix))
        ]
        nick = escape_text(self._jids.user(user_id))
        ours = [
            f"<conference jid='{escape_attribute(self._jids.room(b.room_id))}'"
            f" name='{escape_attribute(b.name)}' autojoin='true'><nick>{nick}</nick></conference>"
            for b in bookmarks
        ]
        await self._ensure_registered(user_id)
        await self._call(
            "private_set",
            {
                "user": str(user_id),
                "host": self._host,
                "element": f"<storage xmlns='{_BOOKMARKS_NS}'>{''.join(kept + ours)}</storage>",
            },
        )

    async def contact_name(self, user_id: UUID, other_id: UUID) -> str | None:
        roster = await self._call("get_roster", {"user": str(user_id), "host": self._host})
        other = self._jids.user(other_id)
        for item in roster if isinstance(roster, list) else []:
            if item.get("jid") == other:
                return str(item.get("nick") or "")
        return None

    async def set_contact(self, user_id: UUID, other_id: UUID, name: str) -> None:
        """`other_id` in `user_id`'s roster under `name`, subscribed both ways."""
        await self._ensure_registered(user_id)
        await self._ensure_registered(other_id)
        await self._call(
            "add_rosteritem",
            {
                "localuser": str(user_id),
                "localhost": self._host,
                "user": str(other_id),
                "host": self._host,
                "nick": name,
                "group": ROSTER_GROUP,
                "subs": "both",
            },
        )

    # ------------------------------------------------------------------ building blocks

    async def _create(self, room_id: UUID, options: Mapping[str, str]) -> None:
        await self._call(
            "create_room_with_opts",
            {
                **self._room(room_id),
                "host": self._host,
                "options": [
                    {"name": k, "value": v} for k, v in {**ROOM_OPTIONS, **options}.items()
                ],
            },
            tolerate=(_ROOM_EXISTS,),
        )

    def _user_ids(self, jids: Collection[str]) -> list[UUID]:
        suffix = f"@{self._host}"
        found = (
            _uuid(j.split("/")[0].removesuffix(suffix))
            for j in jids
            if j.split("/")[0].endswith(suffix)
        )
        return [u for u in found if u is not None]

    async def _bookmark_storage(self, user_id: UUID) -> ET.Element | None:
        result = await self._call(
            "private_get",
            {"user": str(user_id), "host": self._host, "element": "storage", "ns": _BOOKMARKS_NS},
        )
        text = result.get("res") if isinstance(result, dict) else result
        if not isinstance(text, str) or not text:
            return None
        try:
            query = ET.fromstring(text)
        except ET.ParseError as error:
            raise DependencyFailed(
                Dependency.XMPP, f"ejabberd private_get answered {text!r}"
            ) from error
        return query.find(f"{{{_BOOKMARKS_NS}}}storage")

    def _room(self, room_id: UUID) -> dict[str, str]:
        return {"name": str(room_id), "service": self._muc_service}

    async def _subscribers(self, room_id: UUID) -> set[str]:
        """The room's subscribers' bare JIDs; `DependencyFailed` if the room does not exist."""
        subscribers = await self._subscribers_if_room(room_id, tolerate=())
        assert subscribers is not None  # nothing tolerated, so an error has raised
        return subscribers

    async def _subscribers_if_room(
        self, room_id: UUID, *, tolerate: Collection[str] = _ROOM_MISSING
    ) -> set[str] | None:
        result = await self._call("get_subscribers", self._room(room_id), tolerate=tolerate)
        if result is None:
            return None
        if not isinstance(result, list):
            raise DependencyFailed(Dependency.XMPP, f"ejabberd get_subscribers answered {result!r}")
        return {str(jid) for jid in result}

    async def _join(self, room_id: UUID, user_id: UUID, affiliation: str) -> None:
        await self.set_affiliation(room_id, user_id, affiliation)
        await self.subscribe(room_id, user_id)

    async def _ensure_registered(self, user_id: UUID) -> None:
        if user_id in self._registered:
            return
        await self._call(
            "register",
            {
                "user": str(user_id),
                "host": self._host,
                "password": secrets.token_urlsafe(32),
            },
            tolerate=(_ALREADY_REGISTERED,),
        )
        self._registered.add(user_id)

    async def _send(self, room_id: UUID, sender_id: UUID, stanza: str) -> None:
        await self._call(
            "send_stanza",
            {"from": self._jids.user(sender_id), "to": self._jids.room(room_id), "stanza": stanza},
        )

    async def _call(
        self, command: str, body: dict[str, Any], *, tolerate: Collection[str] = ()
    ) -> Any:
        """The command's JSON result; None for an error whose message contains a tolerated text."""
        try:
            response = await self._client.post(f"{self._api_url}/{command}", json=body)
        except httpx.HTTPError as error:
            raise DependencyFailed(
                Dependency.XMPP, f"ejabberd {command} call failed: {error!r}"
            ) from error
        try:
            payload = response.json()
        except ValueError:
            payload = response.text
        if response.status_code == httpx.codes.OK:
            return payload
        message = _error_message(payload)
        if any(text in message for text in tolerate):
            return None
        raise DependencyFailed(
            Dependency.XMPP, f"ejabberd {command} answered {response.status_code}: {message}"
        )


def _error_message(payload: Any) -> str:
    """ejabberd errors are a JSON string or `{"status":"error","code":N,"message":...}`."""
    if isinstance(payload, dict) and isinstance(payload.get("message"), str):
        return str(payload["message"])
    if isinstance(payload, str):
        return payload
    return json.dumps(payload)


def _options(options: Any) -> dict[str, str]:
    """get_room_options answers an object, or a list of name/value pairs."""
    if isinstance(options, dict):
        return {str(k): str(v) for k, v in options.items()}
    if isinstance(options, list):
        return {str(o.get("name")): str(o.get("value", "")) for o in options if isinstance(o, dict)}
    return {}


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


def _bookmarked_rooms(storage: ET.Element | None, muc_service: str) -> list[tuple[UUID, str]]:
    suffix = f"@{muc_service}"
    found: list[tuple[UUID, str]] = []
    for conference in storage if storage is not None else []:
        jid = conference.get("jid", "")
        room_id = _uuid(jid.removesuffix(suffix)) if jid.endswith(suffix) else None
        if conference.tag == f"{{{_BOOKMARKS_NS}}}conference" and room_id is not None:
            found.append((room_id, conference.get("name", "")))
    return found
