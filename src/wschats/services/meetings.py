"""The meetings subset (DECISIONS.md#meetings): a room's meeting record, without media."""

from __future__ import annotations

import uuid
from uuid import UUID

from wschats.domain.errors import NotFound
from wschats.domain.events import MeetingCreated, MeetingDeleted
from wschats.domain.model import Meeting, MeetingType, Principal, RoomType
from wschats.ports import BlobStore, Clock, Database, EventDispatcher
from wschats.services.common import load_access
from wschats.services.writes import Writes


class MeetingService:
    def __init__(
        self, database: Database, events: EventDispatcher, blobs: BlobStore, clock: Clock
    ) -> None:
        self._db = database
        self._writes = Writes(database, blobs, events)
        self._clock = clock

    async def list_meetings(self, caller: Principal) -> list[Meeting]:
        async with self._db.unit_of_work() as uow:
            rooms = await uow.rooms.list_top_level_for_user(caller.user_id)
            workspaces = [r.id for r in rooms if r.type is RoomType.WORKSPACE]
            channels = await uow.rooms.children_of(workspaces)
            ids = [r.id for r in rooms] + [c.id for cs in channels.values() for c in cs]
            return await uow.meetings.of_rooms(ids)

    async def get_meeting(self, caller: Principal, meeting_id: UUID) -> Meeting:
        async with self._db.unit_of_work() as uow:
            meeting = await uow.meetings.get(meeting_id)
            if meeting is None:
                raise NotFound(f"Meeting {meeting_id} not found")
            await load_access(uow, meeting.room_id, caller.user_id)
        return meeting

    async def meeting_of_room(self, caller: Principal, room_id: UUID) -> Meeting:
        async with self._db.unit_of_work() as uow:
            await load_access(uow, room_id, caller.user_id)
            meeting = await uow.meetings.of_room(room_id)
        if meeting is None:
            raise NotFound(f"Room {room_id} has no meeting")
        return meeting

    async def create_meeting(
        self, caller: Principal, room_id: UUID, meeting_type: MeetingType, name: str | None
    ) -> Meeting:
        now = self._clock.now()
        async with self._writes.transaction() as tx:
            await tx.lock_room(room_id)
            access = await load_access(tx, room_id, caller.user_id)
            meeting = Meeting(
                id=uuid.uuid4(),
                room_id=room_id,
                name=name or "",
                type=meeting_type,
                created_at=now,
            )
            await tx.meetings.add(meeting)
            access.room.meeting_id = meeting.id
            await tx.rooms.update(access.room)
            tx.notify(
                MeetingCreated(sent_date=now, meeting_id=meeting.id, room_id=room_id),
                access.member_ids,
            )
        return meeting

    async def delete_meeting(self, caller: Principal, meeting_id: UUID) -> None:
        now = self._clock.now()
        async with self._writes.transaction() as tx:
            meeting = await tx.meetings.get(meeting_id)
            if meeting is None:
                raise NotFound(f"Meeting {meeting_id} not found")
            # Any member may delete, as in the original meeting API (not only owners).
            access = await load_access(tx, meeting.room_id, caller.user_id)
            await tx.meetings.delete(meeting_id)
            access.room.meeting_id = None
            await tx.rooms.update(access.room)
            tx.notify(MeetingDeleted(sent_date=now, meeting_id=meeting_id), access.member_ids)
