"""The one way services write (services/writes.py): what waits for the commit (events, removing
a file's bytes) happens once the commit has succeeded, and never when the block raised or the
commit failed; then the change itself is not there either. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, event

from tests.conftest import database_url_for
from wschats.adapters.blobs import LocalBlobStore
from wschats.adapters.db import tables as t
from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.db.migrate import upgrade
from wschats.adapters.events import InProcessEventDispatcher
from wschats.domain.errors import DependencyFailed
from wschats.domain.events import Delivery, RoomMuted, RoomUnmuted
from wschats.domain.files import blob_key, preview_prefix
from wschats.domain.model import ChatsUser
from wschats.ports import EventStream
from wschats.services.writes import Transaction, Writes

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


@dataclass
class World:
    database: SqlDatabase
    blobs: LocalBlobStore
    events: InProcessEventDispatcher
    writes: Writes
    user_id: uuid.UUID
    stream: EventStream

    async def stored_file(self) -> uuid.UUID:
        """A file's bytes and a preview of it, as storage holds them."""
        file_id = uuid.uuid4()
        await self.blobs.put(blob_key(file_id), _chunks(b"bytes"))
        await self.blobs.put(f"{preview_prefix(file_id)}thumb", _chunks(b"preview"))
        return file_id

    async def file_is_stored(self, file_id: uuid.UUID) -> tuple[bool, bool]:
        """Whether its bytes, and its preview, are still there."""
        previews = [key async for key in self.blobs.keys(preview_prefix(file_id))]
        return await self.blobs.size(blob_key(file_id)) is not None, bool(previews)

    async def status_message(self) -> str | None:
        async with self.database.unit_of_work() as uow:
            user = await uow.chats_users.get(self.user_id)
        return None if user is None else user.status_message

    async def next_event(self) -> str:
        """The type of the next event the user got. Every test ends by publishing a last
        marker of its own: the first event it reads is the one that came before, if any."""
        text = await asyncio.wait_for(self.stream.next(), 30)
        return str(json.loads(text)["type"])

    async def mark(self) -> None:
        await self.events.publish(
            [Delivery.to(RoomUnmuted(sent_date=NOW, room_id=uuid.uuid4()), [self.user_id])]
        )

    async def change(self, tx: Transaction, text: str, file_id: uuid.UUID) -> None:
        """A change in the database, with work for after its commit."""
        await tx.chats_users.save(ChatsUser(id=self.user_id, status_message=text))
        tx.notify(RoomMuted(sent_date=NOW, room_id=uuid.uuid4()), [self.user_id])
        tx.forget_file(file_id)


@pytest.fixture(params=["sqlite", "postgres"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    url = database_url_for(request.param, request, tmp_path)
    upgrade(url)
    database = SqlDatabase(url)
    blobs = LocalBlobStore(tmp_path / "blobs")
    events = InProcessEventDispatcher()
    user_id = uuid.uuid4()
    stream = await events.subscribe(user_id, uuid.uuid4())
    try:
        yield World(database, blobs, events, Writes(database, blobs, events), user_id, stream)
    finally:
        await stream.close()
        async with database.unit_of_work(write=True) as uow:  # PostgreSQL's is shared
            await uow.connection.execute(delete(t.chats_user).where(t.chats_user.c.id == user_id))
            await uow.commit()
        await events.close()
        await blobs.close()
        await database.close()


@contextmanager
def failing_commits(database: SqlDatabase) -> Iterator[None]:
    """Every commit fails before anything is committed, as when the connection is lost."""

    def refuse(conn: Any) -> None:
        raise ConnectionResetError("the database went away during the commit")

    engine = database.engine.sync_engine
    event.listen(engine, "commit", refuse)
    try:
        yield
    finally:
        event.remove(engine, "commit", refuse)


async def test_after_a_commit_the_events_go_out_and_the_forgotten_bytes_go(world: World) -> None:
    file_id = await world.stored_file()

    async with world.writes.transaction() as tx:
        await world.change(tx, "committed", file_id)
        # Nothing has happened yet: the transaction has not committed.
        assert await world.file_is_stored(file_id) == (True, True)

    assert await world.status_message() == "committed"
    assert await world.file_is_stored(file_id) == (False, False)
    await world.mark()
    assert await world.next_event() == "ROOM_MUTED"
    assert await world.next_event() == "ROOM_UNMUTED"  # the marker: nothing else came


@pytest.mark.parametrize("error", [ValueError("a rule said no"), asyncio.CancelledError()])
async def test_a_block_that_raises_changes_nothing_and_nothing_happens_after_it(
    world: World, error: BaseException
) -> None:
    file_id = await world.stored_file()

    with pytest.raises(type(error)):
        async with world.writes.transaction() as tx:
            await world.change(tx, "never", file_id)
            raise error

    assert await world.status_message() is None
    assert await world.file_is_stored(file_id) == (True, True)
    await world.mark()
    assert await world.next_event() == "ROOM_UNMUTED"  # only the marker


async def test_a_commit_that_fails_changes_nothing_and_nothing_happens_after_it(
    world: World,
) -> None:
    file_id = await world.stored_file()

    with failing_commits(world.database), pytest.raises(DependencyFailed):
        async with world.writes.transaction() as tx:
            await world.change(tx, "refused", file_id)

    assert await world.status_message() is None
    assert await world.file_is_stored(file_id) == (True, True)
    await world.mark()
    assert await world.next_event() == "ROOM_UNMUTED"  # only the marker
    # The next write goes through: the failed one left nothing behind (no lock, no connection).
    async with world.writes.transaction() as tx:
        await world.change(tx, "later", file_id)
    assert await world.status_message() == "later"


async def test_work_cannot_be_kept_for_after_a_transaction_once_it_is_over(world: World) -> None:
    file_id = await world.stored_file()
    async with world.writes.transaction() as tx:
        await tx.chats_users.save(ChatsUser(id=world.user_id, status_message="done"))

    with pytest.raises(RuntimeError, match="over"):
        tx.notify(RoomMuted(sent_date=NOW, room_id=uuid.uuid4()), [world.user_id])
    with pytest.raises(RuntimeError, match="over"):
        tx.forget_file(file_id)
    assert await world.file_is_stored(file_id) == (True, True)


async def test_a_service_without_events_cannot_keep_one(world: World) -> None:
    writes = Writes(world.database, world.blobs)  # no event dispatcher: attachments, storage
    with pytest.raises(RuntimeError, match="no event dispatcher"):
        async with writes.transaction() as tx:
            await tx.chats_users.save(ChatsUser(id=world.user_id, status_message="lost"))
            tx.notify(RoomMuted(sent_date=NOW, room_id=uuid.uuid4()), [world.user_id])
    assert await world.status_message() is None
