"""Domain events pushed to users (behaviour.md#event-types).

Each event renders as JSON with `type` in UPPER_SNAKE_CASE, `sentDate`, and its own fields in
camelCase; null fields are omitted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from wschats.domain.time import format_datetime


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    type: ClassVar[str]
    sent_date: datetime

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "sentDate": format_datetime(self.sent_date)}
        for f in fields(self):
            if f.name == "sent_date":
                continue
            value = getattr(self, f.name)
            if value is None:
                continue
            body[f.metadata.get("json", _camel(f.name))] = _render(value)
        return body


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _render(value: object) -> object:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    return value


@dataclass(frozen=True, kw_only=True)
class RoomCreated(DomainEvent):
    type: ClassVar[str] = "ROOM_CREATED"
    room_id: UUID


@dataclass(frozen=True, kw_only=True)
class RoomUpdated(DomainEvent):
    type: ClassVar[str] = "ROOM_UPDATED"
    room_id: UUID
    name: str | None
    description: str | None


@dataclass(frozen=True, kw_only=True)
class RoomDeleted(DomainEvent):
    type: ClassVar[str] = "ROOM_DELETED"
    room_id: UUID


@dataclass(frozen=True, kw_only=True)
class RoomOwnerPromoted(DomainEvent):
    type: ClassVar[str] = "ROOM_OWNER_PROMOTED"
    room_id: UUID
    user_id: UUID


@dataclass(frozen=True, kw_only=True)
class RoomOwnerDemoted(DomainEvent):
    type: ClassVar[str] = "ROOM_OWNER_DEMOTED"
    room_id: UUID
    user_id: UUID


@dataclass(frozen=True, kw_only=True)
class RoomPictureChanged(DomainEvent):
    type: ClassVar[str] = "ROOM_PICTURE_CHANGED"
    room_id: UUID
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class RoomPictureDeleted(DomainEvent):
    type: ClassVar[str] = "ROOM_PICTURE_DELETED"
    room_id: UUID


@dataclass(frozen=True, kw_only=True)
class RoomMemberAdded(DomainEvent):
    type: ClassVar[str] = "ROOM_MEMBER_ADDED"
    room_id: UUID
    user_id: UUID
    is_owner: bool


@dataclass(frozen=True, kw_only=True)
class RoomMemberRemoved(DomainEvent):
    type: ClassVar[str] = "ROOM_MEMBER_REMOVED"
    room_id: UUID
    user_id: UUID


@dataclass(frozen=True, kw_only=True)
class RoomMuted(DomainEvent):
    type: ClassVar[str] = "ROOM_MUTED"
    room_id: UUID


@dataclass(frozen=True, kw_only=True)
class RoomUnmuted(DomainEvent):
    type: ClassVar[str] = "ROOM_UNMUTED"
    room_id: UUID


@dataclass(frozen=True, kw_only=True)
class RoomHistoryCleared(DomainEvent):
    type: ClassVar[str] = "ROOM_HISTORY_CLEARED"
    room_id: UUID
    cleared_at: datetime


@dataclass(frozen=True, kw_only=True)
class UserPictureChanged(DomainEvent):
    type: ClassVar[str] = "USER_PICTURE_CHANGED"
    user_id: UUID
    image_id: UUID
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class UserPictureDeleted(DomainEvent):
    type: ClassVar[str] = "USER_PICTURE_DELETED"
    user_id: UUID


@dataclass(frozen=True, kw_only=True)
class MeetingCreated(DomainEvent):
    type: ClassVar[str] = "MEETING_CREATED"
    meeting_id: UUID
    room_id: UUID


@dataclass(frozen=True, kw_only=True)
class MeetingDeleted(DomainEvent):
    type: ClassVar[str] = "MEETING_DELETED"
    meeting_id: UUID


@dataclass(frozen=True)
class Delivery:
    """An event and the users who must receive it, in recipient order."""

    event: DomainEvent
    recipients: tuple[UUID, ...] = field(default=())

    @classmethod
    def to(cls, event: DomainEvent, recipients: Iterable[UUID]) -> Delivery:
        return cls(event, tuple(dict.fromkeys(recipients)))
