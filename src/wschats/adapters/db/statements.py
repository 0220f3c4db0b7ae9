"""What repositories need of a connection, and SQLite's reads in one thread hop a statement.

aiosqlite crosses to its connection's thread four times a statement (cursor, execute, fetch,
close) and once more when the pool resets the connection: about 0.7 ms a statement here,
most of a cached preview's or an authenticated no-op's time. `ThreadedReads` runs a read
statement whole, fetch included, on a synchronous pysqlite connection in a worker thread:
one hop, about 0.2 ms. Writes keep the async engine and its transactions.

A statement marked as a key lookup (`engine.key_lookup`: a token, a file's reach) runs on the
event loop itself, on a connection of its own that never waits for a lock: at 30 to 60 µs it
costs less than the hop, whose GIL hand-offs and wake-ups cost the loop about 0.25 ms of CPU.
In WAL mode a read waits for nobody; in the rare case it would (a lock held in exclusive
mode, a recovery), it goes to a worker thread and waits there. Its results are also kept
until the next commit anywhere (`lookup_memo`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Executable, Result, ScalarResult
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from wschats.adapters.db.engine import KEY_LOOKUP_OPTION
from wschats.adapters.db.lookup_memo import LookupMemo, memo_key

Parameters = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
OneParameters = Mapping[str, Any] | None
Rows = Result[*tuple[Any, ...]]

SQLITE_BUSY = 5  # the primary result code of SQLITE_BUSY and its extended codes
LOOKUP_MEMO_ENTRIES = 2_000  # about 3 KB each (a token, a file's reach): 6 MB at most


def _is_busy(error: Exception) -> bool:
    orig = error.orig if isinstance(error, OperationalError) else error
    return getattr(orig, "sqlite_errorcode", 0) & 0xFF == SQLITE_BUSY


def _data_version(conn: Connection) -> int:
    """SQLite's count of commits by other connections, as `conn` sees it (raw: a statement
    through SQLAlchemy would cost what the memo saves)."""
    driver = conn.connection.dbapi_connection
    assert driver is not None  # a live connection
    row = driver.execute("PRAGMA data_version").fetchone()
    return int(row[0])


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
    `threads` worker threads, and for key lookups one more on the event loop. Results are
    fetched whole (they are small: a listing is one row a room)."""

    def __init__(self, engine: Engine, threads: int) -> None:
        self._engine = engine
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="wschats-sqlite-read")
        # Each thread keeps its own connection: a pool checkout and reset a statement cost
        # as much as a primary-key lookup.
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._lock = threading.Lock()
        self._loop_conn: Connection | None = None  # key lookups' (`_on_loop`)
        self._memo = LookupMemo(LOOKUP_MEMO_ENTRIES)

    @property
    def dialect(self) -> Dialect:
        return self._engine.dialect

    @property
    def engine(self) -> Engine:
        return self._engine

    def _connect(self) -> Connection:
        # No BEGIN is sent either way: the driver is in autocommit (engine.py).
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        with self._lock:
            self._connections.append(conn)
        return conn

    def _connection(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.invalidated or conn.closed:
            conn = self._local.conn = self._connect()
        return conn

    def _run(self, statement: Executable, parameters: Parameters) -> Rows:
        return self._connection().execute(statement, parameters).freeze()()

    def _driver_rows(self, sql: str, arguments: Sequence[Any]) -> list[Any]:
        driver = self._connection().connection.dbapi_connection
        assert driver is not None  # a live connection
        return driver.execute(sql, arguments).fetchall()  # type: ignore[no-any-return]

    async def driver_rows(self, sql: str, arguments: Sequence[Any]) -> list[Any]:
        """Rows as pysqlite gives them (`driver_rows.driver_rows`), on a worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._driver_rows, sql, arguments)

    def _on_loop(self, statement: Executable, parameters: Parameters) -> Rows | None:
        """The rows, read on the calling (event loop) thread; None if SQLite is busy."""
        conn = self._loop_conn
        if conn is None or conn.invalidated or conn.closed:
            conn = self._loop_conn = self._connect()
            conn.exec_driver_sql("PRAGMA busy_timeout=0")  # never wait on the loop
        key = memo_key(statement, parameters)
        try:
            if key is not None:
                self._memo.at_version(_data_version(conn))
                kept = self._memo.get(key)
                if kept is not None:
                    return kept()
            result = conn.execute(statement, parameters).freeze()
        except (OperationalError, sqlite3.OperationalError) as error:
            if _is_busy(error):
                return None
            raise
        if key is not None:
            self._memo.put(key, result)
        return result()

    async def execute(self, statement: Executable, parameters: Parameters = None) -> Rows:
        if statement.get_execution_options().get(KEY_LOOKUP_OPTION):
            rows = self._on_loop(statement, parameters)
            if rows is not None:
                return rows
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
