"""The outbox relay with a real ejabberd and a real outbox table; only the clock is moved by
hand. When /health reports `xmpp_server` down (README "Realtime events and XMPP"): after two
minutes without an answer from the chat server, or with a command waiting that long."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from tests.adapters.xmpp.conftest import User
from wschats.adapters.db.database import SqlDatabase
from wschats.adapters.db.migrate import upgrade
from wschats.adapters.db.outbox import SqlOutboxQueue
from wschats.adapters.xmpp import EjabberdMessageDispatcher
from wschats.domain.messaging import AddRoomMember, RoomRetitled
from wschats.services.outbox import STUCK_SECONDS, OutboxRelay


class HandClock:
    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[SqlDatabase]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    database = SqlDatabase(url, record_messages=True)
    yield database
    await database.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_server_that_stops_answering_is_down_after_two_minutes(
    database: SqlDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = EjabberdMessageDispatcher(f"http://127.0.0.1:{closed_port()}/api", timeout=2)
    clock = HandClock()
    relay = OutboxRelay(SqlOutboxQueue(database), unreachable, clock)
    try:
        assert await relay.healthy() is True  # a blip: system messages only wait
        clock.advance(STUCK_SECONDS - 1)
        assert await relay.healthy() is True
        clock.advance(1)
        with caplog.at_level(logging.WARNING):
            assert await relay.healthy() is False
        assert "XMPP server down: not answering for 120 s" in caplog.text
    finally:
        await unreachable.close()


async def test_a_backlog_that_does_not_drain_is_down_and_says_so(
    database: SqlDatabase,
    dispatcher: EjabberdMessageDispatcher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = HandClock()
    queue = SqlOutboxQueue(database)
    relay = OutboxRelay(queue, dispatcher, clock)
    owner = User(uuid4(), "unused")
    async with database.unit_of_work(write=True) as uow:
        # A member added to a room ejabberd has never heard of: delivery keeps failing.
        await uow.outbox.add(AddRoomMember(room_id=uuid4(), sender_id=owner.id, user_id=uuid4()))
        await uow.commit()

    assert await relay.healthy() is True
    await relay.deliver_due()
    assert (await queue.backlog())[0] == 1  # still waiting

    clock.advance(STUCK_SECONDS + 5)
    with caplog.at_level(logging.WARNING):
        assert await relay.healthy() is False  # the server answers, but nothing drains
    assert "XMPP outbox not draining: 1 commands pending, the oldest for 12" in caplog.text


async def test_a_backlog_over_many_rooms_leaves_database_connections_for_others(
    postgres_url: str, dispatcher: EjabberdMessageDispatcher
) -> None:
    """Each room being delivered holds a connection for its claim and needs another to read
    its commands: with every due room at once, a small pool ran dry and delivery failed."""
    upgrade(postgres_url)
    database = SqlDatabase(postgres_url, pool_size=2, record_messages=True)  # 4 connections
    try:
        queue = SqlOutboxQueue(database)
        async with database.unit_of_work(write=True) as uow:
            for _ in range(20):
                await uow.outbox.add(RoomRetitled(room_id=uuid4()))  # nothing to send
            await uow.commit()
        relay = OutboxRelay(queue, dispatcher, HandClock(), parallel_rooms=1)

        assert await relay.deliver_due() is True
        assert (await queue.backlog())[0] == 0
    finally:
        await database.close()
