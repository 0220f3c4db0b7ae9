"""SQLite's reads on their own threads (`ThreadedReads`): they see every commit at once, and
cannot write."""

from __future__ import annotations

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

        assert await directory.authenticate(token) is None  # at once, as D2 asks
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
