"""Recording XMPP commands in the transaction of their change (`SqlOutbox`); the relay that
delivers them reads them through `adapters/db/outbox.py`."""

from __future__ import annotations

from sqlalchemy import insert

from wschats.adapters.db import tables as t
from wschats.adapters.db.commands import encode_command
from wschats.adapters.db.statements import Statements
from wschats.domain.messaging import MessagingCommand
from wschats.domain.time import utc_now


class SqlOutbox:
    """Records XMPP commands; `enabled=False` when no XMPP server is configured."""

    def __init__(self, conn: Statements, enabled: bool) -> None:
        self._conn = conn
        self._enabled = enabled
        self.recorded = 0

    async def add(self, command: MessagingCommand) -> None:
        if not self._enabled:
            return
        now = utc_now()
        kind, payload = encode_command(command)
        await self._conn.execute(
            insert(t.outbox).values(
                room_key=str(command.room_id) if command.room_id else "",
                kind=kind,
                payload=payload,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        self.recorded += 1
