"""A user's settings of a room (`SqlSettingsRepository`): mutes, cleared history,
workspace ranks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import and_, delete, func, select

from wschats.adapters.db import tables as t
from wschats.adapters.db.repositories.upsert import upsert
from wschats.adapters.db.statements import Statements
from wschats.domain.model import RoomType, RoomUserSettings


def _settings(row: Any) -> RoomUserSettings:
    return RoomUserSettings(
        user_id=row.user_id,
        room_id=row.room_id,
        muted_until=row.muted_until,
        cleared_at=row.cleared_at,
        rank=row.rank,
    )


class SqlSettingsRepository:
    def __init__(self, conn: Statements) -> None:
        self._conn = conn

    async def get(self, user_id: UUID, room_id: UUID) -> RoomUserSettings | None:
        row = (
            await self._conn.execute(
                select(t.room_user_settings).where(
                    and_(
                        t.room_user_settings.c.user_id == user_id,
                        t.room_user_settings.c.room_id == room_id,
                    )
                )
            )
        ).first()
        return _settings(row) if row else None

    async def of_user(
        self, user_id: UUID, room_ids: Sequence[UUID]
    ) -> dict[UUID, RoomUserSettings]:
        if not room_ids:
            return {}
        rows = await self._conn.execute(
            select(t.room_user_settings).where(
                t.room_user_settings.c.user_id == user_id,
                t.room_user_settings.c.room_id.in_(room_ids),
            )
        )
        return {r.room_id: _settings(r) for r in rows}

    async def save(self, settings: RoomUserSettings) -> None:
        await self.save_many([settings])

    async def save_many(self, settings: Sequence[RoomUserSettings]) -> None:
        for item in settings:
            await upsert(
                self._conn,
                t.room_user_settings,
                {
                    "user_id": item.user_id,
                    "room_id": item.room_id,
                    "muted_until": item.muted_until,
                    "cleared_at": item.cleared_at,
                    "rank": item.rank,
                },
                keys=("user_id", "room_id"),
            )

    async def delete(self, user_id: UUID, room_id: UUID) -> None:
        await self._conn.execute(
            delete(t.room_user_settings).where(
                and_(
                    t.room_user_settings.c.user_id == user_id,
                    t.room_user_settings.c.room_id == room_id,
                )
            )
        )

    async def max_workspace_rank(self, user_id: UUID) -> int:
        return (await self.max_workspace_ranks([user_id]))[user_id]

    async def max_workspace_ranks(self, user_ids: Sequence[UUID]) -> dict[UUID, int]:
        result = dict.fromkeys(user_ids, 0)
        if not user_ids:
            return result
        rows = await self._conn.execute(
            select(t.room_user_settings.c.user_id, func.max(t.room_user_settings.c.rank))
            .join(t.room, t.room.c.id == t.room_user_settings.c.room_id)
            .where(t.room.c.type == RoomType.WORKSPACE.value)
            .where(t.room_user_settings.c.user_id.in_(user_ids))
            .group_by(t.room_user_settings.c.user_id)
        )
        for user_id, rank in rows:
            result[user_id] = int(rank or 0)
        return result

    async def workspace_ranks(self, user_id: UUID) -> dict[UUID, int]:
        rows = await self._conn.execute(
            select(t.room_user_settings.c.room_id, t.room_user_settings.c.rank).where(
                and_(
                    t.room_user_settings.c.user_id == user_id,
                    t.room_user_settings.c.rank.is_not(None),
                )
            )
        )
        return {room_id: rank for room_id, rank in rows}
