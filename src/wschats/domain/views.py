"""What a use case answers with, before the HTTP layer renders it (behaviour.md#room-rendering)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from wschats.domain.model import (
    ChatsUser,
    ListedRoom,
    MemberRef,
    Room,
    RoomType,
    RoomUserSettings,
    Subscription,
    UserProfile,
)


@dataclass
class RoomView:
    room: Room
    rank: int | None
    members: Sequence[Subscription | MemberRef] | None = None
    settings: RoomUserSettings | None = None  # rendered only when include_settings
    include_settings: bool = False
    children: list[RoomView] | None = None


def listed_view(listed: ListedRoom, *, with_settings: bool) -> RoomView:
    """The view of a listed room that is not a workspace (`room_view`'s rules for those, without
    the settings lookup: the listing reads the caller's settings with the room)."""
    room = listed.room
    return RoomView(
        room=room,
        rank=room.rank,
        members=listed.members,
        settings=listed.settings if with_settings else None,
        include_settings=with_settings,
    )


def room_view(
    room: Room,
    *,
    members: Sequence[Subscription | MemberRef] | None,
    settings: dict[UUID, RoomUserSettings] | None,
    children: list[Room] | None = None,
) -> RoomView:
    """Build a room view by the mapper rules.

    `settings` is the caller's settings keyed by room id, or None when settings are not
    requested. A workspace's rank is the caller's; any other room's rank is its own (channels).
    Workspaces never carry userSettings; their channels do when settings are requested.
    """
    caller_settings = (settings or {}).get(room.id)
    if room.type is RoomType.WORKSPACE:
        rank = caller_settings.rank if caller_settings else None
        return RoomView(
            room=room,
            rank=rank,
            members=members,
            children=[
                room_view(child, members=None, settings=settings) for child in children or []
            ],
        )
    return RoomView(
        room=room,
        rank=room.rank,
        members=members,
        settings=caller_settings,
        include_settings=settings is not None,
    )


@dataclass
class MemberView:
    user_id: UUID
    owner: bool
    cleared_at: datetime | None = None


@dataclass
class UserView:
    profile: UserProfile
    chats: ChatsUser | None
