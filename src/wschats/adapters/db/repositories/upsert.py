"""Insert-or-update in one statement, for the repositories whose rows two writers may create
at once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from wschats.adapters.db.statements import Statements


async def upsert(
    conn: Statements,
    table: Table,
    values: dict[str, Any],
    *,
    keys: tuple[str, ...],
    keep: tuple[str, ...] = (),
) -> None:
    """Insert a row, or update it if its key exists, in one statement: two writers creating
    the same row at once must not collide (update-then-insert does on PostgreSQL)."""
    insert_of = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert_of(table).values(**values)
    changed = {name: statement.excluded[name] for name in values if name not in (*keys, *keep)}
    await conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=changed))


# A room's members folded into one text value: items of an 11-character ordinal, the user
