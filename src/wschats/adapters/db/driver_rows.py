"""Hot reads on the driver itself: a statement compiled once per dialect, run with asyncpg's
or pysqlite's own calls, its rows returned as the driver gives them.

SQLAlchemy's execution path (execution context, cursor emulation over asyncpg, a result
processor per value, Row objects) cost a room listing about 4 µs a row more than the
driver's `fetch` (bench/RESULTS.md, listing floor). The callers convert the driver's values
themselves: PostgreSQL's `uuid` comes back as asyncpg's UUID, `timestamptz` as an aware
datetime in UTC; SQLite's ids as their 32-digit hex text, its timestamps as ISO text
without an offset (tables.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Executable
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from wschats.adapters.db.statements import Statements, ThreadedReads

DriverRow = Sequence[Any]

# Called with each statement's SQL before it runs: SQLAlchemy's engine events do not see these
# statements, and the benchmarks count a listing's statements (bench/rooms_list.py).
statement_observers: list[Callable[[str], None]] = []


def plain_uuid(value: UUID) -> UUID:
    """A driver's id as `uuid.UUID` itself: asyncpg's subclass compares and hashes alike,
    but orjson and other exact-type checks refuse it."""
    return value if type(value) is UUID else UUID(bytes=value.bytes)


@dataclass(frozen=True)
class DriverStatement:
    """One statement's SQL for one driver, and where each named parameter goes."""

    sql: str
    names: tuple[str, ...]
    fixed: tuple[Any, ...]  # the compiled statement's own values, by position
    processors: Mapping[int, Any]  # bind processors by position (SQLite's hex ids)

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        arguments = list(self.fixed)
        for position, name in enumerate(self.names):
            if name in values:
                value = values[name]
                processor = self.processors.get(position)
                arguments[position] = processor(value) if processor else value
        return arguments


def compile_for_driver(statement: Executable, dialect_name: str) -> DriverStatement:
    """`statement` as its driver takes it (positional parameters), for `driver_rows`."""
    dialect = asyncpg_dialect() if dialect_name == "postgresql" else sqlite.dialect()  # type: ignore[no-untyped-call]
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    names = tuple(compiled.positiontup or ())
    bind_processors = compiled._bind_processors if dialect_name != "postgresql" else {}
    return DriverStatement(
        sql=compiled.string,
        names=names,
        fixed=tuple(compiled.params[name] for name in names),
        processors={
            position: bind_processors[name]
            for position, name in enumerate(names)
            if name in bind_processors
        },
    )


async def driver_rows(
    conn: Statements, statements: Mapping[str, DriverStatement], values: Mapping[str, Any]
) -> Sequence[DriverRow]:
    """The rows of the statement compiled for `conn`'s dialect (`statements` by dialect name),
    fetched whole, with the driver's own values."""
    dialect = conn.dialect.name
    statement = statements[dialect]
    arguments = statement.arguments(values)
    for observe in statement_observers:
        observe(statement.sql)
    if isinstance(conn, ThreadedReads):
        return await conn.driver_rows(statement.sql, arguments)
    # PostgreSQL goes through SQLAlchemy's adapter (exec_driver_sql: no result processing),
    # not straight to asyncpg: a raw fetch on a pooled connection left asyncpg's protocol busy
    # after a cancelled request ("another operation is in progress") when PostgreSQL restarted,
    # which the adapter's own locking and invalidation handle (tests/faults).
    assert isinstance(conn, AsyncConnection)
    result = await conn.exec_driver_sql(statement.sql, tuple(arguments))
    return list(result.all())
