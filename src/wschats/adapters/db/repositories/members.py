"""Room members (`SqlSubscriptionRepository`): the subscription rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from wschats.adapters.db import tables as t
from wschats.adapters.db.statements import Statements, transactional
from wschats.domain.errors import BadRequest
from wschats.domain.model import Subscription


def _subscription(row: Any) -> Subscription:
    return Subscription(
        room_id=row.room_id,
        user_id=row.user_id,
        owner=row.owner,
        joined_at=row.joined_at,
        ordinal=row.ordinal,
    )


class SqlSubscriptionRepository:
    def __init__(self, conn: Statements) -> None:
        self._conn = conn

    async def of_room(self, room_id: UUID) -> list[Subscription]:
        rows = await self._conn.execute(
            select(t.subscription)
            .where(t.subscription.c.room_id == room_id)
            .order_by(t.subscription.c.ordinal, t.subscription.c.joined_at)
        )
        return [_subscription(r) for r in rows]

    async def add(self, subscription: Subscription) -> None:
        try:
            async with transactional(self._conn).begin_nested():
                await self._conn.execute(
                    insert(t.subscription).values(
                        room_id=subscription.room_id,
                        user_id=subscription.user_id,
                        owner=subscription.owner,
                        ordinal=subscription.ordinal,
                        joined_at=subscription.joined_at,
                    )
                )
        except IntegrityError as exc:
            raise BadRequest(f"User {subscription.user_id} is already a member") from exc

    async def add_many(self, subscriptions: Sequence[Subscription]) -> None:
        if subscriptions:
            await self._conn.execute(
                insert(t.subscription),
                [
                    {
                        "room_id": s.room_id,
                        "user_id": s.user_id,
                        "owner": s.owner,
                        "ordinal": s.ordinal,
                        "joined_at": s.joined_at,
                    }
                    for s in subscriptions
                ],
            )

    async def remove(self, room_id: UUID, user_id: UUID) -> None:
        await self._conn.execute(
            delete(t.subscription).where(
                and_(t.subscription.c.room_id == room_id, t.subscription.c.user_id == user_id)
            )
        )

    async def set_owner(self, room_id: UUID, user_id: UUID, owner: bool) -> None:
        await self._conn.execute(
            update(t.subscription)
            .where(and_(t.subscription.c.room_id == room_id, t.subscription.c.user_id == user_id))
            .values(owner=owner)
        )

    async def contacts_of(self, user_id: UUID) -> list[UUID]:
        mine = select(t.subscription.c.room_id).where(t.subscription.c.user_id == user_id)
        rows = await self._conn.execute(
            select(t.subscription.c.user_id)
            .where(t.subscription.c.room_id.in_(mine))
            .distinct()
            .order_by(t.subscription.c.user_id)
        )
        return [r.user_id for r in rows]
