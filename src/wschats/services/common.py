"""Pieces every room use case shares: loading a room with its access check, and the
room-deletion cascade (used by room delete, by the last member leaving, and by removing a
user)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from wschats.domain.access import RoomAccess, check_access
from wschats.domain.errors import NotFound
from wschats.domain.events import MeetingDeleted, RoomDeleted
from wschats.domain.messaging import DeleteRoom
from wschats.domain.model import FileType, Room, RoomType
from wschats.ports import Clock, Repositories
from wschats.services.writes import Transaction


async def load_access(
    uow: Repositories, room_id: UUID, user_id: UUID, *, as_owner: bool = False
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


async def delete_room_cascade(
    tx: Transaction,
    room: Room,
    *,
    caller_id: UUID,
    recipients: Sequence[UUID],
    clock: Clock,
) -> None:
    """Delete a room and everything hanging off it (behaviour.md#delete-room steps 2-7); its
    files' bytes and the events go after the commit."""
    now = clock.now()
    rooms = [room]
    if room.type is RoomType.WORKSPACE:
        rooms += (await tx.rooms.children_of([room.id]))[room.id]
    for meeting in await tx.meetings.of_rooms([r.id for r in rooms]):
        await tx.meetings.delete(meeting.id)
        tx.notify(MeetingDeleted(sent_date=now, meeting_id=meeting.id), recipients)
    for target in rooms:
        for file_type in (FileType.ATTACHMENT, FileType.ROOM_AVATAR):
            for metadata in await tx.files.of_room(target.id, file_type):
                await tx.files.delete(metadata.id)
                tx.forget_file(metadata.id)
    await tx.rooms.delete(room.id)
    if room.type is RoomType.WORKSPACE:
        for child in rooms[1:]:
            await tx.outbox.add(DeleteRoom(room_id=child.id, sender_id=caller_id))
    else:
        await tx.outbox.add(DeleteRoom(room_id=room.id, sender_id=caller_id))
    tx.notify(RoomDeleted(sent_date=now, room_id=room.id), recipients)
