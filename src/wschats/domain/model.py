"""Entities of the chats domain, as plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import NamedTuple
from uuid import UUID

# "Muted forever", as the original stores it.
MUTED_FOREVER = datetime(1, 1, 1, tzinfo=UTC)


class RoomType(StrEnum):
    GROUP = "group"
    ONE_TO_ONE = "one_to_one"
    WORKSPACE = "workspace"
    CHANNEL = "channel"
    TEMPORARY = "temporary"


class UserType(StrEnum):
    INTERNAL = "internal"
    GUEST = "guest"


class FileType(StrEnum):
    ATTACHMENT = "attachment"
    ROOM_AVATAR = "room_avatar"
    USER_AVATAR = "user_avatar"


class MeetingType(StrEnum):
    PERMANENT = "permanent"
    SCHEDULED = "scheduled"


@dataclass
class Room:
    id: UUID
    type: RoomType
    name: str | None
    description: str | None
    created_at: datetime
    updated_at: datetime
    parent_id: UUID | None = None
    rank: int | None = None  # channel order inside its workspace
    picture_updated_at: datetime | None = None
    meeting_id: UUID | None = None


@dataclass
class Subscription:
    room_id: UUID
    user_id: UUID
    owner: bool
    joined_at: datetime
    ordinal: int = 0  # position in the member list (creation order)


class MemberRef(NamedTuple):
    """A member as room listings show it (cheaper to load than a Subscription)."""

    user_id: UUID
    owner: bool


@dataclass
class RoomUserSettings:
    user_id: UUID
    room_id: UUID
    muted_until: datetime | None = None
    cleared_at: datetime | None = None
    rank: int | None = None  # the user's workspace order (workspaces only)

    @property
    def muted(self) -> bool:
        return self.muted_until is not None


class ListedRoom(NamedTuple):
    """A room as the caller's room listing reads it: with the caller's settings and, when
    asked for, its members in member order."""

    room: Room
    settings: RoomUserSettings | None
    members: tuple[MemberRef, ...] | None


@dataclass
class FileMetadata:
    id: UUID
    type: FileType
    name: str
    size: int
    mime_type: str
    user_id: UUID
    room_id: UUID | None
    created_at: datetime
    updated_at: datetime
    area: str | None = None


class FileReach(NamedTuple):
    """A file in a room and what a user's access to it depends on, read at once."""

    file: FileMetadata
    room_found: bool  # the file's room exists
    workspace_found: bool  # for a channel, its workspace exists (True for other rooms)
    member: bool  # the user is a member of the room (of the workspace, for a channel)


@dataclass
class ChatsUser:
    """What the chats service itself keeps about a user (picture, status)."""

    id: UUID
    picture_updated_at: datetime | None = None
    status_message: str = ""


@dataclass
class UserProfile:
    """A user as the identity service knows it."""

    id: UUID
    email: str
    name: str
    type: UserType = UserType.INTERNAL


@dataclass
class Principal:
    """The authenticated caller of a request."""

    user_id: UUID
    token: str
    queue_id: UUID | None = None


@dataclass
class Participant:
    meeting_id: UUID
    user_id: UUID
    queue_id: UUID | None
    joined_at: datetime
    audio: bool = False
    video: bool = False
    screen: bool = False


@dataclass
class Meeting:
    id: UUID
    room_id: UUID
    name: str | None
    type: MeetingType
    created_at: datetime
    active: bool = False
    started_at: datetime | None = None
    participants: list[Participant] = field(default_factory=list)


@dataclass(frozen=True)
class Capabilities:
    can_see_message_reads: bool = True
    can_see_users_presence: bool = True
    can_video_call: bool = True
    can_video_call_record: bool = True
    can_use_virtual_background: bool = True
    edit_message_time_limit_in_minutes: int = 10
    delete_message_time_limit_in_minutes: int = 10
    max_group_members: int = 128
    max_room_image_size_in_kb: int = 512
    max_user_image_size_in_kb: int = 512
