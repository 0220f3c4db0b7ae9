"""Fixtures for the event dispatcher tests: the real RabbitMQ on 127.0.0.1:5672."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from uuid import UUID, uuid4

import aio_pika
import pytest

from wschats.adapters.events import InProcessEventDispatcher, RabbitMqEventDispatcher
from wschats.ports import EventDispatcher

BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/"

RabbitFactory = Callable[..., Awaitable[RabbitMqEventDispatcher]]
# Returns (publishing dispatcher, subscribing dispatcher): two server processes for RabbitMQ,
# the same one for the in-process adapter.
PairFactory = Callable[..., Awaitable[tuple[EventDispatcher, EventDispatcher]]]


def _broker_listening() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
async def new_user() -> AsyncIterator[Callable[[], UUID]]:
    """Fresh user ids; the per-user exchanges they got (never auto-deleted) go afterwards."""
    users: list[UUID] = []

    def make() -> UUID:
        users.append(uuid4())
        return users[-1]

    yield make
    if users and _broker_listening():
        connection = await aio_pika.connect(BROKER_URL, timeout=10)
        try:
            channel = await connection.channel()
            for user in users:
                await channel.exchange_delete(str(user), timeout=10)
        finally:
            await asyncio.wait_for(connection.close(), 10)


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    """The broker, started if it is not running (and left running)."""
    if not _broker_listening():
        subprocess.run(["rabbitmq-server", "-detached"], check=False, timeout=60)
        deadline = time.monotonic() + 60
        while not _broker_listening():
            if time.monotonic() > deadline:
                pytest.fail("RabbitMQ did not start on 127.0.0.1:5672")
            time.sleep(0.5)
    subprocess.run(["rabbitmqctl", "-q", "await_startup"], check=True, timeout=120)
    return BROKER_URL


async def _start_rabbit(
    created: list[RabbitMqEventDispatcher], url: str, queue_size: int, **options: Any
) -> RabbitMqEventDispatcher:
    # Own connection names let a test find and drop exactly its connections.
    options.setdefault("connection_name", f"wschats-test-{uuid4()}")
    options.setdefault("reconnect_delay", 0.2)
    options.setdefault("max_reconnect_delay", 1.0)
    dispatcher = RabbitMqEventDispatcher(url, queue_size, **options)
    created.append(dispatcher)
    await dispatcher.start()
    return dispatcher


@pytest.fixture
async def rabbit_factory(rabbitmq_url: str) -> AsyncIterator[RabbitFactory]:
    """Started dispatchers with their own connection names, closed after the test."""
    created: list[RabbitMqEventDispatcher] = []

    async def make(
        url: str = rabbitmq_url, queue_size: int = 1000, **options: Any
    ) -> RabbitMqEventDispatcher:
        return await _start_rabbit(created, url, queue_size, **options)

    yield make
    for dispatcher in created:
        await asyncio.wait_for(dispatcher.close(), 30)


@pytest.fixture(params=["inprocess", "rabbitmq"])
async def make_pair(request: pytest.FixtureRequest) -> AsyncIterator[PairFactory]:
    """Two dispatchers as two server processes have them (one, for the in-process adapter)."""
    created: list[EventDispatcher] = []
    url: str = request.getfixturevalue("rabbitmq_url") if request.param == "rabbitmq" else ""

    async def make(queue_size: int = 1000) -> tuple[EventDispatcher, EventDispatcher]:
        if request.param == "inprocess":
            dispatcher = InProcessEventDispatcher(queue_size)
            created.append(dispatcher)
            return dispatcher, dispatcher
        rabbits: list[RabbitMqEventDispatcher] = []
        pair = (
            await _start_rabbit(rabbits, url, queue_size),
            await _start_rabbit(rabbits, url, queue_size),
        )
        created.extend(rabbits)
        return pair

    yield make
    for dispatcher in created:
        await asyncio.wait_for(dispatcher.close(), 30)
