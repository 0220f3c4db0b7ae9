"""The one permission rule every room endpoint uses (original-behaviour §0.8).

A room's member list is its own subscriptions, or for a channel its workspace's: channels have
no members of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from wschats.domain.errors import Forbidden
from wschats.domain.model import Room, Subscription


@dataclass
class RoomAccess:
    room: Room
    members: list[Subscription]  # for a channel: the workspace's members
    caller: Subscription

    @property
    def member_ids(self) -> list[UUID]:
        return [m.user_id for m in self.members]


def check_access(
    room: Room, members: Sequence[Subscription], user_id: UUID, *, as_owner: bool
) -> RoomAccess:
    caller = next((m for m in members if m.user_id == user_id), None)
    if caller is None:
        raise Forbidden(f"User {user_id} is not a member of room {room.id}")
    if as_owner and not caller.owner:
        raise Forbidden(f"User {user_id} is not an owner of room {room.id}")
    return RoomAccess(room=room, members=list(members), caller=caller)
