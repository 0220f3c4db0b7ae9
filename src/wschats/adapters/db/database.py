"""The `Database` port: units of work over an async SQLAlchemy engine."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from uuid import UUID

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from wschats.adapters.db import tables as t
from wschats.adapters.db.engine import (
    NO_TRANSACTION_OPTION,
    WRITE_OPTION,
    create_engine,
    create_sqlite_read_engine,
    sqlite_file_path,
)
from wschats.adapters.db.repositories import (
    SqlChatsUserRepository,
    SqlFileRepository,
    SqlMeetingRepository,
    SqlOutbox,
    SqlRoomRepository,
    SqlSettingsRepository,
    SqlSubscriptionRepository,
)
from wschats.adapters.db.statements import Statements, ThreadedReads, transactional
from wschats.domain.errors import Dependency, DependencyFailed

log = logging.getLogger(__name__)


def _sqlite_read_threads() -> int:
    """Worker threads (and pysqlite connections) for SQLite's reads: one CPU is the event
    loop's, the others the readers', up to 4. More readers than CPUs cost more than they gave:
    on 2 CPUs, 4 threads took a room listing from 1.8 to 3.1 ms of CPU and halved its
    throughput (each row a reader builds takes the GIL from the others and the loop)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus - 1))


SQLITE_READ_THREADS = _sqlite_read_threads()


class SqlUnitOfWork:
    def __init__(
        self,
        conn: Statements,
        *,
        record_messages: bool,
        on_messages: Callable[[], None] | None = None,
    ) -> None:
        self._conn = conn
        self._on_messages = on_messages
        self.rooms = SqlRoomRepository(conn)
        self.members = SqlSubscriptionRepository(conn)
        self.settings = SqlSettingsRepository(conn)
        self.files = SqlFileRepository(conn)
        self.chats_users = SqlChatsUserRepository(conn)
        self.meetings = SqlMeetingRepository(conn)
        self.outbox = SqlOutbox(conn, record_messages)
        self.committed = False

    @property
    def connection(self) -> AsyncConnection:
        return transactional(self._conn)

    async def lock_room(self, room_id: UUID) -> None:
        # SQLite writers already hold the database write lock (BEGIN IMMEDIATE).
        if self._conn.dialect.name == "postgresql":
            await self._conn.execute(
                select(t.room.c.id).where(t.room.c.id == room_id).with_for_update()
            )

    async def lock_user(self, user_id: UUID) -> None:
        if self._conn.dialect.name == "postgresql":
            await self._conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                {"key": f"user:{user_id}"},
            )

    async def commit(self) -> None:
        connection = self.connection
        try:
            await connection.commit()
        except BaseException:
            # The database may still hold the transaction (SQLite keeps it, and its write
            # lock, after some failed COMMITs; SQLAlchemy then skips the rollback on return):
            # the connection is discarded rather than handed to the next unit of work.
            await connection.invalidate()
            raise
        self.committed = True
        if self.outbox.recorded and self._on_messages is not None:
            self._on_messages()


