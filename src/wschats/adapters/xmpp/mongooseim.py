"""MessageDispatcher for MongooseIM: the original's GraphQL calls, byte for byte.

The calls and stanzas are described in docs/behaviour.md (XMPP).
"""

from __future__ import annotations

import json
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
    RoomRetitled,
)

HEALTH_QUERY = "query checkAuth { checkAuth { authStatus } }"


class MongooseImMessageDispatcher:
    """Talks to MongooseIM's GraphQL admin endpoint.

    `url` is the endpoint itself, e.g. `http://127.78.0.4:20004/api/graphql`.
    """

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        timeout: float = 5.0,
        *,
        domain: str = "carbonio",
    ) -> None:
        self._url = url
        self._jids = Jids(domain=domain, muc_domain=f"muclight.{domain}")
        self._client = httpx.AsyncClient(auth=httpx.BasicAuth(username, password), timeout=timeout)

    async def deliver(self, command: MessagingCommand) -> None:
        jids = self._jids
        match command:
            case CreateRoom():
                await self._mutation(
                    "muc_light",
                    "mutation muc_light { muc_light { createRoom ("
                    f'mucDomain: "{jids.muc_domain}", id: "{command.room_id}", '
                    f'owner: "{jids.user(command.owner_id)}") {{ jid }} }} }}',
                )
                for member_id in command.member_ids:
                    await self._add_member(command.room_id, command.owner_id, member_id)
            case DeleteRoom():
                await self._mutation(
                    "muc_light",
                    "mutation muc_light { muc_light { deleteRoom ("
                    f'room: "{jids.room(command.room_id)}") }} }}',
                )
            case AddRoomMember():
                await self._add_member(command.room_id, command.sender_id, command.user_id)
            case RemoveRoomMember():
                await self._mutation(
                    "muc_light",
                    "mutation muc_light { muc_light { kickUser ("
                    f'room: "{jids.room(command.room_id)}", '
                    f'user: "{jids.user(command.user_id)}") }} }}',
                )
                await self._send(
                    stanzas.member_removed(
                        jids, command.room_id, command.sender_id, command.user_id
                    )
                )
            case AddContacts():
                await self._mutation(
                    "roster",
                    "mutation roster { roster { setMutualSubscription ("
                    f'userA: "{jids.user(command.user_a)}", '
                    f'userB: "{jids.user(command.user_b)}", action: CONNECT) }} }}',
                )
            case RoomNameChanged():
                await self._send(stanzas.room_name_changed(jids, command))
            case RoomDescriptionChanged():
                await self._send(stanzas.room_description_changed(jids, command))
            case RoomPictureUpdated():
                await self._send(stanzas.room_picture_updated(jids, command))
            case RoomPictureDeleted():
                await self._send(stanzas.room_picture_deleted(jids, command))
            case AttachmentAdded():
                await self._send(stanzas.attachment_added(jids, command))
            case ForwardMessage():
                await self._send(forward_stanza(jids, command))
            case RoomRetitled():
                pass  # MUC Light rooms carry no title of wschats' making: nothing to tell
            case _:
                raise TypeError(f"unknown messaging command {type(command).__name__}")

    async def health(self) -> bool:
        try:
            response = await self._client.get(self._url, params={"query": HEALTH_QUERY})
            if response.status_code != httpx.codes.OK:
                return False
            payload = response.json()
        except (httpx.HTTPError, ValueError):
            return False
        return isinstance(payload, dict) and payload.get("errors") is None

    async def close(self) -> None:
        await self._client.aclose()

    async def _add_member(self, room_id: UUID, sender_id: UUID, user_id: UUID) -> None:
        jids = self._jids
        await self._mutation(
            "muc_light",
            "mutation muc_light { muc_light { inviteUser ("
            f'room: "{jids.room(room_id)}", sender: "{jids.user(sender_id)}", '
            f'recipient: "{jids.user(user_id)}") }} }}',
        )
        await self._send(stanzas.member_added(jids, room_id, sender_id, user_id))

    async def _send(self, stanza: str) -> None:
        # Stanzas never contain `"` (stanzas.py), so they cannot end the block string.
        query = f'mutation stanza {{ stanza {{ sendStanza (stanza: """{stanza}""") {{ id }} }} }}'
        await self._mutation("stanza", query)

    async def _mutation(self, operation_name: str, query: str) -> Any:
        body = json.dumps(
            {"query": query, "operationName": operation_name, "variables": {}},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        try:
            response = await self._client.post(
                self._url,
                content=body,
                headers={"Accept": "application/json", "Content-Type": "application/json"},
            )
        except httpx.HTTPError as error:
            raise DependencyFailed(
                Dependency.XMPP, f"MongooseIM {operation_name} call failed: {error!r}"
            ) from error
        if response.status_code != httpx.codes.OK:
            raise DependencyFailed(
                Dependency.XMPP,
                f"MongooseIM {operation_name} call answered {response.status_code}",
            )
        try:
            payload = response.json()
        except ValueError as error:
            raise DependencyFailed(
                Dependency.XMPP, f"MongooseIM {operation_name} call answered non-JSON"
            ) from error
        if not isinstance(payload, dict):
            raise DependencyFailed(
                Dependency.XMPP, f"MongooseIM {operation_name} call answered {payload!r}"
            )
        if payload.get("errors") is not None:
            raise DependencyFailed(
                Dependency.XMPP,
                f"MongooseIM {operation_name} call failed: {json.dumps(payload['errors'])}",
            )
        return payload.get("data")
