"""Meetings and their participants (`SqlMeetingRepository`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from wschats.adapters.db import tables as t
from wschats.adapters.db.statements import Statements, transactional
from wschats.domain.errors import Conflict
from wschats.domain.model import Meeting, MeetingType, Participant


class SqlMeetingRepository:
    def __init__(self, conn: Statements) -> None:
        self._conn = conn

    async def get(self, meeting_id: UUID) -> Meeting | None:
        found = await self._load(t.meeting.c.id == meeting_id)
        return found[0] if found else None

    async def of_room(self, room_id: UUID) -> Meeting | None:
        found = await self._load(t.meeting.c.room_id == room_id)
        return found[0] if found else None

    async def of_rooms(self, room_ids: Sequence[UUID]) -> list[Meeting]:
        if not room_ids:
            return []
        return await self._load(t.meeting.c.room_id.in_(room_ids))

    async def _load(self, condition: Any) -> list[Meeting]:
        rows = (
            await self._conn.execute(
                select(t.meeting).where(condition).order_by(t.meeting.c.created_at)
            )
        ).all()
        meetings = {
            r.id: Meeting(
                id=r.id,
                room_id=r.room_id,
                name=r.name,
                type=MeetingType(r.meeting_type),
                created_at=r.created_at,
                active=r.active,
                started_at=r.started_at,
            )
            for r in rows
        }
        if meetings:
            participants = await self._conn.execute(
                select(t.participant)
                .where(t.participant.c.meeting_id.in_(list(meetings)))
                .order_by(t.participant.c.joined_at)
            )
            for p in participants:
                meetings[p.meeting_id].participants.append(
                    Participant(
                        meeting_id=p.meeting_id,
                        user_id=p.user_id,
                        queue_id=p.queue_id,
                        joined_at=p.joined_at,
                        audio=p.audio_stream_on,
                        video=p.video_stream_on,
                        screen=p.screen_stream_on,
                    )
                )
        return list(meetings.values())

    async def add(self, meeting: Meeting) -> None:
        try:
            async with transactional(self._conn).begin_nested():
                await self._conn.execute(
                    insert(t.meeting).values(
                        id=meeting.id,
                        room_id=meeting.room_id,
                        name=meeting.name,
                        meeting_type=meeting.type.value,
                        active=meeting.active,
                        started_at=meeting.started_at,
                        created_at=meeting.created_at,
                    )
                )
        except IntegrityError as exc:
            raise Conflict("The room already has a meeting") from exc

    async def delete(self, meeting_id: UUID) -> None:
        await self._conn.execute(delete(t.meeting).where(t.meeting.c.id == meeting_id))
