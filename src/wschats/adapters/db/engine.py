"""Engine creation for SQLite and PostgreSQL, with the settings each needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, Executable, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

E = TypeVar("E", bound=Executable)

WRITE_OPTION = "wsc_write"
NO_TRANSACTION_OPTION = "wsc_no_transaction"
# SQLite reads the file through a memory map up to this size, shared by every connection
# through the OS page cache, instead of a read call per page into each connection's own 2 MB
# cache: a listing of 1,000 rooms spread over a large file took half the time (issue 16).
SQLITE_MMAP_BYTES = 256 * 1024 * 1024
# Marks a statement that reads at most a few rows through unique indexes (`key_lookup`).
KEY_LOOKUP_OPTION = "wsc_key_lookup"


def key_lookup(statement: E) -> E:
    """`statement`, marked as a read of a few rows by key: SQLite's `ThreadedReads` runs it
    on the event loop, where it costs less than the hop to a worker thread."""
    return statement.execution_options(**{KEY_LOOKUP_OPTION: True})


def async_url(url: str) -> URL:
    """Map a user-facing URL (`sqlite:///f.db`, `postgresql://...`) to its async driver."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg")
    raise ValueError(f"unsupported database URL scheme: {parsed.drivername}")


def create_engine(url: str, *, pool_size: int = 20, timeout: float = 5.0) -> AsyncEngine:
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        return _sqlite_engine(target, timeout)
    engine = create_async_engine(
        target,
        # `pool_size` connections stay open. The overflow is for bursts only: it is opened for
        # a checkout and closed at its return, a connection per request while it lasts
        # (issue 16), so the pool must cover the requests a process serves at once (README).
        pool_size=pool_size,
        max_overflow=max(1, pool_size // 2),
        # Waiting for a pooled connection is load, not an outage: a down database is found by
        # the connect timeout below; the wait is bounded more loosely.
        pool_timeout=max(timeout * 6, 30.0),
        connect_args={"timeout": timeout, "command_timeout": max(timeout * 6, 30.0)},
    )

    @event.listens_for(engine.sync_engine, "checkout")
    def _replace_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # A connection killed by a database restart is replaced instead of failing a request.
        # asyncpg has already seen the server close the socket, so asking it is free, where
        # pool_pre_ping spent a round trip on every checkout (bench/RESULTS.md: ~20 % of a
        # room listing's throughput).
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("connection closed by the server")

    return engine


def _sqlite_engine(url: URL, timeout: float) -> AsyncEngine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": timeout})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over BEGIN from the driver so writers can use BEGIN IMMEDIATE (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer takes the write lock up front: read-then-write transactions (member limits,
        # ranks) are then serialised, the SQLite counterpart of PostgreSQL's row locks.
        options = conn.get_execution_options()
        if options.get(NO_TRANSACTION_OPTION):
            return  # single-statement reads (SqlDatabase.single_statement_reads)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE_OPTION) else "BEGIN")

    return engine


def sqlite_file_path(url: str) -> str | None:
    """The database file of a SQLite URL; None for another database or an in-memory one."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


def create_sqlite_read_engine(url: str, *, connections: int, timeout: float) -> Engine:
    """Synchronous pysqlite connections for `ThreadedReads`: read-only, one statement each
    (no BEGIN: SQLite wraps a lone statement in its own transaction), shared by the worker
    threads one at a time."""
    engine = create_sync_engine(
        make_url(url).set(drivername="sqlite+pysqlite"),
        connect_args={"timeout": timeout, "check_same_thread": False},
        pool_size=connections,
        max_overflow=0,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA query_only=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.close()

    return engine
