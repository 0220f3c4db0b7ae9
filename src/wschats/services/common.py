"""Pieces every room use case shares: loading a room with its access check, and the
room-deletion cascade (used by room delete and by the last member leaving)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from wschats.domain.access import RoomAccess, check_access
from wschats.domain.errors import NotFound
from wschats.domain.events import Delivery, DomainEvent, MeetingDeleted, RoomDeleted
from wschats.domain.files import blob_key, preview_prefix
from wschats.domain.messaging import DeleteRoom
from wschats.domain.model import FileType, Room, RoomType
from wschats.ports import BlobStore, Clock, EventDispatcher, UnitOfWork

log = logging.getLogger(__name__)


async def load_access(
    uow: UnitOfWork, room_id: UUID, user_id: UUID, *, as_owner: bool = False
) -> RoomAccess:
    """404 if the room (or a channel's workspace) is missing, 403 if the caller may not."""
    room = await uow.rooms.get(room_id)
    if room is None:
        raise NotFound(f"Room {room_id} not found")
    members_of = room.id
    if room.type is RoomType.CHANNEL:
        if room.parent_id is None or await uow.rooms.get(room.parent_id) is None:
            raise NotFound(f"Workspace of channel {room_id} not found")
        members_of = room.parent_id
    members = await uow.members.of_room(members_of)
    return check_access(room, members, user_id, as_owner=as_owner)


@dataclass
class AfterCommit:
    """Side effects that must wait for the commit: events and blob removals."""

    deliveries: list[Delivery] = field(default_factory=list)
    blob_keys: list[str] = field(default_factory=list)
    preview_prefixes: list[str] = field(default_factory=list)

    def notify(self, event: DomainEvent, recipients: Sequence[UUID]) -> None:
        self.deliveries.append(Delivery.to(event, recipients))

    def forget_file(self, file_id: UUID) -> None:
        self.blob_keys.append(blob_key(file_id))
        self.preview_prefixes.append(preview_prefix(file_id))

    async def run(self, events: EventDispatcher, blobs: BlobStore) -> None:
        # The database is the source of truth: a blob left behind by a failure here is an
        # orphan that `wschats storage check --repair` removes; it is never a dangling row.
        for key in self.blob_keys:
            try:
                await blobs.delete(key)
            except Exception as exc:
                log.warning("could not delete blob %s after commit: %s", key, exc)
        for prefix in self.preview_prefixes:
            try:
                await blobs.delete_prefix(prefix)
            except Exception as exc:
                log.warning("could not delete previews %s after commit: %s", prefix, exc)
        if self.deliveries:
            await events.publish(self.deliveries)


async def delete_room_cascade(
    uow: UnitOfWork,
    room: Room,
    *,
    caller_id: UUID,
    recipients: Sequence[UUID],
    clock: Clock,
    after: AfterCommit,
) -> None:
    """Delete a room and everything hanging off it (behaviour.md#delete-room steps 2-7)."""
    now = clock.now()
    rooms = [room]
    if room.type is RoomType.WORKSPACE:
        rooms += (await uow.rooms.children_of([room.id]))[room.id]
    for meeting in await uow.meetings.of_rooms([r.id for r in rooms]):
        await uow.meetings.delete(meeting.id)
        after.notify(MeetingDeleted(sent_date=now, meeting_id=meeting.id), recipients)
    for target in rooms:
        for file_type in (FileType.ATTACHMENT, FileType.ROOM_AVATAR):
            for metadata in await uow.files.of_room(target.id, file_type):
                await uow.files.delete(metadata.id)
                after.forget_file(metadata.id)
    await uow.rooms.delete(room.id)
    if room.type is RoomType.WORKSPACE:
        for child in rooms[1:]:
            await uow.outbox.add(DeleteRoom(room_id=child.id, sender_id=caller_id))
    else:
        await uow.outbox.add(DeleteRoom(room_id=room.id, sender_id=caller_id))
    after.notify(RoomDeleted(sent_date=now, room_id=room.id), recipients)
