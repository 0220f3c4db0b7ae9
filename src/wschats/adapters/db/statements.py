"""What repositories need of a connection, and SQLite's reads in one thread hop a statement.

aiosqlite crosses to its connection's thread four times a statement (cursor, execute, fetch,
close) and once more when the pool resets the connection: about 0.7 ms a statement here,
most of a cached preview's or an authenticated no-op's time. `ThreadedReads` runs a read
statement whole, fetch included, on a synchronous pysqlite connection in a worker thread:
one hop, about 0.2 ms. Writes keep the async engine and its transactions.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Executable, Result, ScalarResult
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

Parameters = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
OneParameters = Mapping[str, Any] | None
Rows = Result[*tuple[Any, ...]]


class Statements(Protocol):
    """The part of `AsyncConnection` that repositories use (writes: `begin_nested` too, on a
    real `AsyncConnection`)."""

    @property
    def dialect(self) -> Dialect: ...

    async def execute(self, statement: Executable, parameters: Parameters = None) -> Rows: ...

    async def scalar(self, statement: Executable, parameters: OneParameters = None) -> Any: ...

    async def scalars(
        self, statement: Executable, parameters: OneParameters = None
    ) -> ScalarResult[Any]: ...


class ThreadedReads:
    """`Statements` for reads of one statement each, on `engine`'s pooled connections in
    `threads` worker threads. Results are fetched whole in the thread (they are small: a
    listing is one row a room)."""

    def __init__(self, engine: Engine, threads: int) -> None:
        self._engine = engine
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="wschats-sqlite-read")
        # Each thread keeps its own connection: a pool checkout and reset a statement cost
        # as much as a primary-key lookup.
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._lock = threading.Lock()

    @property
    def dialect(self) -> Dialect:
        return self._engine.dialect

    @property
    def engine(self) -> Engine:
        return self._engine

    def _connection(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.invalidated or conn.closed:
            # No BEGIN is sent either way: the driver is in autocommit (engine.py).
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _run(self, statement: Executable, parameters: Parameters) -> Rows:
        return self._connection().execute(statement, parameters).freeze()()

    async def execute(self, statement: Executable, parameters: Parameters = None) -> Rows:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, statement, parameters)

    async def scalar(self, statement: Executable, parameters: OneParameters = None) -> Any:
        return (await self.execute(statement, parameters)).scalar()

    async def scalars(
        self, statement: Executable, parameters: OneParameters = None
    ) -> ScalarResult[Any]:
        return (await self.execute(statement, parameters)).scalars()

    def close(self) -> None:
        """Stop the threads (after the statements in flight) and close the connections."""
        self._executor.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._engine.dispose()


def transactional(conn: Statements) -> AsyncConnection:
    """`conn` as the transaction's connection it must be (a write's nested transaction,
    commit): a `ThreadedReads` has none."""
    if not isinstance(conn, AsyncConnection):
        raise TypeError("reads() gives no transaction: use unit_of_work()")
    return conn
