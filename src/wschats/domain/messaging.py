"""What the chat (XMPP) server must be told, as data.

Services record these commands in the same transaction as the change (an outbox); a message
dispatcher adapter turns each into the XMPP server's own calls after commit
(behaviour.md#xmpp-operations). Workspaces have no XMPP room; channels do.

Fields added after a release have defaults, so commands queued by an older version still
decode (adapters/db/commands.py fills in what a stored payload lacks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class MessagingCommand:
    """Base: every command concerns one XMPP room (or, for contacts, a pair of users)."""

    room_id: UUID | None


@dataclass(frozen=True)
class CreateRoom(MessagingCommand):
    room_id: UUID
    owner_id: UUID
    member_ids: tuple[UUID, ...]  # every member but the owner, in member order


@dataclass(frozen=True)
class DeleteRoom(MessagingCommand):
    room_id: UUID
    sender_id: UUID


@dataclass(frozen=True)
class AddRoomMember(MessagingCommand):
    """Invite + `memberAdded` system message."""

    room_id: UUID
    sender_id: UUID
    user_id: UUID


@dataclass(frozen=True)
class RemoveRoomMember(MessagingCommand):
    """Kick + `memberRemoved` system message.

    `sender_id` is who the stanza comes from (the first owner, as in the original); `actor_id`
    is who asked for the removal (the member themselves when leaving), for the readable text.
    """

    room_id: UUID
    sender_id: UUID
    user_id: UUID
    actor_id: UUID | None = None


@dataclass(frozen=True)
class AddContacts(MessagingCommand):
    """Mutual roster subscription of a one-to-one pair."""

    room_id: UUID | None
    user_a: UUID
    user_b: UUID


@dataclass(frozen=True)
class RoomRetitled(MessagingCommand):
    """The room's title on the chat server must be read again (its workspace was renamed);
    no system message."""

    room_id: UUID


@dataclass(frozen=True)
class RoomNameChanged(MessagingCommand):
    room_id: UUID
    sender_id: UUID
    name: str


@dataclass(frozen=True)
class RoomDescriptionChanged(MessagingCommand):
    room_id: UUID
    sender_id: UUID
    description: str


@dataclass(frozen=True)
class RoomPictureUpdated(MessagingCommand):
    room_id: UUID
    sender_id: UUID
    picture_id: UUID
    picture_name: str


@dataclass(frozen=True)
class RoomPictureDeleted(MessagingCommand):
    room_id: UUID
    sender_id: UUID


@dataclass(frozen=True)
class AttachmentAdded(MessagingCommand):
    room_id: UUID
    sender_id: UUID
    attachment_id: UUID
    file_name: str
    mime_type: str
    size: int
    area: str | None = None
    message_id: str | None = None
    reply_id: str | None = None
    description: str = ""


@dataclass(frozen=True)
class ForwardedAttachment:
    attachment_id: UUID
    file_name: str
    mime_type: str
    size: int


@dataclass(frozen=True)
class ForwardMessage(MessagingCommand):
    room_id: UUID
    sender_id: UUID
    original_message: str  # the XML of the message being forwarded, as the client sent it
    original_sent_at: datetime | None
    description: str = ""
    attachment: ForwardedAttachment | None = None