class SqlDatabase:
    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 20,
        timeout: float = 5.0,
        record_messages: bool = False,
    ) -> None:
        self.url = url
        self.engine: AsyncEngine = create_engine(url, pool_size=pool_size, timeout=timeout)
        self._timeout = timeout
        self._record_messages = record_messages
        sqlite_file = sqlite_file_path(url)
        # An in-memory database exists once per connection: its reads stay on the engine.
        self._threaded_reads = (
            ThreadedReads(
                # One connection a thread, and the event loop's for key lookups.
                create_sqlite_read_engine(
                    url, connections=SQLITE_READ_THREADS + 1, timeout=timeout
                ),
                SQLITE_READ_THREADS,
            )
            if sqlite_file is not None
            else None
        )
        # SQLite's writers of this process, one at a time (_writer_turn); waiting as long as
        # for a pooled PostgreSQL connection.
        self._writer_lock = asyncio.Lock() if self.dialect == "sqlite" else None
        self._writer_wait = max(timeout * 6, 30.0)
        # Called after a commit that recorded XMPP commands (wakes the outbox relay).
        self.on_messages: Callable[[], None] | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def sync_engines(self) -> list[Engine]:
        """Every engine that runs statements, for instrumentation (event listeners)."""
        engines = [self.engine.sync_engine]
        if self._threaded_reads is not None:
            engines.append(self._threaded_reads.engine)
        return engines

    @asynccontextmanager
    async def unit_of_work(self, *, write: bool = False) -> AsyncIterator[SqlUnitOfWork]:
        async with self._writer_turn(write), self._unit_of_work(write) as uow:
            yield uow

    @asynccontextmanager
    async def _writer_turn(self, write: bool) -> AsyncIterator[None]:
        """SQLite writes one at a time: this process's writers queue here, in arrival order,
        rather than in SQLite's busy handler, which polls with growing sleeps, serves no one
        in order and gave up after the busy timeout with "database is locked" (issue 16).
        Other processes' writers still meet the busy timeout; readers wait for nobody (WAL)."""
        if not write or self._writer_lock is None:
            yield
            return
        try:
            async with asyncio.timeout(self._writer_wait):
                await self._writer_lock.acquire()
        except TimeoutError as exc:
            raise _unavailable(exc) from exc
        try:
            yield
        finally:
            self._writer_lock.release()

    @asynccontextmanager
    async def _unit_of_work(self, write: bool) -> AsyncIterator[SqlUnitOfWork]:
        try:
            async with self.engine.connect() as conn:
                if write:
                    conn = await conn.execution_options(**{WRITE_OPTION: True})
                await conn.begin()
                yield SqlUnitOfWork(
                    conn, record_messages=self._record_messages, on_messages=self.on_messages
                )
        except Exception as exc:
            # Connection-level failures only: a programming error must stay a 500 of its own.
            if is_unavailable(exc):
                raise _unavailable(exc) from exc
            raise

    @asynccontextmanager
    async def reads(self) -> AsyncIterator[SqlUnitOfWork]:
        async with self.single_statement_reads() as conn:
            yield SqlUnitOfWork(conn, record_messages=False)

    @asynccontextmanager
    async def single_statement_reads(self) -> AsyncIterator[Statements]:
        """Statements outside any transaction, for reads of one statement each (a statement
        is atomic by itself): no BEGIN and ROLLBACK around it, which on the hot paths
        (authentication, access checks) cost as much as the query."""
        try:
            if self._threaded_reads is not None:
                yield self._threaded_reads
                return
            async with self.engine.connect() as conn:
                if self.dialect == "sqlite":
                    # Changing SQLite's isolation level costs statements of its own; skipping
                    # our BEGIN (engine.py) is enough there.
                    yield await conn.execution_options(**{NO_TRANSACTION_OPTION: True})
                else:
                    yield await conn.execution_options(isolation_level="AUTOCOMMIT")
        except Exception as exc:
            if is_unavailable(exc):
                raise _unavailable(exc) from exc
            raise

    async def health(self) -> bool:
        try:
            async with asyncio.timeout(self._timeout):
                async with self.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            return True
        except Exception as exc:  # any failure means unhealthy; say why in the log
            log.warning("database health check failed: %s", exc)
            return False

    async def close(self) -> None:
        await self.engine.dispose()
        if self._threaded_reads is not None:
            await asyncio.to_thread(self._threaded_reads.close)


# SQLSTATE classes that mean "the server is not there for us right now": 08 connection
# exception, 57 operator intervention (shutting down, starting up, terminated), 53 insufficient
# resources (too many connections).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "57", "53")


def is_unavailable(exc: BaseException) -> bool:
    """Whether a failure means the database cannot serve us (as opposed to a bug)."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout | OSError | TimeoutError):
        return True
    # asyncpg's own, raised unwrapped on the driver path (driver_rows): a connection that the
    # server closed or that closed under the statement ("connection is closed").
    if isinstance(exc, asyncpg.exceptions.InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(state, str) and state[:2] in _UNAVAILABLE_SQLSTATE_CLASSES:
            return True
        if isinstance(current, ConnectionError):
            return True
        current = current.__cause__ or getattr(current, "orig", None)
    return False


def _unavailable(exc: BaseException) -> DependencyFailed:
    log.error("database error: %s", exc)
    return DependencyFailed(Dependency.DATABASE, "The database is unavailable")
