"""The one permission rule every room endpoint uses (behaviour.md#room-access).

A room's member list is its own subscriptions, or for a channel its workspace's: channels have
no members of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from wschats.domain.errors import Forbidden, NotFound
from wschats.domain.model import FileReach, Room, Subscription


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


def check_file_reach(reach: FileReach, user_id: UUID) -> None:
    """`load_access` and `check_access` for a file's room, with the same answers (404, 403),
    from one read."""
    room_id = reach.file.room_id
    if not reach.room_found:
        raise NotFound(f"Room {room_id} not found")
    if not reach.workspace_found:
        raise NotFound(f"Workspace of channel {room_id} not found")
    if not reach.member:
        raise Forbidden(f"User {user_id} is not a member of room {room_id}")
