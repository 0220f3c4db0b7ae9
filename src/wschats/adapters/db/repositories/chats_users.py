"""What the chats keep of a user (`SqlChatsUserRepository`): picture date, status."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import select

from wschats.adapters.db import tables as t
from wschats.adapters.db.repositories.upsert import upsert
from wschats.adapters.db.statements import Statements
from wschats.domain.model import ChatsUser
from wschats.domain.time import utc_now


class SqlChatsUserRepository:
    def __init__(self, conn: Statements) -> None:
        self._conn = conn

    async def get(self, user_id: UUID) -> ChatsUser | None:
        return (await self.get_many([user_id])).get(user_id)

    async def get_many(self, user_ids: Sequence[UUID]) -> dict[UUID, ChatsUser]:
        if not user_ids:
            return {}
        rows = await self._conn.execute(select(t.chats_user).where(t.chats_user.c.id.in_(user_ids)))
        return {
            r.id: ChatsUser(
                id=r.id, picture_updated_at=r.picture_updated_at, status_message=r.status_message
            )
            for r in rows
        }

    async def save(self, user: ChatsUser) -> None:
        now = utc_now()
        await upsert(
            self._conn,
            t.chats_user,
            {
                "id": user.id,
                "picture_updated_at": user.picture_updated_at,
                "status_message": user.status_message,
                "created_at": now,
                "updated_at": now,
            },
            keys=("id",),
            keep=("created_at",),
        )
