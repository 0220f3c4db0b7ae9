"""Rooms (`SqlRoomRepository`): the room rows, one-to-one pairs, channels of workspaces."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from wschats.adapters.db import tables as t
from wschats.adapters.db.driver_rows import driver_rows
from wschats.adapters.db.repositories.room_listing import LISTING_FOR_DRIVER, listed_rooms
from wschats.adapters.db.statements import Statements, transactional
from wschats.domain.errors import Conflict
from wschats.domain.model import ListedRoom, Room, RoomType


def _room(row: Any) -> Room:
    return Room(
        id=row.id,
        type=RoomType(row.type),
        name=row.name,
        description=row.description,
        created_at=row.created_at,
        updated_at=row.updated_at,
        parent_id=row.parent_id,
        rank=row.rank,
        picture_updated_at=row.picture_updated_at,
        meeting_id=row.meeting_id,
    )


def _room_values(room: Room) -> dict[str, Any]:
    return {
        "id": room.id,
        "type": room.type.value,
        "name": room.name,
        "description": room.description,
        "parent_id": room.parent_id,
        "rank": room.rank,
        "picture_updated_at": room.picture_updated_at,
        "meeting_id": room.meeting_id,
        "created_at": room.created_at,
        "updated_at": room.updated_at,
    }


def one_to_one_key(user_a: UUID, user_b: UUID) -> str:
    first, second = sorted((str(user_a), str(user_b)))
    return f"{first}:{second}"


class SqlRoomRepository:
    def __init__(self, conn: Statements) -> None:
        self._conn = conn

    async def get(self, room_id: UUID) -> Room | None:
        row = (await self._conn.execute(select(t.room).where(t.room.c.id == room_id))).first()
        return _room(row) if row else None

    async def get_many(self, room_ids: Sequence[UUID]) -> list[Room]:
        if not room_ids:
            return []
        rows = await self._conn.execute(
            select(t.room).where(t.room.c.id.in_(room_ids)).order_by(t.room.c.created_at)
        )
        return [_room(r) for r in rows]

    async def add(self, room: Room, *, one_to_one_pair: tuple[UUID, UUID] | None = None) -> None:
        values = _room_values(room)
        if one_to_one_pair is not None:
            values["one_to_one_key"] = one_to_one_key(*one_to_one_pair)
        try:
            async with transactional(self._conn).begin_nested():
                await self._conn.execute(insert(t.room).values(**values))
        except IntegrityError as exc:
            if one_to_one_pair is not None:
                raise Conflict("A one-to-one room already exists for these users") from exc
            raise

    async def update(self, room: Room) -> None:
        values = _room_values(room)
        del values["id"]
        await self._conn.execute(update(t.room).where(t.room.c.id == room.id).values(**values))

    async def delete(self, room_id: UUID) -> None:
        await self._conn.execute(delete(t.room).where(t.room.c.id == room_id))

    async def list_top_level_for_user(self, user_id: UUID) -> list[Room]:
        rows = await self._conn.execute(
            select(t.room)
            .join(t.subscription, t.subscription.c.room_id == t.room.c.id)
            .where(t.subscription.c.user_id == user_id)
            .where(t.room.c.type != RoomType.CHANNEL.value)
            .order_by(t.room.c.created_at, t.room.c.id)
        )
        return [_room(r) for r in rows]

    async def listing_for_user(self, user_id: UUID, *, with_members: bool) -> list[ListedRoom]:
        # One statement: the caller's settings joined, members folded into one text column per
        # room. Reading a row per member cost most of a listing's time (bench/RESULTS.md).
        # On the driver itself: SQLAlchemy's result path cost more than the statement.
        rows = await driver_rows(self._conn, LISTING_FOR_DRIVER[with_members], {"user_id": user_id})
        return listed_rooms(rows, user_id, with_members, self._conn.dialect.name)

    async def children_of(self, workspace_ids: Sequence[UUID]) -> dict[UUID, list[Room]]:
        result: dict[UUID, list[Room]] = {w: [] for w in workspace_ids}
        if not workspace_ids:
            return result
        rows = await self._conn.execute(
            select(t.room)
            .where(t.room.c.parent_id.in_(workspace_ids))
            .order_by(t.room.c.rank, t.room.c.created_at, t.room.c.id)
        )
        for row in rows:
            result[row.parent_id].append(_room(row))
        return result

    async def max_channel_rank(self, workspace_id: UUID) -> int:
        value = await self._conn.scalar(
            select(func.max(t.room.c.rank)).where(t.room.c.parent_id == workspace_id)
        )
        return int(value or 0)

    async def find_one_to_one(self, user_a: UUID, user_b: UUID) -> Room | None:
        row = (
            await self._conn.execute(
                select(t.room).where(t.room.c.one_to_one_key == one_to_one_key(user_a, user_b))
            )
        ).first()
        return _room(row) if row else None
