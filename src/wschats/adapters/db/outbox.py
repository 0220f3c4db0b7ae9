"""The outbox table: XMPP commands stored with the change they belong to, read back by the
relay (services/outbox.py) and removed once the chat server has them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import delete, func, select, text, update

from wschats.adapters.db import tables as t
from wschats.adapters.db.commands import decode_command
from wschats.adapters.db.database import SqlDatabase
from wschats.domain.messaging import MessagingCommand
from wschats.ports import OutboxEntry


class SqlOutboxQueue:
    """`OutboxQueue` on the service database.

    Per-room order across several server processes: whoever delivers a room's commands holds
    a lock on that room (a PostgreSQL session advisory lock; within one process an asyncio
    lock, which is all SQLite deployments have).
    """

    def __init__(self, database: SqlDatabase) -> None:
        self._db = database
        self._local_locks: dict[str, asyncio.Lock] = {}

    async def due_rooms(self, now: datetime, limit: int) -> list[str]:
        first = (
            select(t.outbox.c.room_key, func.min(t.outbox.c.id).label("first_id"))
            .group_by(t.outbox.c.room_key)
            .subquery()
        )
        async with self._db.unit_of_work() as uow:
            rows = await uow.connection.execute(
                select(first.c.room_key)
                .join(t.outbox, t.outbox.c.id == first.c.first_id)
                .where(t.outbox.c.next_attempt_at <= now)
                .order_by(first.c.first_id)
                .limit(limit)
            )
            return [r.room_key for r in rows]

    @asynccontextmanager
    async def claim(self, room_key: str) -> AsyncIterator[bool]:
        lock = self._local_locks.setdefault(room_key, asyncio.Lock())
        if lock.locked():
            yield False
            return
        async with lock:
            if self._db.dialect != "postgresql":
                yield True
                return
            key = f"outbox:{room_key}"
            async with self._db.engine.connect() as conn:
                got = await conn.scalar(
                    text("SELECT pg_try_advisory_lock(hashtextextended(:k, 0))"), {"k": key}
                )
                await conn.commit()
                try:
                    yield bool(got)
                finally:
                    if got:
                        await conn.execute(
                            text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))"), {"k": key}
                        )
                        await conn.commit()
            if not lock.locked() and room_key in self._local_locks:
                del self._local_locks[room_key]

    async def entries(self, room_key: str, limit: int) -> list[OutboxEntry]:
        async with self._db.unit_of_work() as uow:
            rows = await uow.connection.execute(
                select(t.outbox)
                .where(t.outbox.c.room_key == room_key)
                .order_by(t.outbox.c.id)
                .limit(limit)
            )
            return [
                OutboxEntry(
                    id=r.id,
                    room_key=r.room_key,
                    kind=r.kind,
                    payload=r.payload,
                    attempts=r.attempts,
                    next_attempt_at=r.next_attempt_at,
                )
                for r in rows
            ]

    def decode(self, entry: OutboxEntry) -> MessagingCommand:
        return decode_command(entry.kind, entry.payload)

    async def delivered(self, entry_id: int) -> None:
        async with self._db.unit_of_work(write=True) as uow:
            await uow.connection.execute(delete(t.outbox).where(t.outbox.c.id == entry_id))
            await uow.commit()

    async def retry_later(self, entry_id: int, error: str, at: datetime) -> None:
        async with self._db.unit_of_work(write=True) as uow:
            await uow.connection.execute(
                update(t.outbox)
                .where(t.outbox.c.id == entry_id)
                .values(attempts=t.outbox.c.attempts + 1, next_attempt_at=at, last_error=error)
            )
            await uow.commit()

    async def backlog(self) -> tuple[int, datetime | None]:
        async with self._db.unit_of_work() as uow:
            row = (
                await uow.connection.execute(
                    select(func.count(t.outbox.c.id), func.min(t.outbox.c.created_at))
                )
            ).one()
        oldest = row[1]
        return int(row[0]), oldest
