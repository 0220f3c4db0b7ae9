"""SQLite's reads on their own threads (`ThreadedReads`): they see every commit at once, and
cannot write."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import OperationalError

from wschats.adapters.db import tables as t
from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.db.migrate import upgrade
from wschats.adapters.db.statements import ThreadedReads
from wschats.adapters.identity.directory import DirectoryIdentity
from wschats.ports import NewUser


@pytest.fixture
async def database(tmp_path: Path) -> SqlDatabase:
    url = f"sqlite:///{tmp_path / 'wschats.db'}"
    upgrade(url)
    return SqlDatabase(url)


async def test_a_read_sees_what_was_just_committed(database: SqlDatabase) -> None:
    try:
        directory = DirectoryIdentity(database)
        (user_id,) = await directory.add_users([NewUser(email="a@example.com", name="A")])
        token = await directory.issue_token(user_id, 3600)
        assert await directory.authenticate(token) is not None
        async with database.single_statement_reads() as reads:
            assert isinstance(reads, ThreadedReads)

        async with database.unit_of_work(write=True) as uow:
            await uow.connection.execute(
                update(t.directory_user)
                .where(t.directory_user.c.id == user_id)
                .values(disabled=True)
            )
            await uow.commit()

        assert await directory.authenticate(token) is None  # at once, as DECISIONS.md#identity asks
    finally:
        await database.close()


async def test_reads_cannot_write(database: SqlDatabase) -> None:
    try:
        row = {"id": uuid.uuid4(), "email": "w@example.com", "name": "W", "type": "internal"}
        async with database.single_statement_reads() as reads:
            with pytest.raises(OperationalError, match="readonly"):
                await reads.execute(insert(t.directory_user).values(**row))
            assert await reads.scalar(select(func.count()).select_from(t.directory_user)) == 0
        async with database.reads() as uow:
            with pytest.raises(TypeError):
                await uow.commit()
    finally:
        await database.close()


async def test_a_key_lookup_that_finds_the_database_locked_waits_off_the_event_loop(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'wschats.db'}"
    upgrade(url)
    setup = SqlDatabase(url)
    directory = DirectoryIdentity(setup)
    (user_id,) = await directory.add_users([NewUser(email="k@example.com", name="K")])
    token = await directory.issue_token(user_id, 3600)
    await setup.close()
    # A connection in exclusive locking mode (another program's, say) that is writing: every
    # other connection's read is refused "database is locked" until it lets go.
    locker = sqlite3.connect(tmp_path / "wschats.db", isolation_level=None, timeout=0)
    locker.execute("PRAGMA locking_mode=EXCLUSIVE")
    locker.execute("BEGIN EXCLUSIVE")
    locker.execute("UPDATE directory_user SET name = 'Renamed'")
    database = SqlDatabase(url, timeout=30)
    try:
        lookup = asyncio.create_task(DirectoryIdentity(database).authenticate(token))
        await asyncio.sleep(0.2)
        # The loop ran meanwhile (we are here), and the lookup waits for the lock: it neither
        # failed at once nor held the loop for the lock's time.
        assert not lookup.done()
        locker.execute("COMMIT")
        locker.close()
        profile = await asyncio.wait_for(lookup, 10)
        assert profile is not None and profile.name == "Renamed"
    finally:
        await database.close()


async def test_a_lookup_read_again_sees_what_another_program_committed(
    database: SqlDatabase, tmp_path: Path
) -> None:
    # The loop's lookups are kept until a commit (lookup_memo): one made by another process,
    # outside this SqlDatabase, counts as much as our own.
    try:
        directory = DirectoryIdentity(database)
        (user_id,) = await directory.add_users([NewUser(email="o@example.com", name="Old")])
        token = await directory.issue_token(user_id, 3600)
        for _ in range(2):
            profile = await directory.authenticate(token)
            assert profile is not None and profile.name == "Old"

        other = sqlite3.connect(tmp_path / "wschats.db", isolation_level=None)
        other.execute("UPDATE directory_user SET name = 'New' WHERE email = 'o@example.com'")
        renamed = await directory.authenticate(token)
        other.execute("UPDATE directory_token SET revoked = 1")
        revoked = await directory.authenticate(token)
        other.close()

        assert renamed is not None and renamed.name == "New"
        assert revoked is None
    finally:
        await database.close()
