"""Pooled PostgreSQL connections that the server closed (a restart, an administrator) are
replaced when checked out, not handed to a request to fail on."""

from __future__ import annotations

import asyncio

import psycopg
from sqlalchemy import text

from tests.conftest import PG_ADMIN_URL
from wschats.adapters.db.database import SqlDatabase


async def backend_pid(database: SqlDatabase) -> int:
    async with database.unit_of_work() as uow:
        pid = await uow.connection.scalar(text("SELECT pg_backend_pid()"))
    assert isinstance(pid, int)
    return pid


async def test_a_connection_the_server_closed_is_replaced_on_checkout(postgres_url: str) -> None:
    database = SqlDatabase(postgres_url, pool_size=1)
    try:
        pooled = await backend_pid(database)
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (pooled,)).fetchone() == (True,)
        await asyncio.sleep(0.5)  # the server's goodbye reaches the idle pooled connection

        # The next unit of work runs on a new connection instead of failing.
        assert await backend_pid(database) != pooled
    finally:
        await database.close()
