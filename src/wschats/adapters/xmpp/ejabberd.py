"""MessageDispatcher for ejabberd through its HTTP admin API (mod_http_api; decisions D8).

Facts relied on are in /work/shared/docs/ejabberd.md. In short:
- a room is a persistent, members-only, MAM-enabled MUC room `<roomId>@<muc_service>`; its
  members get an owner/member affiliation and a MUC/Sub subscription (nick = the member's bare
  JID, so live copies come `from='<room>/<userId>@<host>'` as they did with MUC Light);
- removing a member needs both `unsubscribe_room` and affiliation `none`;
- `send_stanza` answers 0 even when it drops the message, and it drops it unless the sender is
  subscribed: senders are members by construction (the services resolve them);
- system messages carry a storage hint, since `<body/>`-only messages are not archived;
- affiliations and subscriptions need registered users: members are registered on demand with a
  random password (users log in by other means, e.g. JWT or external auth).

Delivering a command again (the outbox may, after a crash) is harmless: existing rooms,
registrations and missing rooms on delete are accepted, and members who are already subscribed
are neither re-announced nor re-subscribed.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection
from typing import Any
from uuid import UUID

import httpx

from wschats.adapters.xmpp import stanzas
from wschats.adapters.xmpp.forward import forward_stanza
from wschats.adapters.xmpp.stanzas import Jids
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
)

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

    async def deliver(self, command: MessagingCommand) -> None:
        jids = self._jids
        match command:
            case CreateRoom():
                await self._create_room(command)
            case DeleteRoom():
                await self._call(
                    "destroy_room", self._room(command.room_id), tolerate=_ROOM_MISSING
                )
            case AddRoomMember():
                await self._add_member(command)
            case RemoveRoomMember():
                await self._remove_member(command)
            case AddContacts():
                await self._add_contacts(command.user_a, command.user_b)
            case RoomNameChanged():
                stanza = stanzas.room_name_changed(jids, command, store_hint=True)
                await self._send(command.room_id, command.sender_id, stanza)
            case RoomDescriptionChanged():
                stanza = stanzas.room_description_changed(jids, command, store_hint=True)
                await self._send(command.room_id, command.sender_id, stanza)
            case RoomPictureUpdated():
                stanza = stanzas.room_picture_updated(jids, command, store_hint=True)
                await self._send(command.room_id, command.sender_id, stanza)
            case RoomPictureDeleted():
                stanza = stanzas.room_picture_deleted(jids, command, store_hint=True)
                await self._send(command.room_id, command.sender_id, stanza)
            case AttachmentAdded():
                stanza = stanzas.attachment_added(jids, command, store_hint=True)
                await self._send(command.room_id, command.sender_id, stanza)
            case ForwardMessage():
                stanza = forward_stanza(jids, command, store_hint=True)
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

    async def _create_room(self, command: CreateRoom) -> None:
        await self._call(
            "create_room_with_opts",
            {
                **self._room(command.room_id),
                "host": self._host,
                "options": [{"name": k, "value": v} for k, v in ROOM_OPTIONS.items()],
            },
            tolerate=(_ROOM_EXISTS,),
        )
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
                    self._jids, command.room_id, command.owner_id, member_id, store_hint=True
                ),
            )

    async def _add_member(self, command: AddRoomMember) -> None:
        subscribers = await self._subscribers(command.room_id)
        if self._jids.user(command.user_id) in subscribers:
            return  # delivered before
        await self._join(command.room_id, command.user_id, "member")
        await self._send(
            command.room_id,
            command.sender_id,
            stanzas.member_added(
                self._jids, command.room_id, command.sender_id, command.user_id, store_hint=True
            ),
        )

    async def _remove_member(self, command: RemoveRoomMember) -> None:
        subscribers = await self._subscribers_if_room(command.room_id)
        if subscribers is None:
            return  # no such room: nobody to remove
        if self._jids.user(command.user_id) in subscribers:
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

    async def _add_contacts(self, user_a: UUID, user_b: UUID) -> None:
        await self._ensure_registered(user_a)
        await self._ensure_registered(user_b)
        for local, other in ((user_a, user_b), (user_b, user_a)):
            await self._call(
                "add_rosteritem",
                {
                    "localuser": str(local),
                    "localhost": self._host,
                    "user": str(other),
                    "host": self._host,
                    "nick": "",
                    "group": ROSTER_GROUP,
                    "subs": "both",
                },
            )

    # ------------------------------------------------------------------ building blocks

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
        user = self._jids.user(user_id)
        await self._ensure_registered(user_id)
        await self._call(
            "set_room_affiliation",
            {**self._room(room_id), "jid": user, "affiliation": affiliation},
        )
        await self._call(
            "subscribe_room",
            {
                "user": user,
                "nick": user,
                "room": self._jids.room(room_id),
                "nodes": SUBSCRIPTION_NODES,
            },
        )

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
